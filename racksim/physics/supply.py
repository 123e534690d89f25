"""Supply physics beyond the conversion chain: feed current, breaker trip curves and energy storage.

Pure, vectorized functions (numpy arrays in, arrays out). Storage sits on the busbar: the source
(shelves, or the feed where there are none) delivers S(t), the busbar needs D, and the storage covers
the gap g = D − S (discharging when g > 0, charging when g < 0). Between events S is linear in time,
so every energy here is a closed-form integral.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from racksim._types import FloatArray

IEC_60255_CURVES: dict[str, tuple[float, float]] = {
    "standard_inverse": (0.14, 0.02),
    "very_inverse": (13.5, 1.0),
    "extremely_inverse": (80.0, 2.0),
}
"""(k, α) of the inverse-time curves of IEC 60255-151: t = TMS · k / ((I/I_p)^α − 1)."""

GAUSS_NODES, GAUSS_WEIGHTS = np.polynomial.legendre.leggauss(3)
"""Three-point Gauss–Legendre rule on [−1, 1], exact for polynomials up to degree 5."""


def feed_current_a(power_w: ArrayLike, voltage_v: float, kind: str, power_factor: float = 1.0) -> FloatArray:
    """Line current of a feed carrying P.

    Three-phase AC: I = P / (√3 · V_LL · PF); DC: I = P / V; A.
    """
    power = np.asarray(power_w, dtype=float)
    if kind == "dc":
        return power / voltage_v
    return power / (math.sqrt(3.0) * voltage_v * power_factor)


def breaker_trip_time_s(
    current_a: ArrayLike, rating_a: float, curve: str, time_multiplier: float, instantaneous_multiple: float,
) -> FloatArray:
    """Time a breaker carrying a steady current takes to trip (IEC 60255-151 inverse time), s.

    t = TMS · k / ((I / I_p)^α − 1) for I_p < I < m·I_p; 0 at or above the instantaneous multiple m;
    ∞ at or below the pickup I_p.
    """
    k, alpha = IEC_60255_CURVES[curve]
    ratio = np.asarray(current_a, dtype=float) / rating_a
    with np.errstate(divide="ignore", over="ignore"):
        inverse = time_multiplier * k / (np.power(np.maximum(ratio, 1.0), alpha) - 1.0)
    return np.where(ratio <= 1.0, np.inf, np.where(ratio >= instantaneous_multiple, 0.0, inverse))


def storage_energy_out_j(gap0_w: ArrayLike, gap_slope_w_per_s: ArrayLike, elapsed_s: float,
                         efficiency: ArrayLike) -> FloatArray:
    """Energy the storage itself gives up while covering a linearly changing gap g(t) = g₀ + γ·t, J.

    Discharging (g > 0) drains ∫g dt / η; charging (g < 0) stores η·∫|g| dt, a negative result.
    ∫g dt = g₀·t + γ·t²/2 over an interval in which g keeps its sign.
    """
    gap0 = np.asarray(gap0_w, dtype=float)
    delivered_j = gap0 * elapsed_s + 0.5 * np.asarray(gap_slope_w_per_s, dtype=float) * elapsed_s**2
    eff = np.asarray(efficiency, dtype=float)
    return np.where(delivered_j > 0, delivered_j / eff, delivered_j * eff)


def storage_limit_time_s(gap0_w: ArrayLike, gap_slope_w_per_s: ArrayLike, headroom_j: ArrayLike,
                         efficiency: ArrayLike) -> FloatArray:
    """Time until storage covering g(t) = g₀ + γ·t runs empty (g > 0) or full (g < 0), s (∞: not before g = 0).

    The gap shrinks toward zero or stays constant (γ·g₀ ≤ 0). With the storage-side rate c = 1/η
    (discharge) or η (charge) and the charge (or room) h: c·(|g₀|·t − |γ|·t²/2) = h, so
    t = h / (c·|g₀|) when γ = 0, else t = (|g₀| − √(g₀² − 2·|γ|·h/c)) / |γ| (∞ when the root is complex).
    """
    gap0 = np.abs(np.asarray(gap0_w, dtype=float))
    slope = np.abs(np.asarray(gap_slope_w_per_s, dtype=float))
    discharging = np.asarray(gap0_w, dtype=float) > 0
    eff = np.asarray(efficiency, dtype=float)
    rate = np.where(discharging, 1.0 / eff, eff)
    headroom = np.maximum(np.asarray(headroom_j, dtype=float), 0.0)
    # A gap of a few subnormal watts takes longer than any run: the quotient overflows to ∞, which is the answer.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        constant = headroom / (rate * gap0)
        discriminant = gap0 * gap0 - 2.0 * slope * headroom / rate
        shrinking = (gap0 - np.sqrt(np.maximum(discriminant, 0.0))) / slope
    times = np.where(slope == 0, constant, np.where(discriminant >= 0, shrinking, np.inf))
    return np.where(gap0 == 0, np.inf, times)


def ramp_slope_w_per_s(gap_w: ArrayLike, ramp_up_w_per_s: float | None,
                       ramp_down_w_per_s: float | None) -> FloatArray:
    """Rate at which the source moves toward its target under ramp limits, W/s (signed; ∞ means a step).

    σ = +r_up when the target is above the source (g > 0), −r_down below it, 0 when they meet.
    """
    gap = np.asarray(gap_w, dtype=float)
    up = math.inf if ramp_up_w_per_s is None else ramp_up_w_per_s
    down = math.inf if ramp_down_w_per_s is None else ramp_down_w_per_s
    return np.where(gap > 0, up, np.where(gap < 0, -down, 0.0))


def interval_mean(values_at: Callable[[float], FloatArray], elapsed_s: float) -> FloatArray:
    """Mean over [0, Δt] of a smooth function of time by three-point Gauss–Legendre quadrature.

    `values_at(t)` returns an array for a time offset t, s; the result has its shape.
    """
    nodes_s = 0.5 * elapsed_s * (GAUSS_NODES + 1.0)
    samples = [values_at(float(t)) for t in nodes_s]
    return 0.5 * np.sum([w * s for w, s in zip(GAUSS_WEIGHTS, samples, strict=True)], axis=0)
