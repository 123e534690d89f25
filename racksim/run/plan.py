"""What the pipeline simulates for each run asked for, and how it finishes the run from those simulations.

A plain request is one simulation, written straight to its run directory. A request over several seeds
(`replicas`) or with the coolant sensitivity (`sensitivity`, on its design's `cost.sensitivity.coolant_scenario`)
needs more: one simulation per seed, and per seed two more at the facility supply ± the step (racksim.run.cost).
All of them are ordinary requests that run in the pool like any other, written to a scratch directory (a finished
plain run already in the run directory is reused as the first seed's). Once they are done, `finish` prices each
seed's cost group with its colder and warmer runs, takes the means over seeds (racksim.run.replicas) and builds
the run directory from the first seed's, with those metrics and the request's inputs.json, in a hidden sibling
renamed into place (racksim.run.results.staged): until then the directory keeps its earlier results whole.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import count
from pathlib import Path
from typing import Any

from racksim.run.cost import SUPPLY_FIELD, coolant_overrides, coolant_step_c, cost_group, racks_of
from racksim.run.loading import LoadedDesign
from racksim.run.pool import PendingRun
from racksim.run.replicas import aggregate
from racksim.run.request import RunRequest
from racksim.run.results import finish_run, read_metrics, staged
from racksim.run.simulate import compile_schedule


def _run_dir(run: PendingRun) -> Path:
    return run.request.run_dir(run.out_root, run.loaded)


@dataclass(frozen=True)
class Sample:
    """One seed's simulation and, with the coolant sensitivity, its colder and warmer runs."""

    run: PendingRun
    coolant: tuple[PendingRun, PendingRun] | None = None

    def metrics(self) -> dict[str, Any]:
        """The seed's metrics, its cost group priced with the coolant runs if it has them."""
        metrics = read_metrics(_run_dir(self.run))
        if self.coolant is not None:
            colder, warmer = (read_metrics(_run_dir(run)) for run in self.coolant)
            metrics["cost"] = cost_group(self.run.loaded.design, metrics, (colder, warmer), racks_of(self.run.loaded))
        return metrics


@dataclass(frozen=True)
class PlannedRun:
    """One run asked for: its directory, whether it is done, and the simulations that make it."""

    request: RunRequest
    loaded: LoadedDesign
    run_dir: Path
    samples: tuple[Sample, ...]
    """One per seed (a run that is done already: one, marked done, and nothing to finish)."""

    @property
    def simulations(self) -> list[PendingRun]:
        """Every simulation of the run, the first seed's first."""
        return [run for sample in self.samples for run in (sample.run, *(sample.coolant or ()))]

    @property
    def needs_finish(self) -> bool:
        """Whether metrics.json is made from several simulations (seeds or coolant runs), not written by one."""
        return len(self.simulations) > 1

    def finish(self) -> None:
        """Write the run directory whole or not at all (`staged`): the first seed's, with the run's metrics and inputs.

        The metrics are the means over seeds, the cost group priced with the coolant sensitivity.
        """
        if not self.needs_finish:
            return
        samples = [sample.metrics() for sample in self.samples]
        seeds = [sample.run.request.run_seed for sample in self.samples]
        with staged(self.run_dir) as staging:
            shutil.copytree(_run_dir(self.samples[0].run), staging)
            if len(samples) == 1:
                finish_run(staging, samples[0], self.request.inputs(self.loaded))
            else:
                finish_run(staging, aggregate(samples, seeds), self.request.inputs(self.loaded), replicas=samples)


def _pending(request: RunRequest, loaded: LoadedDesign, out_root: Path, *, done: bool = False,
             note: str = "") -> PendingRun:
    """A simulation to run, its workload compiled now (so one that cannot map onto its design fails up front)."""
    schedule = None if done else compile_schedule(request, loaded)
    return PendingRun(request, loaded, out_root, done=done, schedule=schedule, note=note)


def plan_run(request: RunRequest, loaded: LoadedDesign, out_root: Path, scratch: Path, *,
             force: bool = False, numbers: Iterator[int] | None = None) -> PlannedRun:
    """The simulations of one request: its own, or one per seed plus the coolant runs (in `scratch`)."""
    out_root = Path(out_root)
    run_dir = request.run_dir(out_root, loaded)
    if not force and request.is_done(out_root, loaded):
        return PlannedRun(request, loaded, run_dir, (Sample(_pending(request, loaded, out_root, done=True)),))
    step_c = coolant_step_c(request.scenario.name, loaded) if request.sensitivity else None
    if request.replicas == 1 and step_c is None:  # one simulation makes the whole run
        return PlannedRun(request, loaded, run_dir, (Sample(_pending(request, loaded, out_root)),))
    numbers = numbers or count()
    base = replace(request, replicas=1, sensitivity=False)
    variants = [] if step_c is None else [replace(base, overrides=(*base.overrides, override))
                                          for override in coolant_overrides(loaded, step_c)]
    variant_loads = [variant.load() for variant in variants]
    samples = []
    for index in range(request.replicas):
        seed = request.run_seed + index
        first = index == 0
        seeded = base if first else replace(base, seed=seed)
        seed_note = "" if first else f"seed {seed}"
        reused = first and not force and base.is_done(out_root, loaded)
        run = _pending(seeded, loaded, out_root if reused else scratch / str(next(numbers)), done=reused,
                       note=seed_note)
        coolant = [_pending(replace(variant, seed=seeded.seed), variant_loaded, scratch / str(next(numbers)),
                            note=", ".join(filter(None, [seed_note, variant.overrides[-1].removeprefix(
                                f"{SUPPLY_FIELD}=") + " °C supply"])))
                   for variant, variant_loaded in zip(variants, variant_loads, strict=True)]
        samples.append(Sample(run, (coolant[0], coolant[1]) if coolant else None))
    return PlannedRun(request, loaded, run_dir, tuple(samples))
