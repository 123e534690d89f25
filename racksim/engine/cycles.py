"""Periodic cycle skipping: cycles of a job that repeat the engine's arithmetic exactly are booked, not simulated.

A synchronous training job repeats a cycle of phases (N steps and a checkpoint; `Phase.ends_cycle` marks the
end). When a cycle leaves every state the engine carries (die temperatures, the plant, the supply, the
controllers, the operating point's inputs) bit for bit as it found it, the next cycle performs the very same
floating-point operations on the very same values, provided its event times round the same way. They do while
they stay in one binade [2^e, 2^(e+1)): there every float is a multiple of the spacing u = 2^(e−52), the cycle's
period P is one too, and t + P rounds exactly like t shifted. So at a cycle's end the engine books K more
copies of the cycle (energies, work, phase times, time-series rows, events) and jumps K·P ahead in one SimPy
timeout, stopping a cycle short of the binade's end, the next scheduled fault and the end of the run; from
there it simulates event by event again. States, event times and series rows come out identical to the
event-by-event run; running sums differ by rounding only (K·Δ added once instead of Δ added K times).

Some states never repeat to the last bit: a smoothing store stops recovering within a dead band, so its
charge wanders by an ulp or two from cycle to cycle. A cycle whose discrete state (throttles, failures, trips,
the operating point's inputs) repeats exactly and whose continuous state repeats to REPEAT_RTOL counts as a
repeat too; then the skipped cycles are copies of the last one, and the run equals the event-by-event one to
rounding (K times that wander at most, REPEAT_DRIFT_BUDGET).
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from racksim._types import FloatArray
from racksim.engine.recorder import Integrals

if TYPE_CHECKING:
    from racksim.engine.simulation import Simulation

REPEAT_RTOL = 1e-12
"""Largest relative change of any continuous state over a cycle that still counts as a repeat."""
REPEAT_DRIFT_BUDGET = 1e-10
"""Largest relative change the skipped cycles may add up to (K × the cycle's change)."""


def binade_end_s(time_s: float) -> float:
    """The power of two above `time_s` (> 0): times from there on are spaced twice as coarsely, s."""
    return math.ldexp(1.0, math.frexp(time_s)[1])


@dataclass(frozen=True)
class EngineState:
    """Every state the engine carries from one event to the next: the discrete part as a digest, the rest as values.

    Die temperatures and throttles, every plant and supply array, the power control's arrays, the job's
    collective speed, the operating point's time offset and the exact inputs of the operating point in force.
    """

    discrete: bytes
    values: FloatArray

    @classmethod
    def of(cls, simulation: Simulation) -> EngineState:
        """The state of `simulation` now."""
        arrays: Iterable[Any] = (
            simulation.temp_c, simulation.throttled,
            *(getattr(simulation.plant, field.name) for field in fields(simulation.plant)),
            *(value for value in vars(simulation.supply).values() if isinstance(value, np.ndarray)),
            *(value for value in vars(simulation.power_control).values() if isinstance(value, np.ndarray)),
            np.array([simulation.time_s - simulation.point_time_s, simulation.job.network_rate]),
        )
        digest, values = hashlib.blake2b(), []
        for array in map(np.asarray, arrays):
            if array.dtype.kind == "f":
                values.append(array.ravel())
            else:
                digest.update(np.ascontiguousarray(array).tobytes())
        for part in simulation.point_key:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())
        return cls(digest.digest(), np.concatenate(values))

    def change_from(self, before: EngineState) -> float:
        """Largest relative change of a continuous state since `before` (0: bit for bit; inf: discrete change)."""
        if self.discrete != before.discrete or self.values.shape != before.values.shape:
            return math.inf
        same = (self.values == before.values) | (np.isnan(self.values) & np.isnan(before.values))
        if same.all():
            return 0.0
        with np.errstate(invalid="ignore"):
            change = np.abs(self.values - before.values) / np.maximum(np.abs(before.values), np.abs(self.values))
        return float(np.where(same, 0.0, np.nan_to_num(change, nan=math.inf)).max())


