"""The run directory contract: what a run directory holds, written atomically with metrics.json last.

A run directory (OUT/<design>/<scenario>) holds `design.resolved.yaml` (the design as run; for a hall also
`hall.resolved.yaml`, and for a hall of several designs `groups/<index>-<design>/` with each group's design and
cabling plan), `timeseries.parquet` (racksim.run.timeseries), `events.json` (faults, throttling, shutdowns),
`components/` (per-chip, per-tray, per-rack and per-row summaries as Parquet tables, racksim.run.components),
`cabling.json` (the cabling plan's bill of materials, routes and length histogram), `provenance.json` (the source
tags of the design's numbers), `warnings.json` (the design's risks, racksim.design.checks), `inputs.json` (what
the results depend on, and its fingerprint), `replicas.json` (each seed's metrics, for a run over several seeds),
`serving_curve.json` (an inference run's throughput-interactivity curve and operating point), `jobs.parquet` and
`placements.parquet` (a hall job mix's per-job table and which racks each job held when,
racksim.run.fleet_metrics) and `metrics.json`.

Every file is written atomically (racksim.io), and metrics.json last: its presence, with an inputs.json whose
fingerprint matches, marks a complete run. Writing first removes metrics.json, so a run killed half way is never
mistaken for a finished one. This module is the only writer of these files; `simulate` returns a RunOutput,
which `write_run` turns into the directory. Runs and sweeps write through `replace_run` (`staged`): the whole
directory in a hidden sibling, then renamed into place, so the earlier results stay until the new ones are whole.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from racksim._types import FloatArray
from racksim.design.provenance import design_notes, notes_json
from racksim.engine import RunResult
from racksim.io import atomic_write_bytes, atomic_write_json, atomic_write_yaml
from racksim.run.components import (
    COMPONENTS_DIR,
    LEGACY_COMPONENTS_FILE,
    PARTS,
    component_path,
    table_bytes,
    write_components,
)
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall
from racksim.run.timeseries import LEGACY_TIMESERIES_FILE, TIMESERIES_FILE, write_timeseries

METRICS_FILE = "metrics.json"
INPUTS_FILE = "inputs.json"
WARNINGS_FILE = "warnings.json"
"""The design's warnings (racksim.design.checks): risks it carries knowingly, shown in the report."""
SERVING_CURVE_FILE = "serving_curve.json"
"""An inference run's throughput-interactivity curve and chosen operating point (the report's serving figure)."""
JOBS_FILE = "jobs.parquet"
"""A hall job mix's per-job table: wait, run, goodput, ETTR, interruptions, racks, rows, work (one row per job)."""
PLACEMENTS_FILE = "placements.parquet"
"""A hall job mix's placements: each stretch a job held a set of racks (job, start_s, end_s, racks): its Gantt."""
GRID_FILE = "grid.parquet"
"""A run with a scenario grid: block: the hall's feed power over the window, per mitigation (racksim.run.grid)."""
REPLICAS_FILE = "replicas.json"
"""Each seed's metrics, when metrics.json holds their means (racksim.run.replicas)."""
POINTS_DIR = "points"
"""A sweep's folder of points (racksim.sweep): its runs are OUT/points/<point id>/<design>/<scenario>."""
GROUPS_DIR = "groups"
"""Beside metrics.json in a hall of several designs: one directory per group (its rack design and cabling plan)."""
SERIES_METADATA = {"design": "design", "scenario": "scenario", "seed": "seed", "version": "racksim_version",
                   "design_hash": "design_hash", "duration_s": "duration_s"}
"""The Parquet files' metadata (racksim.<key>) and the metrics.json field each comes from."""


@dataclass(frozen=True)
class GroupFiles:
    """One group's files of a hall of several designs (GROUPS_DIR/<name>/)."""

    name: str
    design_resolved: dict[str, Any]
    cabling: dict[str, Any]


