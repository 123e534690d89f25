"""Workloads: training predicted from a model, inference served at the predicted operating point, trace replay."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from racksim.cli import app
from racksim.design.workload_schema import Calibration, InferenceWorkload, TraceWorkload, TrainingWorkload
from racksim.engine import Simulation
from racksim.errors import InputError
from racksim.perf import accelerator_from_design, predict_serving, predict_training
from racksim.perf.power import LINK_ACTIVITY
from racksim.perf.training import StepBreakdown
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity
from racksim.physics.power import utilization_power_w
from racksim.run.loading import load_design
from racksim.workload import InferenceSchedule, TraceSchedule, TrainingSchedule, schedule_for
from racksim.workload.inference import DAY_S, expected_arrivals
from racksim.workload.trace import gpu_utilization_from_power
from racksim.workload.training_model import MAX_GROUPS, MAX_PHASES_PER_STEP, StepActivity, step_phases
from tests.conftest import ROOT, contract_problems
from tests.test_cli import racksim

GB200 = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
GB300 = load_design(ROOT / "designs" / "gb300-nvl72.yaml").design
VR = load_design(ROOT / "designs" / "vr-800vdc.yaml").design


def llama70b(checkpoint_time_s: float = 30.0, **layout: int | str) -> TrainingWorkload:
    """Llama 3 70B on one rack, FP8, 144 sequences of 8,192 tokens, with the layout options given."""
    return TrainingWorkload(model="llama3-70b", global_batch_sequences=144, seq_len=8192, precision="fp8",
                            layout=layout, checkpoint_every_steps=10, checkpoint_time_s=checkpoint_time_s)


TP8 = schedule_for(llama70b(tp=8), GB200)


def test_the_step_is_the_prediction_and_its_phases_add_up() -> None:
    """The step's phases sum to train_step's predicted step time; the prediction is the CLI's."""
    schedule = schedule_for(llama70b(tp=8), GB200)
    assert isinstance(schedule, TrainingSchedule)
    predicted = predict_training(GB200, "llama3-70b", 72, 144, 8192, precision="fp8", tp=8)
    assert sum(p.nominal_s for p in schedule.step) == pytest.approx(predicted.step.step_time_s, rel=1e-12)
    assert schedule.predicted["step_time_s"] == pytest.approx(predicted.step.step_time_s, rel=1e-12)
    assert schedule.predicted["pinned"] is False
    b = predicted.step.breakdown
    by_name: dict[str, float] = {}
    for phase in schedule.step:
        by_name[phase.name] = by_name.get(phase.name, 0.0) + phase.nominal_s
    assert by_name["compute"] == pytest.approx(b.compute_s, rel=1e-12)
    assert by_name["communication"] == pytest.approx(b.tp_comm_s + b.cp_comm_s + b.ep_comm_s + b.pp_comm_s
                                                     + b.dp_comm_s, rel=1e-12)
    # Per-layer TP communication is spread over the micro-batches, not one block: compute and communication
    # alternate once per group of micro-batches.
    names = [p.name for p in schedule.step]
    groups = min(predicted.layout.microbatches, MAX_GROUPS)
    assert names.count("compute") == groups
    assert names[:4] == ["compute", "communication", "compute", "communication"]


def test_phases_per_step_are_bounded() -> None:
    """However many micro-batches, a step has at most 2·MAX_GROUPS + 4 phases, and their times add up."""
    breakdown = StepBreakdown(compute_s=30.0, tp_comm_s=6.0, cp_comm_s=0.0, ep_comm_s=1.0, pp_comm_s=0.5,
                              dp_comm_s=2.0, bubble_s=3.0, optimizer_s=0.2)
    activity = StepActivity(*(Activity(u, 0.3, 0.3) for u in (0.95, 0.1, 0.05, 0.36)))
    for microbatches in (1, 7, 16, 17, 4096):
        phases = step_phases(breakdown, microbatches, activity, scale=1.5)
        assert len(phases) <= MAX_PHASES_PER_STEP == 36
        assert sum(p.nominal_s for p in phases) == pytest.approx(1.5 * breakdown.total_s, rel=1e-12)
        assert phases[0].name == phases[-3].name == "bubble"
        assert phases[-1].name == "optimizer"


