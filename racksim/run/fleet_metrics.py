"""A fleet run's metrics.json (DESIGN.md's contract plus `hall.*`), its per-job table and its time series.

Energies are exact sums over (row, rack state) of rack-seconds × the state's power (racksim.engine.fleet_state).
Work is counted in tokens: training tokens kept (checkpointed, or done by the end of the run) and tokens served.

- hall.utilization: share of rack-seconds spent running a job (restarts, swaps, spares, idle and down excluded).
- hall.fragmentation: share of rack-seconds idle while at least one job waited for racks.
- per job: wait_s (submit to first start; to the end of the run if it never started), run_s (first start to its end
  or the run's), goodput (work kept / work done, lost work included), ettr (effective training time ratio: the
  time its kept steps take at the nominal step time, checkpoint writes excluded, over run_s; a service: time
  serving over run_s).
- hall.ettr_mean: mean ETTR of the jobs that started; performance.goodput_fraction: Σ kept work / Σ the work the
  started jobs would have done at nominal over their run_s (a token-weighted ETTR).
- power.max_ramp_w_per_s: at job granularity a start or stop is a step in cycle-mean power, so this is the largest
  change between consecutive events over the time between them, a lower bound of the real ramp; the sub-second
  swing is the grid model's (racksim.physics.grid). power.capped_fraction and thermal.gpu_throttle_fraction are 0:
  the states' operating points are unthrottled and uncapped (the rack-scale engine resolves both).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np

from racksim._version import __version__
from racksim.cabling import cabling_metrics, cabling_summary, plan_cabling
from racksim.design.provenance import design_notes, notes_json
from racksim.engine.fleet import FleetResult
from racksim.engine.fleet_state import FleetInputs, JobRecord
from racksim.network import network_metrics
from racksim.perf.hardware import gpus_per_rack
from racksim.run.cost import cost_group, cost_inputs, hall_cost_group
from racksim.run.loading import LoadedDesign
from racksim.run.loading_hall import LoadedHall, design_groups
from racksim.run.merge import weighted_group
from racksim.run.request import RunRequest
from racksim.run.results import RunOutput
from racksim.workload.fleet_jobs import ProfileTable


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-th percentile of `values` weighted by `weights` (the smallest value with ≥ q % of the weight below)."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cumulative, q / 100.0 * cumulative[-1]), order.size - 1)])


def job_rows(result: FleetResult, duration_s: float, names: list[str],
             rack_gpus: list[int]) -> dict[str, list[Any]]:
    """The per-job table (module docstring), one entry per job in scenario order.

    `rack_gpus` (GPUs per rack of each group) gives each job's `gpus` (its racks' GPUs: a job runs on all of them);
    `checkpoint_interval_s` is a training job's time between checkpoints (K steps), 0 for a service.
    """
    table: dict[str, list[Any]] = {key: [] for key in (
        "name", "kind", "model", "design", "racks", "gpus", "rows", "submit_s", "wait_s", "run_s", "work_tokens",
        "work_lost_tokens", "goodput", "ettr", "interruptions", "swaps", "checkpoint_interval_s", "done")}
    for record in result.jobs:
        spec = record.spec
        started = not math.isnan(record.first_start_s)
        end_s = min(record.end_s, duration_s) if not math.isnan(record.end_s) else duration_s
        run_s = end_s - record.first_start_s if started else 0.0
        kept, lost = kept_and_lost_tokens(record, duration_s)
        training = spec.kind == "training"
        useful_s = kept / spec.tokens_per_step * spec.step_s if training else serving_s(record, duration_s)
        row = {"name": spec.name, "kind": spec.kind, "model": spec.model, "design": names[spec.group],
               "racks": spec.racks, "gpus": spec.racks * rack_gpus[spec.group],
               "rows": record.rows, "submit_s": spec.submit_s,
               "wait_s": (record.first_start_s if started else duration_s) - spec.submit_s, "run_s": run_s,
               "work_tokens": kept, "work_lost_tokens": lost,
               "goodput": kept / (kept + lost) if kept + lost > 0 else 0.0,
               "ettr": min(1.0, useful_s / run_s) if run_s > 0 else 0.0, "interruptions": record.interruptions,
               "swaps": record.swaps,
               "checkpoint_interval_s": spec.checkpoint_every_steps * spec.step_s if training else 0.0,
               "done": bool(training and record.saved_steps >= spec.steps)}
        for key, value in row.items():
            table[key].append(value)
    return table


def placement_rows(result: FleetResult, duration_s: float) -> dict[str, list[Any]]:
    """Each stretch a job held a set of racks, in job order then time (PLACEMENTS_FILE's columns).

    Columns: job (its name), start_s, end_s (a stretch still open ends with the run), racks (hall-wide indices).
    """
    table: dict[str, list[Any]] = {"job": [], "start_s": [], "end_s": [], "racks": []}
    for record in result.jobs:
        open_stretch = [(record.held_since_s, duration_s, record.racks)] if record.racks.size else []
        for start_s, end_s, racks in [*record.placements, *open_stretch]:
            for key, value in zip(table, (record.spec.name, start_s, end_s, racks.tolist()), strict=True):
                table[key].append(value)
    return table


def kept_and_lost_tokens(record: JobRecord, duration_s: float) -> tuple[float, float]:
    """(tokens kept, tokens lost) of a job by the end of the run (a training job's steps in flight count as kept)."""
    spec = record.spec
    if spec.kind == "training":
        _, done = record.progress_steps(duration_s)
        return done * spec.tokens_per_step, record.lost_steps * spec.tokens_per_step
    return serving_s(record, duration_s) * spec.tokens_per_s, 0.0


def serving_s(record: JobRecord, duration_s: float) -> float:
    """Time an inference service served by the end of the run (a segment still serving counts to the end), s."""
    open_s = duration_s - record.segment_start_s if not math.isnan(record.segment_start_s) else 0.0
    return record.served_s + open_s


def nominal_tokens(record: JobRecord, run_s: float) -> float:
    """Tokens the job would have trained or served at nominal over `run_s` of running, checkpoints included."""
    spec = record.spec
    return spec.steps_in_s(run_s) * spec.tokens_per_step if spec.kind == "training" else run_s * spec.tokens_per_s


def failures_by_class(loaded: LoadedDesign, inputs: FleetInputs) -> dict[str, int]:
    """Sampled failures per component class, every class the designs' reliability sections name (zeros included)."""
    names = dict.fromkeys(name for design, _ in design_groups(loaded) if design.reliability is not None
                          for name in design.reliability.processes())
    return {name: inputs.failures.component.count(name) for name in names}


def group_cost_inputs(metrics: dict[str, Any], inputs: FleetInputs, table: ProfileTable, result: FleetResult,
                      jobs: dict[str, list[Any]], group: int, cabling: dict[str, Any]) -> dict[str, Any]:
    """What group `group`'s cost reads (racksim.run.cost.cost_inputs): its racks' energies and heat, its jobs' work.

    Its racks are its rows' (a group has rows of its own); the hall's row feeder and UPS losses are shared in
    proportion to the groups' feed energy. `cabling`: one rack's cabling group of the group's design.
    """
    rows = np.unique(inputs.rack_row[inputs.rack_group == group])
    seconds = result.hall.rack_seconds[rows].sum(axis=0)

    def energy_j(name: str) -> float:
        return float(seconds @ table.column(name))

    feed_j, hall_feed_j = energy_j("feed_w"), float(result.hall.rack_seconds.sum(axis=0) @ table.column("feed_w"))
    share = feed_j / hall_feed_j if hall_feed_j > 0 else 0.0
    hall_loss_j = {stage: loss_j * share for stage, loss_j in result.hall.hall_loss_j.items()}
    records = result.jobs
    ours = [k for k, record in enumerate(records) if record.spec.group == group]
    nominal = sum(nominal_tokens(records[k], jobs["run_s"][k]) for k in ours)
    failures = None
    if "failures_by_class" in metrics["reliability"]:
        ours_failed = inputs.rack_group[inputs.failures.rack] == group
        classes = np.array(inputs.failures.component, dtype=object)[ours_failed]
        failures = {name: float(np.count_nonzero(classes == name))
                    for name in metrics["reliability"]["failures_by_class"]}
    work = float(sum(jobs["work_tokens"][k] for k in ours))
    return cost_inputs(inputs.duration_s, feed_j + sum(hall_loss_j.values()), energy_j("heat_to_liquid_w"),
                       energy_j("heat_to_air_w"), energy_j("pump_w"), work, nominal,
                       cabling, failures, loss_energy_j_by_stage=hall_loss_j)


def fleet_metrics(request: RunRequest, loaded: LoadedDesign, inputs: FleetInputs, table: ProfileTable,
                  result: FleetResult, jobs: dict[str, list[Any]]) -> dict[str, Any]:
    """metrics.json of a fleet run (module docstring)."""
    hall, duration_s = result.hall, inputs.duration_s
    seconds = hall.rack_seconds.sum(axis=0)  # rack-seconds per state

    def energy_j(name: str) -> float:
        return float(seconds @ table.column(name))

    stages, losses_w = table.losses_w()
    loss_j = {stage: float(seconds @ losses_w[:, k]) for k, stage in enumerate(stages)} | hall.hall_loss_j
    input_j = energy_j("feed_w") + sum(hall.hall_loss_j.values())
    series = np.array(hall.series) if hall.series else np.zeros((1, 5))
    held_s = np.diff(np.append(series[:, 0], duration_s))
    feed_w = series[:, 1]
    steps_w = np.abs(np.diff(feed_w))
    ramp = float((steps_w / np.maximum(held_s[:-1], 1e-9)).max()) if steps_w.size else 0.0
    used = [p for p in range(len(table.profiles)) if seconds[p] > 0 and table.profiles[p].gpu_temps_c.size]
    temps = np.concatenate([table.profiles[p].gpu_temps_c for p in used]) if used else np.zeros(1)
    weights = np.concatenate([table.profiles[p].gpu_temp_weights * seconds[p] for p in used]) if used else np.ones(1)
    total_rack_s = float(seconds.sum())
    running_s = float(seconds[list({spec.profile for options in inputs.jobs for spec in options})].sum())
    off_s = float(seconds[np.unique(inputs.off_profile)].sum())
    kept = float(sum(jobs["work_tokens"]))
    nominal = sum(nominal_tokens(record, run_s) for record, run_s in zip(result.jobs, jobs["run_s"], strict=True))
    kwh = input_j / 3.6e6
    started = [e for e, w in zip(jobs["ettr"], jobs["run_s"], strict=True) if w > 0]
    fans_j, pumps_j = energy_j("fan_w"), energy_j("pump_w")
    return {
        "design": loaded.design.name, "design_hash": loaded.design_hash, "scenario": request.scenario.name,
        "seed": request.run_seed, "duration_s": duration_s, "racksim_version": __version__,
        "power": {
            "input_energy_j": input_j, "it_energy_j": energy_j("it_w"), "loss_energy_j": sum(loss_j.values()),
            "loss_energy_j_by_stage": loss_j, "storage_net_energy_j": 0.0,
            "input_power_w_mean": input_j / duration_s, "input_power_w_peak": float(feed_w.max()),
            "input_power_w_p99": weighted_percentile(feed_w, held_s, 99.0),
            "chain_efficiency": energy_j("it_w") / input_j if input_j > 0 else 0.0,
            "max_ramp_w_per_s": ramp, "capped_fraction": 0.0, "trips": sum(o.trips * o.racks.size
                                                                          for o in inputs.outages
                                                                          if o.time_s < duration_s)},
        "thermal": {
            "gpu_temp_c_max": float(temps.max()), "gpu_temp_c_p99": weighted_percentile(temps, weights, 99.0),
            "gpu_throttle_fraction": 0.0,
            "coolant_return_temp_c_max": max((table.profiles[p].coolant_return_temp_c_max for p in used),
                                             default=0.0),
            "heat_to_liquid_j": energy_j("heat_to_liquid_w"), "heat_to_air_j": energy_j("heat_to_air_w"),
            "cooling_energy_j": fans_j + pumps_j, "fan_energy_j": fans_j, "pump_energy_j": pumps_j},
        "performance": {
            "work_units": kept, "work_unit": "tokens", "tokens_per_work_unit": 1.0, "tokens": kept,
            "work_lost_units": float(sum(jobs["work_lost_tokens"])), "nominal_work_units": nominal,
            "goodput_fraction": kept / nominal if nominal > 0 else 0.0,
            "work_per_kwh": kept / kwh if kwh > 0 else 0.0, "tokens_per_kwh": kept / kwh if kwh > 0 else 0.0},
        "reliability": {
            "failures": result.failures + sum(o.time_s < duration_s for o in inputs.outages),
            "interruptions": result.interruptions, "unavailable_fraction": off_s / total_rack_s,
            "repairs": result.repairs, "repair_time_s_mean": result.repair_s / result.repairs if result.repairs
            else 0.0, "repair_wait_s_mean": result.repair_wait_s / result.repairs if result.repairs else 0.0,
            **({"failures_by_class": failures_by_class(loaded, inputs)} if request.scenario.stochastic_failures
               else {})},
        "hall": {
            "racks": int(inputs.rack_row.size), "jobs": len(result.jobs),
            "utilization": running_s / total_rack_s, "fragmentation": hall.idle_while_queued_rack_s / total_rack_s,
            "jobs_completed": int(sum(jobs["done"])), "jobs_started": len(started),
            "work_per_kwh": kept / kwh if kwh > 0 else 0.0,
            "ettr_mean": float(np.mean(started)) if started else 0.0},
        "engine": {"event_count": hall.events, "fleet": True},
    }


def fleet_output(request: RunRequest, loaded: LoadedDesign, inputs: FleetInputs, table: ProfileTable,
                 result: FleetResult) -> RunOutput:
    """Everything the run directory holds (racksim.run.results writes it, jobs.parquet beside metrics.json).

    The cabling and network groups are the designs' (as a hall of several designs merges them,
    racksim.run.merge.weighted_group); the cabling plan (cabling.json) is the first group's.
    """
    groups = design_groups(loaded)
    jobs = job_rows(result, inputs.duration_s, [design.name for design, _ in groups],
                    [gpus_per_rack(design) for design, _ in groups])
    metrics = fleet_metrics(request, loaded, inputs, table, result, jobs)
    plans = [plan_cabling(design) for design, _ in groups]  # one rack's: a group's racks are cabled alike
    cablings = [cabling_metrics(plan) for plan in plans]
    group_racks = [layout.n_racks for _, layout in groups]
    metrics["cabling"] = weighted_group(cablings, group_racks, maxima=("longest_cable_m",))
    metrics["network"] = weighted_group([network_metrics(design) for design, _ in groups],
                                        [gpus_per_rack(design) * layout.n_racks for design, layout in groups])
    cost = (cost_group(loaded.design, metrics, racks=group_racks[0]) if len(groups) == 1 else
            hall_cost_group([(design, racks, group_cost_inputs(metrics, inputs, table, result, jobs, index, cabling))
                             for index, ((design, _), racks, cabling)
                             in enumerate(zip(groups, group_racks, cablings, strict=True))],
                            tokens_per_work_unit=1.0))
    if cost is not None:
        metrics["cost"] = cost
    series = np.array(result.hall.series) if result.hall.series else np.zeros((1, 5))
    racks = float(inputs.rack_row.size)
    columns = {"time_s": series[:, 0], "feed_power_w": series[:, 1], "running_racks_fraction": series[:, 2] / racks,
               "down_racks_fraction": series[:, 3] / racks, "queued_jobs_units": series[:, 4]}
    return RunOutput(
        metrics=metrics, series=columns, events=[{"time_s": e.time_s, "kind": e.kind, "detail": e.detail}
                                                 for e in result.events],
        components={}, cabling=cabling_summary(groups[0][0], plans[0]),
        provenance=notes_json(design_notes(loaded.source, request.all_overrides)),
        warnings=[asdict(w) for w in loaded.warnings], inputs=request.inputs(loaded), design_resolved=loaded.resolved,
        hall_resolved=loaded.hall_resolved if isinstance(loaded, LoadedHall) else None, jobs=jobs,
        placements=placement_rows(result, inputs.duration_s))
