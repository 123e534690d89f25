"""The fleet engine's inputs and state: racks as arrays, the power of each rack state, integrals per (row, state).

Every rack is in one state at a time (`RackState`: idle, running a job, restarting one, down, tripped, spare) and
draws the power of one profile (racksim.workload.fleet_jobs: idle, off, or a job's cycle mean). `HallState` keeps
`count[row, profile]`, the racks of each row in each profile, updated incrementally as racks change, and
`rack_seconds[row, profile]`, its time integral. Between events nothing changes, so every energy is exact:
E = Σ rack_seconds[r, p] · P[p]. The hall feed power after an event is one product count · P over the distinct
states (never a loop over racks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.design.jobs_schema import TRIP_RESET_DELAY_S
from racksim.workload.fleet_jobs import JobSpec

HallLosses = Callable[[FloatArray], dict[str, float]]
"""Hall-stage losses (row feeders, UPS) for the rows' loads, W: the hook racksim.physics.hall_power fills
(`hall_losses_w(chain, row_load_w)`); None: the hall's own stages are not modelled (rack-level only)."""


class RackState(IntEnum):
    """What a rack is doing."""

    IDLE = 0
    RUNNING = 1
    RESTARTING = 2
    """Held by a job that is restarting from its checkpoint (or swapping in a spare): idle power."""
    DOWN = 3
    """A failure holds it (awaiting or under repair): off."""
    TRIPPED = 4
    """Its feed was lost: off until an operator resets it (`trip_reset_s` after the trip, once the feed is back)."""
    SPARE = 5
    """A hot spare held for swaps: idle power."""


@dataclass(frozen=True)
class Failures:
    """Sampled component failures, in time order, as arrays."""

    time_s: FloatArray
    rack: IndexArray
    component: tuple[str, ...]
    interrupts: np.ndarray
    """Whether each failure stops the rack's job (and takes the rack down until repaired)."""
    repair_s: FloatArray
    """Hands-on repair time of each, s (the crew's queueing comes on top)."""

    @classmethod
    def none(cls) -> Failures:
        """No failures."""
        return cls(np.zeros(0), np.zeros(0, dtype=np.intp), (), np.zeros(0, dtype=bool), np.zeros(0))


@dataclass(frozen=True)
class ScheduledOutage:
    """A scenario fault on selected racks, as the fleet sees it."""

    time_s: float
    racks: IndexArray
    label: str
    duration_s: float | None
    """Until the fault is cleared (None: not within the run), s."""
    stops_racks: bool
    """The racks go down (their jobs stop) until cleared; else the fault is only logged."""
    trips: bool
    """A feed loss: the racks trip and wait for an operator's reset (racksim.engine.fleet)."""


@dataclass(frozen=True)
class Crew:
    """The repair crew and the parts stock (racksim.design.jobs_schema.RepairCrew, in seconds)."""

    technicians: int
    shift_s: float
    parts: int
    restock_s: float
    swap_s: float


@dataclass(frozen=True)
class FleetInputs:
    """Everything a fleet run needs, compiled (no config objects)."""

    duration_s: float
    rack_group: IndexArray
    rack_row: IndexArray
    profiles_feed_w: FloatArray
    idle_profile: IndexArray
    """Idle state per group."""
    off_profile: IndexArray
    jobs: list[tuple[JobSpec, ...]]
    """Each job as compiled for every group it may run on (one `JobSpec` per group, in group order)."""
    failures: Failures
    outages: list[ScheduledOutage]
    crew: Crew
    backfill: bool = True
    row_packing: bool = True
    queue_depth: int | None = None
    """Queued jobs considered per scheduling pass (None: all)."""
    hot_spares: int = 0
    """Spare racks held per group."""
    trip_reset_s: float = TRIP_RESET_DELAY_S
    """An operator resets a tripped rack this long after the trip, or when its feed is back if that is later, s."""
    hall_losses: HallLosses | None = None


@dataclass
class JobRecord:
    """What happened to one job."""

    spec: JobSpec
    """The job as compiled for the group it runs on now (its last placement; its first option before it starts)."""
    first_start_s: float = math.nan
    end_s: float = math.nan
    saved_steps: float = 0.0
    lost_steps: float = 0.0
    interruptions: int = 0
    swaps: int = 0
    served_s: float = 0.0
    """Inference: time actually serving, s."""
    rows: int = 0
    """Rows its racks spanned at its first start."""
    racks: IndexArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    """Racks it holds now."""
    held_since_s: float = math.nan
    """Since when it holds `racks` (nan: it holds none)."""
    placements: list[tuple[float, float, IndexArray]] = field(default_factory=list)
    """(from s, to s, racks) of every stretch it held a set of racks (a Gantt of the job on the racks)."""
    segment_start_s: float = math.nan
    """When its current running segment began (nan: not running)."""
    expected_end_s: float = math.inf

    def hold(self, racks: IndexArray, now_s: float) -> None:
        """From `now_s` the job holds `racks` (none: an empty array); the stretch it held before is recorded."""
        if self.racks.size and not math.isnan(self.held_since_s):
            self.placements.append((self.held_since_s, now_s, self.racks))
        self.racks = racks
        self.held_since_s = now_s if racks.size else math.nan

    def move_to(self, spec: JobSpec) -> None:
        """From its next start the job runs as `spec` (another group's design, or the same).

        Its steps saved and lost so far are carried over in tokens: it resumes from its checkpoint, whose work is the
        same wherever it runs.
        """
        scale = self.spec.tokens_per_step / spec.tokens_per_step if spec.tokens_per_step > 0 else 1.0
        self.saved_steps *= scale
        self.lost_steps *= scale
        self.spec = spec

    def progress_steps(self, now_s: float) -> tuple[float, float]:
        """(checkpointed, done) steps if its running segment ended at `now_s` (training)."""
        spec = self.spec
        if math.isnan(self.segment_start_s):
            return self.saved_steps, self.saved_steps
        elapsed_s = now_s - self.segment_start_s
        cycles = math.floor(elapsed_s / spec.cycle_s)
        saved = min(float(spec.steps), self.saved_steps + cycles * spec.checkpoint_every_steps)
        return saved, min(float(spec.steps), self.saved_steps + spec.steps_in_s(elapsed_s))


