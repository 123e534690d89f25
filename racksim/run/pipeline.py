"""Run designs through scenarios and write one result directory per design × scenario.

Each run directory holds `design.resolved.yaml`, `timeseries.npz`, `events.json` (faults, throttling,
shutdowns), `components.json` (per-chip and per-tray summaries), `cabling.json` (the cabling plan's bill of
materials, routes and length histogram), `provenance.json` (the source tags of the design's numbers),
`warnings.json` (the design's risks, racksim.design.checks), `inputs.json` (what the run depends on, and its
fingerprint) and `metrics.json`, each written atomically;
metrics.json is written last, so its presence marks a complete run. A rerun first removes metrics.json, so
a run killed half way is never mistaken for a finished one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from racksim._version import __version__
from racksim.cabling import cabling_metrics, cabling_summary
from racksim.design.provenance import design_notes, notes_json
from racksim.design.suite import Scenario, Suite
from racksim.design.workload_schema import TraceWorkload
from racksim.engine import Simulation
from racksim.errors import InputError
from racksim.io import atomic_write_json, atomic_write_npz, atomic_write_yaml
from racksim.network import link_utilization, network_metrics
from racksim.physics.arrays import build
from racksim.run.cost import run_cost_group
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall, layout_of, load_target
from racksim.run.metrics import component_summary, compute_metrics
from racksim.run.reliability import reliability_metrics, run_failures
from racksim.workload import Schedule, schedule_for
from racksim.workload.faults import fault_actions

INPUTS_FILE = "inputs.json"
WARNINGS_FILE = "warnings.json"
"""The design's warnings (racksim.design.checks): risks it carries knowingly, shown in the report."""
SUITE_FILE = "suite.json"
"""Beside the run directories: the suite (with its scorecard weights) and the command line of the last run."""


