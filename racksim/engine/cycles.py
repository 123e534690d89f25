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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Protocol

import numpy as np

from racksim._types import FloatArray
from racksim.engine.state import EngineState

REPEAT_RTOL = 1e-12
"""Largest relative change of any continuous state over a cycle that still counts as a repeat."""
REPEAT_DRIFT_BUDGET = 1e-10
"""Largest relative change the skipped cycles may add up to (K × the cycle's change)."""


def binade_end_s(time_s: float) -> float:
    """The power of two above `time_s` (> 0): times from there on are spaced twice as coarsely, s."""
    return math.ldexp(1.0, math.frexp(time_s)[1])


@dataclass(frozen=True)
class Snapshot:
    """Every state the engine carries from one event to the next: the discrete part as a digest, the rest as values."""

    discrete: bytes
    values: FloatArray

    @classmethod
    def of(cls, state: EngineState, point_key: Iterable[object], controllers: Iterable[object],
           scalars: Iterable[float]) -> Snapshot:
        """The engine's state now.

        Die temperatures and throttles, every plant and supply array, the arrays of `controllers` (the power
        control), the operating point's time offset, `scalars` (the job's collective speed) and the exact inputs
        of the operating point in force (`point_key`, racksim.physics.operating_point.PointCache.key).
        """
        arrays: Iterable[Any] = (
            state.temp_c, state.throttled,
            *(getattr(state.plant, field.name) for field in fields(state.plant)),
            *(value for value in vars(state.supply).values() if isinstance(value, np.ndarray)),
            *(value for controller in controllers for value in vars(controller).values()
              if isinstance(value, np.ndarray)),
            np.array([state.time_s - state.point_time_s, *scalars]),
        )
        digest, values = hashlib.blake2b(), []
        for array in map(np.asarray, arrays):
            if array.dtype.kind == "f":
                values.append(array.ravel())
            else:
                digest.update(np.ascontiguousarray(array).tobytes())
        for part in point_key:
            digest.update(part if isinstance(part, bytes) else repr(part).encode())
        return cls(digest.digest(), np.concatenate(values))

    def change_from(self, before: Snapshot) -> float:
        """Largest relative change of a continuous state since `before` (0: bit for bit; inf: discrete change)."""
        if self.discrete != before.discrete or self.values.shape != before.values.shape:
            return math.inf
        same = (self.values == before.values) | (np.isnan(self.values) & np.isnan(before.values))
        if same.all():
            return 0.0
        with np.errstate(invalid="ignore"):
            change = np.abs(self.values - before.values) / np.maximum(np.abs(before.values), np.abs(self.values))
        return float(np.where(same, 0.0, np.nan_to_num(change, nan=math.inf)).max())


class Ledger(Protocol):
    """An object with running sums a repeated cycle adds to (the run's integrals, the job's books)."""

    def sums(self) -> tuple[str, ...]:
        """The names of its running sums: floats, arrays or dicts of floats."""


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


@dataclass(frozen=True)
class _Mark:
    """The engine at a cycle's end."""

    time_s: float
    snapshot: Snapshot
    books: list[dict[str, Any]]
    """The ledgers' running sums, ledger by ledger."""
    events: int
    event_count: int


class CycleSkipper:
    """Watches a run's cycle ends and books the cycles that would repeat the last one exactly, for a jump over them."""

    def __init__(self, state: EngineState, ledgers: Sequence[Ledger], snapshot: Callable[[], Snapshot],
                 duration_s: float, fault_times_s: Iterable[float]) -> None:
        """Book into `state` and `ledgers`; `snapshot()` is the engine's carried state now."""
        self.state = state
        self._ledgers = ledgers
        self._snapshot = snapshot
        self._duration_s = duration_s
        self._fault_times_s = sorted(fault_times_s)
        self._mark: _Mark | None = None
        self.frozen = False
        """True during a jump: the watchers wait for the next change instead of timing their events."""
        self.cycles_skipped = 0

    def _take_mark(self) -> _Mark:
        state = self.state
        books = [{name: copy.deepcopy(getattr(ledger, name)) for name in ledger.sums()} for ledger in self._ledgers]
        return _Mark(state.time_s, self._snapshot(), books, len(state.events), state.event_count)

    def skip_s(self, quiet: bool) -> float:
        """At a cycle's end (the time advanced to now): book the cycles to skip and return their time, or 0.

        `quiet`: nothing is in flight that a jump would carry wrongly (a pending cap, a job down, another event
        due now).
        """
        state = self.state
        mark, self._mark = self._mark, self._take_mark()
        rows = state.series.mark()
        change = math.inf if mark is None else self._mark.snapshot.change_from(mark.snapshot)
        if mark is None or change > REPEAT_RTOL or not quiet:
            return 0.0
        period_s = state.time_s - mark.time_s
        next_fault = bisect.bisect_right(self._fault_times_s, state.time_s)
        limit_s = min(binade_end_s(mark.time_s), self._duration_s,
                      self._fault_times_s[next_fault] if next_fault < len(self._fault_times_s) else math.inf)
        cycles = math.floor((limit_s - state.time_s) / period_s) - 1  # the last cycle before the limit runs
        if change > 0:
            cycles = min(cycles, math.floor(REPEAT_DRIFT_BUDGET / change))
        if cycles < 1:
            return 0.0
        self._book(mark, cycles, period_s, rows)
        self.frozen = True
        return cycles * period_s

    def _book(self, mark: _Mark, cycles: int, period_s: float, rows: list[FloatArray]) -> None:
        """Add `cycles` copies of the cycle since `mark` to every running sum, the series and the event log."""
        state = self.state
        for ledger, before in zip(self._ledgers, mark.books, strict=True):
            repeat_books(ledger, before, cycles)
        state.event_count += cycles * (state.event_count - mark.event_count)
        cycle_events = state.events[mark.events:]
        for copy_index in range(1, cycles + 1):
            state.events.extend(replace(event, time_s=event.time_s + copy_index * period_s) for event in cycle_events)
        state.series.repeat(rows, cycles, period_s)
        self.cycles_skipped += cycles

    def resume(self) -> None:
        """After the jump (the engine's clock caught up): the next cycle is measured from here."""
        self.frozen = False
        self._mark = self._take_mark()
