"""Run a sweep's points on dask.distributed, resume what stopped, and gather the table and the Pareto figure.

Every point × design × scenario is an ordinary run request with the point's overrides after the user's `--set`;
its directory is `OUT/points/<point id>/<design>/<scenario>`, so the runner's fingerprint decides what is done.
Workers `simulate` the run in memory (racksim.run.simulate) and send its output back; the client writes the run
directory with the results writer (racksim.run.results.replace_run: into a hidden sibling, then renamed into
place). Workers therefore need racksim and the design files at the same paths, but no shared disk. A run's
results depend only on its inputs, so they are the same on any worker and in any order. Sweeps run no coolant
sensitivity: their cost group has no `coolant_temp` entry.

Surviving failures: a worker that dies mid-run has its run rescheduled on another one by the scheduler (up to
its `distributed.scheduler.allowed-failures`); when the scheduler gives up (KilledWorker) the run is submitted
again, up to RESUBMITS times, then recorded as failed and the sweep goes on. An exception in a run (not a
racksim error, which is the run's one-line status) is retried RETRIES times. Each result is written once: a run
directory already complete with the same inputs is not rewritten. A sweep whose process is killed resumes on the
next call: complete run directories are kept, half-written ones (hidden siblings) removed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from racksim.design.suite import Scenario
from racksim.errors import InputError, RacksimError, one_line
from racksim.io import atomic_write_bytes
from racksim.run.loading import LoadedDesign
from racksim.run.pool import default_jobs
from racksim.run.request import RunRequest
from racksim.run.results import (
    POINTS_DIR,
    RunOutput,
    flatten_metrics,
    is_complete,
    remove_partial_dirs,
    replace_run,
)
from racksim.run.simulate import simulate
from racksim.sweep.pareto import Objective, check_objectives, mark_front, pareto_figure
from racksim.sweep.spec import Point
from racksim.sweep.table import PARAM_PREFIX, TABLE_FILE, write_table

FIGURE_FILE = "pareto.png"
CONNECT_TIMEOUT_S = 10.0
"""How long to wait for an existing scheduler (--scheduler) to answer."""
RETRIES = 1
"""Reruns of a run whose task raised an exception (dask's `retries`)."""
RESUBMITS = 1
"""Submissions of a run again after the scheduler gave up on it because its workers died (KilledWorker)."""


@dataclass
class SweepRun:
    """One point × design × scenario: its request, its design (None if the point breaks a design rule)."""

    point: Point
    request: RunRequest
    loaded: LoadedDesign | None
    status: str
    """"ok" once it has results; otherwise why not (the one-line error), or "pending"."""
    force: bool = False
    """Rewrite its directory even where it holds this run already (--force)."""

    @property
    def out_root(self) -> Path:
        """The point's folder below the sweep's, relative to it."""
        return Path(POINTS_DIR) / self.point.point_id

    @property
    def design_name(self) -> str:
        """The design's name (the file's stem when it did not load)."""
        return self.loaded.design.name if self.loaded else self.request.design_path.stem


@dataclass(frozen=True)
class SweepResult:
    """What a sweep wrote and did."""

    table_path: Path
    figure_path: Path | None
    ran: int
    kept: int
    """Runs finished earlier with unchanged inputs, not rerun."""
    failed: int
    """Runs whose point breaks a design rule, or whose simulation stopped with an error."""


def plan(points: Sequence[Point], design_paths: Sequence[Path], scenarios: Sequence[Scenario], out: Path, *,
         seed: int | None = None, duration_s: float | None = None, overrides: Sequence[str] = (),
         force: bool = False, timeseries_resolution_s: float | None = None, skip_cycles: bool = True) -> list[SweepRun]:
    """Every run of the sweep, point-major, with its design loaded and whether it is done already.

    A point whose design breaks a rule is kept with its error as status (the sweep maps where designs stop
    being feasible); if every run does, the first error is raised, since then it is the sweep that is wrong.
    """
    runs: list[SweepRun] = []
    cache: dict[tuple[str, str], LoadedDesign | InputError] = {}
    first_error: InputError | None = None
    for point in points:
        for scenario in scenarios:
            for design_path in design_paths:
                request = RunRequest(Path(design_path), scenario, seed, duration_s, (*overrides, *point.overrides),
                                     timeseries_resolution_s=timeseries_resolution_s, skip_cycles=skip_cycles)
                key = (str(design_path), repr(request.all_overrides))
                if key not in cache:
                    try:
                        cache[key] = request.load()
                    except InputError as error:
                        cache[key] = error
                loaded = cache[key]
                if isinstance(loaded, InputError):
                    first_error = first_error or loaded
                    runs.append(SweepRun(point, request, None, str(loaded)))
                    continue
                done = not force and request.is_done(out / POINTS_DIR / point.point_id, loaded)
                runs.append(SweepRun(point, request, loaded, "ok" if done else "pending", force))
    if first_error is not None and all(run.loaded is None for run in runs):
        raise first_error
    names = {run.design_name: run.request.design_path for run in runs}
    for run in runs:
        if names[run.design_name] != run.request.design_path:
            raise InputError(str(run.request.design_path), "name", f"two designs are called {run.design_name!r}; "
                             "results would overwrite each other")
    return runs


def run_output(request: RunRequest, loaded: LoadedDesign) -> RunOutput | str:
    """Worker side: one run simulated in memory, or the one-line error that stopped it."""
    try:
        return simulate(request, loaded)
    except RacksimError as error:
        return str(error)


def store_run(run_dir: Path, output: RunOutput, *, force: bool = False) -> bool:
    """Write a run's directory whole (replace_run) unless it holds this run already (and not `force`); if it wrote."""
    if not force and is_complete(run_dir, output.inputs["fingerprint"]):
        return False
    replace_run(run_dir, output)
    return True


def failure(error: BaseException) -> str:
    """A run's status when its task failed: one line."""
    from distributed import KilledWorker

    if isinstance(error, KilledWorker):
        return f"its dask workers died ({RESUBMITS + 1} submissions, KilledWorker); rerun the sweep to retry it"
    return one_line(f"failed on a dask worker: {type(error).__name__}: {error}")


@contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A client of the scheduler at `scheduler`, or of a LocalCluster on loopback (`workers` processes)."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise InputError("--scheduler", scheduler, f"cannot reach the dask scheduler: {error}") from None
        with client:
            yield client
        return
    # The scheduler's HTTP server on a free loopback port: on a taken 8787, distributed only warns and moves.
    with LocalCluster(n_workers=workers or default_jobs(), threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def execute(runs: Sequence[SweepRun], out: Path, *, scheduler: str | None = None, workers: int | None = None,
            console: Console) -> None:
    """Run every pending run on dask, writing each as it finishes, under one progress bar."""
    from distributed import KilledWorker, as_completed

    pending = [run for run in runs if run.status == "pending"]
    if not pending:
        return
    for run in pending:  # what a sweep killed while writing left
        assert run.loaded is not None
        remove_partial_dirs(out / run.request.run_dir(run.out_root, run.loaded))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
               TimeRemainingColumn())
    kept = sum(run.status == "ok" for run in runs)
    with dask_client(scheduler, workers) as client, Progress(*columns, console=console) as bar:
        task = bar.add_task(f"sweep ({kept} kept)", total=len(pending))
        def submit(run: SweepRun) -> Any:  # noqa: ANN401 - a dask Future
            return client.submit(run_output, run.request, run.loaded, pure=False, retries=RETRIES)

        futures = {submit(run): (run, 0) for run in pending}
        finished = as_completed(futures)
        for future in finished:
            run, resubmits = futures.pop(future)
            error = future.exception() if future.status == "error" else None
            if isinstance(error, KilledWorker) and resubmits < RESUBMITS:
                futures[again := submit(run)] = (run, resubmits + 1)
                finished.add(again)
                continue
            result = failure(error) if error is not None else future.result()
            if isinstance(result, str):
                run.status = result
            else:
                assert run.loaded is not None
                store_run(out / run.request.run_dir(run.out_root, run.loaded), result, force=run.force)
                run.status = "ok"
            bar.advance(task)


def rows(runs: Sequence[SweepRun], out: Path) -> list[dict[str, Any]]:
    """One table row per run: point, design, scenario, status, run directory, parameters and metrics."""
    table_rows = []
    for run in runs:
        run_dir = run.request.run_dir(run.out_root, run.loaded) if run.loaded else None
        row: dict[str, Any] = {"point": run.point.point_id, "design": run.design_name,
                               "scenario": run.request.scenario.name, "status": run.status,
                               "run_dir": str(run_dir) if run_dir and run.status == "ok" else None}
        row.update({PARAM_PREFIX + path: value for path, value in run.point.values.items()})
        if run.status == "ok" and run_dir is not None:
            metrics = json.loads((out / run_dir / "metrics.json").read_text(encoding="utf-8"))
            row.update({name: value for name, value in flatten_metrics(metrics).items() if name not in row})
        table_rows.append(row)
    return table_rows


def run_sweep(runs: list[SweepRun], out: Path, *, objectives: tuple[Objective, Objective] | None = None,
              scheduler: str | None = None, workers: int | None = None,
              console: Console | None = None) -> SweepResult:
    """Run what is not done, then write OUT/sweep.parquet and, with `objectives`, OUT/pareto.png."""
    out = Path(out)
    kept = sum(run.status == "ok" for run in runs)
    pending = sum(run.status == "pending" for run in runs)
    execute(runs, out, scheduler=scheduler, workers=workers, console=console or Console(stderr=True))
    table_rows, table_path, figure_path = rows(runs, out), out / TABLE_FILE, None
    if objectives is not None:
        try:
            check_objectives(table_rows, objectives)
        except InputError:
            write_table(table_path, table_rows)  # the runs are done: keep their table, without a front
            raise
        mark_front(table_rows, objectives)
        figure_path = out / FIGURE_FILE
        atomic_write_bytes(figure_path, pareto_figure(table_rows, objectives))
    write_table(table_path, table_rows)
    failed = sum(run.status != "ok" for run in runs)
    return SweepResult(table_path, figure_path, ran=pending, kept=kept, failed=failed)
