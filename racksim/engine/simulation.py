"""The hybrid engine: SimPy schedules events, the vectorized core advances state in closed form.

Four SimPy processes run a simulation, whatever the number of components:
- the job (engine/job.py) walks through its phases; a phase's end moves when its pace changes (the GPUs'
  work rate, the collectives' speed);
- the fault schedule applies faults and repairs to the plant state;
- the thermal watcher solves for the next die-temperature threshold crossing (throttle, release,
  shutdown) over all chips at once and sleeps until then, or until any other event changes the state;
- the supply watcher (engine/supply.py) wakes at the next ramp end, store or battery limit, or breaker trip.
A periodic job's cycles that would repeat the last one bit for bit are booked and jumped over
(engine/cycles.py).
After each event the power control (engine/power_control.py) trips racks their supply cannot carry and
starts the capping controller. Between events every power is constant, so energies are exact products and
die temperatures follow exact exponentials (with a linear coolant drift while a CDU rejects nothing). With
`thermal_step_s` set, a fixed-step explicit-Euler ticker replaces the watcher: a slow reference to test the
closed form against, not a production path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy

from racksim._types import FloatArray
from racksim.engine.cycles import CycleSkipper
from racksim.engine.feed_statistics import FeedSummary
from racksim.engine.job import IDLE, Job, PhaseSource
from racksim.engine.power_control import PowerControl
from racksim.engine.recorder import Integrals, SeriesRow, TimeSeries
from racksim.engine.supply_state import Supply
from racksim.errors import SimulationError
from racksim.network import allreduce_rate_with_links_down
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import OperatingPoint, PointCache
from racksim.physics.plant import PlantState
from racksim.physics.thermal import rc_crossing_time_s, rc_mean_temperature_c, rc_temperature_c
from racksim.workload.faults import FaultAction

TEMP_TOLERANCE_C = 1e-6
"""A die within this of a threshold has reached it (crossing times are solved to ~1e-12 K)."""
CURVE_POINTS = 8
CURVE_MAX_DURATION_S = 6 * 3600.0
"""Runs longer than this record no intermediate curve points (their plots cannot show them anyway)."""
"""Most intermediate time-series points recorded inside one long interval."""


@dataclass(frozen=True)
class Event:
    """Something worth marking on a timeline."""

    time_s: float
    kind: str
    """fault, repair, throttle, release, shutdown, cap, breaker, battery, trip, job_halted, interruption, restart."""
    detail: str


@dataclass(frozen=True)
class RunResult:
    """What a finished simulation hands to the metrics."""

    integrals: Integrals
    series: dict[str, FloatArray]
    feed: FeedSummary
    """The feed power's exact peak, percentiles and ramps, whatever the series' resolution."""
    work_units: float
    work_lost_units: float
    gpu_shutdowns: int
    trips: int
    duration_s: float
    event_count: int
    events: list[Event] = field(default_factory=list)
    breaker_trips: int = 0
    interruptions: int = 0
    """Times a failure stopped the running job."""
    downtime_s: float = 0.0
    """Time the job spent stopped and restarting after interruptions, s."""
    phase_time_s: dict[str, float] = field(default_factory=dict)
    """Nominal time of the phases the job ran, by phase name (compute, communication, checkpoint, ...), s."""
    stall_s: float = 0.0
    """Time beyond nominal: phases stretched by throttling, capping, lost GPUs or failed links, s."""
    collective_s: float = 0.0
    """Time the job's collectives ran, exposed or hidden behind compute, s."""
    traffic_gbyte_per_gpu: tuple[float, float] = (0.0, 0.0)
    """Bytes each GPU moved over (scale-up, scale-out), GB."""
    cycles_skipped: int = 0
    """Job cycles booked without being simulated, as exact repeats of the one before (engine/cycles.py)."""


