"""A hall scenario with a job mix (`jobs:` or `job_trace:`) run through the fleet engine (racksim.engine.fleet).

Compiles the run's inputs (each group's design, the jobs predicted per design and rack count, the stochastic
failures sampled per component per rack, the scheduled faults on the racks their selectors pick), runs the fleet
and hands the results to racksim.run.fleet_metrics, which writes nothing: racksim.run.results writes the directory.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from racksim._types import FloatArray
from racksim.design.jobs_schema import TRIP_RESET_DELAY_S, RepairCrew, Scheduler
from racksim.design.reliability_schema import Reliability
from racksim.design.schema import Design
from racksim.design.suite import Fault, Scenario
from racksim.engine.fleet import Fleet
from racksim.engine.fleet_state import Crew, Failures, FleetInputs, HallLosses, Peak, ScheduledOutage
from racksim.errors import InputError
from racksim.physics.arrays import build
from racksim.physics.hall_power import hall_losses_w
from racksim.physics.layout import HallLayout
from racksim.reliability.consequences import INTERRUPTING, component_counts
from racksim.reliability.processes import sample_failures
from racksim.run.fleet_metrics import fleet_output
from racksim.run.grid import GridJob, GridOutput, scenario_grid
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall, design_groups, layout_of
from racksim.run.request import RunRequest
from racksim.run.results import RunOutput
from racksim.workload.faults import fault_racks
from racksim.workload.fleet_jobs import HallGroups, JobCompiler, Located, scenario_requests, trace_requests

STOPPING = INTERRUPTING | {"cdu"}
"""Component classes whose failure takes the rack down and stops its job. A CDU failure stops heat rejection: the
loop heats up in minutes (racksim.physics.thermal), so at job granularity the rack is down until repaired. PSU,
power-shelf, fan and pump failures are absorbed by redundant units (the design's N+1): the rack keeps running, and
the failure still takes a technician and a part."""
STOPPING_FAULTS = frozenset({"link_failure", "cdu_failure", "row_cdu_failure"})
"""Scheduled fault kinds that take their racks down (a feed loss trips them when it removes every feed)."""


def hall_losses_of(loaded: LoadedDesign) -> HallLosses | None:
    """The hall's row-feeder and UPS losses for the rows' loads; None without row_power (or for a lone rack).

    racksim.physics.hall_power.hall_losses_w on the hall's chain, every group's rows side by side.
    """
    chain = loaded.layout.power if isinstance(loaded, LoadedHall) else None
    if chain is None or not chain.stage_names:
        return None
    hall_chain = chain

    def losses_w(row_load_w: FloatArray) -> dict[str, float]:
        return {stage: float(loss_w) for stage, loss_w in hall_losses_w(hall_chain, row_load_w).items()}
    return losses_w


def _designs(loaded: LoadedDesign) -> tuple[list[Design], list[int], HallLayout]:
    """The hall's group designs, each group's rack count, and the hall's layout."""
    groups = design_groups(loaded)
    return [design for design, _ in groups], [layout.n_racks for _, layout in groups], layout_of(loaded)


def sample_fleet_failures(designs: list[Design], group_racks: list[int], duration_s: float, seed: int,
                          mttr_scale: float) -> Failures:
    """Every stochastic failure of the hall, per component per rack, from each group's `reliability` section.

    Counts per rack come from one rack's arrays (racksim.reliability.consequences.component_counts), times the
    group's racks; racksim.reliability.processes samples them (Weibull lives, lognormal repairs, vectorized over
    every component of a class). Each group draws from its own seed, (seed, group) spawned.
    """
    times, racks, classes, repairs = [], [], [], []
    first = 0
    for group, (design, n_racks) in enumerate(zip(designs, group_racks, strict=True)):
        if design.reliability is not None:
            per_rack = component_counts(build(design))
            counts = {name: count * n_racks for name, count in per_rack.items()}
            group_seed = int(np.random.SeedSequence((seed, group)).generate_state(1)[0])
            for failure in sample_failures(design.reliability, counts, duration_s, group_seed):
                times.append(failure.time_s)
                racks.append(first + failure.index // per_rack[failure.component_class])
                classes.append(failure.component_class)
                repairs.append((failure.repaired_s - failure.time_s) * mttr_scale)
        first += n_racks
    order = np.argsort(np.asarray(times), kind="stable")
    return Failures(np.asarray(times)[order], np.asarray(racks, dtype=np.intp)[order],
                    tuple(classes[i] for i in order), np.array([classes[i] in STOPPING for i in order], dtype=bool),
                    np.asarray(repairs)[order])


def scheduled_outages(faults: list[Fault], layout: HallLayout, designs: list[Design], seed: int,
                      source: str) -> list[ScheduledOutage]:
    """The scenario's faults on the racks their selectors pick (racksim.workload.faults.fault_racks)."""
    outages = []
    feeds = min(design.power.feed.count for design in designs)
    for index, fault in enumerate(faults):
        if fault.kind == "row_cdu_failure":
            racks = layout.cdu_racks(fault.row, fault.cdu)
            if racks is None:
                raise InputError(source, f"faults.{index}", f"no CDU {fault.cdu} in row {fault.row}")
        else:
            racks = fault_racks(fault, layout.rack_row, seed, index, source)
        trips = fault.kind == "feed_loss" and len({f for f in fault.feeds if "ab".index(f) < feeds}) >= feeds
        label = f"{fault.kind} on rack{'s' if racks.size > 1 else ''} {', '.join(map(str, racks[:8].tolist()))}" + (
            ", ..." if racks.size > 8 else "")
        outages.append(ScheduledOutage(fault.at_s, racks, label, fault.duration_s,
                                       fault.kind in STOPPING_FAULTS or trips, trips))
    return outages


def job_requests(scenario: Scenario) -> Located:
    """The scenario's jobs, or its trace's, as requests (with where each comes from)."""
    if scenario.jobs is not None:
        return scenario_requests(scenario.jobs)
    assert scenario.job_trace is not None
    return trace_requests(scenario.job_trace)


def hall_groups(scenario: Scenario, loaded: LoadedDesign) -> HallGroups:
    """The hall's design groups as the scenario's jobs see them (its hot spares held back)."""
    designs, group_racks, _ = _designs(loaded)
    spares = scenario.scheduler.hot_spare_racks if scenario.scheduler else 0
    return HallGroups(designs, group_racks, f"scenario {scenario.name}", spares)


def check_job_mix(scenario: Scenario, loaded: LoadedDesign) -> None:
    """Before anything runs: the trace reads, every job fits a group, every model resolves (one-line errors).

    What only the layout search can tell (a model that does not fit its racks' memory) fails when the run starts.
    """
    hall_groups(scenario, loaded).check(job_requests(scenario))


def fleet_inputs(scenario: Scenario, loaded: LoadedDesign, duration_s: float,
                 seed: int) -> tuple[FleetInputs, JobCompiler]:
    """The fleet run's inputs, every job compiled (a job that cannot run is a one-line error before anything runs)."""
    source = f"scenario {scenario.name}"
    designs, group_racks, layout = _designs(loaded)
    compiler = JobCompiler(hall_groups(scenario, loaded),
                           [(d.reliability or Reliability()).restart_time_s for d in designs])
    jobs = [compiler.compile(request, where) for request, where in job_requests(scenario)]
    crew, scheduler = scenario.repair or RepairCrew(), scenario.scheduler or Scheduler()
    failures = (sample_fleet_failures(designs, group_racks, duration_s, seed, crew.mttr_scale)
                if scenario.stochastic_failures else Failures.none())
    rack_group = np.repeat(np.arange(len(designs)), group_racks)
    return FleetInputs(
        duration_s=duration_s, rack_group=rack_group, rack_row=layout.rack_row,
        profiles_feed_w=compiler.table.column("feed_w"), idle_profile=np.asarray(compiler.table.idle),
        off_profile=np.asarray(compiler.table.off), jobs=jobs, failures=failures,
        outages=scheduled_outages(scenario.faults, layout, designs, seed, source),
        crew=Crew(crew.technicians, crew.shift_h * 3600.0, crew.parts_on_hand, crew.restock_time_h * 3600.0,
                  crew.swap_time_s),
        backfill=scheduler.policy == "easy_backfill", row_packing=scheduler.row_packing,
        queue_depth=scheduler.queue_depth,
        hot_spares=scheduler.hot_spare_racks, trip_reset_s=scenario.trip_reset_delay_s or TRIP_RESET_DELAY_S,
        hall_losses=hall_losses_of(loaded)), compiler


GRID_STREAM = 0x6121D
"""Mixed into the run's seed for the jobs' phase offsets in the grid window."""


def peak_grid(request: RunRequest, loaded: LoadedDesign, inputs: FleetInputs, compiler: JobCompiler,
              peak: Peak) -> GridOutput | None:
    """The hall's sub-second feed power over the scenario's grid window at the fleet's highest load (None: no grid).

    Each training job running then swings through its predicted step (racksim.run.grid.scenario_grid), all its racks
    aligned, the jobs at random offsets in their steps (seeded by the run); every other rack draws its state's
    constant power (idle, off, an inference service's load) in its row.
    """
    if request.scenario.grid is None:
        return None
    layout = layout_of(loaded)
    rng = np.random.default_rng(np.random.SeedSequence((request.run_seed, GRID_STREAM)))
    jobs, waving = [], np.zeros(peak.rack_job.size, dtype=bool)
    for index in np.unique(peak.rack_job[peak.rack_job >= 0]):
        held = peak.rack_job == index
        running = [spec for spec in inputs.jobs[int(index)] if np.any(held & (peak.rack_profile == spec.profile))]
        if not running or (schedule := compiler.schedules.get(running[0].profile)) is None:
            continue  # a service, or a job restarting: constant power
        spec = running[0]
        racks = np.flatnonzero(held & (peak.rack_profile == spec.profile))
        waving[racks] = True
        jobs.append(GridJob(compiler.rack_arrays(spec.group), schedule, layout.rack_row[racks],
                            float(rng.uniform(0.0, schedule.step_s))))
    steady_w = np.bincount(layout.rack_row[~waving], weights=inputs.profiles_feed_w[peak.rack_profile[~waving]],
                           minlength=layout.n_rows).astype(float)
    return scenario_grid(request, jobs, layout, steady_w)


def simulate_fleet(request: RunRequest, loaded: LoadedDesign) -> RunOutput:
    """Run a job-mix scenario on a hall (or a rack design, a hall of one) through the fleet engine."""
    inputs, compiler = fleet_inputs(request.scenario, loaded, request.run_duration_s, request.run_seed)
    result = Fleet(inputs).run()
    assert math.isfinite(result.hall.time_s)
    output = fleet_output(request, loaded, inputs, compiler.table, result)
    grid = peak_grid(request, loaded, inputs, compiler, result.hall.peak)
    if grid is None:
        return output
    metrics = {**output.metrics, "grid": {**grid.metrics, "at_s": result.hall.peak.time_s}}
    return replace(output, metrics=metrics, grid_series=grid.series)
