"""A run's event log (events.json) as the report lists it: read leniently, repeated kinds collapsed.

Older result directories have no events.json; a missing, unreadable or malformed file reads as no log
(never an error), and malformed entries are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from racksim.report.rundir import read_json

EVENTS_FILE = "events.json"
COLLAPSE_ABOVE = 10
"""A kind with more events than this in one run is listed as one line with a count."""


@dataclass(frozen=True)
class Event:
    """One entry of events.json."""

    time_s: float
    kind: str
    """fault, repair, throttle, release, shutdown or job_halted."""
    detail: str


def load_events(directory: Path) -> list[Event] | None:
    """The events of a run directory in time order, or None if it has no readable events.json."""
    data = read_json(Path(directory) / EVENTS_FILE)
    if not isinstance(data, list):
        return None
    events = []
    for entry in data:
        if not isinstance(entry, dict):
            continue
        time_s, kind = entry.get("time_s"), entry.get("kind")
        if isinstance(time_s, int | float) and not isinstance(time_s, bool) and isinstance(kind, str):
            events.append(Event(float(time_s), kind, str(entry.get("detail", ""))))
    return sorted(events, key=lambda event: event.time_s)


@dataclass(frozen=True)
class EventLine:
    """One line of a run's event list: an event, or `count` events of one kind collapsed."""

    time_s: float
    kind: str
    detail: str
    count: int = 1
    last_s: float = 0.0

    @property
    def time(self) -> str:
        """When, s: the instant, or the first to the last of a collapsed kind."""
        if self.count == 1:
            return f"{self.time_s:,.1f}"
        return f"{self.time_s:,.1f}–{self.last_s:,.1f}"

    @property
    def label(self) -> str:
        """The kind, with the count if collapsed."""
        return self.kind if self.count == 1 else f"{self.kind} ×{self.count}"


def compact(events: Sequence[Event], collapse_above: int = COLLAPSE_ABOVE) -> list[EventLine]:
    """The events as lines in time order; a kind with more than `collapse_above` events becomes one line."""
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    lines = []
    for kind, group in by_kind.items():
        if len(group) > collapse_above:
            detail = f"{len(group)} events; first: {group[0].detail}" if group[0].detail else f"{len(group)} events"
            lines.append(EventLine(group[0].time_s, kind, detail, len(group), group[-1].time_s))
        else:
            lines += [EventLine(event.time_s, kind, event.detail) for event in group]
    return sorted(lines, key=lambda line: line.time_s)  # stable: same-time events keep their kind order


@dataclass(frozen=True)
class DesignEvents:
    """The event list of one design in one scenario."""

    design: str
    colour: str
    lines: list[EventLine]
    total: int
    """Events before collapsing."""


class _Run(Protocol):
    @property
    def design(self) -> str: ...

    @property
    def directory(self) -> Path: ...


def event_logs(runs: Sequence[_Run], colours: Mapping[str, str]) -> tuple[DesignEvents, ...]:
    """The event list of each run that has an events.json, in `runs` order; empty if none has one."""
    logs = []
    for run in runs:
        events = load_events(run.directory)
        if events is not None:
            logs.append(DesignEvents(run.design, colours[run.design], compact(events), len(events)))
    return tuple(logs)