@dataclass(frozen=True)
class RunOutput:
    """Everything a run directory holds, in memory and JSON-ready (what `simulate` returns)."""

    metrics: dict[str, Any]
    series: Mapping[str, FloatArray]
    events: list[dict[str, Any]]
    components: dict[str, Any]
    cabling: dict[str, Any]
    provenance: dict[str, Any]
    warnings: list[dict[str, Any]]
    inputs: dict[str, Any]
    design_resolved: dict[str, Any]
    hall_resolved: dict[str, Any] | None = None
    groups: tuple[GroupFiles, ...] = field(default=())
    serving_curve: dict[str, Any] | None = None
    """SERVING_CURVE_FILE's content, for an inference run (None: no such file)."""
    jobs: dict[str, list[Any]] | None = None
    """JOBS_FILE's columns, for a hall job mix (None: no such file)."""
    placements: dict[str, list[Any]] | None = None
    """PLACEMENTS_FILE's columns, for a hall job mix (None: no such file)."""
    grid_series: Mapping[str, FloatArray] | None = None
    """GRID_FILE's columns (time_s, <variant>_feed_power_w), for a run with a grid: block (None: no such file)."""


def run_output(loaded: LoadedDesign, result: RunResult, *, metrics: dict[str, Any], inputs: dict[str, Any],
               overrides: Sequence[str | tuple[list[str], Any]], components: dict[str, Any],
               cabling: dict[str, Any], groups: tuple[GroupFiles, ...] = (),
               serving_curve: dict[str, Any] | None = None,
               grid_series: Mapping[str, FloatArray] | None = None) -> RunOutput:
    """The RunOutput of a finished simulation of `loaded` (its design as run, provenance, warnings, events)."""
    return RunOutput(
        metrics=metrics, series=result.series, events=[asdict(event) for event in result.events],
        components=components, cabling=cabling, provenance=notes_json(design_notes(loaded.source, overrides)),
        warnings=[asdict(warning) for warning in loaded.warnings], inputs=inputs, design_resolved=loaded.resolved,
        hall_resolved=loaded.hall_resolved if isinstance(loaded, LoadedHall) else None, groups=groups,
        serving_curve=serving_curve, grid_series=grid_series)


def invalidate(run_dir: Path) -> None:
    """Mark `run_dir` as no longer a complete run (before anything in it changes)."""
    (Path(run_dir) / METRICS_FILE).unlink(missing_ok=True)


def write_run(run_dir: Path, output: RunOutput) -> Path:
    """Write the run directory of `output`, every file atomically and metrics.json last; returns `run_dir`.

    Files of an earlier run that this one does not write (an old-format time series, a hall's group folders, a
    replicas file) are removed, so the directory describes this run only.
    """
    run_dir = Path(run_dir)
    invalidate(run_dir)
    for stale in (LEGACY_TIMESERIES_FILE, LEGACY_COMPONENTS_FILE, REPLICAS_FILE, SERVING_CURVE_FILE, JOBS_FILE,
                  PLACEMENTS_FILE, GRID_FILE,
                  "hall.resolved.yaml"):
        (run_dir / stale).unlink(missing_ok=True)
    for stale_dir in (GROUPS_DIR, COMPONENTS_DIR):
        shutil.rmtree(run_dir / stale_dir, ignore_errors=True)
    atomic_write_yaml(run_dir / "design.resolved.yaml", output.design_resolved)
    if output.hall_resolved is not None:
        atomic_write_yaml(run_dir / "hall.resolved.yaml", output.hall_resolved)
    for group in output.groups:
        atomic_write_yaml(run_dir / GROUPS_DIR / group.name / "design.resolved.yaml", group.design_resolved)
        atomic_write_json(run_dir / GROUPS_DIR / group.name / "cabling.json", group.cabling)
    metadata = {key: output.metrics[name] for key, name in SERIES_METADATA.items()}
    write_timeseries(run_dir / TIMESERIES_FILE, output.series, metadata)
    atomic_write_json(run_dir / "events.json", output.events)
    write_components(run_dir, output.components, metadata)
    atomic_write_json(run_dir / "cabling.json", output.cabling)
    atomic_write_json(run_dir / "provenance.json", output.provenance)
    atomic_write_json(run_dir / WARNINGS_FILE, output.warnings)
    if output.serving_curve is not None:
        atomic_write_json(run_dir / SERVING_CURVE_FILE, output.serving_curve)
    if output.jobs is not None:
        atomic_write_bytes(run_dir / JOBS_FILE, table_bytes(output.jobs, metadata))
    if output.placements is not None:
        atomic_write_bytes(run_dir / PLACEMENTS_FILE, table_bytes(output.placements, metadata))
    if output.grid_series is not None:
        write_timeseries(run_dir / GRID_FILE, output.grid_series, metadata)
    atomic_write_json(run_dir / INPUTS_FILE, output.inputs)
    atomic_write_json(run_dir / METRICS_FILE, output.metrics)
    return run_dir


