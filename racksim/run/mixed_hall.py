"""Run a hall of several rack designs: each group as a hall of its own, the results merged into one run.

The model: rows are homogeneous (a row holds racks of one design, as halls are built a row at a time), so row
feeders and in-row CDUs belong to one group; the UPS is the only thing groups share, modelled as a static
budget split in proportion to the groups' nameplate feed power (racksim.physics.rows.ups_shares_w). Each group
then is a homogeneous hall that runs its own Simulation: its own copy of the scenario's workload compiled for
its design (one synchronous job per group: generations do not share a job), the scenario's faults on every rack
(a row_cdu_failure's hall-wide row mapped to its group), stochastic failures sampled with the group index folded
into the seed. The groups' results merge into one RunResult (racksim.run.merge) and one metrics.json, with a
`hall.groups` block of each group's design, racks, work and energy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from racksim.cabling import cabling_metrics, cabling_summary
from racksim.design.suite import SELECTORS, Fault
from racksim.engine import RunResult, Simulation
from racksim.errors import InputError
from racksim.network import link_utilization, network_metrics
from racksim.physics.arrays import RackArrays, build
from racksim.reliability.processes import Failure
from racksim.run.cost import cost_inputs, hall_cost_group
from racksim.run.grid import GridJob, scenario_grid
from racksim.run.loading_hall import LoadedGroup, LoadedHall
from racksim.run.merge import merged_result, weighted_group
from racksim.run.metrics import component_summary, compute_metrics
from racksim.run.reliability import reliability_metrics, run_failures
from racksim.run.request import RunRequest
from racksim.run.results import GroupFiles, RunOutput, run_output
from racksim.workload import Schedule, TrainingSchedule, schedule_for
from racksim.workload.faults import fault_actions, fault_racks, single_workload


@dataclass(frozen=True)
class GroupRun:
    """One group's finished simulation."""

    group: LoadedGroup
    arrays: RackArrays
    schedule: Schedule
    failures: list[Failure]
    result: RunResult

    @property
    def gpus(self) -> int:
        """GPUs in the group's racks."""
        return int(self.arrays.chips.is_gpu.sum())


def group_seed(seed: int, index: int) -> int:
    """The seed of group `index`'s stochastic failures: the run's for the first group, others folded in."""
    return seed if index == 0 else int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def work_scale(schedule: Schedule, gpus: int, hall_gpus: int) -> float:
    """What one unit of a group's work is worth in the hall's units.

    A step of the synthetic training form is each GPU doing the step's work, so a group's step is n_g / N of a
    step of the hall's GPUs; a step of a model (a fixed batch of tokens), a served token or a GPU-hour is one.
    """
    if isinstance(schedule, TrainingSchedule) and not schedule.step:
        return gpus / hall_gpus
    return 1.0


def group_schedules(request: RunRequest, loaded: LoadedHall) -> list[Schedule]:
    """The scenario's workload compiled for each group's racks (an InputError naming the group if one cannot)."""
    scenario = request.scenario
    workload = single_workload(scenario)
    return [schedule_for(workload, group.rack.design, n_racks=group.layout.n_racks, seed=request.run_seed,
                         source=f"scenario {scenario.name} on {loaded.design.name} {group.label}")
            for group in loaded.groups]


def group_faults(faults: Sequence[Fault], loaded: LoadedHall, source: str, seed: int = 0) -> list[list[Fault]]:
    """Each group's faults, placed by the hall-wide racks they hit.

    A row_cdu_failure goes to its row's group only (row renumbered), a fault with a rack selector to the groups
    holding its racks (as their own rack indices), any other to every group.
    """
    per_group: list[list[Fault]] = [[] for _ in loaded.groups]
    for index, fault in enumerate(faults):
        if fault.kind != "row_cdu_failure":
            selected = any(getattr(fault, name) is not None for name in SELECTORS)
            racks = fault_racks(fault, loaded.layout.rack_row, seed, index, source) if selected else None
            for member, group_faults_ in zip(loaded.groups, per_group, strict=True):
                if racks is None:
                    group_faults_.append(fault)
                    continue
                local = racks[(racks >= member.first_rack) & (racks < member.first_rack + member.layout.n_racks)]
                if local.size:
                    group_faults_.append(fault.model_copy(update={
                        "racks": (local - member.first_rack).tolist(), "rows": None, "random_racks": None,
                        "fraction": None}))
            continue
        group = next((g for g in loaded.groups if g.first_row <= fault.row < g.first_row + g.layout.n_rows), None)
        if group is None or group.layout.cdu_racks(fault.row - group.first_row, fault.cdu) is None:
            layout = loaded.layout
            raise InputError(source, f"faults.{index}", f"no CDU {fault.cdu} in row {fault.row}: the hall has "
                             f"{layout.n_rows} row(s) and {int(layout.rack_cdu.max()) + 1} CDU(s)")
        per_group[group.index].append(fault.model_copy(update={"row": fault.row - group.first_row}))
    return per_group


