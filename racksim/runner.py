"""Run designs through scenarios and write one result directory per design × scenario.

Each run directory holds `design.resolved.yaml`, `timeseries.npz`, `events.json` (faults, throttling,
shutdowns), `components.json` (per-chip and per-tray summaries), `cabling.json` (the cabling plan's bill of
materials, routes and length histogram) and `metrics.json`, each written
atomically; metrics.json is written last, so its presence marks a complete run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

from racksim.build import build
from racksim.cabling import cabling_metrics, cabling_summary
from racksim.cost import run_cost_group
from racksim.design import LoadedDesign, load_design
from racksim.engine import Simulation
from racksim.errors import InputError
from racksim.faults import fault_actions
from racksim.io import atomic_write_json, atomic_write_npz, atomic_write_yaml
from racksim.metrics import component_summary, compute_metrics
from racksim.network import network_metrics
from racksim.suite import Scenario
from racksim.workload import TrainingSchedule


@dataclass(frozen=True)
class RunRequest:
    """One design × scenario to run, with the user's seed, duration and overrides."""

    design_path: Path
    scenario: Scenario
    seed: int | None = None
    duration_s: float | None = None
    overrides: tuple[str, ...] = ()

    def load(self) -> LoadedDesign:
        """The design with the scenario's overrides, then the user's, applied."""
        scenario_overrides = [(path.split("."), value) for path, value in self.scenario.design_overrides.items()]
        return load_design(self.design_path, [*scenario_overrides, *self.overrides])

    @property
    def run_seed(self) -> int:
        """The seed the run uses."""
        return self.scenario.seed if self.seed is None else self.seed

    @property
    def run_duration_s(self) -> float:
        """Simulated time, s."""
        return self.scenario.duration_s if self.duration_s is None else self.duration_s


def run_one(request: RunRequest, out_root: Path, loaded: LoadedDesign | None = None,
            progress: Callable[[float], None] | None = None) -> Path:
    """Simulate one design × scenario and write its result directory; returns the directory."""
    loaded = loaded or request.load()
    scenario, duration_s = request.scenario, request.run_duration_s
    schedule = TrainingSchedule.for_design(scenario.workload, loaded.design)
    arrays = build(loaded.design)
    simulation = Simulation(arrays, schedule.phases(), duration_s, faults=fault_actions(scenario.faults, arrays),
                            progress=progress)
    result = simulation.run()
    cabling = arrays.cabling
    metrics = compute_metrics(
        result, design=loaded.design.name, design_hash=loaded.design_hash, scenario=scenario.name,
        seed=request.run_seed, nominal_work_units=schedule.nominal_steps(duration_s),
        feed_limit_w=loaded.design.power.feed.limit_w, cabling=cabling_metrics(cabling),
        network=network_metrics(loaded.design),
    )
    cost = run_cost_group(request, loaded.design, metrics)  # None without a cost section
    if cost is not None:
        metrics["cost"] = cost
    run_dir = Path(out_root) / loaded.design.name / scenario.name
    atomic_write_yaml(run_dir / "design.resolved.yaml", loaded.resolved)
    atomic_write_npz(run_dir / "timeseries.npz", result.series)
    atomic_write_json(run_dir / "events.json", [asdict(event) for event in result.events])
    atomic_write_json(run_dir / "components.json", component_summary(arrays, result))
    atomic_write_json(run_dir / "cabling.json", cabling_summary(loaded.design, cabling))
    atomic_write_json(run_dir / "metrics.json", metrics)
    return run_dir


def _show_progress(bar: Progress, task: TaskID, simulated_s: float) -> None:
    bar.update(task, completed=simulated_s)


def requests_for(design_paths: Iterable[Path], scenarios: Iterable[Scenario], *, seed: int | None = None,
                 duration_s: float | None = None, overrides: Sequence[str] = ()) -> list[RunRequest]:
    """Every design × scenario, scenario-major."""
    return [RunRequest(Path(d), s, seed, duration_s, tuple(overrides)) for s in scenarios for d in design_paths]


def run_many(requests: Sequence[RunRequest], out_root: Path, *, console: Console | None = None) -> list[Path]:
    """Validate every design first (so bad input runs nothing), then run all with a progress bar."""
    loaded = [request.load() for request in requests]
    keys = [(item.design.name, request.scenario.name) for request, item in zip(requests, loaded, strict=True)]
    for request, key in zip(requests, keys, strict=True):
        if keys.count(key) > 1:
            raise InputError(str(request.design_path), "name", f"two designs are called {key[0]!r}; "
                             "results would overwrite each other")
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.completed:,.0f}/{task.total:,.0f} s simulated"), TimeRemainingColumn())
    run_dirs = []
    with Progress(*columns, console=console or Console(stderr=True), transient=False) as bar:
        tasks = [bar.add_task(f"{r.scenario.name} · {item.design.name}", total=r.run_duration_s)
                 for r, item in zip(requests, loaded, strict=True)]
        for request, item, task in zip(requests, loaded, tasks, strict=True):
            run_dirs.append(run_one(request, out_root, item, progress=partial(_show_progress, bar, task)))
            bar.update(task, completed=request.run_duration_s)
    return run_dirs