def repeat_books(target: object, before: dict[str, Any], times: int) -> None:
    """Add `times` more copies of what each running sum of `target` named in `before` gained since then.

    The sums are floats, arrays or dicts of floats.
    """
    for name, old in before.items():
        new = getattr(target, name)
        if isinstance(new, dict):
            for key, value in new.items():
                new[key] = value + times * (value - old.get(key, 0.0))
        else:
            setattr(target, name, new + times * (new - old))


INTEGRAL_SUMS = Integrals.sums()
"""What a repeated cycle adds to (the extremes it leaves as they are)."""


@dataclass(frozen=True)
class _Mark:
    """The engine at a cycle's end."""

    time_s: float
    state: EngineState
    integrals: dict[str, Any]
    job: dict[str, Any]
    events: int
    event_count: int


class CycleSkipper:
    """Watches a simulation's cycle ends and jumps over the cycles that would repeat the last one exactly."""

    def __init__(self, simulation: Simulation, fault_times_s: Iterable[float]) -> None:
        self.sim = simulation
        self._fault_times_s = sorted(fault_times_s)
        self._mark: _Mark | None = None
        self.frozen = False
        """True during a jump: the watchers wait for the next change instead of timing their events."""
        self.cycles_skipped = 0

    def _take_mark(self) -> _Mark:
        sim = self.sim
        return _Mark(sim.time_s, EngineState.of(sim),
                     {name: copy.deepcopy(getattr(sim.integrals, name)) for name in INTEGRAL_SUMS},
                     {name: copy.deepcopy(getattr(sim.job, name)) for name in sim.job.BOOKS},
                     len(sim.events), sim.event_count)

    def _quiet(self) -> bool:
        """Nothing in flight that a jump would carry wrongly: a pending cap, a job down, another event due now."""
        sim = self.sim
        return (sim.thermal_step_s is None and not sim.power_control.acting and sim.job.running
                and sim.env.peek() > sim.env.now)

    def skip_s(self) -> float:
        """At a cycle's end (the time advanced to now): book the cycles to skip and return their time, or 0."""
        sim = self.sim
        mark, self._mark = self._mark, self._take_mark()
        rows = sim.series.mark()
        change = math.inf if mark is None else self._mark.state.change_from(mark.state)
        if mark is None or change > REPEAT_RTOL or not self._quiet():
            return 0.0
        period_s = sim.time_s - mark.time_s
        next_fault = bisect.bisect_right(self._fault_times_s, sim.time_s)
        limit_s = min(binade_end_s(mark.time_s), sim.duration_s,
                      self._fault_times_s[next_fault] if next_fault < len(self._fault_times_s) else math.inf)
        cycles = math.floor((limit_s - sim.time_s) / period_s) - 1  # the last cycle before the limit runs
        if change > 0:
            cycles = min(cycles, math.floor(REPEAT_DRIFT_BUDGET / change))
        if cycles < 1:
            return 0.0
        self._book(mark, cycles, period_s, rows)
        self.frozen = True
        sim.wake_watchers()
        return cycles * period_s

    def _book(self, mark: _Mark, cycles: int, period_s: float, rows: list[FloatArray]) -> None:
        """Add `cycles` copies of the cycle since `mark` to every running sum, the series and the event log."""
        sim = self.sim
        repeat_books(sim.integrals, mark.integrals, cycles)
        repeat_books(sim.job, mark.job, cycles)
        sim.event_count += cycles * (sim.event_count - mark.event_count)
        cycle_events = sim.events[mark.events:]
        for copy_index in range(1, cycles + 1):
            sim.events.extend(replace(event, time_s=event.time_s + copy_index * period_s) for event in cycle_events)
        sim.series.repeat(rows, cycles, period_s)
        self.cycles_skipped += cycles

    def resume(self) -> None:
        """After the jump: the engine's clock catches up, and the next cycle is measured from here."""
        sim = self.sim
        sim.shift_clock(sim.env.now - sim.time_s)
        self.frozen = False
        self._mark = self._take_mark()
