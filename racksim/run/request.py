"""A run request: one design × scenario with the user's seed, duration, overrides, replicas and sensitivity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racksim._version import __version__
from racksim.design.suite import MODEL_SUFFIXES, Scenario
from racksim.design.workload_schema import TraceWorkload
from racksim.errors import InputError
from racksim.run.cost import coolant_step_c
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import load_target
from racksim.run.results import is_complete


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
    sensitivity: bool = False
    """Also run the design's coolant sensitivity, if this is its `cost.sensitivity.coolant_scenario`: two more
    runs at the facility supply ± the step (racksim.run.plan); without it the cost group has no `coolant_temp`."""

    @property
    def all_overrides(self) -> list[str | tuple[list[str], Any]]:
        """The scenario's design overrides, then the user's."""
        scenario_overrides = [(path.split("."), value) for path, value in self.scenario.design_overrides.items()]
        return [*scenario_overrides, *self.overrides]

    def load(self) -> LoadedDesign:
        """The design (or hall: a LoadedHall) with the scenario's overrides, then the user's, applied."""
        return load_target(self.design_path, self.all_overrides)

    def inputs(self, loaded: LoadedDesign) -> dict[str, Any]:
        """Everything the run's results depend on, with their sha256 `fingerprint` (inputs.json).

        Where the design's coolant sensitivity could apply, whether it was run is an input too, so a run with
        it and one without never pass for each other.
        """
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
        if coolant_step_c(self.scenario.name, loaded) is not None:
            inputs["coolant_sensitivity"] = self.sensitivity
        workload = self.scenario.workload
        if isinstance(workload, TraceWorkload):  # the trace's content, not just its path
            try:
                inputs["trace_sha256"] = hashlib.sha256(workload.path.read_bytes()).hexdigest()
            except OSError as error:
                raise InputError(str(workload.path), "workload.path", f"cannot read the trace: {error}") from None
        trace = self.scenario.job_trace
        if trace is not None:  # a job mix's trace: its content too
            try:
                inputs["job_trace_sha256"] = hashlib.sha256(trace.path.read_bytes()).hexdigest()
            except OSError as error:
                raise InputError(str(trace.path), "job_trace.path", f"cannot read the trace: {error}") from None
        model = getattr(workload, "model", None)
        if isinstance(model, str) and Path(model).suffix in MODEL_SUFFIXES:  # a config file: its content counts
            try:
                inputs["model_sha256"] = hashlib.sha256(Path(model).read_bytes()).hexdigest()
            except OSError as error:
                raise InputError(model, "workload.model", f"cannot read the model config: {error}") from None
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True, allow_nan=False).encode()).hexdigest()
        return {**inputs, "fingerprint": digest}

    def run_dir(self, out_root: Path, loaded: LoadedDesign) -> Path:
        """Where the run's results go: OUT/<design>/<scenario>."""
        return Path(out_root) / loaded.design.name / self.scenario.name

    def is_done(self, out_root: Path, loaded: LoadedDesign) -> bool:
        """Whether a complete run with unchanged inputs is already in `out_root`."""
        return is_complete(self.run_dir(out_root, loaded), self.inputs(loaded)["fingerprint"])

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


def requests_for(design_paths: Iterable[Path], scenarios: Iterable[Scenario], *, seed: int | None = None,
                 duration_s: float | None = None, overrides: Sequence[str] = (),
                 timeseries_resolution_s: float | None = None, skip_cycles: bool = True, replicas: int = 1,
                 sensitivity: bool = False) -> list[RunRequest]:
    """Every design × scenario, scenario-major."""
    return [RunRequest(Path(d), s, seed, duration_s, tuple(overrides), replicas=replicas,
                       timeseries_resolution_s=timeseries_resolution_s, skip_cycles=skip_cycles,
                       sensitivity=sensitivity) for s in scenarios for d in design_paths]
