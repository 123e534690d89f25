"""A run's reliability: its sampled failures (when the scenario asks for them) and the `reliability` metrics."""

from __future__ import annotations

import math
from typing import Any

from racksim.engine import RunResult
from racksim.physics.arrays import RackArrays
from racksim.reliability.checkpoint import daly_interval_s, expected_goodput, optimal_interval_s, young_interval_s
from racksim.reliability.consequences import INTERRUPTING, component_counts, failure_actions
from racksim.reliability.processes import Failure, interruption_rate_per_h, sample_failures
from racksim.workload import Schedule
from racksim.workload.faults import FaultAction


def run_failures(arrays: RackArrays, stochastic: bool, duration_s: float, seed: int) -> tuple[list[Failure],
                                                                                               list[FaultAction]]:
    """The run's stochastic failures and their actions (none unless the scenario and the design both have them)."""
    reliability = arrays.design.reliability
    if not stochastic or reliability is None:
        return [], []
    failures = sample_failures(reliability, component_counts(arrays), duration_s, seed)
    return failures, failure_actions(failures, arrays)


def reliability_metrics(result: RunResult, failures: list[Failure], arrays: RackArrays,
                        schedule: Schedule, stochastic: bool) -> dict[str, Any]:
    """The `reliability` group: failures, interruptions and unavailability of the run.

    With a reliability section, also the job's interruption MTBF and the checkpoint interval against Young's,
    Daly's and the exact goodput optimum for that rate.
    """
    faults = sum(1 for event in result.events if event.kind == "fault")
    halted_s = next((result.duration_s - e.time_s for e in result.events if e.kind == "job_halted"), 0.0)
    reliability = arrays.design.reliability
    group: dict[str, Any] = {
        "failures": faults,
        "interruptions": result.interruptions + sum(1 for e in result.events if e.kind == "job_halted"),
        "unavailable_fraction": (result.downtime_s + halted_s) / result.duration_s,
    }
    if math.isfinite(schedule.checkpoint_interval_s):
        group["checkpoint_interval_s"] = schedule.checkpoint_interval_s
    if stochastic and reliability is not None:  # sampled failures by class, zeros included (replica means)
        by_class = dict.fromkeys(reliability.processes(), 0)
        for failure in failures:
            by_class[failure.component_class] += 1
        group["failures_by_class"] = by_class
    rate_per_h = interruption_rate_per_h(reliability, component_counts(arrays), INTERRUPTING) if reliability else 0.0
    if rate_per_h > 0 and schedule.checkpoint_s > 0:
        mtbf_s = 3600.0 / rate_per_h
        cost_s, restart_s = schedule.checkpoint_s, reliability.restart_time_s if reliability else 0.0
        interval_s = group["checkpoint_interval_s"]
        group |= {
            "job_mtbf_h": mtbf_s / 3600.0,
            "young_interval_s": young_interval_s(cost_s, mtbf_s),
            "daly_interval_s": daly_interval_s(cost_s, mtbf_s),
            "goodput_optimal_interval_s": optimal_interval_s(cost_s, restart_s, mtbf_s),
            # On performance.goodput_fraction's basis: against a failure-free run, which pays checkpoints too.
            "expected_goodput_at_interval": float(expected_goodput(interval_s, cost_s, restart_s, mtbf_s))
            * (interval_s + cost_s) / interval_s,
        }
    assert all(math.isfinite(v) for v in group.values() if isinstance(v, float))
    return group
