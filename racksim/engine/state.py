"""The engine's data: the state it carries between events, its collaborators' interface, and a run's result.

`EngineState` holds what the engine carries from one event to the next: the plant, the supply, the operating
point in force and since when, the activity, throttles and die temperatures, and what the run records. The job
(engine/job.py), the power control (engine/power_control.py) and the cycle skipper (engine/cycles.py) read and
change it there; what they may ask of the engine itself (advance the state, announce a change, record a row,
the SimPy clock) is the `Engine` protocol. None of them sees the simulation (engine/simulation.py) behind it.
`RunResult` is what a finished simulation hands to the metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import simpy

from racksim._types import BoolArray, FloatArray
from racksim.engine.feed_statistics import FeedSummary
from racksim.engine.recorder import Integrals, TimeSeries
from racksim.engine.supply_state import Supply
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import Activity, OperatingPoint
from racksim.physics.plant import PlantState


@dataclass(frozen=True)
class Event:
    """Something worth marking on a timeline."""

    time_s: float
    kind: str
    """fault, repair, throttle, release, shutdown, cap, breaker, battery, trip, reset, job_halted, interruption,
    restart."""
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
    """Rack trips over the run (a rack tripped, reset and tripped again counts twice)."""
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


@dataclass
class EngineState:
    """What the engine carries from one event to the next, and what the run records on the way."""

    arrays: RackArrays
    """The racks simulated (fixed for the run)."""
    plant: PlantState
    """Failures, trips, caps, loop temperatures: the state the faults and controllers change."""
    supply: Supply
    """The feeds, breakers and storage between the facility and the shelves."""
    activity: Activity
    """What the workload asks of the chips now."""
    throttled: BoolArray
    """Chips running throttled (per chip)."""
    point: OperatingPoint
    """The operating point in force: every power, flow and steady temperature at the current inputs."""
    temp_c: FloatArray
    """Die temperature of each chip at `time_s`, °C."""
    integrals: Integrals
    series: TimeSeries
    time_s: float = 0.0
    """How far the state has been advanced, s."""
    point_time_s: float = 0.0
    """When the operating point was evaluated (a coolant drift runs from there), s."""
    event_count: int = 0
    """State changes so far."""
    events: list[Event] = field(default_factory=list)
    """The run's timeline, in order."""

    def log(self, kind: str, detail: str) -> None:
        """Mark an event on the run's timeline at the current time."""
        self.events.append(Event(self.time_s, kind, detail))

    def coolant_drift_c(self) -> FloatArray:
        """How far each die's coolant has risen since the operating point was evaluated: ramp · (t − t_point), K."""
        return self.point.chip_coolant_ramp_c_per_s * (self.time_s - self.point_time_s)


class Engine(Protocol):
    """What a collaborator may ask of the engine besides reading and changing its state."""

    state: EngineState
    env: simpy.Environment
    changed: simpy.Event
    """Succeeds at the next state change (a fresh event after each)."""

    def advance_to(self, to_s: float) -> None:
        """Carry the state from its time to `to_s` at the operating point in force."""

    def state_changed(self) -> None:
        """Re-evaluate the operating point after a change, record it and wake every process waiting on one."""

    def record(self) -> None:
        """Append a time-series row of the current state."""

    def skip_cycles_s(self) -> float:
        """At a job cycle's end: book the cycles that would repeat it exactly; the time to jump over, s (0: none)."""

    def resume_after_skip(self) -> None:
        """After the jump: the state's clock catches up with SimPy's."""