def metrics_files(results_dir: Path) -> list[Path]:
    """Every metrics.json below `results_dir`, sorted, leaving out hidden folders (a replace_run's staging)."""
    results_dir = Path(results_dir)
    return sorted(path for path in results_dir.rglob(METRICS_FILE)
                  if not any(part.startswith(".") for part in path.relative_to(results_dir).parts))


def partial_dirs(run_dir: Path) -> list[Path]:
    """Hidden siblings of `run_dir` left by a `replace_run` that was killed half way (safe to remove)."""
    run_dir = Path(run_dir)
    return sorted(run_dir.parent.glob(f".{run_dir.name}.partial-*")) if run_dir.parent.is_dir() else []


def remove_partial_dirs(run_dir: Path) -> None:
    """Remove what a killed `replace_run` of `run_dir` left (its hidden siblings; the run directory stays)."""
    for partial in partial_dirs(run_dir):
        shutil.rmtree(partial, ignore_errors=True)


def _hidden_sibling(run_dir: Path) -> Path:
    return run_dir.parent / f".{run_dir.name}.partial-{uuid.uuid4().hex}"


@contextmanager
def staged(run_dir: Path) -> Iterator[Path]:
    """A hidden sibling of `run_dir` (not created yet) to build a run directory in, renamed into place on success.

    Readers see the earlier directory, none (a moment, while an earlier one moves aside) or the whole new one,
    never part of it. If the block raises (an error, Ctrl-C) the sibling is removed and `run_dir` is left as it
    was; a process killed half way leaves only hidden siblings (partial_dirs, which metrics_files skips).
    """
    run_dir = Path(run_dir)
    staging = _hidden_sibling(run_dir)
    try:
        yield staging
        if run_dir.exists():
            former = _hidden_sibling(run_dir)
            run_dir.rename(former)
            staging.rename(run_dir)
            shutil.rmtree(former, ignore_errors=True)
        else:
            staging.rename(run_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def replace_run(run_dir: Path, output: RunOutput) -> Path:
    """Write the run directory of `output` whole (`staged`: into a hidden sibling, then renamed into place)."""
    run_dir = Path(run_dir)
    with staged(run_dir) as staging:
        write_run(staging, output)
    return run_dir


def finish_run(run_dir: Path, metrics: dict[str, Any], inputs: dict[str, Any],
               replicas: list[dict[str, Any]] | None = None) -> None:
    """Replace a written run's metrics and inputs (a mean over seeds, a cost group with sensitivity), metrics last."""
    invalidate(run_dir)
    atomic_write_json(Path(run_dir) / INPUTS_FILE, inputs)
    if replicas is not None:
        atomic_write_json(Path(run_dir) / REPLICAS_FILE, replicas)
    atomic_write_json(Path(run_dir) / METRICS_FILE, metrics)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    """The metrics.json of a complete run directory."""
    metrics: dict[str, Any] = json.loads((Path(run_dir) / METRICS_FILE).read_text(encoding="utf-8"))
    return metrics


def flatten_metrics(node: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every leaf of a metrics.json mapping by dotted name (lists stay whole, as leaves)."""
    leaves: dict[str, Any] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            leaves.update(flatten_metrics(value, name + "."))
        else:
            leaves[name] = value
    return leaves


def is_complete(run_dir: Path, fingerprint: str) -> bool:
    """Whether `run_dir` holds a complete run (metrics.json and the Parquet tables) with this fingerprint."""
    run_dir = Path(run_dir)
    required = [run_dir / METRICS_FILE, run_dir / TIMESERIES_FILE, *(component_path(run_dir, part) for part in PARTS)]
    if not all(path.is_file() for path in required):
        return False
    try:
        stored = json.loads((run_dir / INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stored, dict) and stored.get("fingerprint") == fingerprint
