"""The hybrid engine: SimPy schedules events, the vectorized core advances state in closed form.

Five SimPy processes run a simulation, whatever the number of components:

- the job (engine/job.py) walks through its phases; a phase's end moves when its pace changes (the GPUs'
  work rate, the collectives' speed);
- the fault schedule applies faults and repairs to the plant state;
- the thermal watcher solves for the next die-temperature threshold crossing (throttle, release,
  shutdown) over all chips at once and sleeps until then, or until any other event changes the state;
- the supply watcher (engine/supply_state.py) wakes at the next ramp end, store or battery limit, or breaker trip;
- the operator (engine/power_control.py) resets a tripped rack `trip_reset_delay_s` after its trip, or at its
  feed's return if that is later; the job, stopped by the trip, restarts after its restart time.

A periodic job's cycles that would repeat the last one bit for bit are booked and jumped over
(engine/cycles.py), never while a reset is pending.
After each event the power control (engine/power_control.py) trips racks their supply cannot carry and
starts the capping controller. Between events every power is constant, so energies are exact products and
die temperatures follow exact exponentials (with a linear coolant drift while a CDU rejects nothing).
They share an `EngineState` (engine/state.py) and reach the simulation only through the `Engine` protocol.
The tests' fixed-step oracle (tests/oracles.py) overrides `_advance_dies` and `_thermal_events`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from racksim._types import BoolArray, FloatArray
from racksim.design.jobs_schema import TRIP_RESET_DELAY_S
from racksim.engine.cycles import CycleSkipper, Snapshot
from racksim.engine.job import IDLE, Job, PhaseSource
from racksim.engine.power_control import PowerControl, user_caps_w
from racksim.engine.recorder import Integrals, SeriesRow, TimeSeries
from racksim.engine.state import EngineState, RunResult
from racksim.engine.supply_state import Supply
from racksim.errors import SimulationError
from racksim.network import allreduce_rate_with_links_down
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import Activity, OperatingPoint, PointCache
from racksim.physics.plant import PlantState
from racksim.physics.thermal import rc_crossing_time_s, rc_mean_temperature_c, rc_temperature_c
from racksim.workload.faults import FaultAction

TEMP_TOLERANCE_C = 1e-6
"""A die within this of a threshold has reached it (crossing times are solved to ~1e-12 K)."""
CURVE_POINTS = 8
"""Most intermediate time-series points recorded inside one long interval."""
CURVE_MAX_DURATION_S = 6 * 3600.0
"""Runs longer than this record no intermediate curve points (their plots cannot show them anyway)."""


class Simulation:
    """One run of a workload, with scheduled faults, on the racks described by `arrays`."""

    def __init__(
        self, arrays: RackArrays, phases: PhaseSource, duration_s: float, *,
        faults: list[FaultAction] | None = None, progress: Callable[[float], None] | None = None,
        network_rate: Callable[[np.ndarray], float] | None = None, skip_cycles: bool = True,
        timeseries_resolution_s: float | None = None, trip_reset_delay_s: float | None = None,
    ) -> None:
        """Set up the plant idle and settled; `network_rate(links_down)` gives the workload's collective speed.

        The default network rate is the reference all-reduce's with those scale-up links failed. With
        `skip_cycles`, job cycles that would repeat the last one exactly are booked, not simulated. With
        `timeseries_resolution_s`, the time series keeps a row per that interval (racksim.engine.recorder). An
        operator resets a tripped rack `trip_reset_delay_s` after the trip (None: TRIP_RESET_DELAY_S).
        """
        self.arrays = arrays
        self.duration_s = duration_s
        self._network_rate = network_rate or (lambda links: allreduce_rate_with_links_down(arrays.design, links))
        self._faults = faults or []
        self._progress = progress
        self.env = simpy.Environment()
        self.changed = self.env.event()
        plant = PlantState.nominal(arrays)
        plant.gpu_cap_w = user_caps_w(arrays, plant)  # a user's rack cap is in force before the job starts
        throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
        self._points = PointCache(arrays)
        self._gpu_index = np.flatnonzero(arrays.chips.is_gpu)
        point = _settled_point(self._points, IDLE, throttled, plant)
        self.state = EngineState(
            arrays, plant, Supply(arrays), IDLE, throttled, point,
            temp_c=point.chip_temp_ss_c.copy(),  # racks idle and settled before the job starts
            integrals=Integrals((*arrays.design.power.stage_names, *arrays.hall.stage_names),
                                arrays.chips.is_gpu.size, arrays.n_racks, arrays.hall.n_rows),
            series=TimeSeries(resolution_s=timeseries_resolution_s),
        )
        self.state.supply.retarget(point, plant, settle=True)
        reliability = arrays.design.reliability
        self.job = Job(self, phases, reliability.restart_time_s if reliability else 0.0)
        self.power_control = PowerControl(self, self.job.interrupt, TRIP_RESET_DELAY_S if trip_reset_delay_s is None
                                          else trip_reset_delay_s)
        self.breaker_trips = 0
        self.cycles = CycleSkipper(self.state, (self.state.integrals, self.job), self._snapshot, duration_s,
                                   [action.time_s for action in self._faults]) if skip_cycles else None
        self.record()

    # ------------------------------------------------------------------ state

    def _evaluate(self) -> OperatingPoint:
        """The operating point at the state's inputs, the plant's fans and loop set to it, timed now."""
        state = self.state
        point = _settled_point(self._points, state.activity, state.throttled, state.plant)
        state.point_time_s = state.time_s
        return point

    def _snapshot(self) -> Snapshot:
        """Everything carried from one event to the next (engine/cycles.py: a repeating cycle leaves it as it was)."""
        return Snapshot.of(self.state, self._points.last_key, (self.power_control,), (self.job.network_rate,))

    def advance_to(self, to_s: float) -> None:
        """Carry temperatures and integrals from the current time to `to_s` at the current operating point."""
        state = self.state
        elapsed_s = to_s - state.time_s
        if elapsed_s <= 0:
            return
        assert self.cycles is None or not self.cycles.frozen, "no state advances during a cycle jump"
        point = state.point
        temp1_c, temp_mean_c = self._advance_dies(elapsed_s)
        return_end_c = point.coolant_return_temp_c + point.supply_ramp_c_per_s * (to_s - state.point_time_s)
        supply = state.supply.advance(elapsed_s)
        state.integrals.add_interval(self.arrays, point, supply, state.temp_c, temp1_c, temp_mean_c, state.throttled,
                                     elapsed_s, return_end_c)
        state.series.close_segment(state.supply.hall_input_w(state.supply.feed_w_at(0.0)))
        state.plant.loop_temp_c = state.plant.loop_temp_c + point.supply_ramp_c_per_s * elapsed_s
        state.temp_c = temp1_c
        state.time_s = to_s

    def _advance_dies(self, elapsed_s: float) -> tuple[FloatArray, FloatArray]:
        """Die temperatures `elapsed_s` on and their means over the interval, °C; plot points recorded inside it.

        Exact: T(t) = T_ss + drift(t) + (T0 − T_ss − drift(0))·e^(−t/τ) under a linear coolant drift
        (racksim.physics.thermal.rc_temperature_c, rc_mean_temperature_c).
        """
        state = self.state
        point = state.point
        self._record_curve(elapsed_s)
        temp_ss = point.chip_temp_ss_c + state.coolant_drift_c()
        end_c = rc_temperature_c(state.temp_c, temp_ss, point.chip_tau_s, elapsed_s, point.chip_coolant_ramp_c_per_s)
        mean_c = rc_mean_temperature_c(state.temp_c, temp_ss, point.chip_tau_s, elapsed_s,
                                       point.chip_coolant_ramp_c_per_s)
        return end_c, mean_c

    def state_changed(self) -> None:
        """Re-evaluate the operating point, record it, and wake every process waiting on a change."""
        state = self.state
        state.point = self._evaluate()
        if self.power_control.check():
            state.point = self._evaluate()
        state.supply.retarget(state.point, state.plant, settle=state.time_s == 0.0)  # the job is running at t = 0
        self._check_finite()
        state.event_count += 1
        self.record()
        self._wake_watchers()
        if self._progress is not None:
            self._progress(state.time_s)

    def _wake_watchers(self) -> None:
        """Wake every process waiting on a change."""
        woken, self.changed = self.changed, self.env.event()
        woken.succeed()

    def skip_cycles_s(self) -> float:
        """At a job cycle's end: book the cycles that would repeat it exactly; the time to jump over, s (0: none)."""
        if self.cycles is None:
            return 0.0
        quiet = not self.power_control.acting and self.job.running and self.env.peek() > self.env.now
        skip_s = self.cycles.skip_s(quiet)
        if skip_s > 0:
            self._wake_watchers()  # they wait for the next change instead of timing their events
        return skip_s

    def resume_after_skip(self) -> None:
        """After the jump: the state's clock moves on with every state as it is, and the next cycle is measured."""
        assert self.cycles is not None
        state = self.state
        elapsed_s = self.env.now - state.time_s
        state.time_s += elapsed_s
        state.point_time_s += elapsed_s
        if self._progress is not None:
            self._progress(state.time_s)
        self.cycles.resume()

    def _check_finite(self) -> None:
        point, time_s = self.state.point, self.state.time_s
        bad = ~np.isfinite(point.chip_temp_ss_c)
        if bad.any():
            label = self.arrays.chips.label[int(np.argmax(bad))]
            raise SimulationError(f"{label}: temperature is not finite at t = {time_s:.3f} s "
                                  "(zero coolant flow or a zero thermal capacity?)")
        if not np.all(np.isfinite(point.feed_w)):
            raise SimulationError(f"rack{int(np.argmax(~np.isfinite(point.feed_w)))}: feed power is not "
                                  f"finite at t = {time_s:.3f} s (busbar or shelves cannot carry the load)")

    def record(self, time_s: float | None = None, temp_c: FloatArray | None = None) -> None:
        """Append a time-series row: the current state, or the current powers with given die temperatures."""
        state, gpu = self.state, self._gpu_index
        point, supply = state.point, state.supply
        time_s = state.time_s if time_s is None else time_s
        temp_c = state.temp_c if temp_c is None else temp_c
        loop_rise_c = point.supply_ramp_c_per_s * (time_s - state.point_time_s)
        feed_w = supply.hall_input_w(supply.feed_w_at(time_s - state.time_s))
        if time_s > state.time_s:  # a point inside the interval: the segment before it ends here
            state.series.close_segment(feed_w)
        it_w, losses_w, fans_w, pumps_w, exhaust_c, flow_fraction = point.totals
        gpu_temp_c = temp_c[gpu]
        bbu_j, smoothing_j = supply.stored_energy_j_at(time_s - state.time_s)
        state.series.append(SeriesRow(
            time_s=time_s, feed_power_w=feed_w, it_power_w=it_w, loss_power_w=losses_w,
            gpu_power_w=point.gpu_power_w_total, gpu_temp_c_max=float(gpu_temp_c.max()),
            gpu_temp_c_mean=float(gpu_temp_c.mean()),
            coolant_supply_temp_c=float((point.supply_temp_c + loop_rise_c).max()),
            coolant_return_temp_c=float((point.coolant_return_temp_c + loop_rise_c).max()),
            exhaust_temp_c=exhaust_c, fan_power_w=fans_w, pump_power_w=pumps_w, coolant_flow_fraction=flow_fraction,
            throttled_gpu_fraction=float(state.throttled[gpu].sum() / gpu.size),
            shutdown_gpu_fraction=float(state.plant.chip_down[gpu].sum() / gpu.size),
            work_units=self.job.work_units, feed_power_end_w=feed_w,
            feed_power_unsmoothed_w=supply.hall_input_w(supply.feed_w_unsmoothed()),
            bbu_energy_j=bbu_j, smoothing_energy_j=smoothing_j,
        ))

    def _record_curve(self, elapsed_s: float) -> None:
        """Sample the exact exponentials inside a long interval so plots show curves, not chords.

        Points are spaced at half the fastest die time constant, at most CURVE_POINTS per interval (none in
        runs longer than CURVE_MAX_DURATION_S); integrals never use them, so they cost plotting fidelity only.
        """
        state = self.state
        point = state.point
        spacing_s = 0.5 * float(point.chip_tau_s.min())
        if elapsed_s <= 2 * spacing_s:
            return
        count = min(CURVE_POINTS if self.duration_s <= CURVE_MAX_DURATION_S else 0, int(elapsed_s / spacing_s))
        temp_ss = point.chip_temp_ss_c + state.coolant_drift_c()
        for offset_s in np.linspace(0.0, elapsed_s, count + 1)[1:-1]:
            temp = rc_temperature_c(state.temp_c, temp_ss, point.chip_tau_s, float(offset_s),
                                    point.chip_coolant_ramp_c_per_s)
            self.record(state.time_s + float(offset_s), temp)

    def _toggle_chips(self) -> bool:
        """Throttle, release or shut down chips at their thresholds; halt the job if a GPU shut down."""
        state, chips = self.state, self.arrays.chips
        throttled = state.throttled
        engage, release, shutdown = self._threshold_masks(state.temp_c)
        for mask, kind in ((engage, "throttle"), (release, "release"), (shutdown, "shutdown")):
            if mask.any():
                state.log(kind, ", ".join(np.asarray(chips.label)[mask][:4]) + (" ..." if mask.sum() > 4 else ""))
        state.throttled = (throttled | engage) & ~release & ~shutdown
        state.plant.chip_off = state.plant.chip_off | shutdown
        if (shutdown & chips.is_gpu).any():
            self.job.halt("a GPU shut down")
        return bool((engage | release | shutdown).any())

    def _threshold_masks(self, temp_c: FloatArray) -> tuple[BoolArray, BoolArray, BoolArray]:
        """The running chips that temperatures `temp_c` (chips on the last axis) throttle, release, shut down."""
        state, chips = self.state, self.arrays.chips
        off, throttled = state.plant.chip_down, state.throttled
        shutdown = ~off & (temp_c >= chips.shutdown_temp_c - TEMP_TOLERANCE_C)
        engage = ~off & ~throttled & ~shutdown & (temp_c >= chips.throttle_temp_c - TEMP_TOLERANCE_C)
        release = ~off & throttled & ~shutdown & (temp_c <= chips.release_temp_c + TEMP_TOLERANCE_C)
        return engage, release, shutdown

    def _crossing_times_s(self) -> FloatArray:
        """Time until each running chip reaches the threshold that changes its state, s (inf: never)."""
        state, chips = self.state, self.arrays.chips
        point, throttled = state.point, state.throttled
        temp_ss = point.chip_temp_ss_c + state.coolant_drift_c()

        def time_to(threshold: FloatArray) -> FloatArray:
            return rc_crossing_time_s(state.temp_c, temp_ss, point.chip_tau_s, threshold,
                                      point.chip_coolant_ramp_c_per_s)

        up = np.where(throttled, chips.shutdown_temp_c, chips.throttle_temp_c)
        times = time_to(up)
        if throttled.any():
            times = np.where(throttled, np.minimum(times, time_to(chips.release_temp_c)), times)
        return np.where(state.plant.chip_down, np.inf, times)

    # ------------------------------------------------------------------ processes

    def _fault_schedule(self) -> simpy.events.ProcessGenerator:
        plant = self.state.plant
        for action in self._faults:
            if action.time_s > self.env.now:
                yield self.env.timeout(action.time_s - self.env.now)
            self.advance_to(self.env.now)
            links_before = plant.link_failures > 0
            action.change(plant)
            self.state.log("repair" if action.label.startswith("repair") else "fault", action.label)
            links_down = plant.link_failures > 0
            if not np.array_equal(links_before, links_down):
                self.job.network_rate = self._network_rate(np.flatnonzero(links_down))
            if action.interrupts:
                self.job.interrupt(action.label)
            self.state_changed()

    def _frozen(self) -> bool:
        return self.cycles is not None and self.cycles.frozen

    def _thermal_events(self) -> simpy.events.ProcessGenerator:
        """Wake at the next die-temperature threshold crossing (solved in closed form) and toggle the chips."""
        while True:
            changed = self.changed
            wait_s = math.inf if self._frozen() else float(self._crossing_times_s().min())
            if not math.isfinite(wait_s):
                yield changed
                continue
            crossing = self.env.timeout(wait_s)
            yield crossing | changed
            if changed.processed:
                continue
            self.advance_to(self.env.now)
            if self._toggle_chips():
                self.state_changed()

    def _supply_watcher(self) -> simpy.events.ProcessGenerator:
        state = self.state
        supply, plant = state.supply, state.plant
        while True:
            changed = self.changed
            wait_s = math.inf if self._frozen() else supply.next_event_s() - (self.env.now - state.time_s)
            if not math.isfinite(wait_s):
                yield changed
                continue
            event = self.env.timeout(max(wait_s, 0.0))
            yield event | changed
            if changed.processed:
                continue
            self.advance_to(self.env.now)
            opened = supply.tripped_breakers()
            if opened.any():
                plant.feed_up = plant.feed_up & ~opened
                supply.breaker_stress = np.where(opened, 0.0, supply.breaker_stress)
                self.breaker_trips += int(opened.sum())
                feeds = ", ".join(f"rack{r} feed {'AB'[f]}" for r, f in zip(*np.nonzero(opened), strict=True))
                state.log("breaker", f"{feeds}: overcurrent along the breaker's trip curve")
            if supply.battery_exhausted().any():
                state.log("battery", "BBUs empty")
            self.state_changed()

    def run(self) -> RunResult:
        """Run to the end of the duration and return the integrals, the time series and the event log."""
        self.job.start()
        self.env.process(self._fault_schedule())
        self.env.process(self._thermal_events())
        self.env.process(self._supply_watcher())
        self.power_control.start()
        self.env.run(until=self.duration_s)
        while self.env.peek() <= self.duration_s:  # work finishing exactly at the end still counts
            self.env.step()
        self.advance_to(self.duration_s)
        self.record()
        self.job.finish(self.duration_s)
        job, state = self.job, self.state
        gpu_shutdowns = int((state.plant.chip_off & self.arrays.chips.is_gpu).sum())
        return RunResult(state.integrals, state.series.columns(), state.series.feed_summary(), job.work_units,
                         job.work_lost_units, gpu_shutdowns, self.power_control.trips, self.duration_s,
                         state.event_count, state.events, self.breaker_trips, job.interruptions, job.downtime_s,
                         dict(job.phase_time_s), job.stall_s, job.collective_s,
                         (float(job.traffic_gbyte_per_gpu[0]), float(job.traffic_gbyte_per_gpu[1])),
                         self.cycles.cycles_skipped if self.cycles is not None else 0)


def _settled_point(points: PointCache, activity: Activity, throttled: BoolArray, plant: PlantState) -> OperatingPoint:
    """The operating point for these inputs (memoized in `points`), with `plant`'s fan speeds and loop set to it."""
    point = points(activity, throttled, plant)
    plant.fan_speed = point.fan_speed
    plant.loop_temp_c = point.supply_temp_c.copy()
    return point
