"""What a run remembers: exact integrals over event intervals and a compact event-level time series."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import ClassVar, NamedTuple

import numpy as np

from racksim._types import FloatArray
from racksim.engine.feed_statistics import FeedStatistics, FeedSummary
from racksim.engine.supply_state import SupplyInterval
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import OperatingPoint
from racksim.physics.rows import row_load_w

TEMP_BIN_C = 0.01
"""Resolution of the time-weighted GPU temperature distribution (for percentiles), K."""
TEMP_RANGE_C = (-50.0, 250.0)


class SeriesRow(NamedTuple):
    """One time-series row, column by column, each name ending in its unit.

    Each row holds the state from its time to the next row's. Feed power is linear in between, from
    `feed_power_w` to `feed_power_end_w` (equal unless storage ramps the source); the rest are samples.
    """

    time_s: float
    feed_power_w: float
    """Facility feed power of all racks at the row's time, W."""
    it_power_w: float
    loss_power_w: float
    """Conversion losses, every stage, W."""
    gpu_power_w: float
    gpu_temp_c_max: float
    gpu_temp_c_mean: float
    coolant_supply_temp_c: float
    """Hottest loop's coolant supply, °C."""
    coolant_return_temp_c: float
    """Hottest loop's coolant return, °C."""
    exhaust_temp_c: float
    fan_power_w: float
    pump_power_w: float
    coolant_flow_fraction: float
    """Lowest coolant flow relative to design flow."""
    throttled_gpu_fraction: float
    shutdown_gpu_fraction: float
    work_units: float
    """Work done so far (the one cumulative column besides time)."""
    feed_power_end_w: float
    """Feed power at the end of the row's segment, just before the next row, W."""
    feed_power_unsmoothed_w: float
    """Feed power the racks would draw without smoothing storage, W."""
    bbu_energy_j: float
    """Energy stored in the BBUs, J."""
    smoothing_energy_j: float
    """Energy stored in the smoothing storage, J."""


SERIES_COLUMNS: tuple[str, ...] = SeriesRow._fields
"""The time series' column names, in row order."""
COLUMN_INDEX = {name: index for index, name in enumerate(SERIES_COLUMNS)}
"""Column name → its position in a stored row."""
TIME, FEED, FEED_END = COLUMN_INDEX["time_s"], COLUMN_INDEX["feed_power_w"], COLUMN_INDEX["feed_power_end_w"]
UNSMOOTHED, WORK = COLUMN_INDEX["feed_power_unsmoothed_w"], COLUMN_INDEX["work_units"]
_MEAN = np.isin(SERIES_COLUMNS, (
    "feed_power_w", "it_power_w", "loss_power_w", "gpu_power_w", "gpu_temp_c_mean", "fan_power_w", "pump_power_w",
    "throttled_gpu_fraction", "shutdown_gpu_fraction", "feed_power_end_w", "feed_power_unsmoothed_w"))
_MAX = np.isin(SERIES_COLUMNS, ("gpu_temp_c_max", "coolant_supply_temp_c", "coolant_return_temp_c", "exhaust_temp_c"))
_MIN = np.isin(SERIES_COLUMNS, ("coolant_flow_fraction",))
_LAST = ~(_MEAN | _MAX | _MIN)
"""How a row of `resolution_s` aggregates the event rows within it: time-weighted mean (powers, shares, mean
temperature), extreme (hottest temperatures, lowest flow), or the last value (time, work done, stored energy)."""


