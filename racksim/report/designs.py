"""The designs behind the runs: a field-by-field diff, and the sources, assumptions and warnings of their numbers.

All read beside metrics.json: `design.resolved.yaml` (the design as run), `provenance.json` (the P/S/D/A
source notes of its fields, see racksim.design.provenance) and `warnings.json` (its risks, see racksim.design.checks).
Each design is read from its first run (by scenario) whose scenario sets no design overrides, so a scenario's
overrides do not show as a design difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from racksim.design.provenance import TAG_NAMES, TAGS
from racksim.report.rundir import load_resolved, read_json

DESCRIPTIVE = frozenset({"name", "description"})
"""Fields listed with the designs, not in the diff."""
MAX_TEXT = 90


class DesignRun(Protocol):
    """What this module needs of a run (racksim.report.render.Run has it)."""

    @property
    def design(self) -> str: ...  # noqa: D102

    @property
    def directory(self) -> Path: ...  # noqa: D102


def _scenario_overrides(directory: Path) -> bool:
    inputs = read_json(directory / "inputs.json")
    scenario = inputs.get("scenario") if isinstance(inputs, dict) else None
    return bool(scenario.get("design_overrides")) if isinstance(scenario, dict) else False


def representative_runs(runs: Sequence[DesignRun], designs: Sequence[str]) -> dict[str, Path]:
    """The run directory each design is read from (runs in scenario order)."""
    chosen = {}
    for design in designs:
        own = [run.directory for run in runs if run.design == design]
        chosen[design] = next((d for d in own if not _scenario_overrides(d)), own[0])
    return chosen


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:  # noqa: ANN401 - any YAML value
    """Leaves of a nested mapping by dotted path; list items by index; empty containers are leaves."""
    if isinstance(node, dict) and node:
        items: Any = node.items()
    elif isinstance(node, list) and node:
        items = enumerate(node)
    else:
        return {prefix: node}
    flat: dict[str, Any] = {}
    for key, value in items:
        flat |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def text(value: Any) -> str:  # noqa: ANN401 - any YAML value
    """A design value as the report shows it ("—" if absent)."""
    if value is _ABSENT:
        return "—"
    shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= MAX_TEXT else shown[:MAX_TEXT - 1] + "…"


_ABSENT = object()


@dataclass(frozen=True)
class DiffRow:
    """One field whose value differs between the designs."""

    path: str
    values: list[str]
    """In design order."""
    changed: list[bool]
    """Whether each design's value differs from the first design's."""


def design_diff(flat: Mapping[str, Mapping[str, Any]]) -> tuple[list[DiffRow], int]:
    """Fields that differ between the designs (in their order), and the number of fields that do not."""
    designs = list(flat)
    paths = sorted({p for values in flat.values() for p in values} - DESCRIPTIVE)
    rows, same = [], 0
    for path in paths:
        values = [flat[d].get(path, _ABSENT) for d in designs]
        if all(v == values[0] and type(v) is type(values[0]) for v in values):
            same += 1
            continue
        rows.append(DiffRow(path, [text(v) for v in values], [v != values[0] for v in values]))
    return rows, same


@dataclass(frozen=True)
class SourceRow:
    """One design field with a source note."""

    path: str
    value: str
    tags: str
    note: str
    file: str


@dataclass(frozen=True)
class Provenance:
    """The sources and assumptions behind one design's numbers."""

    design: str
    colour: str
    counts: dict[str, int]
    """Fields carrying each tag (P, S, D, A), and 'override'."""
    assumptions: list[SourceRow]
    """Fields whose note has an A tag."""
    sourced: list[SourceRow]
    """Fields with P, S or D notes and no A."""
    overridden: list[SourceRow]
    untagged: list[str]
    """Numeric fields with no note on them or on a field above them (schema defaults, uncited numbers)."""
    warnings: list[str]
    """Risks the design carries ('field: message', from the run's warnings.json; racksim.design.checks)."""

    @property
    def summary(self) -> str:
        """One sentence of counts."""
        parts = ", ".join(f"{self.counts[t]} {TAG_NAMES[t]} ({t})" for t in TAGS)
        extra = f"; {len(self.overridden)} overridden" if self.overridden else ""
        return (f"{len(self.assumptions) + len(self.sourced)} fields carry source notes: {parts}{extra}; "
                f"{len(self.assumptions)} rest at least partly on assumptions; {len(self.untagged)} numeric "
                "fields have no note (schema defaults or uncited).")


def provenance(design: str, colour: str, directory: Path, flat: Mapping[str, Any]) -> Provenance | None:
    """The provenance of a design from its run's provenance.json, or None if the run has none."""
    data = read_json(directory / "provenance.json")
    if not isinstance(data, dict):
        return None
    rows: list[SourceRow] = []
    for path, note in sorted(data.items()):
        if isinstance(note, dict):
            value = flat.get(path, _ABSENT)
            if value is _ABSENT:  # a note on a mapping or list: show its leaves' count
                leaves = [p for p in flat if p.startswith(path + ".")]
                value = f"({len(leaves)} fields)" if leaves else _ABSENT
            rows.append(SourceRow(path, text(value), str(note.get("tags", "")), str(note.get("note", "")),
                                  str(note.get("file", ""))))
    noted = [row.path for row in rows]
    untagged = [p for p, v in flat.items() if isinstance(v, int | float) and not isinstance(v, bool)
                and not any(p == n or p.startswith(n + ".") for n in noted)]
    counts = {tag: sum(tag in row.tags for row in rows) for tag in TAGS}
    overridden = [row for row in rows if row.file == "override"]
    return Provenance(design, colour, counts, [r for r in rows if "A" in r.tags],
                      [r for r in rows if r.tags and "A" not in r.tags], overridden, untagged, run_warnings(directory))


def run_warnings(directory: Path) -> list[str]:
    """The design warnings a run recorded in warnings.json, as 'field: message' lines (none if absent)."""
    data = read_json(directory / "warnings.json")
    if not isinstance(data, list):
        return []
    return [f"{item.get('field_path', '')}: {item.get('message', '')}" for item in data if isinstance(item, dict)]


def design_sections(runs: Sequence[DesignRun], designs: Sequence[str], colours: Mapping[str, str]
                    ) -> tuple[list[DiffRow], int, list[Provenance]]:
    """The design diff (rows, identical field count) and each design's provenance (if recorded)."""
    chosen = representative_runs(runs, designs)
    flat = {d: flatten(load_resolved(chosen[d])) for d in designs}
    rows, same = design_diff(flat)
    notes = [provenance(d, colours[d], chosen[d], flat[d]) for d in designs]
    return rows, same, [p for p in notes if p is not None]
