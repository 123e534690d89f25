"""Stochastic failures: distributions, rates against Llama 3, interruptions and restarts, spares, checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from racksim.design.reliability_schema import FailureProcess, Reliability
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.reliability.checkpoint import daly_interval_s, expected_goodput, optimal_interval_s, young_interval_s
from racksim.reliability.consequences import failure_actions
from racksim.reliability.processes import Failure, sample_class, sample_failures, weibull_scale_h
from racksim.run.loading import load_design
from racksim.run.replicas import aggregate
from racksim.workload import TrainingSchedule
from racksim.workload.faults import FaultAction

ROOT = Path(__file__).resolve().parent.parent
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
HOUR_S = 3600.0


def ks_statistic(samples: np.ndarray, cdf: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between the empirical CDF of sorted samples and a model CDF at them."""
    n = samples.size
    return float(max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n)))


@pytest.mark.parametrize("shape", [1.0, 2.0])
def test_first_failure_times_follow_their_weibull(shape: float) -> None:
    process = FailureProcess(mtbf_h=1000.0, weibull_shape=shape, mttr_h=1.0, source="test")
    failures = sample_class("gpu", process, 4000, 10 * 1000.0 * HOUR_S, np.random.default_rng(11))
    first_h: dict[int, float] = {}
    for failure in failures:  # in time order per component: the first one seen is its first failure
        first_h.setdefault(failure.index, failure.time_s / HOUR_S)
    first = np.sort(list(first_h.values()))
    scale = weibull_scale_h(1000.0, shape)
    cdf = 1.0 - np.exp(-((first / scale) ** shape))
    # KS at 1 %: D < 1.63 / √n (fixed seed: deterministic).
    assert ks_statistic(first, cdf) < 1.63 / math.sqrt(first.size)
    assert first.mean() == pytest.approx(1000.0, rel=0.05)


def test_interruption_count_matches_the_rate_and_llama3() -> None:
    # 16,384 GPUs for 54 days at the bundled GPU MTBF: renewal rate n·T/(MTBF + MTTR) per replica.
    gpu = load_design(GB200).design.reliability.gpu
    duration_s, count = 54 * 24 * HOUR_S, 16384
    reliability = Reliability(gpu=gpu)
    counts = [len(sample_failures(reliability, {"gpu": count}, duration_s, seed)) for seed in range(20)]
    mean, half_width = np.mean(counts), 1.96 * np.std(counts, ddof=1) / math.sqrt(len(counts))
    expected = count * duration_s / HOUR_S / (gpu.mtbf_h + gpu.mttr_h)
    assert abs(mean - expected) < half_width + 1.0
    # Llama 3 (hardware.md 5): 268 GPU-category interruptions in 54 days on 16,384 H100.
    assert mean == pytest.approx(268, rel=0.1)


def test_same_seed_same_failures_and_classes_draw_independently() -> None:
    reliability = load_design(GB200).design.reliability
    counts = {"gpu": 72, "host": 18, "fan": 60}
    one = sample_failures(reliability, counts, 1e8, 3)
    assert one == sample_failures(reliability, counts, 1e8, 3)
    assert one != sample_failures(reliability, counts, 1e8, 4)
    # Removing a class leaves the others' draws as they were (one stream per class).
    without_fans = [f for f in sample_failures(reliability, {"gpu": 72, "host": 18}, 1e8, 3)]
    assert without_fans == [f for f in one if f.component_class != "fan"]


def test_checkpoint_optimum_lies_at_young_and_daly() -> None:
    checkpoint_s, restart_s, mtbf_s = 60.0, 600.0, 3 * HOUR_S
    optimum = optimal_interval_s(checkpoint_s, restart_s, mtbf_s)
    assert optimum == pytest.approx(daly_interval_s(checkpoint_s, mtbf_s), rel=0.01)
    assert optimum == pytest.approx(young_interval_s(checkpoint_s, mtbf_s), rel=0.05)
    # Young by hand: √(2 · 60 · 10800) = 1138.4 s.
    assert young_interval_s(checkpoint_s, mtbf_s) == pytest.approx(1138.42, abs=0.01)


