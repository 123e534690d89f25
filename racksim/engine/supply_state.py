"""The supply side of every rack between events: source ramps, storage charge and breaker stress.

The operating point fixes what the busbar needs (D, the load side). This state decides where it comes
from: the source S (shelves, or the feed without shelves) moving toward its target T at the smoothing
storage's ramp rates, the smoothing storage covering T − S, the BBUs carrying D through a loss of every
feed and recharging afterwards (part of T), and each feed's breaker accumulating stress ∫dt / t_trip(I).
S is linear between events, so energies are exact (the PSUs' nonlinear loss by 3-point Gauss–Legendre).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray
from racksim.physics.arrays import RackArrays
from racksim.physics.hall_power import hall_losses_w
from racksim.physics.operating_point import OperatingPoint
from racksim.physics.plant import PlantState
from racksim.physics.power import shelf_input_w
from racksim.physics.rows import row_load_w
from racksim.physics.supply import (
    breaker_trip_time_s,
    feed_current_a,
    interval_mean,
    ramp_slope_w_per_s,
    storage_energy_out_j,
    storage_limit_time_s,
)

SNAP_FRACTION = 1e-4
"""A source within this share of its target (or 1 W) has reached it (0.01 %: ~13 W on a 130 kW rack)."""
EMPTY_FRACTION = 1e-9
"""Storage within this share of its capacity of empty (or full) is empty (or full)."""
MIN_SPAN_S = 1e-3
"""Shortest ramp or recovery the smoothing storage starts, s; anything shorter is a step."""


def _room_j(gap_w: FloatArray, energy_j: FloatArray, capacity_j: float) -> FloatArray:
    """What storage covering `gap_w` can still give (charge, g > 0) or take (room, g < 0), J."""
    return np.where(gap_w > 0, energy_j, capacity_j - energy_j)


@dataclass(frozen=True)
class SupplyInterval:
    """Supply-side energies over one interval, summed over racks."""

    input_energy_j: float
    loss_energy_j: dict[str, float]
    """The shelves' loss at the actual source power, the storage devices' conversion losses, and the hall's row
    feeders and UPS (racksim.physics.hall_power) upstream of every rack's feed, J."""
    storage_net_energy_j: float
    """Energy the storage devices gave up (negative: took in), J."""
    battery_rack_s: float
    """Rack-seconds carried by the BBUs."""
    rack_input_energy_j: FloatArray
    """Energy each rack drew from its feeds, J."""
    rack_feed_w_ends: tuple[FloatArray, FloatArray]
    """Feed power of each rack at the interval's start and end (its source moves monotonically between), W."""