def _scaled(progress: Callable[[float], None] | None, done_s: float,
            share: float) -> Callable[[float], None] | None:
    """A group's progress (its simulated seconds) as the hall's: `done_s` before it, `share` of the rest."""
    if progress is None:
        return None
    report = progress
    return lambda simulated_s: report(done_s + share * simulated_s)


def run_groups(request: RunRequest, loaded: LoadedHall,
               progress: Callable[[float], None] | None = None) -> list[GroupRun]:
    """Simulate every group (event by event, for an exact merge), one after the other."""
    scenario, duration_s = request.scenario, request.run_duration_s
    source = f"scenario {scenario.name}"
    faults = group_faults(scenario.faults, loaded, source, request.run_seed)
    runs = []
    share = 1.0 / len(loaded.groups)
    for group, schedule in zip(loaded.groups, group_schedules(request, loaded), strict=True):
        arrays = build(group.rack.design, hall=group.layout)
        failures, failure_faults = run_failures(arrays, scenario.stochastic_failures, duration_s,
                                                group_seed(request.run_seed, group.index))
        actions = sorted(fault_actions(faults[group.index], arrays, source, request.run_seed) + failure_faults,
                         key=lambda action: action.time_s)
        simulation = Simulation(arrays, schedule.phases, duration_s, faults=actions,
                                progress=_scaled(progress, group.index * share * duration_s, share),
                                network_rate=schedule.network_rate, skip_cycles=request.skip_cycles,
                                trip_reset_delay_s=scenario.trip_reset_delay_s)
        runs.append(GroupRun(group, arrays, schedule, failures, simulation.run()))
    return runs