class TimeSeries:
    """Rack aggregates in a preallocated array that doubles when full: one row per event, or per `resolution_s`.

    With `resolution_s`, each row covers [k·r, (k+1)·r) and holds the time-weighted mean of the powers and shares
    over it (feed power exactly, linear segments included, so its integral is the event-level one), the extremes
    of the temperatures and flow, and the last work and storage values: memory grows with simulated time / r,
    not with events. The latest event row ends the series (its time and last values, the last bin's means).
    Whatever the resolution, `feed` keeps the feed power's peak, percentiles and ramps exactly, from each event
    row once its segment is final (a row at a later time has come).
    """

    def __init__(self, capacity: int = 1024, resolution_s: float | None = None) -> None:
        if resolution_s is not None and not resolution_s > 0:
            raise ValueError(f"time-series resolution must be positive, not {resolution_s}")
        self._rows = np.empty((capacity, len(SERIES_COLUMNS)))
        self._count = 0
        self.resolution_s = resolution_s
        self._last: FloatArray | None = None
        """With a resolution: the latest event row, whose segment is not over yet."""
        self._bin = -1
        self._bin_s = 0.0
        self._sums = np.zeros(len(SERIES_COLUMNS))
        self._extremes = np.zeros(len(SERIES_COLUMNS))
        self.feed = FeedStatistics()
        self._journal: list[FloatArray] | None = None
        """Since `mark()`: copies of the event rows whose segments ended, in order (None: not journaling)."""

    def append(self, row: tuple[float, ...]) -> None:
        """Add one row (a SeriesRow, or values in SERIES_COLUMNS order); a row at the same time replaces the last."""
        last = self._last_event_row()
        if last is not None and last[TIME] != row[TIME]:
            self.feed.add_segment(float(last[TIME]), float(row[TIME]), float(last[FEED]), float(last[FEED_END]),
                                  float(last[UNSMOOTHED]))
            if self._journal is not None:
                self._journal.append(last.copy())
        if self.resolution_s is not None:
            values = np.asarray(row, dtype=float)
            if self._last is not None and self._last[TIME] != values[TIME]:
                self._fold(self._last, float(values[TIME]))
            self._last = values
            return
        if self._count and self._rows[self._count - 1, TIME] == row[TIME]:
            self._count -= 1
        self._store(row)

    def _store(self, row: tuple[float, ...] | FloatArray) -> None:
        if self._count == self._rows.shape[0]:
            self._rows = np.concatenate([self._rows, np.empty_like(self._rows)])
        self._rows[self._count] = row
        self._count += 1

    def _fold(self, row: FloatArray, end_s: float) -> None:
        """Add the segment [row time, end_s) of `row` to the bins it spans (feed power linear along it)."""
        assert self.resolution_s is not None
        start_s, span_s = float(row[TIME]), end_s - float(row[TIME])
        feed_slope = (row[FEED_END] - row[FEED]) / span_s
        piece_start_s = start_s
        while piece_start_s < end_s:
            index = math.floor(piece_start_s / self.resolution_s)
            piece_end_s = min(end_s, (index + 1) * self.resolution_s)
            if index != self._bin:
                self._close_bin()
                self._bin, self._extremes = index, row.copy()
            duration_s = piece_end_s - piece_start_s
            self._sums += row * duration_s
            feed_mid_w = row[FEED] + feed_slope * (0.5 * (piece_start_s + piece_end_s) - start_s)
            self._sums[FEED] += (feed_mid_w - row[FEED]) * duration_s  # exact mean of a linear segment
            self._bin_s += duration_s
            self._extremes[_MAX] = np.maximum(self._extremes[_MAX], row[_MAX])
            self._extremes[_MIN] = np.minimum(self._extremes[_MIN], row[_MIN])
            self._extremes[_LAST] = row[_LAST]
            piece_start_s = piece_end_s

    def _bin_row(self) -> FloatArray | None:
        """The current bin as a row (start time, means, extremes, last values); None before the first."""
        if self._bin < 0 or self._bin_s <= 0:
            return None
        assert self.resolution_s is not None
        row = self._extremes.copy()
        row[_MEAN] = self._sums[_MEAN] / self._bin_s
        row[FEED_END] = row[FEED]  # the row's feed power is its mean: constant over the row
        row[TIME] = self._bin * self.resolution_s
        return row

    def _end_row(self, bin_row: FloatArray) -> FloatArray:
        """The latest event row as the binned series' last point: its time and last values, the last bin's means.

        The row has no duration: holding the means to the end keeps a plot from jumping to an instantaneous value.
        Its extremes include it.
        """
        assert self._last is not None
        row = self._last.copy()
        row[_MEAN] = bin_row[_MEAN]
        row[_MAX] = np.maximum(bin_row[_MAX], row[_MAX])
        row[_MIN] = np.minimum(bin_row[_MIN], row[_MIN])
        return row

    def _close_bin(self) -> None:
        """Store the current bin's row and start afresh."""
        row = self._bin_row()
        if row is not None:
            self._store(row)
        self._sums[:], self._bin_s, self._bin = 0.0, 0.0, -1

    def close_segment(self, feed_end_w: float) -> None:
        """Set the feed power at the end of the last row's segment (just before the next row), W."""
        last = self._last_event_row()
        if last is not None:
            last[FEED_END] = feed_end_w

    def _last_event_row(self) -> FloatArray | None:
        """The latest event row (a view), whose segment is not final yet; None before the first."""
        if self.resolution_s is not None:
            return self._last
        return self._rows[self._count - 1] if self._count else None

    def mark(self) -> list[FloatArray]:
        """The event rows whose segments ended since the last mark (none at the first), oldest first; a new mark.

        The latest row at the last mark comes first: the rows cover [last mark's time, now).
        """
        rows, self._journal = self._journal or [], []
        return rows

    def repeat(self, rows: list[FloatArray], copies: int, period_s: float) -> None:
        """The series of the cycle since the last mark run `copies` more times: `rows` (from `mark()`) again.

        Copy k is shifted by k·`period_s` and holds k cycles' more work; then the latest row follows, shifted by
        `copies`·`period_s`, its segment still open, and a new mark starts there.
        """
        open_row = self._last_event_row()
        assert open_row is not None
        assert rows
        latest = open_row.copy()
        work_per_copy = latest[WORK] - rows[0][WORK]
        self._journal = None
        for copy_index in range(1, copies + 1):
            for row in rows:  # the first replaces the latest row, at the same time, with its segment ended
                self.append(_shifted(row, copy_index * period_s, copy_index * work_per_copy))
        self.append(_shifted(latest, copies * period_s, copies * work_per_copy))
        self._journal = []

    def feed_summary(self) -> FeedSummary:
        """The feed power's exact figures over the rows so far, the last one ending the signal."""
        last = self._last_event_row()
        if last is None:
            raise ValueError("no time-series rows yet")
        return self.feed.summary(float(last[TIME]), float(last[FEED]), float(last[FEED_END]), float(last[UNSMOOTHED]))

    def columns(self) -> dict[str, FloatArray]:
        """Column name → a copy of its values (with a resolution: the bins so far, then the end row)."""
        bin_row = self._bin_row()
        tail = [] if bin_row is None else [bin_row]
        if self._last is not None:
            tail.append(self._last if bin_row is None else self._end_row(bin_row))
        rows = np.vstack([self._rows[: self._count], *tail])
        return {name: rows[:, i].copy() for i, name in enumerate(SERIES_COLUMNS)}


