"""A results directory as pandas tables, for notebooks and other tools: `racksim.results.open` and `racksim export`.

`open(RESULTS_DIR)` reads every complete run below a results directory (`racksim run`, `compare` or a sweep's
`points/<id>/`: any folder with a metrics.json, hidden folders left out) into a `Results`:

- `metrics`: one row per run (design × scenario, and point in a sweep) with `run` (its folder, relative),
  `point` (the sweep point's id, or null), then every metrics.json leaf by dotted name (`design`, `scenario`,
  `seed`, `racksim_version`, `power.input_energy_j`, `power.loss_energy_j_by_stage.busbar`, ...); a list-valued
  metric is JSON text;
- `events`: every run's events (`run`, `point`, `design`, `scenario`, `time_s`, `kind`, `detail`);
- `components`: per kind of component (`chips`, `compute_trays`, `racks`, `rows`, racksim.run.components) one
  table across runs, the same four run columns first;
- `timeseries(design, scenario)`: a run's time series (`pandas.read_parquet` of its timeseries.parquet: a
  column per quantity, the unit in its name); `grid(design, scenario)` its grid.parquet, for a run with a
  scenario `grid:` block.

`export(results, out, fmt)` writes those tables as Parquet or CSV: `metrics.<ext>`, `events.<ext>`,
`components/<part>.<ext>`, and per run `timeseries/<run>.<ext>` and, where the run has them, `grid/`, `jobs/`
and `placements/<run>.<ext>` (RUN_TABLES; in Parquet a copy of the run's file, with its run metadata).
Results from before the Parquet formats (`timeseries.npz`, `components.json`) are a one-line error saying to
rerun; a plain rerun rewrites them, since a run without the Parquet files is not complete.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from racksim.errors import InputError
from racksim.io import atomic_write_bytes
from racksim.run.components import COMPONENTS_DIR, LEGACY_COMPONENTS_FILE, PARTS, component_path
from racksim.run.results import GRID_FILE, JOBS_FILE, PLACEMENTS_FILE, POINTS_DIR, flatten_metrics, metrics_files
from racksim.run.timeseries import LEGACY_TIMESERIES_FILE, TIMESERIES_FILE

RUN_COLUMNS = ("run", "point", "design", "scenario")
"""The columns that say which run a row is of, first in every table."""
EVENT_COLUMNS = ("time_s", "kind", "detail")
FORMATS = {"parquet": ".parquet", "csv": ".csv"}
"""Export formats and their file extensions."""
RUN_TABLES = {TIMESERIES_FILE: "timeseries", GRID_FILE: "grid", JOBS_FILE: "jobs", PLACEMENTS_FILE: "placements"}
"""A run's own Parquet tables and the folder each is exported to (as `<folder>/<run>.<ext>`), where it has them."""
RERUN = "rerun with this racksim version to rewrite it (racksim run or compare with the same arguments)"


@dataclass(frozen=True, eq=False)
class Results:
    """The runs of a results directory as pandas DataFrames."""

    directory: Path
    metrics: pd.DataFrame
    """One row per run: RUN_COLUMNS, then every metrics.json leaf by dotted name."""
    events: pd.DataFrame
    """Every run's events: RUN_COLUMNS, then time_s, kind and detail."""
    components: Mapping[str, pd.DataFrame]
    """Per part (PARTS): every run's rows, RUN_COLUMNS first."""

    def run_dir(self, design: str, scenario: str, point: str | None = None) -> Path:
        """The folder of the run of `design` in `scenario` (and sweep `point`); one-line error if none or several."""
        rows = self.metrics[(self.metrics["design"] == design) & (self.metrics["scenario"] == scenario)]
        if point is not None:
            rows = rows[rows["point"] == point]
        if len(rows) != 1:
            known = ", ".join(f"{d}/{s}" for d, s in sorted(set(zip(self.metrics["design"], self.metrics["scenario"],
                                                                      strict=True))))
            found = "no run" if rows.empty else f"{len(rows)} runs (sweep points: give point=)"
            raise InputError(str(self.directory), f"{design}/{scenario}", f"{found}; the runs are {known}")
        return self.directory / str(rows["run"].iloc[0])

    def timeseries(self, design: str, scenario: str, point: str | None = None) -> pd.DataFrame:
        """The time series of a run: a column per quantity (`time_s`, `feed_power_w`, ...), unit in its name."""
        return self._series(TIMESERIES_FILE, design, scenario, point)

    def grid(self, design: str, scenario: str, point: str | None = None) -> pd.DataFrame:
        """A run's hall feed per grid mitigation (`time_s`, `<variant>_feed_power_w`; racksim.run.grid)."""
        return self._series(GRID_FILE, design, scenario, point)

    def jobs(self, design: str, scenario: str, point: str | None = None) -> pd.DataFrame:
        """A hall job mix's per-job table (wait, run, goodput, ETTR, interruptions, racks, work; racksim.run.fleet)."""
        return self._series(JOBS_FILE, design, scenario, point)

    def placements(self, design: str, scenario: str, point: str | None = None) -> pd.DataFrame:
        """A hall job mix's placements: each stretch a job held a set of racks (job, start_s, end_s, racks)."""
        return self._series(PLACEMENTS_FILE, design, scenario, point)

    def _series(self, file: str, design: str, scenario: str, point: str | None) -> pd.DataFrame:
        path = self.run_dir(design, scenario, point) / file
        if not path.is_file():
            raise InputError(str(path), "", f"the run has no {file}")
        return pd.read_parquet(path)