class Simulation:
    """One run of a workload, with scheduled faults, on the racks described by `arrays`."""

    def __init__(
        self, arrays: RackArrays, phases: PhaseSource, duration_s: float, *,
        faults: list[FaultAction] | None = None, thermal_step_s: float | None = None,
        progress: Callable[[float], None] | None = None, network_rate: Callable[[np.ndarray], float] | None = None,
        skip_cycles: bool = True, timeseries_resolution_s: float | None = None,
    ) -> None:
        """Set up the plant idle and settled; `network_rate(links_down)` gives the workload's collective speed.

        The default network rate is the reference all-reduce's with those scale-up links failed. With
        `skip_cycles`, job cycles that would repeat the last one exactly are booked, not simulated. With
        `timeseries_resolution_s`, the time series keeps a row per that interval (racksim.engine.recorder).
        """
        self.arrays = arrays
        self.duration_s = duration_s
        self.thermal_step_s = thermal_step_s
        reliability = arrays.design.reliability
        self.job = Job(self, phases, reliability.restart_time_s if reliability else 0.0)
        self._network_rate = network_rate or (lambda links: allreduce_rate_with_links_down(arrays.design, links))
        self._faults = faults or []
        self._progress = progress
        self.env = simpy.Environment()
        self.time_s = 0.0
        self.activity = IDLE
        self.throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
        self.plant = PlantState.nominal(arrays)
        self.events: list[Event] = []
        self.power_control = PowerControl(self)
        self.supply = Supply(arrays)
        self._points = PointCache(arrays)
        self._gpu_index = np.flatnonzero(arrays.chips.is_gpu)
        self.point: OperatingPoint = self._evaluate()
        self.supply.retarget(self.point, self.plant, settle=True)
        self.breaker_trips = 0
        self.temp_c = self.point.chip_temp_ss_c.copy()  # racks idle and settled before the job starts
        self.event_count = 0
        self.integrals = Integrals(tuple(arrays.design.power.stage_names), arrays.chips.is_gpu.size, arrays.n_racks,
                                   arrays.hall.n_rows)
        self.series = TimeSeries(resolution_s=timeseries_resolution_s)
        self.changed = self.env.event()
        self.cycles = CycleSkipper(self, [action.time_s for action in self._faults]) if skip_cycles else None
        self.record()

    # ------------------------------------------------------------------ state

    @property
    def point_key(self) -> tuple[object, ...]:
        """The exact inputs of the operating point in force (racksim.physics.operating_point.PointCache.key)."""
        return self._points.last_key

    def _evaluate(self) -> OperatingPoint:
        point = self._points(self.activity, self.throttled, self.plant)
        self.plant.fan_speed = point.fan_speed
        self.plant.loop_temp_c = point.supply_temp_c.copy()
        self.point_time_s = self.time_s
        return point

    def _coolant_drift_c(self) -> FloatArray:
        """How far each die's coolant has risen since the operating point was evaluated, K."""
        return self.point.chip_coolant_ramp_c_per_s * (self.time_s - self.point_time_s)

    def advance_to(self, to_s: float) -> None:
        """Carry temperatures and integrals from the current time to `to_s` at the current operating point."""
        elapsed = to_s - self.time_s
        if elapsed <= 0:
            return
        assert self.cycles is None or not self.cycles.frozen, "no state advances during a cycle jump"
        point = self.point
        if self.thermal_step_s is None:
            self._record_curve(elapsed)
            temp_ss = point.chip_temp_ss_c + self._coolant_drift_c()
            temp1 = rc_temperature_c(self.temp_c, temp_ss, point.chip_tau_s, elapsed, point.chip_coolant_ramp_c_per_s)
            temp_mean = rc_mean_temperature_c(self.temp_c, temp_ss, point.chip_tau_s, elapsed,
                                              point.chip_coolant_ramp_c_per_s)
        else:
            temp1, temp_mean = self._euler(elapsed, self.thermal_step_s)
        return_end_c = point.coolant_return_temp_c + point.supply_ramp_c_per_s * (to_s - self.point_time_s)
        supply = self.supply.advance(elapsed)
        self.integrals.add_interval(self.arrays, point, supply, self.temp_c, temp1, temp_mean, self.throttled,
                                    elapsed, return_end_c)
        self.series.close_segment(float(self.supply.feed_w_at(0.0).sum()))
        self.plant.loop_temp_c = self.plant.loop_temp_c + point.supply_ramp_c_per_s * elapsed
        self.temp_c = temp1
        self.time_s = to_s

    def _euler(self, elapsed: float, max_step_s: float) -> tuple[FloatArray, FloatArray]:
        """Fixed-step explicit Euler of C·dT/dt = P − (T − T_cool(t))/R; returns end and mean temperature."""
        chips, point = self.arrays.chips, self.point
        steps = max(1, math.ceil(elapsed / max_step_s - 1e-9))
        step = elapsed / steps
        temp = self.temp_c.copy()
        total = np.zeros_like(temp)
        coolant0 = point.chip_coolant_temp_c + self._coolant_drift_c()
        for index in range(steps):
            coolant = coolant0 + point.chip_coolant_ramp_c_per_s * index * step
            previous = temp
            temp = temp + step * (point.chip_power_w - (temp - coolant) / point.chip_resistance_k_per_w) \
                / chips.heat_capacity_j_per_k
            total += 0.5 * (previous + temp)
        return temp, total / steps

    def state_changed(self) -> None:
        """Re-evaluate the operating point, record it, and wake every process waiting on a change."""
        self.point = self._evaluate()
        if self.power_control.check():
            self.point = self._evaluate()
        self.supply.retarget(self.point, self.plant, settle=self.time_s == 0.0)  # the job is running at t = 0
        self._check_finite()
        self.event_count += 1
        self.record()
        self.wake_watchers()
        if self._progress is not None:
            self._progress(self.time_s)

    def wake_watchers(self) -> None:
        """Wake every process waiting on a change."""
        woken, self.changed = self.changed, self.env.event()
        woken.succeed()

    def shift_clock(self, elapsed_s: float) -> None:
        """Move the engine's clock on by `elapsed_s` with every state as it is (after a cycle jump)."""
        self.time_s += elapsed_s
        self.point_time_s += elapsed_s
        if self._progress is not None:
            self._progress(self.time_s)

    def _check_finite(self) -> None:
        bad = ~np.isfinite(self.point.chip_temp_ss_c)
        if bad.any():
            label = self.arrays.chips.label[int(np.argmax(bad))]
            raise SimulationError(f"{label}: temperature is not finite at t = {self.time_s:.3f} s "
                                  "(zero coolant flow or a zero thermal capacity?)")
        if not np.all(np.isfinite(self.point.feed_w)):
            raise SimulationError(f"rack{int(np.argmax(~np.isfinite(self.point.feed_w)))}: feed power is not "
                                  f"finite at t = {self.time_s:.3f} s (busbar or shelves cannot carry the load)")

    def record(self, time_s: float | None = None, temp_c: FloatArray | None = None) -> None:
        """Append a time-series row: the current state, or the current powers with given die temperatures."""
        point, gpu = self.point, self._gpu_index
        time_s = self.time_s if time_s is None else time_s
        temp_c = self.temp_c if temp_c is None else temp_c
        loop_rise_c = point.supply_ramp_c_per_s * (time_s - self.point_time_s)
        feed_w = float(self.supply.feed_w_at(time_s - self.time_s).sum())
        if time_s > self.time_s:  # a point inside the interval: the segment before it ends here
            self.series.close_segment(feed_w)
        it_w, losses_w, fans_w, pumps_w, exhaust_c, flow_fraction = point.totals
        gpu_temp_c = temp_c[gpu]
        bbu_j, smoothing_j = self.supply.stored_energy_j_at(time_s - self.time_s)
        self.series.append(SeriesRow(
            time_s=time_s, feed_power_w=feed_w, it_power_w=it_w, loss_power_w=losses_w,
            gpu_power_w=point.gpu_power_w_total, gpu_temp_c_max=float(gpu_temp_c.max()),
            gpu_temp_c_mean=float(gpu_temp_c.mean()),
            coolant_supply_temp_c=float((point.supply_temp_c + loop_rise_c).max()),
            coolant_return_temp_c=float((point.coolant_return_temp_c + loop_rise_c).max()),
            exhaust_temp_c=exhaust_c, fan_power_w=fans_w, pump_power_w=pumps_w, coolant_flow_fraction=flow_fraction,
            throttled_gpu_fraction=float(self.throttled[gpu].sum() / gpu.size),
            shutdown_gpu_fraction=float(self.plant.chip_down[gpu].sum() / gpu.size),
            work_units=self.job.work_units, feed_power_end_w=feed_w,
            feed_power_unsmoothed_w=float(self.supply.feed_w_unsmoothed().sum()),
            bbu_energy_j=bbu_j, smoothing_energy_j=smoothing_j,
        ))

    def _record_curve(self, elapsed: float) -> None:
        """Sample the exact exponentials inside a long interval so plots show curves, not chords.

        Points are spaced at half the fastest die time constant, at most CURVE_POINTS per interval (none in
        runs longer than CURVE_MAX_DURATION_S);
        integrals never use them, so they cost plotting fidelity only.
        """
        point = self.point
        spacing_s = 0.5 * float(point.chip_tau_s.min())
        if elapsed <= 2 * spacing_s:
            return
        count = min(CURVE_POINTS if self.duration_s <= CURVE_MAX_DURATION_S else 0, int(elapsed / spacing_s))
        temp_ss = point.chip_temp_ss_c + self._coolant_drift_c()
        for offset_s in np.linspace(0.0, elapsed, count + 1)[1:-1]:
            temp = rc_temperature_c(self.temp_c, temp_ss, point.chip_tau_s, float(offset_s),
                                    point.chip_coolant_ramp_c_per_s)
            self.record(self.time_s + float(offset_s), temp)

    def log(self, kind: str, detail: str) -> None:
        """Mark an event on the run's timeline at the current time."""
        self.events.append(Event(self.time_s, kind, detail))

    def _toggle_chips(self) -> bool:
        """Throttle, release or shut down chips at their thresholds; halt the job if a GPU shut down."""
        chips, off = self.arrays.chips, self.plant.chip_down
        shutdown = ~off & (self.temp_c >= chips.shutdown_temp_c - TEMP_TOLERANCE_C)
        engage = ~off & ~self.throttled & ~shutdown & (self.temp_c >= chips.throttle_temp_c - TEMP_TOLERANCE_C)
        release = ~off & self.throttled & ~shutdown & (self.temp_c <= chips.release_temp_c + TEMP_TOLERANCE_C)
        for mask, kind in ((engage, "throttle"), (release, "release"), (shutdown, "shutdown")):
            if mask.any():
                self.log(kind, ", ".join(np.asarray(chips.label)[mask][:4]) + (" ..." if mask.sum() > 4 else ""))
        self.throttled = (self.throttled | engage) & ~release & ~shutdown
        self.plant.chip_off = self.plant.chip_off | shutdown
        if (shutdown & chips.is_gpu).any():
            self.job.halt("a GPU shut down")
        return bool((engage | release | shutdown).any())

    def _crossing_times_s(self) -> FloatArray:
        """Time until each running chip reaches the threshold that changes its state, s (inf: never)."""
        chips, point = self.arrays.chips, self.point

        temp_ss = point.chip_temp_ss_c + self._coolant_drift_c()

        def time_to(threshold: FloatArray) -> FloatArray:
            return rc_crossing_time_s(self.temp_c, temp_ss, point.chip_tau_s, threshold,
                                      point.chip_coolant_ramp_c_per_s)

        up = np.where(self.throttled, chips.shutdown_temp_c, chips.throttle_temp_c)
        times = time_to(up)
        if self.throttled.any():
            times = np.where(self.throttled, np.minimum(times, time_to(chips.release_temp_c)), times)
        return np.where(self.plant.chip_down, np.inf, times)

    # ------------------------------------------------------------------ processes

    def _fault_schedule(self) -> simpy.events.ProcessGenerator:
        for action in self._faults:
            if action.time_s > self.env.now:
                yield self.env.timeout(action.time_s - self.env.now)
            self.advance_to(self.env.now)
            links_before = self.plant.link_failures > 0
            action.change(self.plant)
            self.log("repair" if action.label.startswith("repair") else "fault", action.label)
            links_down = self.plant.link_failures > 0
            if not np.array_equal(links_before, links_down):
                self.job.network_rate = self._network_rate(np.flatnonzero(links_down))
            if action.interrupts:
                self.job.interrupt(action.label)
            self.state_changed()

    def _frozen(self) -> bool:
        return self.cycles is not None and self.cycles.frozen

    def _thermal_watcher(self) -> simpy.events.ProcessGenerator:
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
        while True:
            changed = self.changed
            wait_s = math.inf if self._frozen() else self.supply.next_event_s() - (self.env.now - self.time_s)
            if not math.isfinite(wait_s):
                yield changed
                continue
            event = self.env.timeout(max(wait_s, 0.0))
            yield event | changed
            if changed.processed:
                continue
            self.advance_to(self.env.now)
            opened = self.supply.tripped_breakers()
            if opened.any():
                self.plant.feed_up = self.plant.feed_up & ~opened
                self.supply.breaker_stress = np.where(opened, 0.0, self.supply.breaker_stress)
                self.breaker_trips += int(opened.sum())
                feeds = ", ".join(f"rack{r} feed {'AB'[f]}" for r, f in zip(*np.nonzero(opened), strict=True))
                self.log("breaker", f"{feeds}: overcurrent along the breaker's trip curve")
            if self.supply.battery_exhausted().any():
                self.log("battery", "BBUs empty")
            self.state_changed()

    def _thermal_ticker(self, step_s: float) -> simpy.events.ProcessGenerator:
        while True:
            yield self.env.timeout(step_s)
            self.advance_to(self.env.now)
            if self._toggle_chips():
                self.state_changed()

    def run(self) -> RunResult:
        """Run to the end of the duration and return the integrals, the time series and the event log."""
        self.job.start()
        self.env.process(self._fault_schedule())
        thermal = self._thermal_watcher() if self.thermal_step_s is None else self._thermal_ticker(self.thermal_step_s)
        self.env.process(thermal)
        self.env.process(self._supply_watcher())
        self.env.run(until=self.duration_s)
        while self.env.peek() <= self.duration_s:  # work finishing exactly at the end still counts
            self.env.step()
        self.advance_to(self.duration_s)
        self.record()
        self.job.finish(self.duration_s)
        job = self.job
        gpu_shutdowns = int((self.plant.chip_off & self.arrays.chips.is_gpu).sum())
        return RunResult(self.integrals, self.series.columns(), self.series.feed_summary(), job.work_units,
                         job.work_lost_units, gpu_shutdowns,
                         int(self.plant.tripped.sum()), self.duration_s, self.event_count, self.events,
                         self.breaker_trips, job.interruptions, job.downtime_s, dict(job.phase_time_s), job.stall_s,
                         job.collective_s, (float(job.traffic_gbyte_per_gpu[0]), float(job.traffic_gbyte_per_gpu[1])),
                         self.cycles.cycles_skipped if self.cycles is not None else 0)
