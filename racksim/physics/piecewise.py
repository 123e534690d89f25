"""Signals linear on each segment [t_i, t_i+1) (feed power): values, time-weighted percentiles, steepest ramps.

Pure functions shared by the metrics and the engine's running feed statistics (racksim.engine.feed_statistics),
so the exact figures of an event-level series and of a run kept at a coarser resolution come from one place.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from racksim._types import FloatArray

RAMP_WINDOW_S = 1.0
"""Feed ramp is the change of the feed power averaged over this window, per second."""


def segment_values(time_s: FloatArray, start_w: FloatArray, end_w: FloatArray, at_s: FloatArray,
                   side: Literal["left", "right"]) -> FloatArray:
    """Value of a signal linear on each segment [t_i, t_i+1) from start_i to end_i, at `at_s`.

    side="right" gives the value just after each instant, "left" the limit just before it. The last segment
    has no end: only its start value is known.
    """
    index = np.clip(np.searchsorted(time_s, at_s, side=side) - 1, 0, time_s.size - 1)
    length_s = np.diff(np.append(time_s, time_s[-1]))[index]
    fraction = np.divide(at_s - time_s[index], length_s, out=np.zeros_like(at_s), where=length_s > 0)
    return start_w[index] + (end_w[index] - start_w[index]) * np.clip(fraction, 0.0, 1.0)


def time_weighted_percentile(values: FloatArray, durations_s: FloatArray, percentile: float,
                             end_values: FloatArray | None = None) -> float:
    """Percentile over time of a signal constant on each segment (or linear from `values` to `end_values`).

    The smallest v with time(x ≤ v) ≥ p·T, where a linear segment spends time(x ≤ v) = Δt·clip((v − lo)/(hi − lo), 0, 1)
    below v; found by bisection to adjacent floats, so a step signal gives one of its values exactly. The
    segments may come in any order, and equal ones may be merged (their durations added): the percentile is a
    function of the time spent on each distinct segment.
    """
    end = values if end_values is None else end_values
    low_w, high_w = np.minimum(values, end), np.maximum(values, end)
    span_w = high_w - low_w
    target_s = percentile / 100.0 * durations_s.sum()

    def time_below_s(v: float) -> float:
        with np.errstate(over="ignore"):  # a share past ±1 (a ramp of a few ulps) is clipped anyway
            ramp_share = np.divide(v - low_w, span_w, out=(low_w <= v).astype(float), where=span_w > 0)
        return float(np.dot(durations_s, np.clip(ramp_share, 0.0, 1.0)))

    below, above = float(np.nextafter(low_w.min(), -np.inf)), float(high_w.max())
    while True:
        middle = 0.5 * (below + above)
        if middle in (below, above):
            return above
        below, above = (below, middle) if time_below_s(middle) >= target_s else (middle, above)


def ramp_instants_s(time_s: FloatArray, window_s: float, first_s: float, last_s: float) -> FloatArray:
    """The instants where the window-averaged power can change fastest: every t_i and t_i + w in [first_s, last_s].

    The derivative of the moving average over a window w is (P(t) − P(t − w)) / w, piecewise linear in t with
    breaks only at the t_i and t_i + w, so its extremes are at those instants.
    """
    instants = np.concatenate([time_s, time_s + window_s])
    return instants[(instants >= first_s) & (instants <= last_s)]


def window_changes_w(time_s: FloatArray, start_w: FloatArray, end_w: FloatArray, instants_s: FloatArray,
                     window_s: float) -> FloatArray:
    """|P(τ) − P(τ − w)| at each instant τ, the larger of its values just before and just after τ, W.

    Exact for instants whose window [τ − w, τ] lies within the rows given (the first row at or before τ − w).
    """
    return np.abs([segment_values(time_s, start_w, end_w, instants_s, side)
                   - segment_values(time_s, start_w, end_w, instants_s - window_s, side)
                   for side in ("left", "right")]).max(axis=0)


def steepest_ramp(time_s: FloatArray, power_w: FloatArray, window_s: float = RAMP_WINDOW_S,
                  end_power_w: FloatArray | None = None) -> tuple[float, float]:
    """(Largest rate of change of the window-averaged power, W/s; the time it happens, s).

    Power is constant on each segment, or linear from `power_w` to `end_power_w`; the rate at the instants of
    `ramp_instants_s` from the first time + w to the last is |P(τ) − P(τ − w)| / w: exact.
    """
    if time_s.size < 2:
        return 0.0, float(time_s[0]) if time_s.size else 0.0
    end_w = power_w if end_power_w is None else end_power_w
    instants = ramp_instants_s(time_s, window_s, float(time_s[0]) + window_s, float(time_s[-1]))
    if instants.size == 0:
        return 0.0, float(time_s[0])
    changes = window_changes_w(time_s, power_w, end_w, instants, window_s)
    steepest = int(np.argmax(changes))
    return float(changes[steepest] / window_s), float(instants[steepest])


def max_ramp_w_per_s(time_s: FloatArray, power_w: FloatArray, window_s: float = RAMP_WINDOW_S,
                     end_power_w: FloatArray | None = None) -> float:
    """Largest rate of change of the window-averaged feed power, W/s (see `steepest_ramp`)."""
    return steepest_ramp(time_s, power_w, window_s, end_power_w)[0]