def test_a_pinned_calibration_stretches_the_step_and_is_marked() -> None:
    predicted = schedule_for(llama70b(), GB200)
    assert isinstance(predicted, TrainingSchedule)
    pinned = schedule_for(llama70b().model_copy(update={"calibration": Calibration(step_time_s=4.0)}), GB200)
    assert isinstance(pinned, TrainingSchedule)
    assert pinned.step_s == pytest.approx(4.0, rel=1e-12)
    assert pinned.predicted["pinned"] is True
    assert pinned.predicted["mfu"] == pytest.approx(predicted.predicted["mfu"] * predicted.step_s / 4.0, rel=1e-12)
    by_mfu = schedule_for(llama70b().model_copy(update={"calibration": Calibration(mfu=0.4)}), GB200)
    assert by_mfu.performance_metrics(1.0)["mfu"] == pytest.approx(0.4, rel=1e-12)


def test_gpu_energy_per_step_is_the_phases_powers() -> None:
    """Simulated GPU energy over two steps = Σ phase time × 72 · (P_idle + u · (P_TDP − P_idle)) (GB200, no floor)."""
    schedule = schedule_for(llama70b(checkpoint_time_s=0.0, tp=8), GB200)
    assert isinstance(schedule, TrainingSchedule)
    duration_s = 2 * schedule.step_s
    series = Simulation(build(GB200), schedule.phases, duration_s).run().series
    time_s, gpu_w = series["time_s"], series["gpu_power_w"]
    simulated_j = float(np.sum(gpu_w[:-1] * np.diff(time_s)) + gpu_w[-1] * (duration_s - time_s[-1]))
    gpu = GB200.compute_tray.gpus
    expected_j = 2 * sum(p.nominal_s * 72 * float(utilization_power_w(p.activity.gpu_utilization, gpu.idle_w,
                                                                        gpu.tdp_w)) for p in schedule.step)
    assert simulated_j == pytest.approx(expected_j, rel=1e-6)
    compute = next(p for p in schedule.step if p.name == "compute")
    communication = next(p for p in schedule.step if p.name == "communication")
    assert compute.activity.gpu_utilization > 0.9  # matmul-bound: near TDP
    assert communication.activity.gpu_utilization == pytest.approx(LINK_ACTIVITY)  # near idle


def test_tensor_parallel_traffic_by_hand() -> None:
    """TP 8 with sequence parallelism: per layer and micro-batch 2 all-gathers + 2 reduce-scatters forward, 4 + 2
    backward, each sending 7/8 of M = b·s·h·2 bytes; 80 layers, 144 / (9 · b) micro-batches of b sequences."""
    workload = llama70b(tp=8)
    predicted = predict_training(GB200, "llama3-70b", 72, 144, 8192, precision="fp8", tp=8)
    layout, traffic = predicted.layout, predicted.step.traffic
    message = layout.micro_batch * 8192 * 8192 * 2
    assert traffic.layers_gbyte == pytest.approx((layout.microbatches * 80 * 10 * 7 / 8 * message / 1e9, 0.0),
                                                 rel=1e-12)
    assert traffic.dp_gbyte[1] == 0.0  # one rack
    assert schedule_for(workload, GB200).traffic_gbyte_per_gpu[0] > traffic.layers_gbyte[0]  # plus the gradients