@dataclass(frozen=True)
class RunRequest:
    """One design × scenario to run, with the user's seed, duration and overrides."""

    design_path: Path
    scenario: Scenario
    seed: int | None = None
    duration_s: float | None = None
    overrides: tuple[str, ...] = ()
    replicas: int = 1
    """Seeds the run's metrics average over (racksim.run.replicas); part of the inputs, so means never pass
    for one run."""
    timeseries_resolution_s: float | None = None
    """Time-series row interval, s, overriding the scenario's (None: the scenario's)."""
    skip_cycles: bool = True
    """Book a job's exactly repeating cycles instead of simulating them (racksim.engine.cycles)."""

    @property
    def all_overrides(self) -> list[str | tuple[list[str], Any]]:
        """The scenario's design overrides, then the user's."""
        scenario_overrides = [(path.split("."), value) for path, value in self.scenario.design_overrides.items()]
        return [*scenario_overrides, *self.overrides]

    def load(self) -> LoadedDesign:
        """The design (or hall: a LoadedHall) with the scenario's overrides, then the user's, applied."""
        return load_target(self.design_path, self.all_overrides)

    def inputs(self, loaded: LoadedDesign) -> dict[str, Any]:
        """Everything the run's results depend on, with their sha256 `fingerprint` (inputs.json)."""
        inputs = {"design": loaded.design.name, "design_hash": loaded.design_hash,
                  "scenario": self.scenario.model_dump(mode="json"), "seed": self.run_seed,
                  "duration_s": self.run_duration_s, "overrides": list(self.overrides),
                  "racksim_version": __version__}
        if self.replicas != 1:
            inputs["replicas"] = self.replicas
        if self.run_resolution_s is not None:
            inputs["timeseries_resolution_s"] = self.run_resolution_s
        if not self.skip_cycles:
            inputs["skip_cycles"] = False
        workload = self.scenario.workload
        if isinstance(workload, TraceWorkload):  # the trace's content, not just its path
            try:
                inputs["trace_sha256"] = hashlib.sha256(workload.path.read_bytes()).hexdigest()
            except OSError as error:
                raise InputError(str(workload.path), "workload.path", f"cannot read the trace: {error}") from None
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, allow_nan=False).encode()).hexdigest()
        return {**inputs, "fingerprint": digest}

    def run_dir(self, out_root: Path, loaded: LoadedDesign) -> Path:
        """Where the run's results go: OUT/<design>/<scenario>."""
        return Path(out_root) / loaded.design.name / self.scenario.name

    def is_done(self, out_root: Path, loaded: LoadedDesign) -> bool:
        """Whether a complete run with unchanged inputs is already in `out_root`."""
        run_dir = self.run_dir(out_root, loaded)
        if not (run_dir / "metrics.json").is_file():
            return False
        try:
            stored = json.loads((run_dir / INPUTS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(stored, dict) and stored.get("fingerprint") == self.inputs(loaded)["fingerprint"]

    def schedule(self, loaded: LoadedDesign) -> Schedule:
        """The scenario's workload compiled for the design (an InputError when it cannot map onto it)."""
        if isinstance(loaded, LoadedHall) and loaded.is_mixed:  # every group's compiled; run_one recompiles them
            from racksim.run.mixed_hall import group_schedules  # it imports this module

            return group_schedules(self, loaded)[0]
        return schedule_for(self.scenario.workload, loaded.design, n_racks=layout_of(loaded).n_racks,
                            seed=self.run_seed, source=f"scenario {self.scenario.name} on {loaded.design.name}")

    @property
    def run_seed(self) -> int:
        """The seed the run uses."""
        return self.scenario.seed if self.seed is None else self.seed

    @property
    def run_duration_s(self) -> float:
        """Simulated time, s."""
        return self.scenario.duration_s if self.duration_s is None else self.duration_s

    @property
    def run_resolution_s(self) -> float | None:
        """The run's time-series row interval, s (None: a row per event)."""
        return self.timeseries_resolution_s or self.scenario.timeseries_resolution_s


def run_one(request: RunRequest, out_root: Path, loaded: LoadedDesign | None = None,
            progress: Callable[[float], None] | None = None, schedule: Schedule | None = None) -> Path:
    """Simulate one design × scenario and write its result directory; returns the directory.

    `schedule` is the scenario's workload compiled for the design, if the caller compiled it already.
    """
    loaded = loaded or request.load()
    if isinstance(loaded, LoadedHall) and loaded.is_mixed:  # several designs: a simulation per group, merged
        from racksim.run.mixed_hall import run_mixed_hall  # it imports this module

        return run_mixed_hall(request, out_root, loaded, progress)
    run_dir = request.run_dir(out_root, loaded)
    (run_dir / "metrics.json").unlink(missing_ok=True)  # the directory is no longer a complete run
    scenario, duration_s = request.scenario, request.run_duration_s
    hall = layout_of(loaded)  # a rack design is a hall of one
    schedule = schedule or request.schedule(loaded)
    arrays = build(loaded.design, hall=hall)
    failures, failure_faults = run_failures(arrays, scenario.stochastic_failures, duration_s, request.run_seed)
    faults = sorted(fault_actions(scenario.faults, arrays, f"scenario {scenario.name}") + failure_faults,
                    key=lambda action: action.time_s)
    simulation = Simulation(arrays, schedule.phases, duration_s, faults=faults, progress=progress,
                            network_rate=schedule.network_rate, timeseries_resolution_s=request.run_resolution_s,
                            skip_cycles=request.skip_cycles)
    result = simulation.run()
    cabling = arrays.cabling
    metrics = compute_metrics(
        result, design=loaded.design.name, design_hash=loaded.design_hash, scenario=scenario.name,
        seed=request.run_seed, nominal_work_units=schedule.nominal_work_units(duration_s),
        feed_limit_w=loaded.design.power.feed.limit_w * hall.n_racks, cabling=cabling_metrics(cabling),
        network=network_metrics(loaded.design) | link_utilization(loaded.design, result.traffic_gbyte_per_gpu,
                                                                  duration_s),
    )
    metrics["reliability"] = reliability_metrics(result, failures, arrays, schedule, scenario.stochastic_failures)
    cost = run_cost_group(request, loaded.design, metrics)  # None without a cost section
    if cost is not None:
        metrics["cost"] = cost
    atomic_write_yaml(run_dir / "design.resolved.yaml", loaded.resolved)
    if isinstance(loaded, LoadedHall):
        atomic_write_yaml(run_dir / "hall.resolved.yaml", loaded.hall_resolved)
    atomic_write_npz(run_dir / "timeseries.npz", result.series)
    atomic_write_json(run_dir / "events.json", [asdict(event) for event in result.events])
    atomic_write_json(run_dir / "components.json", component_summary(arrays, result))
    atomic_write_json(run_dir / "cabling.json", cabling_summary(loaded.design, cabling))
    atomic_write_json(run_dir / "provenance.json", notes_json(design_notes(loaded.source, request.all_overrides)))
    atomic_write_json(run_dir / WARNINGS_FILE, [asdict(warning) for warning in loaded.warnings])
    atomic_write_json(run_dir / INPUTS_FILE, request.inputs(loaded))
    atomic_write_json(run_dir / "metrics.json", metrics)
    return run_dir


def requests_for(design_paths: Iterable[Path], scenarios: Iterable[Scenario], *, seed: int | None = None,
                 duration_s: float | None = None, overrides: Sequence[str] = (),
                 timeseries_resolution_s: float | None = None, skip_cycles: bool = True) -> list[RunRequest]:
    """Every design × scenario, scenario-major."""
    return [RunRequest(Path(d), s, seed, duration_s, tuple(overrides), timeseries_resolution_s=timeseries_resolution_s,
                       skip_cycles=skip_cycles) for s in scenarios for d in design_paths]


def record_suite(out_root: Path, suite: Suite, command_line: str | None = None) -> None:
    """Write OUT/suite.json: the suite the runs came from, its scorecard weights and the command line."""
    weights = [{"kpi": kpi, **weight.model_dump(mode="json")} for kpi, weight in suite.weights.items()]
    atomic_write_json(Path(out_root) / SUITE_FILE, {"suite": suite.name, "weights": weights,
                                                    "command_line": command_line})


def run_many(requests: Sequence[RunRequest], out_root: Path, *, jobs: int | None = None, force: bool = False,
             console: Console | None = None) -> list[Path]:
    """Validate every design and workload first (so bad input runs nothing), then run what is not done yet.

    A run whose directory holds a complete run with the same input fingerprint is skipped unless `force`.
    `jobs` processes run in parallel (default: one per CPU core); the results do not depend on it.
    """
    from racksim.run.pool import Job, execute

    loaded = [request.load() for request in requests]
    keys = [(item.design.name, request.scenario.name) for request, item in zip(requests, loaded, strict=True)]
    for request, key in zip(requests, keys, strict=True):
        if keys.count(key) > 1:
            raise InputError(str(request.design_path), "name", f"two designs are called {key[0]!r}; "
                             "results would overwrite each other")
    done = [not force and request.is_done(out_root, item) for request, item in zip(requests, loaded, strict=True)]
    # Compiling each pending workload now makes one that cannot map onto its design fail before anything runs.
    work = [Job(request, item, Path(out_root), done=finished, schedule=None if finished else request.schedule(item))
            for request, item, finished in zip(requests, loaded, done, strict=True)]
    execute(work, jobs=jobs, console=console or Console(stderr=True))
    return [job.request.run_dir(out_root, job.loaded) for job in work]
