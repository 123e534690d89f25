"""The run pipeline: requests → simulations in the pool → run directories, one per design × scenario.

A request (racksim.run.request) is planned into simulations (racksim.run.plan: its own, or one per seed plus
the coolant-sensitivity runs), each `simulate`d (racksim.run.simulate) and written by the results writer
(racksim.run.results: the run directory contract, metrics.json last). Runs whose directory already holds a
complete run with the same input fingerprint are kept. Single racks, halls, halls of several designs, replicas
and the cost sensitivity all go this one way; sweeps (racksim.sweep) use the same `simulate` and writer on dask.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from itertools import count
from pathlib import Path

from rich.console import Console

from racksim.design.suite import Suite
from racksim.errors import InputError
from racksim.io import atomic_write_json
from racksim.run.plan import plan_run
from racksim.run.pool import execute
from racksim.run.request import RunRequest, requests_for
from racksim.run.results import INPUTS_FILE, WARNINGS_FILE, remove_partial_dirs
from racksim.run.simulate import run_one, simulate

SUITE_FILE = "suite.json"
"""Beside the run directories: the suite (with its scorecard weights) and the command line of the last run."""

__all__ = ["INPUTS_FILE", "SUITE_FILE", "WARNINGS_FILE", "RunRequest", "record_suite", "requests_for", "run_many",
           "run_one", "simulate"]


def record_suite(out_root: Path, suite: Suite, command_line: str | None = None) -> None:
    """Write OUT/suite.json: the suite the runs came from, its scorecard weights and the command line."""
    weights = [{"kpi": kpi, **weight.model_dump(mode="json")} for kpi, weight in suite.weights.items()]
    atomic_write_json(Path(out_root) / SUITE_FILE, {"suite": suite.name, "weights": weights,
                                                    "command_line": command_line})


def run_many(requests: Sequence[RunRequest], out_root: Path, *, jobs: int | None = None, force: bool = False,
             console: Console | None = None) -> list[Path]:
    """Validate every design and workload first (so bad input runs nothing), then run what is not done yet.

    A run whose directory holds a complete run with the same input fingerprint is skipped unless `force`.
    `jobs` processes run in parallel (default: one per CPU core); the results do not depend on it. Extra seeds
    and coolant-sensitivity runs are simulated in a scratch directory, removed afterwards. Each run directory is
    replaced whole (racksim.run.results.staged): a run that fails or is interrupted leaves the earlier one intact,
    and hidden folders a killed run left are removed here.
    """
    out_root = Path(out_root)
    loaded = [request.load() for request in requests]
    keys = [(item.design.name, request.scenario.name) for request, item in zip(requests, loaded, strict=True)]
    for request, key in zip(requests, keys, strict=True):
        if keys.count(key) > 1:
            raise InputError(str(request.design_path), "name", f"two designs are called {key[0]!r}; "
                             "results would overwrite each other")
    with tempfile.TemporaryDirectory(prefix="racksim-runs-") as scratch:
        numbers = count()
        planned = [plan_run(request, item, out_root, Path(scratch), force=force, numbers=numbers)
                   for request, item in zip(requests, loaded, strict=True)]
        for plan in planned:  # what a run killed while writing left: hidden siblings of its directory
            remove_partial_dirs(plan.run_dir)
        execute([run for plan in planned for run in plan.simulations], jobs=jobs,
                console=console or Console(stderr=True))
        for plan in planned:
            plan.finish()
    return [plan.run_dir for plan in planned]
