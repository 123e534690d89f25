"""Simulate one request in memory (`simulate`, writes nothing), or simulate it and write its run directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from racksim.cabling import cabling_metrics, cabling_summary
from racksim.engine import Simulation
from racksim.network import link_utilization, network_metrics
from racksim.physics.arrays import build
from racksim.run.cost import cost_group
from racksim.run.fleet import check_job_mix, simulate_fleet
from racksim.run.grid import GridJob, scenario_grid
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall, layout_of
from racksim.run.metrics import component_summary, compute_metrics
from racksim.run.mixed_hall import group_schedules, simulate_mixed_hall
from racksim.run.reliability import reliability_metrics, run_failures
from racksim.run.request import RunRequest
from racksim.run.results import RunOutput, replace_run, run_output
from racksim.workload import Schedule, schedule_for
from racksim.workload.faults import fault_actions, single_workload


def compile_schedule(request: RunRequest, loaded: LoadedDesign) -> Schedule | None:
    """The scenario's workload compiled for the design (an InputError when it cannot map onto it).

    For a hall of several designs every group's is compiled (so any that cannot fails now) and the first returned.
    A job mix (racksim.run.fleet) has none: its jobs are checked now (a bad trace line, a job no group holds, an
    unknown model fail before anything runs) and compiled when it runs.
    """
    if request.scenario.is_fleet:
        check_job_mix(request.scenario, loaded)
        return None
    if isinstance(loaded, LoadedHall) and loaded.is_mixed:
        return group_schedules(request, loaded)[0]
    return schedule_for(single_workload(request.scenario), loaded.design, n_racks=layout_of(loaded).n_racks,
                        seed=request.run_seed, source=f"scenario {request.scenario.name} on {loaded.design.name}")


def simulate(request: RunRequest, loaded: LoadedDesign | None = None, progress: Callable[[float], None] | None = None,
             schedule: Schedule | None = None) -> RunOutput:
    """Simulate one design × scenario; returns what its run directory holds, in memory (nothing is written).

    `schedule` is the scenario's workload compiled for the design, if the caller compiled it already. The cost
    group, if the design has a cost section, has no coolant sensitivity (racksim.run.plan adds it).
    """
    loaded = loaded or request.load()
    if request.scenario.is_fleet:  # a job mix on the hall's racks, every design group in one simulation
        return simulate_fleet(request, loaded)
    if isinstance(loaded, LoadedHall) and loaded.is_mixed:  # several designs: a simulation per group, merged
        return simulate_mixed_hall(request, loaded, progress)
    scenario, duration_s = request.scenario, request.run_duration_s
    hall = layout_of(loaded)  # a rack design is a hall of one
    schedule = schedule or compile_schedule(request, loaded)
    assert schedule is not None  # not a job mix
    arrays = build(loaded.design, hall=hall)
    failures, failure_faults = run_failures(arrays, scenario.stochastic_failures, duration_s, request.run_seed)
    scheduled = fault_actions(scenario.faults, arrays, f"scenario {scenario.name}", request.run_seed)
    faults = sorted(scheduled + failure_faults, key=lambda action: action.time_s)
    grid = scenario_grid(request, [GridJob(arrays, schedule, hall.rack_row)], hall)  # before: input errors first
    simulation = Simulation(arrays, schedule.phases, duration_s, faults=faults, progress=progress,
                            network_rate=schedule.network_rate, timeseries_resolution_s=request.run_resolution_s,
                            skip_cycles=request.skip_cycles, trip_reset_delay_s=scenario.trip_reset_delay_s)
    result = simulation.run()
    metrics = compute_metrics(
        result, design=loaded.design.name, design_hash=loaded.design_hash, scenario=scenario.name,
        seed=request.run_seed, nominal_work_units=schedule.nominal_work_units(duration_s),
        feed_limit_w=loaded.design.power.feed.limit_w * hall.n_racks, cabling=cabling_metrics(arrays.cabling),
        network=network_metrics(loaded.design) | link_utilization(loaded.design, result.traffic_gbyte_per_gpu,
                                                                  duration_s),
        predicted=schedule.performance_metrics(duration_s), tokens_per_work_unit=schedule.tokens_per_work_unit,
        work_unit=schedule.work_unit,
    )
    metrics["reliability"] = reliability_metrics(result, failures, arrays, schedule, scenario.stochastic_failures)
    cost = cost_group(loaded.design, metrics, racks=hall.n_racks)  # None without a cost section
    if cost is not None:
        metrics["cost"] = cost
    if grid is not None:
        metrics["grid"] = grid.metrics
    return run_output(loaded, result, metrics=metrics, inputs=request.inputs(loaded),
                      overrides=request.all_overrides, components=component_summary(arrays, result),
                      cabling=cabling_summary(loaded.design, arrays.cabling), serving_curve=schedule.serving_curve(),
                      grid_series=grid.series if grid is not None else None)


def run_one(request: RunRequest, out_root: Path, loaded: LoadedDesign | None = None,
            progress: Callable[[float], None] | None = None, schedule: Schedule | None = None) -> Path:
    """Simulate one design × scenario and write its run directory (racksim.run.results); returns the directory.

    The run is simulated in memory, then written whole into a hidden sibling and renamed into place
    (`replace_run`): a run that fails or is interrupted leaves the directory's earlier results as they were.
    """
    loaded = loaded or request.load()
    return replace_run(request.run_dir(out_root, loaded), simulate(request, loaded, progress, schedule))