@pytest.mark.parametrize("interval_s", [300.0, 1100.0, 4000.0])
def test_expected_goodput_matches_a_monte_carlo_of_the_job(interval_s: float) -> None:
    checkpoint_s, restart_s, mtbf_s = 60.0, 600.0, 3 * HOUR_S
    rng = np.random.default_rng(5)
    segments, wall_s = 20000, 0.0
    for _ in range(segments):
        while True:
            failure_s = rng.exponential(mtbf_s)
            if failure_s >= interval_s + checkpoint_s:
                wall_s += interval_s + checkpoint_s
                break
            wall_s += failure_s + restart_s
    simulated = segments * interval_s / wall_s
    assert simulated == pytest.approx(float(expected_goodput(interval_s, checkpoint_s, restart_s, mtbf_s)), rel=0.01)


# ---------------------------------------------------------------------- through the engine

SCHEDULE = TrainingSchedule(compute_s=20.0, communication_s=5.0, checkpoint_every_steps=4, checkpoint_s=30.0)


def run(actions: list[FaultAction], duration_s: float, overrides: tuple[str, ...] = ()) -> Simulation:
    arrays = build(load_design(GB200, overrides).design)
    simulation = Simulation(arrays, SCHEDULE.phases, duration_s, faults=actions)
    simulation.result = simulation.run()  # type: ignore[attr-defined]
    return simulation


def host_failure(at_s: float, repaired_s: float, overrides: tuple[str, ...] = ()) -> list[FaultAction]:
    return failure_actions([Failure(at_s, "host", 3, repaired_s)], build(load_design(GB200, overrides).design))


def test_an_interruption_loses_the_work_since_the_checkpoint_and_restarts() -> None:
    # Steps of 25 s, a 30 s checkpoint every 4 steps: steps done at 25…100 s, the checkpoint 100–130 s, a step
    # done at 155 s; the host fails at 170 s, so that step is lost.
    simulation = run(host_failure(170.0, 5000.0), 2000.0)
    result = simulation.result
    kinds = [(round(e.time_s, 6), e.kind) for e in result.events]
    assert (170.0, "interruption") in kinds
    assert (770.0, "restart") in kinds  # 600 s restart time
    assert result.interruptions == 1
    assert result.work_lost_units == 1  # the step done at 155 s after the 130 s checkpoint
    assert result.downtime_s == pytest.approx(600.0)
    # Without a spare the job runs on 68 of 72 GPUs: steps take 72/68 as long until the repair at 5000 s.
    assert simulation.state.point.work_rate == pytest.approx(68 / 72)


def test_a_hot_spare_takes_over_and_repairs_restore_capacity() -> None:
    spare = ("reliability.hot_spare_trays=1",)
    simulation = run(host_failure(170.0, 1500.0, spare), 3000.0, spare)
    assert simulation.state.point.work_rate == pytest.approx(1.0)
    assert int(simulation.state.plant.tray_in_job.sum()) == 17  # the spare took the failed tray's place
    assert not simulation.state.plant.chip_failures.any()  # repaired
    no_spare = run(host_failure(170.0, 1500.0), 3000.0)
    assert no_spare.state.point.work_rate == pytest.approx(1.0)  # the repaired tray is back in the job
    assert no_spare.state.plant.tray_in_job.all()


