"""Exact running statistics of the feed power, kept while a run goes, whatever the time series' resolution.

The recorder (engine/recorder.py) hands each event-level segment here once it is final: feed power linear on
[t_i, t_i+1) from its start to its end value, and the feed power the racks would draw without smoothing storage,
constant on it. What is kept grows with the distinct segments (operating points), not with events or time:

- the peak: the largest start or end value;
- the time spent on each distinct (start, end) segment, which fixes the time-weighted percentiles and the time
  above any limit exactly;
- the steepest ramp of the 1 s moving average of both signals, from the rows of the last window only.

`FeedSummary` holds the figures at the end of a run; the metrics read them instead of the time series, so a run
recorded at a coarse resolution has the same peak, p99 and ramps as its event-level twin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from racksim._types import FloatArray
from racksim.physics.piecewise import RAMP_WINDOW_S, ramp_instants_s, time_weighted_percentile, window_changes_w

CHUNK_ROWS = 4096
"""Rows gathered before the ramp is evaluated over them (beyond those of the last window, which are kept)."""


class RunningRamp:
    """The steepest change of a piecewise-linear signal's moving average over a window, over rows in time order.

    Exactly `racksim.physics.piecewise.steepest_ramp` of all the rows: the instants are evaluated a chunk at a time with
    the same vectorized functions on the same floats, and only the rows a later instant's window can reach are
    kept (from the last one before the latest evaluated instant − w).
    """

    def __init__(self, window_s: float = RAMP_WINDOW_S, chunk_rows: int = CHUNK_ROWS) -> None:
        self.window_s = window_s
        self._chunk_rows = chunk_rows
        self._time_s: list[float] = []
        self._start_w: list[float] = []
        self._end_w: list[float] = []
        self._kept = 0
        """Rows kept for the window at the last evaluation."""
        self._first_s: float | None = None
        self._done_s = -math.inf
        """Instants up to this time are evaluated."""
        self.change_w = 0.0
        """Largest |P(τ) − P(τ − w)| over the instants evaluated so far, W."""
        self.at_s = 0.0
        """Where it happens, s."""

    def add(self, time_s: float, start_w: float, end_w: float) -> None:
        """One row whose segment is final (the next row's time is later): from `start_w` at `time_s` to `end_w`."""
        if self._first_s is None:
            self._first_s = self.at_s = time_s
        self._time_s.append(time_s)
        self._start_w.append(start_w)
        self._end_w.append(end_w)
        if len(self._time_s) >= self._kept + self._chunk_rows:
            rows = self._arrays()
            self.change_w, self.at_s = self._evaluated(*rows)
            self._done_s = float(rows[0][-1])
            keep_from = max(0, int(np.searchsorted(rows[0], rows[0][-1] - self.window_s)) - 1)
            for column in (self._time_s, self._start_w, self._end_w):
                del column[:keep_from]
            self._kept = len(self._time_s)

    def steepest(self, last: tuple[float, float] | None = None) -> tuple[float, float]:
        """(Steepest rate of the moving average, W/s; when, s) over the rows so far and a `last` (time, value).

        `last` is the run's final row, which ends the signal (it is not kept: the result is as if it were added).
        """
        rows = self._arrays(last)
        change_w, at_s = self._evaluated(*rows) if rows[0].size else (self.change_w, self.at_s)
        return change_w / self.window_s, at_s

    def _arrays(self, last: tuple[float, float] | None = None) -> tuple[FloatArray, FloatArray, FloatArray]:
        extra = [] if last is None else [last]
        return (np.array(self._time_s + [t for t, _ in extra]), np.array(self._start_w + [v for _, v in extra]),
                np.array(self._end_w + [v for _, v in extra]))

    def _evaluated(self, time_s: FloatArray, start_w: FloatArray, end_w: FloatArray) -> tuple[float, float]:
        """The largest change so far, including the instants after those evaluated, up to the last row's time."""
        first_s = float(time_s[0]) if self._first_s is None else self._first_s
        instants = ramp_instants_s(time_s, self.window_s, first_s + self.window_s, float(time_s[-1]))
        instants = instants[instants > self._done_s]
        if instants.size == 0:
            return self.change_w, self.at_s
        changes = window_changes_w(time_s, start_w, end_w, instants, self.window_s)
        steepest = int(np.argmax(changes))
        if changes[steepest] > self.change_w:
            return float(changes[steepest]), float(instants[steepest])
        return self.change_w, self.at_s


@dataclass(frozen=True)
class FeedSummary:
    """The feed power of a whole run, exactly: its peak, its steepest ramps, and the time on each distinct segment."""

    peak_w: float
    max_ramp_w_per_s: float
    """Steepest change of the 1 s moving average of the feed power, W/s."""
    max_ramp_time_s: float
    """When it happens, s."""
    max_ramp_w_per_s_unsmoothed: float
    """The same, of the feed power the racks would draw without smoothing storage, W/s."""
    segment_start_w: FloatArray
    segment_end_w: FloatArray
    segment_duration_s: FloatArray
    """Total time the feed power spent on each distinct linear segment (start, end), s."""

    def percentile_w(self, percentile: float) -> float:
        """Time-weighted percentile of the feed power, W (`racksim.physics.piecewise.time_weighted_percentile`)."""
        return time_weighted_percentile(self.segment_start_w, self.segment_duration_s, percentile, self.segment_end_w)

    def time_above_s(self, limit_w: float) -> float:
        """Time spent on segments that start above `limit_w`, s."""
        return float(self.segment_duration_s[self.segment_start_w > limit_w].sum())


class FeedStatistics:
    """Running peak, time per distinct segment and steepest ramps of the feed power, one final segment at a time."""

    def __init__(self, chunk_rows: int = CHUNK_ROWS) -> None:
        self._segments: dict[tuple[float, float], float] = {}
        self._peak_w = -math.inf
        self._ramp = RunningRamp(chunk_rows=chunk_rows)
        self._ramp_unsmoothed = RunningRamp(chunk_rows=chunk_rows)

    def add_segment(self, start_s: float, end_s: float, feed_w: float, feed_end_w: float,
                    unsmoothed_w: float) -> None:
        """The feed power from `feed_w` at `start_s` to `feed_end_w` at `end_s` (linear), `unsmoothed_w` throughout."""
        key = (feed_w, feed_end_w)
        self._segments[key] = self._segments.get(key, 0.0) + (end_s - start_s)
        self._peak_w = max(self._peak_w, feed_w, feed_end_w)
        self._ramp.add(start_s, feed_w, feed_end_w)
        self._ramp_unsmoothed.add(start_s, unsmoothed_w, unsmoothed_w)

    def summary(self, time_s: float, feed_w: float, feed_end_w: float, unsmoothed_w: float) -> FeedSummary:
        """The run's figures, its last row (at `time_s`, where the signal ends) included; the statistics go on."""
        segments = dict(self._segments)
        key = (feed_w, feed_end_w)
        segments[key] = segments.get(key, 0.0)  # no duration, but it bounds the percentile's search
        start_w, end_w = np.array(list(segments)).T
        ramp_w_per_s, ramp_at_s = self._ramp.steepest((time_s, feed_w))
        return FeedSummary(
            peak_w=max(self._peak_w, feed_w, feed_end_w), max_ramp_w_per_s=ramp_w_per_s, max_ramp_time_s=ramp_at_s,
            max_ramp_w_per_s_unsmoothed=self._ramp_unsmoothed.steepest((time_s, unsmoothed_w))[0],
            segment_start_w=start_w, segment_end_w=end_w, segment_duration_s=np.array(list(segments.values())))
