"""A hall as a fleet at job granularity: jobs queue, get whole racks, run, fail, wait for repair, restart, finish.

SimPy processes, one per job, one for the sampled component failures, one per scheduled fault, one per repair.
Events are what changes a rack's state: arrivals, starts, ends, failures, repair ends, spare swaps, trip resets;
between them every rack's draw is constant (racksim.engine.fleet_state) and nothing is stepped.

A job's life: queued → running (checkpoints every K steps, implicit: the work saved is computed from the time run,
so checkpoints are no events) → interrupted (a failure on any of its racks: the steps since the last checkpoint are
lost) → restarting on a hot spare (swap time + restart time, its other racks held) or, with no spare, releasing its
racks and waiting at the head of the queue for racks (restart time once it has them) → done. An inference service
is stateless: it loses no work, only serving time.

Failures: a failure of a job-interrupting class (racksim.reliability.consequences.INTERRUPTING, and a CDU) takes its
rack down until repaired; others (PSU, power shelf, fan, pump: redundant units) leave the rack running but still
need the crew and a part. A repair waits for a technician (simpy.Resource of `technicians`), for a shift (repairs
start only in the first `shift_s` of each day) and for a part (simpy.Container; a used part is restocked after
`restock_s`), then takes its hands-on time. A repaired rack tops up the hot spares first, then goes idle. A feed
loss trips its racks; an operator resets them `trip_reset_s` after the trip, or when the feed is back if that is
later (as racksim.engine.power_control; a hall of job mixes has no BBUs to carry a rack sooner).

EASY's reservations count racks coming back (`_returns_s`): a rack under repair is expected back when its
hands-on time ends (its drawn duration, known once a technician has started), one still waiting for the crew, a
shift or a part `mttr_s` of its group from now (the mean hands-on time of the group's sampled repairs, the site's
MTTR: its own draw is not known before a technician starts), a rack down or tripped by a scheduled fault when the
fault clears (and the operator has reset it), never if the fault does not clear within the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from racksim._types import FloatArray, IndexArray
from racksim.engine.fleet_state import FleetInputs, HallState, JobRecord, RackState, ScheduledOutage
from racksim.engine.state import Event
from racksim.workload.fleet_jobs import JobSpec
from racksim.workload.scheduler import Queued, Running, starts

DAY_S = 86400.0


@dataclass(frozen=True)
class FleetResult:
    """A finished fleet run: the hall's final state and integrals, and every job's record."""

    hall: HallState
    jobs: list[JobRecord]
    repairs: int
    repair_wait_s: float
    """Total time failures waited for a technician, a shift or a part, s."""
    repair_s: float
    """Total time from failure to repaired (waits and hands-on), s."""
    failures: int
    interruptions: int
    events: list[Event]
    """Failures, outages and their clearing, job interruptions (a timeline for the report)."""


class Fleet:
    """The SimPy model of a hall running a job mix (module docstring)."""

    def __init__(self, inputs: FleetInputs) -> None:
        """Racks idle, the crew and the parts stock ready, every job waiting for its submit time."""
        self.inputs = inputs
        self.env = simpy.Environment()
        self.hall = HallState(inputs)
        self.jobs = [JobRecord(options[0]) for options in inputs.jobs]
        crew = inputs.crew
        self.technicians = simpy.Resource(self.env, capacity=crew.technicians)
        self.parts = simpy.Container(self.env, capacity=max(crew.parts, 1), init=crew.parts)
        self.n_groups = int(inputs.rack_group.max()) + 1
        self.queue: list[int] = []
        """The hall's waiting jobs, in order (one queue: a job may run on several groups)."""
        self.asks: dict[int, list[Queued]] = {}
        """What each queued job asks for on each group it may use (racks, expected run time; fixed while it waits)."""
        self.holding: list[set[int]] = [set() for _ in range(self.n_groups)]
        """Jobs of each group holding racks (running or restarting)."""
        self.grants: dict[int, simpy.Event] = {}
        self.processes: dict[int, simpy.Process] = {}
        self.repairs = 0
        self.repair_wait_s = 0.0
        self.repair_s = 0.0
        self.interruptions = 0
        self.events: list[Event] = []
        n_racks = inputs.rack_group.size
        self.back_s = np.full(n_racks, -math.inf)
        """The latest known return of each rack's open faults (repairs under way, scheduled faults), s."""
        self.awaiting = np.zeros(n_racks, dtype=np.int32)
        """Repairs of each rack waiting for a technician, a shift or a part."""
        failures = inputs.failures
        stopped = inputs.rack_group[failures.rack[failures.interrupts]]
        self.mttr_s = (np.bincount(stopped, failures.repair_s[failures.interrupts], self.n_groups)
                       / np.maximum(np.bincount(stopped, minlength=self.n_groups), 1))
        """Each group's MTTR: the mean hands-on time of its sampled repairs that take a rack down, s."""

    def run(self) -> FleetResult:
        """Simulate to the end of the run."""
        for index in range(len(self.jobs)):
            self.processes[index] = self.env.process(self._job(index))
        self.env.process(self._failures())
        for outage in self.inputs.outages:
            self.env.process(self._outage(outage))
        self._schedule()
        self.env.run(until=self.inputs.duration_s)
        self.hall.advance(self.inputs.duration_s)
        return FleetResult(self.hall, self.jobs, self.repairs, self.repair_wait_s, self.repair_s,
                           int(self.inputs.failures.time_s.size), self.interruptions, self.events)

    # --- scheduling -------------------------------------------------------------------------------------------
    def _schedule(self) -> None:
        """Top up each group's spares from idle racks, then start what the policy allows on the free racks.

        Each job starts on the group the scheduler picks among those it may use (racksim.workload.scheduler.starts).
        """
        now = self.env.now
        owed = []
        spares_in = np.bincount(self.hall.group[self.hall.state == RackState.SPARE], minlength=self.n_groups)
        for group, spares in enumerate(spares_in.tolist()):
            if spares < self.inputs.hot_spares:
                idle = np.flatnonzero(self.hall.free(group))[: self.inputs.hot_spares - spares]
                self.hall.set(idle, RackState.SPARE, now)
                spares += idle.size
            owed.append(self.inputs.hot_spares - spares)
        if self.queue:
            running = [[Running(self.jobs[j].spec.racks, self.jobs[j].expected_end_s) for j in holding]
                       for holding in self.holding]
            backfill = self.inputs.backfill  # only EASY's reservations read when racks come back
            chosen = starts(now, self.hall.state == RackState.IDLE, self.hall.group, self.inputs.rack_row,
                            [self.asks[j] for j in self.queue], running, backfill, self.inputs.queue_depth,
                            self.inputs.row_packing, self._returns_s() if backfill else None, owed)
            for start in chosen:
                self._grant(self.queue[start.position], start.option.group, start.racks)
            started = {start.position for start in chosen}
            self.queue = [j for p, j in enumerate(self.queue) if p not in started]
        self._count_queued()

    def _returns_s(self) -> list[FloatArray]:
        """When each group's down and tripped racks are expected back, s (module docstring)."""
        hall = self.hall
        out = np.flatnonzero((hall.state == RackState.DOWN) | (hall.state == RackState.TRIPPED))
        group = hall.group[out]
        waiting_s = np.where(self.awaiting[out] > 0, self.env.now + self.mttr_s[group], -math.inf)
        back_s = np.maximum(self.back_s[out], waiting_s)
        return [back_s[group == g] for g in range(self.n_groups)]

    def _count_queued(self) -> None:
        """Keep the hall's count of waiting jobs current (after integrating the time before the change)."""
        self.hall.advance(self.env.now)
        self.hall.queued_jobs = len(self.queue)

    def _estimate_s(self, index: int, spec: JobSpec) -> float:
        """Expected time to finish job `index` from a restart on `spec`'s group (its saved work carried over), s."""
        record = self.jobs[index]
        if spec.kind == "training":
            saved = record.saved_steps * record.spec.tokens_per_step / spec.tokens_per_step
            return spec.restart_s + spec.time_for_steps_s(spec.steps - saved)
        return spec.serve_s if math.isnan(record.end_s) else max(record.end_s - self.env.now, 0.0)

    def _grant(self, index: int, group: int, racks: IndexArray) -> None:
        record, now = self.jobs[index], self.env.now
        record.move_to(next(spec for spec in self.inputs.jobs[index] if spec.group == group))
        record.hold(racks, now)
        self.holding[record.spec.group].add(index)
        if math.isnan(record.first_start_s):
            record.first_start_s = now
            record.rows = int(np.unique(self.inputs.rack_row[racks]).size)
            if record.spec.kind == "inference":
                record.end_s = now + record.spec.serve_s
        record.expected_end_s = self.env.now + self._estimate_s(index, record.spec)
        self.hall.set(racks, RackState.RESTARTING, self.env.now, job=index)
        self.grants.pop(index).succeed()

    def _enqueue(self, index: int, front: bool) -> simpy.Event:
        record = self.jobs[index]
        record.hold(np.zeros(0, dtype=np.intp), self.env.now)
        self.holding[record.spec.group].discard(index)
        self.asks[index] = [Queued(spec.racks, self._estimate_s(index, spec), spec.group)
                            for spec in self.inputs.jobs[index]]
        grant = self.grants[index] = self.env.event()
        self.queue.insert(0, index) if front else self.queue.append(index)
        self._count_queued()
        return grant

    # --- jobs -------------------------------------------------------------------------------------------------
    def _job(self, index: int):  # noqa: ANN202 - a SimPy generator
        record, spec = self.jobs[index], self.jobs[index].spec
        yield self.env.timeout(spec.submit_s)
        grant: simpy.Event | None = self._enqueue(index, front=False)
        self._schedule()
        swap_s: float | None = None  # after an interruption: the swap time before restarting (0 after a requeue)
        while True:
            try:
                if grant is not None:
                    waiting, grant = grant, None
                    yield waiting  # racks granted (record.racks, record.spec their group's) once this fires
                delay_s, swap_s = (0.0 if swap_s is None else swap_s + record.spec.restart_s), None
                if delay_s > 0:
                    self.hall.set(record.racks, RackState.RESTARTING, self.env.now, job=index)
                    yield self.env.timeout(delay_s)
                left_s = self._left_s(record)
                if left_s <= 0:
                    break
                record.segment_start_s = self.env.now
                record.expected_end_s = self.env.now + left_s
                self.hall.set(record.racks, RackState.RUNNING, self.env.now, job=index, profile=record.spec.profile)
                yield self.env.timeout(left_s)
                self._end_segment(record, failed=False)
                break
            except simpy.Interrupt as interrupt:
                grant, swap_s = self._interrupted(index, np.asarray(interrupt.cause, dtype=np.intp))
        if math.isnan(record.end_s) or spec.kind == "training":
            record.end_s = self.env.now
        self.hall.set(record.racks, RackState.IDLE, self.env.now)
        record.hold(np.zeros(0, dtype=np.intp), self.env.now)
        record.expected_end_s = math.inf
        self.holding[record.spec.group].discard(index)
        self._schedule()

    def _interrupted(self, index: int, failed: IndexArray) -> tuple[simpy.Event | None, float]:
        """A failure on `failed` racks stopped job `index`: swap in spares, or give its racks back and queue first.

        Returns (the grant to wait for, None after a swap; the swap time before the restart, s). A requeued job may
        restart on another group (racksim.engine.fleet_state.JobRecord.move_to).
        """
        record, spec = self.jobs[index], self.jobs[index].spec
        self._end_segment(record, failed=True)
        record.interruptions += 1
        self.interruptions += 1
        self.events.append(Event(self.env.now, "interruption", f"{spec.name} (racks {failed.tolist()})"))
        keep = record.racks[~np.isin(record.racks, failed)]
        spares = np.flatnonzero((self.hall.state == RackState.SPARE) & (self.hall.group == spec.group))
        if spares.size >= failed.size:
            record.hold(np.sort(np.concatenate([keep, spares[:failed.size]])), self.env.now)
            record.swaps += failed.size
            return None, self.inputs.crew.swap_s
        self.hall.set(keep, RackState.IDLE, self.env.now)
        grant = self._enqueue(index, front=True)
        self._schedule()
        return grant, 0.0

    def _left_s(self, record: JobRecord) -> float:
        spec = record.spec
        if spec.kind == "training":
            return spec.time_for_steps_s(spec.steps - record.saved_steps)
        return record.end_s - self.env.now

    def _end_segment(self, record: JobRecord, failed: bool) -> None:
        """Book the running segment that ends now: steps saved (all of them if it finished) and lost."""
        if math.isnan(record.segment_start_s):
            return
        now = self.env.now
        if record.spec.kind == "training":
            saved, done = record.progress_steps(now)
            if not failed:
                saved = done = float(record.spec.steps)
            record.lost_steps += done - saved
            record.saved_steps = saved
        else:
            record.served_s += now - record.segment_start_s
        record.segment_start_s = math.nan

    # --- failures and repairs ---------------------------------------------------------------------------------
    def _failures(self):  # noqa: ANN202 - a SimPy generator
        failures = self.inputs.failures
        for k in range(failures.time_s.size):
            yield self.env.timeout(float(failures.time_s[k]) - self.env.now)
            rack = int(failures.rack[k])
            self.events.append(Event(self.env.now, "fault", f"{failures.component[k]} on rack {rack}"))
            if failures.interrupts[k]:
                self.awaiting[rack] += 1
                self._take_down(np.array([rack]))
            self.env.process(self._repair(rack, float(failures.repair_s[k]), bool(failures.interrupts[k])))

    def _take_down(self, racks: IndexArray, tripped: bool = False) -> None:
        """Racks go down (or trip): their jobs are interrupted, the racks leave service."""
        hall, now = self.hall, self.env.now
        hall.open_faults[racks] += 1
        hall.tripped[racks] |= tripped
        jobs = hall.job[racks]
        hall.set(racks, RackState.TRIPPED if tripped else RackState.DOWN, now)
        for job in np.unique(jobs[jobs >= 0]):
            process = self.processes[int(job)]
            if process.is_alive:
                process.interrupt(racks[jobs == job])

    def _bring_back(self, racks: IndexArray) -> None:
        """One fault fewer on each of `racks`; those with none left return to service."""
        hall = self.hall
        hall.open_faults[racks] -= 1
        ready = racks[hall.open_faults[racks] == 0]
        hall.tripped[ready] = False
        self.back_s[ready] = -math.inf
        hall.set(ready, RackState.IDLE, self.env.now)
        self._schedule()

    def _repair(self, rack: int, hands_on_s: float, down: bool):  # noqa: ANN202 - a SimPy generator
        failed_s, crew = self.env.now, self.inputs.crew
        with self.technicians.request() as technician:
            yield technician
            into_day_s = self.env.now % DAY_S
            if into_day_s >= crew.shift_s:
                yield self.env.timeout(DAY_S - into_day_s)
            if crew.parts > 0:
                yield self.parts.get(1)
                self.env.process(self._restock())
            self.repair_wait_s += self.env.now - failed_s
            if down:
                self.awaiting[rack] -= 1
                self.back_s[rack] = max(self.back_s[rack], self.env.now + hands_on_s)
            yield self.env.timeout(hands_on_s)
        self.repairs += 1
        self.repair_s += self.env.now - failed_s
        if down:
            self._bring_back(np.array([rack]))

    def _restock(self):  # noqa: ANN202 - a SimPy generator
        yield self.env.timeout(self.inputs.crew.restock_s)
        yield self.parts.put(1)

    def _outage(self, outage: ScheduledOutage):  # noqa: ANN202 - a SimPy generator
        yield self.env.timeout(outage.time_s)
        self.events.append(Event(self.env.now, "fault", outage.label))
        if not outage.stops_racks:
            return
        # back when cleared; tripped racks: reset by the operator `trip_reset_s` after the trip, once powered again
        out_s = math.inf if outage.duration_s is None else \
            max(outage.duration_s, self.inputs.trip_reset_s) if outage.trips else outage.duration_s
        self.back_s[outage.racks] = np.maximum(self.back_s[outage.racks], self.env.now + out_s)
        self._take_down(outage.racks, tripped=outage.trips)
        if math.isinf(out_s):
            return
        yield self.env.timeout(out_s)
        self.events.append(Event(self.env.now, "repair", f"cleared: {outage.label}"))
        self._bring_back(outage.racks)