class Supply:
    """Source power, storage charge and breaker stress of every rack, as of the start of the current interval."""

    def __init__(self, arrays: RackArrays) -> None:
        power, racks = arrays.design.power, arrays.n_racks
        self.chain = arrays.chain
        self.hall = arrays.hall
        self.hall_stages = arrays.hall.stage_names
        self.feed = power.feed
        smoothing = power.smoothing
        self.smoothing = smoothing if smoothing is not None and smoothing.storage_energy_j > 0 else None
        self.bbu = power.bbu
        self.smoothing_capacity_j = self.smoothing.storage_energy_j if self.smoothing else 0.0
        self.bbu_capacity_j = self.bbu.energy_j if self.bbu else 0.0
        self.smoothing_energy_j = np.full(racks, 0.5 * self.smoothing_capacity_j)
        self.bbu_energy_j = np.full(racks, self.bbu_capacity_j)
        self.source_w = np.zeros(racks)
        self.slope_w_per_s = np.zeros(racks)
        self.target_w = np.zeros(racks)
        self.demand_w = np.zeros(racks)
        self.recharge_w = np.zeros(racks)
        self.recovery_w = np.zeros(racks)
        """Power flowing into the smoothing storage (negative: out of it) to restore half charge, W."""
        self.supplied = np.ones(racks, dtype=bool)
        self.units = arrays.shelf_units.copy()
        self.feed_share = np.ones((racks, power.feed.count)) / power.feed.count
        self.breaker_stress = np.zeros((racks, power.feed.count))
        self._ramping = False
        self._feed_start_w = self._feed_target_w = np.zeros(racks)
        self.breaker_rate_per_s = np.zeros((racks, power.feed.count))

    # ------------------------------------------------------------------ state changes

    def retarget(self, point: OperatingPoint, plant: PlantState, settle: bool = False) -> None:
        """Take a new load and plant state: new targets, ramps and breaker rates; S carries over (or settles)."""
        was_supplied = self.supplied
        self.supplied = plant.supplied()
        self.units = plant.healthy_psus
        by_feed = plant.psus_by_feed if self.chain.shelf_stage else plant.feed_up.astype(float)
        total = by_feed.sum(axis=1, keepdims=True)
        self.feed_share = np.divide(by_feed, total, out=np.zeros_like(by_feed), where=total > 0)
        self.demand_w = np.where(plant.tripped, 0.0, point.shelf_output_w)
        bbu_full = self.bbu_energy_j >= self.bbu_capacity_j * (1 - EMPTY_FRACTION)
        charging = self.supplied & (self.bbu is not None) & ~bbu_full
        headroom_w = np.maximum(point.shelf_capacity_w - self.demand_w, 0.0)
        recharge_w = self.bbu.recharge_w if self.bbu else 0.0
        self.recharge_w = np.where(charging, np.minimum(recharge_w, headroom_w), 0.0)
        self.target_w = np.where(self.supplied, self.demand_w + self.recharge_w, 0.0)
        source_w = np.where(self.supplied & was_supplied, self.source_w, 0.0)
        if settle or self.smoothing is None:
            source_w, slope = self.target_w.copy(), np.zeros_like(self.target_w)
            self.recovery_w = np.zeros_like(self.target_w)
        else:
            gap_w = self.target_w - source_w
            slope = ramp_slope_w_per_s(gap_w, self.smoothing.ramp_up_w_per_s, self.smoothing.ramp_down_w_per_s)
            room = _room_j(gap_w, self.smoothing_energy_j, self.smoothing_capacity_j)
            # Gaps no larger than the recovery power step at once, as recovery itself does.
            snap_w = SNAP_FRACTION * np.maximum(np.abs(self.target_w), 1.0) + self.smoothing.recovery_w
            # A ramp (or a recovery) the storage could not sustain for MIN_SPAN_S is a step instead: no
            # Zeno cascade of microsecond events from a nearly empty or tiny store.
            efficiency = self.smoothing.efficiency
            with np.errstate(divide="ignore", invalid="ignore"):
                ramp_s = np.minimum(np.abs(gap_w / slope), storage_limit_time_s(gap_w, -slope, room, efficiency))
            ramping = self.supplied & (np.abs(gap_w) > snap_w) & np.isfinite(slope) & (ramp_s >= MIN_SPAN_S)
            # Between ramps the storage returns toward half charge at its recovery power (source = target + that).
            setpoint_gap_j = 0.5 * self.smoothing_capacity_j - self.smoothing_energy_j
            recovery_w = np.sign(setpoint_gap_j) * self.smoothing.recovery_w
            recovery_s = storage_limit_time_s(-recovery_w, 0.0, np.abs(setpoint_gap_j), efficiency)
            recovering = self.supplied & ~ramping & (recovery_w != 0) & (recovery_s >= MIN_SPAN_S)
            self.recovery_w = np.where(recovering, recovery_w, 0.0)
            source_w = np.where(ramping, source_w, self.target_w + self.recovery_w)
            slope = np.where(ramping, slope, 0.0)
        self.source_w, self.slope_w_per_s = source_w, slope
        self._ramping = bool(np.any(slope != 0))
        self._feed_start_w, self._feed_target_w = self._feed_w(source_w), self._feed_w(self.target_w)
        self.breaker_rate_per_s = self._breaker_rate(np.maximum(self._feed_start_w, self._feed_target_w))

    def bbu_charged(self) -> NDArray[np.bool_]:
        """Racks whose BBUs hold charge, as of the start of the current interval."""
        return (self.bbu is not None) & (self.bbu_energy_j > EMPTY_FRACTION * self.bbu_capacity_j)

    def can_carry(self, point: OperatingPoint, plant: PlantState) -> NDArray[np.bool_]:
        """Racks whose load the supply can carry: an energized feed, or BBUs with charge and power enough."""
        on_battery = self.bbu_charged()
        if self.bbu is not None:
            on_battery &= point.shelf_output_w <= self.bbu.max_discharge_w
        return plant.supplied() | plant.tripped | on_battery

    # ------------------------------------------------------------------ evaluation

    def _feed_w(self, source_w: FloatArray) -> FloatArray:
        return np.where(self.supplied, shelf_input_w(self.chain, source_w, self.units), 0.0)

    def feed_w_at(self, offset_s: float) -> FloatArray:
        """Feed power of each rack `offset_s` into the current interval, W."""
        if offset_s == 0.0 or not self._ramping:
            return self._feed_start_w
        return self._feed_w(self.source_w + self.slope_w_per_s * offset_s)

    def feed_w_unsmoothed(self) -> FloatArray:
        """Feed power of each rack if the source stepped straight to its target (no smoothing storage), W."""
        return self._feed_target_w

    def hall_stage_losses_w(self, rack_feed_w: FloatArray) -> FloatArray:
        """Loss of each hall stage above the racks (`hall_stages`) with the racks drawing `rack_feed_w`, W."""
        if not self.hall_stages:
            return np.zeros(0)
        assert self.hall.power is not None
        losses = hall_losses_w(self.hall.power, row_load_w(rack_feed_w, self.hall.rack_row, self.hall.n_rows))
        return np.array([losses[name] for name in self.hall_stages])

    def hall_input_w(self, rack_feed_w: FloatArray) -> float:
        """The facility input with the racks drawing `rack_feed_w`: their feeds and the hall stages' losses, W."""
        return float(rack_feed_w.sum()) + float(self.hall_stage_losses_w(rack_feed_w).sum())

    def stored_energy_j_at(self, offset_s: float) -> tuple[float, float]:
        """(BBU, smoothing storage) energy summed over racks `offset_s` into the current interval, J."""
        smoothing_gap, gap_slope, bbu_gap, bbu_eff = self._gaps()
        bbu_j = self.bbu_energy_j - storage_energy_out_j(bbu_gap, 0.0, offset_s, bbu_eff)
        smoothing_j = self.smoothing_energy_j
        if self.smoothing is not None:
            smoothing_j = smoothing_j - storage_energy_out_j(smoothing_gap, gap_slope, offset_s,
                                                             self.smoothing.efficiency)
        return float(bbu_j.sum()), float(smoothing_j.sum())

    def _breaker_rate(self, feed_w: FloatArray) -> FloatArray:
        """Stress accumulation rate 1 / t_trip(I) of each feed's breaker (0 below pickup), 1/s."""
        breaker = self.feed.breaker
        if breaker is None:
            return np.zeros_like(self.feed_share)
        current_a = feed_current_a(feed_w[:, None] * self.feed_share, self.feed.voltage_v, self.feed.kind,
                                   self.feed.power_factor)
        trip_s = breaker_trip_time_s(current_a, breaker.rating_a, breaker.curve, breaker.time_multiplier,
                                     breaker.instantaneous_multiple)
        with np.errstate(divide="ignore"):
            return np.where(np.isfinite(trip_s), 1.0 / trip_s, 0.0)

    def _gaps(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """(smoothing gap, its slope, BBU gap, BBU efficiency) at the interval start, W, W/s, W, —."""
        smoothing_gap = self.target_w - self.source_w if self.smoothing else np.zeros_like(self.source_w)
        bbu_gap = np.where(self.supplied, -self.recharge_w, self.demand_w) if self.bbu else np.zeros_like(self.source_w)
        bbu_eff = np.where(bbu_gap > 0, self.bbu.discharge_efficiency, self.bbu.charge_efficiency) if self.bbu else 1.0
        return smoothing_gap, -self.slope_w_per_s, bbu_gap, np.broadcast_to(bbu_eff, self.source_w.shape)

    def next_event_s(self) -> float:
        """Time from the interval start to the next supply event (ramp done, storage empty or full, breaker trip)."""
        smoothing_gap, gap_slope, bbu_gap, bbu_eff = self._gaps()
        times = [np.array([np.inf])]
        ramping = self.slope_w_per_s != 0
        if ramping.any():
            assert self.smoothing is not None
            times.append(np.abs(smoothing_gap[ramping] / self.slope_w_per_s[ramping]))
            room = _room_j(smoothing_gap, self.smoothing_energy_j, self.smoothing_capacity_j)
            times.append(storage_limit_time_s(smoothing_gap, gap_slope, room, self.smoothing.efficiency)[ramping])
        recovering = self.recovery_w != 0
        if recovering.any():
            assert self.smoothing is not None
            to_setpoint_j = np.abs(0.5 * self.smoothing_capacity_j - self.smoothing_energy_j)
            times.append(storage_limit_time_s(smoothing_gap, 0.0, to_setpoint_j, self.smoothing.efficiency)[recovering])
        if self.bbu is not None:
            room = _room_j(bbu_gap, self.bbu_energy_j, self.bbu_capacity_j)
            times.append(storage_limit_time_s(bbu_gap, 0.0, room, bbu_eff))
        stressed = self.breaker_rate_per_s > 0
        if stressed.any():
            times.append((1.0 - self.breaker_stress[stressed]) / self.breaker_rate_per_s[stressed])
        return float(np.concatenate(times).min())

    def advance(self, elapsed_s: float) -> SupplyInterval:
        """Integrate the supply over `elapsed_s` and move the state to the interval's end."""
        smoothing_gap, gap_slope, bbu_gap, bbu_eff = self._gaps()
        feed_mean_w = interval_mean(self.feed_w_at, elapsed_s) if self._ramping else self._feed_start_w
        source_mean_w = self.source_w + 0.5 * self.slope_w_per_s * elapsed_s
        losses: dict[str, float] = {}
        hall_j = 0.0
        if self.hall_stages:
            hall_mean_w = (interval_mean(lambda offset_s: self.hall_stage_losses_w(self.feed_w_at(offset_s)), elapsed_s)
                           if self._ramping else self.hall_stage_losses_w(self._feed_start_w))
            for name, loss_w in zip(self.hall_stages, hall_mean_w, strict=True):
                losses[name] = float(loss_w) * elapsed_s
            hall_j = float(hall_mean_w.sum()) * elapsed_s
        if self.chain.shelf_stage is not None:
            losses[self.chain.shelf_stage.name] = float((feed_mean_w - source_mean_w).sum()) * elapsed_s
        storage_out_j = 0.0
        if self.smoothing is not None:
            out_j = storage_energy_out_j(smoothing_gap, gap_slope, elapsed_s, self.smoothing.efficiency)
            delivered_j = smoothing_gap * elapsed_s + 0.5 * gap_slope * elapsed_s**2
            losses[self.smoothing.stage_name] = float((out_j - delivered_j).sum())
            self.smoothing_energy_j = np.clip(self.smoothing_energy_j - out_j, 0.0, self.smoothing_capacity_j)
            storage_out_j += float(out_j.sum())
        if self.bbu is not None:
            out_j = storage_energy_out_j(bbu_gap, 0.0, elapsed_s, bbu_eff)
            losses[self.bbu.stage_name] = float((out_j - bbu_gap * elapsed_s).sum())
            self.bbu_energy_j = np.clip(self.bbu_energy_j - out_j, 0.0, self.bbu_capacity_j)
            storage_out_j += float(out_j.sum())
        stressed = self.breaker_rate_per_s > 0
        self.breaker_stress = np.where(stressed, self.breaker_stress + self.breaker_rate_per_s * elapsed_s, 0.0)
        feed_start_w = self._feed_start_w
        if self._ramping:
            self.source_w = self.source_w + self.slope_w_per_s * elapsed_s
            self._feed_start_w = self._feed_w(self.source_w)
        on_battery = ~self.supplied & (self.demand_w > 0)
        return SupplyInterval(float(feed_mean_w.sum()) * elapsed_s + hall_j, losses, storage_out_j,
                              float(on_battery.sum()) * elapsed_s, feed_mean_w * elapsed_s,
                              (feed_start_w, self._feed_start_w))

    def tripped_breakers(self) -> NDArray[np.bool_]:
        """Feeds (racks × feeds) whose breaker stress has reached 1."""
        return self.breaker_stress >= 1.0 - 1e-9

    def battery_exhausted(self) -> NDArray[np.bool_]:
        """Racks on battery whose BBUs are empty."""
        return ~self.supplied & (self.demand_w > 0) & (self.bbu_energy_j <= EMPTY_FRACTION * self.bbu_capacity_j)