def _shifted(row: FloatArray, shift_s: float, work: float) -> tuple[float, ...]:
    """A row `shift_s` later, with `work` more done."""
    shifted = row.copy()
    shifted[TIME] += shift_s
    shifted[WORK] += work
    return tuple(shifted.tolist())


@dataclass
class Integrals:
    """Exact running integrals over the intervals between events (power constant on each)."""

    EXTREMES: ClassVar[tuple[str, ...]] = ("gpu_temp_c_max", "coolant_return_temp_c_max", "exhaust_temp_c_max",
                                           "chip_temp_c_max", "rack_feed_w_max", "row_feed_w_max")
    """Running extremes; every other field but the layout (stage names, counts) is a running sum."""
    PER_COMPONENT: ClassVar[tuple[str, ...]] = ("chip_temp_c_max", "chip_throttled_s", "rack_input_energy_j",
                                                "rack_feed_w_max", "row_feed_w_max")
    """Arrays with an entry per chip, per rack or per row."""
    LAYOUT: ClassVar[tuple[str, ...]] = ("stage_names", "n_chips", "n_racks", "n_rows")

    stage_names: tuple[str, ...]
    n_chips: int
    n_racks: int
    n_rows: int
    input_energy_j: float = 0.0
    it_energy_j: float = 0.0
    loss_energy_j: dict[str, float] = field(default_factory=dict)
    storage_net_energy_j: float = 0.0
    """Energy the storage devices gave up, less what they took in, J."""
    battery_rack_s: float = 0.0
    """Rack-seconds carried by BBUs."""
    heat_to_liquid_j: float = 0.0
    heat_to_air_j: float = 0.0
    heat_stored_j: float = 0.0
    """Σ C·ΔT of the die nodes: heat taken up (positive) or released by the chips themselves, J."""
    cooling_energy_j: float = 0.0
    fan_energy_j: float = 0.0
    pump_energy_j: float = 0.0
    gpu_seconds: float = 0.0
    throttled_gpu_seconds: float = 0.0
    capped_gpu_seconds: float = 0.0
    gpu_temp_c_max: float = -np.inf
    coolant_return_temp_c_max: float = -np.inf
    exhaust_temp_c_max: float = -np.inf
    chip_temp_c_max: FloatArray = field(init=False)
    """Hottest each die got over the run, °C."""
    chip_throttled_s: FloatArray = field(init=False)
    """Time each die spent throttled, s."""
    gpu_temp_histogram: FloatArray = field(
        default_factory=lambda: np.zeros(int((TEMP_RANGE_C[1] - TEMP_RANGE_C[0]) / TEMP_BIN_C) + 1)
    )
    rack_input_energy_j: FloatArray = field(init=False)
    """Energy each rack drew from its feeds, J."""
    rack_feed_w_max: FloatArray = field(init=False)
    """Highest feed power each rack drew, W."""
    row_feed_w_max: FloatArray = field(init=False)
    """Highest feed power each row's racks drew together (the load on its feeder), W."""

    def __post_init__(self) -> None:
        self.loss_energy_j = dict.fromkeys(self.stage_names, 0.0)
        self.chip_temp_c_max = np.full(self.n_chips, -np.inf)
        self.chip_throttled_s = np.zeros(self.n_chips)
        self.rack_input_energy_j = np.zeros(self.n_racks)
        self.rack_feed_w_max = np.full(self.n_racks, -np.inf)
        self.row_feed_w_max = np.full(self.n_rows, -np.inf)

    @classmethod
    def sums(cls) -> tuple[str, ...]:
        """The running sums: every field but the layout and the extremes."""
        return tuple(item.name for item in fields(cls) if item.name not in (*cls.LAYOUT, *cls.EXTREMES))

    def add_interval(
        self, arrays: RackArrays, point: OperatingPoint, supply: SupplyInterval, temp0_c: FloatArray,
        temp1_c: FloatArray, temp_mean_c: FloatArray, throttled: np.ndarray, duration_s: float,
        return_end_c: FloatArray,
    ) -> None:
        """Integrate one interval of `duration_s` at a constant load-side operating point.

        The supply side (feed, shelf loss at the actual source power, storage) comes from `supply`.
        Cold-plate heat is ∫(T − T_cool)/R dt = P·Δt − C·(T1 − T0) per die, exactly, so
        input + storage = liquid + air + stored holds to rounding.
        """
        chips = arrays.chips
        self.input_energy_j += supply.input_energy_j
        self.rack_input_energy_j += supply.rack_input_energy_j
        start_w, end_w = supply.rack_feed_w_ends
        for rack_feed_w in (start_w,) if end_w is start_w else (start_w, end_w):  # monotone: extremes at the ends
            np.maximum(self.rack_feed_w_max, rack_feed_w, out=self.rack_feed_w_max)
            row_feed_w = row_load_w(rack_feed_w, arrays.hall.rack_row, self.n_rows)
            np.maximum(self.row_feed_w_max, row_feed_w, out=self.row_feed_w_max)
        self.storage_net_energy_j += supply.storage_net_energy_j
        self.battery_rack_s += supply.battery_rack_s
        self.it_energy_j += float(point.it_w.sum()) * duration_s
        supply_side_extra_j = 0.0  # supply-side losses beyond the point's (they go to air)
        for name, loss_w in point.loss_w_by_stage.items():
            point_j = float(loss_w.sum()) * duration_s
            self.loss_energy_j[name] += supply.loss_energy_j.get(name, point_j)
            supply_side_extra_j += supply.loss_energy_j.get(name, point_j) - point_j
        for name, loss_j in supply.loss_energy_j.items():
            if name not in point.loss_w_by_stage:
                self.loss_energy_j[name] += loss_j
                supply_side_extra_j += loss_j
        self.heat_to_air_j += supply_side_extra_j
        stored_j = float((chips.heat_capacity_j_per_k * (temp1_c - temp0_c)).sum())  # np.dot: threaded BLAS, slow
        self.heat_stored_j += stored_j
        self.heat_to_liquid_j += float(point.chip_power_w.sum() + point.liquid_noncold_plate_w.sum()) * duration_s
        self.heat_to_liquid_j -= stored_j
        self.heat_to_air_j += float(point.air_w.sum()) * duration_s
        self.fan_energy_j += float(point.fan_power_w.sum()) * duration_s
        self.pump_energy_j += float(point.pump_power_w.sum()) * duration_s
        self.cooling_energy_j = self.fan_energy_j + self.pump_energy_j

        gpu = chips.is_gpu
        self.gpu_seconds += float(gpu.sum()) * duration_s
        self.throttled_gpu_seconds += float((throttled & gpu).sum()) * duration_s
        self.capped_gpu_seconds += float(point.gpu_capped.sum()) * duration_s
        self.chip_throttled_s += throttled * duration_s
        # A die's extreme over an interval is at an end: the response is monotone (one extremum at most
        # under a coolant ramp, a minimum, since the ramp only heats).
        np.maximum(self.chip_temp_c_max, np.maximum(temp0_c, temp1_c), out=self.chip_temp_c_max)
        self.gpu_temp_c_max = float(self.chip_temp_c_max[gpu].max())
        self.coolant_return_temp_c_max = max(self.coolant_return_temp_c_max, float(return_end_c.max()))
        self.exhaust_temp_c_max = max(self.exhaust_temp_c_max, float(point.exhaust_temp_c.max()))
        bins = np.clip(((temp_mean_c[gpu] - TEMP_RANGE_C[0]) / TEMP_BIN_C).astype(np.intp), 0,
                       self.gpu_temp_histogram.size - 1)
        np.add.at(self.gpu_temp_histogram, bins, duration_s)

    def gpu_temp_percentile_c(self, percentile: float) -> float:
        """Percentile of the GPU-time-weighted distribution of interval-mean die temperatures, °C."""
        cumulative = np.cumsum(self.gpu_temp_histogram)
        if cumulative[-1] <= 0:
            return float("nan")
        index = int(np.searchsorted(cumulative, percentile / 100.0 * cumulative[-1]))
        return TEMP_RANGE_C[0] + (index + 0.5) * TEMP_BIN_C