def test_a_layout_that_does_not_fit_is_refused_in_one_line() -> None:
    """Llama 3 405B on 72 GPUs at tp 8, pp 1 without sharding the optimizer (ZeRO 0): needed versus available GB."""
    workload = TrainingWorkload(model="llama3-405b", global_batch_sequences=144, seq_len=8192, precision="fp8",
                                layout={"tp": 8, "pp": 1, "zero": 0, "recompute": "full"}, checkpoint_every_steps=10,
                                checkpoint_time_s=30.0)
    with pytest.raises(InputError) as error:
        schedule_for(workload, GB200, source="suite.yaml")
    message = str(error.value)
    assert "suite.yaml" in message
    assert "does not fit" in message
    assert "GB" in message
    assert "\n" not in message


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(0, 72 * 18 - 1), min_size=1, max_size=6, unique=True), st.integers(0, 71 * 18))
def test_failed_links_never_speed_the_step_up(links: list[int], extra: int) -> None:
    """Property: a failed link lowers the collectives' speed or leaves it, and one more never raises it."""
    fewer = TP8.network_rate(np.array(links))
    more = TP8.network_rate(np.array(sorted({*links, extra})))
    assert 0 < more <= fewer <= 1.0


def test_a_failed_link_slows_the_tensor_parallel_group_it_touches() -> None:
    assert TP8.network_rate(np.array([0])) < 0.99  # one of GPU 0's 18 links


def test_gb300_differs_from_gb200_where_hbm_matters() -> None:
    """Same FP8 peak and NVLink: GB300's 288 GB of HBM lets the search keep a leaner layout, so it trains faster."""
    acc200, acc300 = (accelerator_from_design(d) for d in (GB200, GB300))
    assert acc200.peak("fp8") == acc300.peak("fp8")
    steps = {d.name: schedule_for(llama70b(), d) for d in (GB200, GB300, VR)}
    gb200, gb300, vr = (steps[d.name] for d in (GB200, GB300, VR))
    assert isinstance(gb200, TrainingSchedule)
    assert isinstance(gb300, TrainingSchedule)
    assert gb300.predicted["layout"] != gb200.predicted["layout"]
    assert gb300.step_s < 0.95 * gb200.step_s
    assert gb300.predicted["memory_gb_per_gpu_peak"] > 186.0  # a footprint GB200 could not hold
    assert vr.step_s < gb200.step_s / 2


def serving(**fields: object) -> InferenceWorkload:
    """Llama 3 70B in FP8, 1,500 + 500 tokens under a 50 ms TPOT SLO."""
    return InferenceWorkload(kind="inference", model="llama3-70b", input_tokens=1500, output_tokens=500,
                             **{"requests_per_s_mean": 300.0, **fields})