@pytest.mark.slow
def test_simulated_goodput_follows_the_exact_formula() -> None:
    # A GPU MTBF of 144 h over 72 GPUs: a job MTBF of 2 h; many interruptions in 4 simulated days.
    overrides = ("reliability.gpu.mtbf_h=144", "reliability.gpu.mttr_h=1", "reliability.gpu.mttr_sigma=0")
    design = load_design(GB200, overrides).design
    arrays = build(design)
    duration_s = 4 * 24 * HOUR_S
    failures = sample_failures(Reliability(gpu=design.reliability.gpu), {"gpu": 72}, duration_s, 1)
    simulation = Simulation(arrays, SCHEDULE.phases, duration_s, faults=failure_actions(failures, arrays))
    result = simulation.run()
    interval_s, checkpoint_s = 4 * 25.0, 30.0
    # racksim's goodput is work over the failure-free work, which already pays the checkpoints: τ/(τ + C).
    expected = float(expected_goodput(interval_s, checkpoint_s, 600.0, 2 * HOUR_S)) * (interval_s + checkpoint_s) \
        / interval_s
    assert result.interruptions > 30
    assert result.work_units / SCHEDULE.nominal_steps(duration_s) == pytest.approx(expected, rel=0.1)


def test_replica_means_and_intervals_by_hand() -> None:
    samples = [{"design": "d", "seed": 1, "performance": {"goodput_fraction": 0.9}, "reliability": {"failures": 2}},
               {"design": "d", "seed": 2, "performance": {"goodput_fraction": 1.0}, "reliability": {"failures": 0}}]
    result = aggregate(samples, [1, 2])
    assert result["performance"]["goodput_fraction"] == pytest.approx(0.95)
    assert result["reliability"]["failures"] == pytest.approx(1.0)
    assert result["seed"] == 1
    # t(0.975, 1) · s / √2 with s = 0.0707: 12.706 × 0.070711 / 1.41421 = 0.6353.
    assert result["replicas"]["ci95_half_width"]["performance.goodput_fraction"] == pytest.approx(0.6353, abs=1e-4)
    assert result["replicas"]["seeds"] == [1, 2]


@pytest.mark.slow
def test_replicas_through_the_cli_and_the_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from racksim.cli import app
    from racksim.report import write_report

    out = tmp_path / "mc"
    outcome = CliRunner().invoke(app, ["run", str(GB200), "--suite", "quick", "--scenario", "reliability-month",
                                       "--duration", "1d", "--replicas", "3", "--out", str(out)])
    assert outcome.exit_code == 0, outcome.output
    metrics = json.loads((out / "gb200-nvl72" / "reliability-month" / "metrics.json").read_text())
    replicas = json.loads((out / "gb200-nvl72" / "reliability-month" / "replicas.json").read_text())
    assert metrics["replicas"]["seeds"] == [6, 7, 8]
    assert len(replicas) == 3
    assert metrics["performance"]["goodput_fraction"] == pytest.approx(
        np.mean([r["performance"]["goodput_fraction"] for r in replicas]))
    assert replicas[0]["reliability"]["interruptions"] >= 1  # seed 6: a host fails on the first day
    write_report(out)
    assert (out / "figures" / "reliability-month-failure-timeline.png").is_file()
    assert (out / "figures" / "reliability-month-goodput.png").is_file()
    # The means are not one run: a plain run of the same scenario reruns rather than keep them.
    from racksim.design.suite import load_suite
    from racksim.run.pipeline import RunRequest

    single = RunRequest(GB200, load_suite("quick").scenario("reliability-month"), duration_s=86400.0)
    assert not single.is_done(out, single.load())


@pytest.mark.parametrize(("component", "links_left"), [("link", 17), ("switch_tray", 16)])
def test_failed_links_slow_the_collectives_until_repaired(component: str, links_left: int) -> None:
    arrays = build(load_design(GB200).design)
    actions = failure_actions([Failure(100.0, component, 4, 1000.0)], arrays)
    during = run(actions, 500.0)
    # A GPU's all-reduce rides 18 links spread over 18 switch chips (2 per tray): the slowest GPU paces it.
    assert during.job.network_rate == pytest.approx(links_left / 18, rel=0.01)
    assert during.result.interruptions == 1
    after = run(actions, 1500.0)
    assert after.job.network_rate == 1.0
    # Slower communication, fewer steps than a run whose failure is a host's (same restart, full-speed comm).
    host = run(host_failure(100.0, 1000.0), 1500.0, ("reliability.hot_spare_trays=1",))
    assert after.result.work_units <= host.result.work_units + 1
