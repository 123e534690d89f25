"""The synchronous job: walks its phases, counts work and where the time went, loses work to failures.

A SimPy process drives it; it sets the engine's activity and reads its pace through the engine's state and
interface (engine/state.py). A phase ends when its nominal time is done at the current pace (the GPUs' work
rate for compute, the collectives' speed for communication); the pace changes only at events, so each
wait is exact. An interruption (a failure, a rack trip) loses the work since the last checkpoint and restarts
the phases after the restart time, once no rack is tripped (an operator resets a tripped rack:
engine/power_control.py); a halt (a GPU's thermal shutdown) stops the job for good.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

import numpy as np
import simpy

from racksim.engine.state import Engine
from racksim.physics.operating_point import Activity
from racksim.workload import Phase

IDLE = Activity(gpu_utilization=0.0, cpu_utilization=0.05, network_utilization=0.0)
PhaseSource = Iterator[Phase] | Callable[[], Iterator[Phase]]


class Job:
    """Work done and lost, and the time the job spent in each kind of phase, stalled or down."""

    def __init__(self, engine: Engine, phases: PhaseSource, restart_time_s: float) -> None:
        self.engine = engine
        self._phases = phases
        """The job's phases; a factory restarts them from the top after an interruption (checkpoint cadence anew)."""
        self.restart_time_s = restart_time_s
        self.work_units = 0.0
        self.work_at_checkpoint = 0.0
        self.work_lost_units = 0.0
        self.halted = False
        self.interruptions = 0
        self.downtime_s = 0.0
        self._down_since_s: float | None = None
        self.network_rate = 1.0
        """Speed of the job's collectives relative to all scale-up links up."""
        self.phase_time_s: dict[str, float] = defaultdict(float)
        """Nominal time of the phases run, by phase name (the share done of a phase cut short), s."""
        self.stall_s = 0.0
        """Time beyond nominal: phases stretched by throttling, capping, lost GPUs or failed links, s."""
        self.collective_s = 0.0
        """Time the job's collectives ran, exposed or hidden, stretched as their phases were, s."""
        self.traffic_gbyte_per_gpu = np.zeros(2)
        """Bytes each GPU moved over (scale-up, scale-out), GB."""
        self.process: simpy.Process | None = None
        self._in_progress: tuple[Phase, float, float] | None = None
        """The phase under way: (phase, since when at this pace, s, pace)."""

    @staticmethod
    def sums() -> tuple[str, ...]:
        """The running sums a periodic cycle adds to (engine/cycles.py repeats them for the cycles it skips)."""
        return ("work_units", "work_at_checkpoint", "phase_time_s", "stall_s", "collective_s", "traffic_gbyte_per_gpu")

    def start(self) -> None:
        """Start the job's SimPy process."""
        self.process = self.engine.env.process(self._run())

    def _source(self) -> Iterator[Phase]:
        return self._phases() if callable(self._phases) else self._phases

    def _run(self) -> simpy.events.ProcessGenerator:
        """Run the phases; after an interruption, wait for tripped racks' reset and the restart time, start again."""
        engine = self.engine
        phases = self._source()
        while True:
            try:
                yield from self._run_phases(phases)
                if not self.stopped:  # done, or halted for good
                    return
            except simpy.Interrupt:
                pass
            engine.advance_to(engine.env.now)
            engine.state.activity = IDLE
            engine.state_changed()
            yield from self._wait_to_restart()
            if self.halted:
                return
            engine.advance_to(engine.env.now)
            self._resume()
            phases = self._source()

    def _wait_to_restart(self) -> simpy.events.ProcessGenerator:
        """Wait until no rack is tripped, then the restart time; a failure or trip meanwhile starts the wait again."""
        engine = self.engine
        while True:
            try:
                while engine.state.plant.tripped.any():  # the job spans every rack: it waits for their reset
                    yield engine.changed
                yield engine.env.timeout(self.restart_time_s)
                return
            except simpy.Interrupt:
                continue

    @property
    def running(self) -> bool:
        """Neither halted nor down after an interruption."""
        return not self.halted and self._down_since_s is None

    @property
    def stopped(self) -> bool:
        """Down after an interruption, waiting to restart (not halted)."""
        return not self.halted and self._down_since_s is not None

    def _pace(self, phase: Phase) -> float:
        if phase.pace == "compute":
            return self.engine.state.point.work_rate
        return self.network_rate if phase.pace == "network" else 1.0

    def _run_phases(self, phases: Iterator[Phase]) -> simpy.events.ProcessGenerator:
        engine, env = self.engine, self.engine.env
        for phase in phases:
            if not self.running:
                return
            engine.advance_to(env.now)
            engine.state.activity = phase.activity
            engine.state_changed()
            remaining_s = phase.nominal_s
            while remaining_s > 0 and self.running:
                rate = max(self._pace(phase), 0.0)
                started_s = env.now
                self._in_progress = (phase, started_s, rate)
                finish = env.timeout(remaining_s / rate) if rate > 0 else None  # none: wait for a change
                try:
                    yield engine.changed if finish is None else finish | engine.changed
                finally:  # an interruption also ends the phase's progress here
                    self._in_progress = None
                    self._credit(phase, (env.now - started_s) * rate, env.now - started_s)
                if finish is not None and finish.processed:
                    break
                remaining_s -= (env.now - started_s) * rate
            if not self.running:
                return
            if phase.work_units or phase.saves_checkpoint or phase.ends_cycle:
                engine.advance_to(env.now)
                self.work_units += phase.work_units
                if phase.saves_checkpoint:
                    self.work_at_checkpoint = self.work_units
                engine.record()
            if phase.ends_cycle and (skip_s := engine.skip_cycles_s()) > 0:
                yield env.timeout(skip_s)  # the cycles are booked; nothing else is due before the jump's end
                engine.resume_after_skip()

    def _credit(self, phase: Phase, progress_s: float, elapsed_s: float) -> None:
        """Book `progress_s` of the phase's nominal time done in `elapsed_s`."""
        if phase.nominal_s <= 0 or not np.isfinite(phase.nominal_s):
            self.phase_time_s[phase.name] += elapsed_s
            return
        share = progress_s / phase.nominal_s
        self.phase_time_s[phase.name] += progress_s
        self.stall_s += elapsed_s - progress_s
        stretch = elapsed_s / progress_s if phase.pace == "network" and progress_s > 0 else 1.0
        self.collective_s += phase.collective_s * share * stretch
        self.traffic_gbyte_per_gpu += share * np.array([phase.scale_up_gbyte_per_gpu, phase.scale_out_gbyte_per_gpu])

    def interrupt(self, reason: str) -> None:
        """A failure stops the job: the work since the last checkpoint is lost; it restarts after the restart time.

        Called from the job's own process (a phase's start tripped a rack), the job stops at its next step.
        """
        if self.halted or self.process is None or not self.process.is_alive:
            return
        if self._down_since_s is None:
            self.interruptions += 1
            self._down_since_s = self.engine.state.time_s
            lost = self.work_units - self.work_at_checkpoint
            self.work_lost_units += lost
            self.work_units = self.work_at_checkpoint
            self.engine.state.log("interruption", f"{reason}; {lost:g} work units since the last checkpoint lost")
        if self.engine.env.active_process is not self.process:  # SimPy: a process cannot interrupt itself
            self.process.interrupt(reason)

    def _resume(self) -> None:
        """Restart from the checkpoint: hot-spare trays stand in for job trays that are down."""
        state = self.engine.state
        arrays, plant = state.arrays, state.plant
        down_trays = np.zeros(arrays.compute_tray_rack.size, dtype=bool)
        np.logical_or.at(down_trays, arrays.chips.tray, plant.chip_down)
        in_job = plant.tray_in_job.copy()
        for rack in range(arrays.n_racks):
            trays = np.flatnonzero(arrays.compute_tray_rack == rack)
            failed, spares = trays[in_job[trays] & down_trays[trays]], trays[~in_job[trays] & ~down_trays[trays]]
            swaps = min(failed.size, spares.size)
            in_job[failed[:swaps]], in_job[spares[:swaps]] = False, True
        plant.tray_in_job = in_job
        assert self._down_since_s is not None
        self.downtime_s += state.time_s - self._down_since_s
        self._down_since_s = None
        state.log("restart", f"job restarted from its checkpoint at {self.work_units:g} work units")

    def halt(self, reason: str) -> None:
        """Stop the synchronous job for good; the work since the last checkpoint is lost."""
        if self.halted:
            return
        self.halted = True
        if self._down_since_s is not None:  # down already: from here on the halt counts
            self.downtime_s += self.engine.state.time_s - self._down_since_s
            self._down_since_s = None
        lost = self.work_units - self.work_at_checkpoint
        self.work_lost_units += lost
        self.work_units = self.work_at_checkpoint
        self.engine.state.activity = IDLE
        self.engine.state.log("job_halted", f"{reason}; {lost:g} work units since the last checkpoint lost")

    def finish(self, end_s: float) -> None:
        """Close the books at the end of the run: the phase under way and a job still down count to the end."""
        if self._in_progress is not None:
            phase, started_s, rate = self._in_progress
            self._credit(phase, (end_s - started_s) * rate, end_s - started_s)
            self._in_progress = None
        if self._down_since_s is not None:
            self.downtime_s += end_s - self._down_since_s
            self._down_since_s = None