def _reliability(runs: Sequence[GroupRun], stochastic: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The hall's reliability group and each group's own.

    A scheduled fault hits every group at once with the same label: it counts once, as in a hall of one design.
    Interruptions (of the groups' jobs) add; unavailability is weighted by GPUs.
    """
    own = [reliability_metrics(run.result, run.failures, run.arrays, run.schedule, stochastic) for run in runs]
    gpus = np.array([run.gpus for run in runs], dtype=float)
    faults = {(event.time_s, event.detail) for run in runs for event in run.result.events if event.kind == "fault"}
    hall: dict[str, Any] = {
        "failures": len(faults),
        "interruptions": sum(group["interruptions"] for group in own),
        "unavailable_fraction": float(gpus @ [group["unavailable_fraction"] for group in own] / gpus.sum()),
    }
    if all("failures_by_class" in group for group in own):
        classes = dict.fromkeys(name for group in own for name in group["failures_by_class"])
        hall["failures_by_class"] = {name: sum(g["failures_by_class"].get(name, 0) for g in own) for name in classes}
    return hall, own


def _renumbered(label: str, first_rack: int) -> str:
    """A chip label ('rack1/tray0/gpu0') with its group's rack number made hall-wide."""
    return re.sub(r"^rack(\d+)", lambda match: f"rack{int(match[1]) + first_rack}", label)


def _components(runs: Sequence[GroupRun]) -> dict[str, Any]:
    """The component summaries of the hall (racksim.run.components): each group's, racks numbered hall-wide."""
    merged: dict[str, dict[str, list[Any]]] = {}
    for run in runs:
        summary, first = component_summary(run.arrays, run.result), run.group.first_rack
        summary["chips"]["label"] = [_renumbered(label, first) for label in summary["chips"]["label"]]
        summary["compute_trays"]["rack"] = [rack + first for rack in summary["compute_trays"]["rack"]]
        summary["racks"]["row"] = [row + run.group.first_row for row in summary["racks"]["row"]]
        for part, columns in summary.items():
            for name, values in columns.items():
                merged.setdefault(part, {}).setdefault(name, []).extend(values)
    return merged


def hall_metrics(request: RunRequest, loaded: LoadedHall, runs: Sequence[GroupRun]) -> tuple[dict[str, Any],
                                                                                            RunResult]:
    """The hall's metrics.json content and merged RunResult."""
    duration_s = request.run_duration_s
    racks = [run.group.layout.n_racks for run in runs]
    gpus = [run.gpus for run in runs]
    scales = [work_scale(run.schedule, run.gpus, sum(gpus)) for run in runs]
    result = merged_result([run.result for run in runs], [run.group.label for run in runs], gpus, scales,
                           request.run_resolution_s)
    nominal = [run.schedule.nominal_work_units(duration_s) for run in runs]
    # Every group compiles the scenario's one workload, so its work unit and tokens per unit agree (a step of the
    # model trains the global batch on any design); were they to differ, the hall would count no tokens.
    units = {run.schedule.work_unit for run in runs}
    tokens = {run.schedule.tokens_per_work_unit for run in runs}
    metrics = compute_metrics(
        result, design=loaded.design.name, design_hash=loaded.design_hash, scenario=request.scenario.name,
        seed=request.run_seed, nominal_work_units=float(np.dot(scales, nominal)),
        feed_limit_w=sum(run.group.rack.design.power.feed.limit_w * n for run, n in zip(runs, racks, strict=True)),
        cabling=weighted_group([cabling_metrics(run.arrays.cabling) for run in runs], racks,
                               maxima=("longest_cable_m",)),
        network=weighted_group([network_metrics(run.group.rack.design)
                                | link_utilization(run.group.rack.design, run.result.traffic_gbyte_per_gpu,
                                                   duration_s) for run in runs], gpus),
        tokens_per_work_unit=tokens.pop() if len(tokens) == 1 else 0.0,
        work_unit=units.pop() if len(units) == 1 else "",
    )
    metrics["reliability"], own = _reliability(runs, request.scenario.stochastic_failures)
    ups_w = [run.group.layout.ups_capacity_w for run in runs]
    metrics["hall"] = {"groups": [
        {"design": run.group.rack.design.name, "racks": n, "rows": run.group.layout.n_rows,
         "first_row": run.group.first_row, "gpus": run.gpus, "seed": group_seed(request.run_seed, run.group.index),
         "ups_capacity_w": ups if np.isfinite(ups) else None, "work_units": run.result.work_units,
         "nominal_work_units": work, "work_scale": scale, "input_energy_j": run.result.integrals.input_energy_j,
         "it_energy_j": run.result.integrals.it_energy_j, "trips": run.result.trips, "reliability": reliability}
        for run, n, work, scale, ups, reliability in zip(runs, racks, nominal, scales, ups_w, own, strict=True)]}
    cost = hall_cost_group(
        [(run.group.rack.design, n, cost_inputs(
            duration_s, run.result.integrals.input_energy_j, run.result.integrals.heat_to_liquid_j,
            run.result.integrals.heat_to_air_j, run.result.integrals.pump_energy_j, run.result.work_units * scale,
            work * scale, cabling_metrics(run.arrays.cabling), reliability.get("failures_by_class"),
            loss_energy_j_by_stage=run.result.integrals.loss_energy_j))
         for run, n, work, scale, reliability in zip(runs, racks, nominal, scales, own, strict=True)],
        tokens_per_work_unit=metrics["performance"].get("tokens_per_work_unit", 0.0))
    if cost is not None:
        metrics["cost"] = cost
    return metrics, result


def simulate_mixed_hall(request: RunRequest, loaded: LoadedHall,
                        progress: Callable[[float], None] | None = None) -> RunOutput:
    """Simulate a hall of several rack designs group by group; returns one run's output for the hall.

    design.resolved.yaml, cabling.json and provenance.json describe the first group's rack design, and
    groups/<index>-<design>/ holds each group's design as run and its cabling plan (racksim.run.results).
    """
    runs = run_groups(request, loaded, progress)
    metrics, result = hall_metrics(request, loaded, runs)
    grid = scenario_grid(request, [GridJob(run.arrays, run.schedule, run.arrays.hall.rack_row + run.group.first_row)
                                   for run in runs], loaded.layout)
    if grid is not None:
        metrics["grid"] = grid.metrics
    groups = tuple(GroupFiles(f"{run.group.index}-{run.group.rack.design.name}", run.group.rack.resolved,
                              cabling_summary(run.group.rack.design, run.arrays.cabling)) for run in runs)
    return run_output(loaded, result, metrics=metrics, inputs=request.inputs(loaded), overrides=request.all_overrides,
                      components=_components(runs), cabling=cabling_summary(loaded.design, runs[0].arrays.cabling),
                      groups=groups, grid_series=grid.series if grid is not None else None)