def _run_columns(run: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    parts = Path(run).parts
    point = parts[1] if len(parts) > 3 and parts[0] == POINTS_DIR else None  # points/<id>/<design>/<scenario>
    return {"run": run, "point": point, "design": metrics["design"], "scenario": metrics["scenario"]}


def _check_format(run_dir: Path) -> None:
    """A one-line error for a run in a format from before Parquet."""
    for legacy, current in ((LEGACY_TIMESERIES_FILE, run_dir / TIMESERIES_FILE),
                            (LEGACY_COMPONENTS_FILE, component_path(run_dir, PARTS[0]))):
        if (run_dir / legacy).is_file() and not current.is_file():
            raise InputError(str(run_dir / legacy), "", f"results in the format before Parquet; {RERUN}")


def _read_json(path: Path) -> Any:  # noqa: ANN401 - any JSON value
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(str(path), "", f"unreadable: {error}") from None


def _flat_row(which: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The run's columns `which`, the top-level fields (seed, racksim_version, ...), then the groups' metrics."""
    leaves = flatten_metrics(metrics)
    row = dict(which)
    row.update({name: json.dumps(value) if isinstance(value, list) else value
                for name, value in sorted(leaves.items(), key=lambda item: "." in item[0]) if name not in row})
    return row


def open(results_dir: Path | str) -> Results:
    """Every complete run below `results_dir` as tables (one-line InputError if it holds none)."""
    directory = Path(results_dir)
    if not directory.is_dir():
        raise InputError(str(directory), "", "not a results directory")
    metric_files = metrics_files(directory)
    if not metric_files:
        raise InputError(str(directory), "", "no runs found (no metrics.json below it)")
    rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    components: dict[str, list[pd.DataFrame]] = {part: [] for part in PARTS}
    for path in metric_files:
        run_dir, run = path.parent, path.parent.relative_to(directory).as_posix()
        _check_format(run_dir)
        metrics = _read_json(path)
        if not isinstance(metrics, dict) or not all(isinstance(metrics.get(key), str) for key in ("design",
                                                                                                   "scenario")):
            raise InputError(str(path), "design/scenario", "must be present and strings")
        which = _run_columns(run, metrics)
        rows.append(_flat_row(which, metrics))
        logged = _read_json(run_dir / "events.json") if (run_dir / "events.json").is_file() else []
        events += [{**which, **{key: event.get(key) for key in EVENT_COLUMNS}} for event in logged
                   if isinstance(event, dict)]
        for part in PARTS:
            if component_path(run_dir, part).is_file():
                table = pd.read_parquet(component_path(run_dir, part))
                components[part].append(pd.concat([pd.DataFrame(which, index=table.index), table], axis=1))
    columns = list(RUN_COLUMNS)
    return Results(
        directory=directory,
        metrics=pd.DataFrame(rows),
        events=pd.DataFrame(events, columns=[*columns, *EVENT_COLUMNS]),
        components={part: pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=columns)
                    for part, tables in components.items()})


def _table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    if fmt == "csv":
        return table.to_csv(index=False).encode("utf-8")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return buffer.getvalue()


def extension(fmt: str) -> str:
    """The file extension of an export format (one-line error for an unknown one)."""
    if fmt not in FORMATS:
        raise InputError("--format", fmt, f"expected one of {', '.join(FORMATS)}")
    return FORMATS[fmt]


def export(results: Results, out: Path, fmt: str) -> list[Path]:
    """Write the tables of `results` below `out` as `fmt` (parquet or csv), each atomically; the paths written."""
    out, ext = Path(out), extension(fmt)
    tables = {Path(f"metrics{ext}"): results.metrics, Path(f"events{ext}"): results.events}
    tables |= {Path(COMPONENTS_DIR) / f"{part}{ext}": table for part, table in results.components.items()}
    written = []
    for name, table in tables.items():
        atomic_write_bytes(out / name, _table_bytes(table, fmt))
        written.append(out / name)
    for run in results.metrics["run"]:
        for file, folder in RUN_TABLES.items():
            source, target = results.directory / run / file, out / folder / f"{run}{ext}"
            if not source.is_file():
                continue
            data = source.read_bytes() if fmt == "parquet" else _table_bytes(pd.read_parquet(source), fmt)
            atomic_write_bytes(target, data)
            written.append(target)
    return written