def test_inference_capacity_is_the_predicted_operating_point() -> None:
    schedule = schedule_for(serving(), GB200)
    assert isinstance(schedule, InferenceSchedule)
    predicted = predict_serving(GB200, "llama3-70b", 1500, 500, precision="fp8", max_tpot_s=0.05)
    tp = predicted.choice.replica.tp
    assert schedule.replicas == 72 // tp
    assert schedule.capacity_requests_per_s == pytest.approx(72 // tp * predicted.point.requests_per_s, rel=1e-12)
    # Along the load curve: latency rises with load, and power with it (prefill near TDP, decode lower).
    curve = schedule.curve
    assert np.all(np.diff(curve.requests_per_s) > 0)
    assert curve.activity[0] == 0.0
    assert 0.3 < curve.activity[-1] < 1.0
    assert curve.at(predicted.point.requests_per_s)[1] == pytest.approx(predicted.point.tpot_s, rel=1e-9)


def test_expected_arrivals_integrate_the_daily_cycle() -> None:
    mean, amplitude, peak = 500.0, 0.6, 14 * 3600.0
    assert expected_arrivals(mean, amplitude, peak, 0.0, DAY_S) == pytest.approx(mean * DAY_S, rel=1e-12)
    grid = np.linspace(0.0, 3600.0, 100001)
    rate = mean * (1 + amplitude * np.cos(2 * math.pi * (grid - peak) / DAY_S))
    assert expected_arrivals(mean, amplitude, peak, 0.0, 3600.0) == pytest.approx(np.trapezoid(rate, grid), rel=1e-8)


def test_inference_load_follows_arrivals_and_capacity() -> None:
    schedule = schedule_for(serving(requests_per_s_mean=100.0, window_s=600), GB200, seed=3)
    assert isinstance(schedule, InferenceSchedule)
    phases = [next(p) for p in [iter(schedule.phases())] * 144]  # one day
    served = sum(p.work_units for p in phases)
    expected = 100 * DAY_S * 500
    assert served == pytest.approx(expected, rel=5 * math.sqrt(100 * DAY_S) / (100 * DAY_S))  # 5 σ of Poisson
    loads = [p.activity.gpu_utilization for p in phases]
    assert np.argmax(loads) * 600 / 3600 == pytest.approx(14, abs=1.5)  # busiest window near the peak hour
    capacity = schedule.capacity_requests_per_s * 600 * 500
    assert all(p.work_units <= capacity * (1 + 1e-12) for p in phases)
    metrics = schedule.performance_metrics(DAY_S)
    assert metrics["ttft_s_p50"] <= metrics["ttft_s_p99"]
    assert 0 < metrics["tpot_s_p50"] <= metrics["tpot_s_p99"] <= 0.05


def write_trace(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("# a comment\n" + header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_trace_drives_the_gpus_row_by_row(tmp_path: Path) -> None:
    """Idle for 100 s, full for 100 s: the GPUs draw idle power, then TDP; work is busy GPU-hours."""
    trace = write_trace(tmp_path / "t.csv", "time_s,gpu_utilization", ["0,0", "100,1"])
    schedule = schedule_for(TraceWorkload(kind="trace", path=trace, loop=False), GB200)
    assert isinstance(schedule, TraceSchedule)
    result = Simulation(build(GB200), schedule.phases, 200.0).run()
    series = result.series
    gpu_w = np.interp([50.0, 150.0], series["time_s"], series["gpu_power_w"])
    assert gpu_w[0] == pytest.approx(72 * 200.0, rel=1e-9)
    assert gpu_w[1] == pytest.approx(72 * 1200.0, rel=1e-9)
    assert result.work_units == pytest.approx(72 * 100 / 3600)


def test_per_gpu_and_power_traces(tmp_path: Path) -> None:
    gpus = ",".join(f"gpu{i}" for i in range(72))
    half = ",".join("1" if i < 36 else "0" for i in range(72))
    per_gpu = write_trace(tmp_path / "g.csv", f"time_s,{gpus}", [f"0,{half}"])
    schedule = schedule_for(TraceWorkload(kind="trace", path=per_gpu), GB200)
    result = Simulation(build(GB200), schedule.phases, 10.0).run()
    assert result.series["gpu_power_w"][-1] == pytest.approx(36 * 1200 + 36 * 200, rel=1e-9)
    assert gpu_utilization_from_power(np.array([200.0, 700.0, 1500.0]), 200.0, 1200.0).tolist() == [0, 0.5, 1]


@pytest.mark.parametrize(("header", "rows", "where"), [
    ("time_s,gpu_utilization", ["0,0.5", "0,0.6"], "time_s"),
    ("time_s,gpu_utilization", ["0,1.5"], "gpu_utilization"),
    ("time_s,cpu_utilization", ["0,0.5"], "gpu_utilization, gpu_power_w"),
    ("time_s,gpu0,gpu1", ["0,0.5,0.5"], "gpu0"),
    ("time_s,gpu1,gpu2", ["0,0.5,0.5"], "gpu0"),
    ("time_s,gpu_utilization", ["0,abc"], "line 3"),
    ("time_s,gpu_utilization", ["0,0.5,1"], "line 3"),
])
def test_bad_traces_fail_in_one_line(tmp_path: Path, header: str, rows: list[str], where: str) -> None:
    trace = write_trace(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError) as error:
        schedule_for(TraceWorkload(kind="trace", path=trace), GB200)
    assert where in str(error.value)
    assert str(trace) in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("scenario", [pytest.param("link-failures", marks=pytest.mark.slow),
                                      pytest.param("moe-all-to-all", marks=pytest.mark.slow),
                                      "inference-diurnal", "trace-replay"])
def test_workload_scenarios_end_to_end(tmp_path: Path, scenario: str) -> None:
    """Through the CLI: the job's time adds up to the run, and the collectives and links are booked."""
    result = CliRunner().invoke(app, ["run", str(ROOT / "designs" / "gb200-nvl72.yaml"), "--suite", "quick",
                                      "--scenario", scenario, "--out", str(tmp_path), "--duration", "1800"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "gb200-nvl72" / scenario / "metrics.json").read_text())
    performance, network = metrics["performance"], metrics["network"]
    booked = sum(performance["phase_time_s"].values()) + performance["stall_time_s"] + performance["downtime_s"]
    assert booked == pytest.approx(1800.0, rel=1e-6)
    assert performance["work_units"] > 0
    training = scenario in ("link-failures", "moe-all-to-all")
    assert (network["collective_time_s_total"] > 0) == training
    assert (network["scale_up_utilization"] > 0) == training
    if scenario == "link-failures":
        assert performance["stall_time_s"] > 0  # failed links stretched the exposed communication


@pytest.mark.slow
def test_a_layout_that_does_not_fit_a_design_fails_before_anything_runs(tmp_path: Path) -> None:
    """8 GPUs cannot hold DeepSeek-V3's training state: one line (needed vs available GB), exit 2, no run at all."""
    done = racksim("run", str(ROOT / "designs" / "gb200-nvl72.yaml"),
                   str(ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"),
                   "--suite", "quick", "--scenario", "moe-all-to-all", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "scenario moe-all-to-all on small-cabling" in done.stderr
    assert "does not fit" in done.stderr
    assert not list(tmp_path.rglob("metrics.json"))


def test_quick_training_runs_predicted_work_and_keeps_the_contract(tmp_path: Path) -> None:
    """GB200 and GB300 (same FP8 peak) run the quick training scenario at different predicted steps; metrics.json
    carries the prediction and still meets the DESIGN.md contract."""
    result = CliRunner().invoke(app, ["run", str(ROOT / "designs" / "gb200-nvl72.yaml"),
                                      str(ROOT / "designs" / "gb300-nvl72.yaml"), "--suite", "quick", "--scenario",
                                      "training", "--out", str(tmp_path), "--duration", "60s", "-j", "1"])
    assert result.exit_code == 0, result.output
    runs = {name: json.loads((tmp_path / name / "training" / "metrics.json").read_text())
            for name in ("gb200-nvl72", "gb300-nvl72")}
    for metrics in runs.values():
        assert contract_problems(metrics) == []
        p = metrics["performance"]
        assert p["work_unit"] == "steps"
        assert p["pinned"] is False
        assert 0 < p["mfu"] < 1
        assert p["tokens"] == pytest.approx(p["work_units"] * 144 * 8192)
        assert p["memory_gb_per_gpu_peak"] <= p["hbm_gb_per_gpu"]
        assert p["tokens_per_s_per_gpu"] == pytest.approx(144 * 8192 / (72 * p["step_time_s"]))
    gb200, gb300 = (runs[n]["performance"] for n in ("gb200-nvl72", "gb300-nvl72"))
    assert gb300["step_time_s"] < 0.95 * gb200["step_time_s"]  # equal peaks: the difference is HBM capacity


def test_inference_run_reports_latency_and_keeps_the_contract(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(ROOT / "designs" / "gb200-nvl72.yaml"), "--suite", "quick",
                                      "--scenario", "inference-diurnal", "--out", str(tmp_path), "--duration", "6h"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "gb200-nvl72" / "inference-diurnal" / "metrics.json").read_text())
    assert contract_problems(metrics) == []
    p = metrics["performance"]
    assert p["work_unit"] == "tokens"
    assert 0 < p["ttft_s_p50"] <= p["ttft_s_p99"]
    assert 0 < p["tpot_s_p50"] <= p["tpot_s_p99"] <= 0.1  # the scenario's TPOT SLO
    assert p["tokens"] == p["work_units"]