@dataclass(frozen=True)
class Peak:
    """The hall at its highest facility input."""

    input_w: float
    time_s: float
    rack_job: np.ndarray
    """Job of each rack then (-1: none)."""
    rack_profile: np.ndarray
    """Profile of each rack then."""


class HallState:
    """Rack arrays, the per-(row, profile) counts and their time integrals, and the feed power's statistics."""

    def __init__(self, inputs: FleetInputs) -> None:
        """Every rack idle at time 0."""
        n_racks, n_rows = inputs.rack_row.size, int(inputs.rack_row.max()) + 1
        self.inputs = inputs
        self.feed_w = inputs.profiles_feed_w
        self.row = inputs.rack_row
        self.group = inputs.rack_group
        self.state = np.full(n_racks, RackState.IDLE, dtype=np.int8)
        self.job = np.full(n_racks, -1, dtype=np.int32)
        self.profile = inputs.idle_profile[inputs.rack_group].astype(np.int32)
        self.open_faults = np.zeros(n_racks, dtype=np.int32)
        self.tripped = np.zeros(n_racks, dtype=bool)
        self.count = np.zeros((n_rows, self.feed_w.size), dtype=np.int64)
        np.add.at(self.count, (self.row, self.profile), 1)
        self.rack_seconds = np.zeros((n_rows, self.feed_w.size))
        self.hall_loss_j: dict[str, float] = {}
        self.time_s = 0.0
        self.series: list[tuple[float, float, int, int, int]] = []
        """(from time s, facility input W (racks' feeds + hall stages' losses), racks running, racks down or
        tripped, jobs queued), each holding until the next."""
        self.queued_jobs = 0
        """Jobs waiting for racks now (the fleet keeps it current)."""
        self.idle_while_queued_rack_s = 0.0
        """Rack-seconds idle while a job waited: the fragmentation's numerator."""
        self.events = 0
        self._hall_loss_now_w: dict[str, float] = {}
        self._input_now_w = 0.0
        self.peak = Peak(-math.inf, 0.0, self.job.copy(), self.profile.copy())
        """The highest facility input so far, when, and every rack's job and state then (the grid's window)."""
        self._loads_changed()

    def _loads_changed(self) -> None:
        """The rows' loads changed: the hall stages' losses and the facility input now."""
        row_load_w = self.count @ self.feed_w
        losses = self.inputs.hall_losses
        self._hall_loss_now_w = losses(row_load_w) if losses is not None else {}
        self._input_now_w = float(row_load_w.sum()) + sum(self._hall_loss_now_w.values())
        if self._input_now_w > self.peak.input_w:  # a new record: rare once the hall has filled
            self.peak = Peak(self._input_now_w, self.time_s, self.job.copy(), self.profile.copy())

    def advance(self, now_s: float) -> None:
        """Integrate the current state up to `now_s` (exact: nothing changed in between)."""
        dt = now_s - self.time_s
        if dt <= 0:
            return
        self.rack_seconds += self.count * dt
        for stage, loss_w in self._hall_loss_now_w.items():
            self.hall_loss_j[stage] = self.hall_loss_j.get(stage, 0.0) + loss_w * dt
        by_state = np.bincount(self.state, minlength=len(RackState))
        if self.queued_jobs:
            self.idle_while_queued_rack_s += by_state[RackState.IDLE] * dt
        self.series.append((self.time_s, self._input_now_w, int(by_state[RackState.RUNNING]),
                            int(by_state[RackState.DOWN] + by_state[RackState.TRIPPED]), self.queued_jobs))
        self.time_s = now_s

    def set(self, racks: IndexArray, state: RackState, now_s: float, job: int = -1, profile: int | None = None) -> None:
        """Put `racks` in `state` (drawing `profile`, default: their group's idle or off state) from `now_s`."""
        if racks.size == 0:
            return
        self.advance(now_s)
        self.events += 1
        if profile is None:
            off = state in (RackState.DOWN, RackState.TRIPPED)
            new = (self.inputs.off_profile if off else self.inputs.idle_profile)[self.group[racks]]
        else:
            new = np.full(racks.size, profile)
        rows = self.row[racks]
        np.add.at(self.count, (rows, self.profile[racks]), -1)
        np.add.at(self.count, (rows, new), 1)
        self.profile[racks] = new
        self.state[racks] = state
        self.job[racks] = job
        self._loads_changed()

    def free(self, group: int) -> np.ndarray:
        """Idle racks of `group` (a mask over every rack)."""
        return (self.state == RackState.IDLE) & (self.group == group)
