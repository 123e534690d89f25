"""Workloads: training from a model and its layout, inference under a daily cycle, trace replay."""

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
from racksim.design.workload_schema import InferenceWorkload, TraceWorkload, TrainingWorkload
from racksim.engine import Simulation
from racksim.errors import InputError
from racksim.network import CollectiveModel, collective_table
from racksim.physics.arrays import build
from racksim.run.loading import load_design
from racksim.workload import InferenceSchedule, TraceSchedule, TrainingSchedule, schedule_for
from racksim.workload.inference import DAY_S, expected_arrivals
from racksim.workload.trace import gpu_utilization_from_power
from tests.conftest import ROOT
from tests.test_cli import racksim

GB200 = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
GB300 = load_design(ROOT / "designs" / "gb300-nvl72.yaml").design
VR = load_design(ROOT / "designs" / "vr-800vdc.yaml").design


def dense(**layout: int) -> TrainingWorkload:
    """A Llama 3 405B-class model with the given layout."""
    return TrainingWorkload(model={"parameters": 405e9, "layers": 126, "hidden_size": 16384,
                                   "tokens_per_step": 524288, "layout": {"microbatches": 16, **layout}},
                            model_flops_utilization=0.4, checkpoint_every_steps=50, checkpoint_time_s=30.0)


def test_compute_and_bubble_by_hand() -> None:
    schedule = schedule_for(dense(tensor=8, pipeline=3), GB200)
    assert isinstance(schedule, TrainingSchedule)
    # 6 · N · T / (72 GPUs · 5,000 TFLOP/s · 0.4)
    assert schedule.compute_s == pytest.approx(6 * 405e9 * 524288 / (72 * 5000e12 * 0.4), rel=1e-12)
    assert schedule.bubble_s == pytest.approx(schedule.compute_s * 2 / 16, rel=1e-12)


def test_tensor_parallel_all_reduce_by_hand() -> None:
    """Nine TP groups of 8 on a switched domain run as fast as one 8-GPU all-reduce; 4 per layer and microbatch."""
    schedule = schedule_for(dense(tensor=8, pipeline=3), GB200)
    assert isinstance(schedule, TrainingSchedule)
    assert schedule.plan is not None
    assert schedule.topology is not None
    tensor = next(c for c in schedule.plan.collectives if c.name == "tensor")
    tokens_per_microbatch = 524288 / 3 / 16  # dp = 72 / 24 = 3
    assert tensor.size_bytes == pytest.approx(tokens_per_microbatch * 16384 * 2)
    assert tensor.count == 4 * 42 * 16
    one_group = collective_table(CollectiveModel(GB200, schedule.topology), "all-reduce", 8,
                                 np.array([tensor.size_bytes]))
    assert tensor.time_s(CollectiveModel(GB200, schedule.topology)) == pytest.approx(
        tensor.count * float(one_group.time_s[0]), rel=1e-9)


def test_data_parallel_overlap_hides_at_most_the_compute_time() -> None:
    schedule = schedule_for(dense(tensor=4), GB200)
    assert isinstance(schedule, TrainingSchedule)
    assert schedule.plan is not None
    assert schedule.topology is not None
    model = CollectiveModel(GB200, schedule.topology)
    data = next(c for c in schedule.plan.collectives if c.name == "data").time_s(model)
    others = sum(c.time_s(model) for c in schedule.plan.collectives if c.name != "data")
    hidden = min(0.8 * data, schedule.compute_s)
    assert schedule.hidden_collective_s == pytest.approx(hidden, rel=1e-9)
    assert schedule.communication_s == pytest.approx(others + data - hidden, rel=1e-9)


@pytest.mark.parametrize(("layout", "field"), [({"tensor": 7}, "tensor"), ({"expert": 5}, "expert"),
                                               ({"pipeline": 4}, "pipeline")])
def test_layouts_that_do_not_fit_fail_in_one_line(layout: dict[str, int], field: str) -> None:
    workload = dense(**layout) if field != "expert" else TrainingWorkload(
        model={"parameters": 1e12, "active_parameters": 5e10, "layers": 60, "hidden_size": 8192,
               "moe_layers": 60, "tokens_per_step": 1e6, "layout": layout},
        model_flops_utilization=0.3, checkpoint_every_steps=10, checkpoint_time_s=10.0)
    with pytest.raises(InputError) as error:
        schedule_for(workload, GB200, source="suite.yaml")
    assert f"workload.model.layout.{field}" in str(error.value)
    assert "\n" not in str(error.value)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 72 * 18 - 1), min_size=1, max_size=6, unique=True), st.integers(0, 71 * 18))
def test_failed_links_never_speed_the_step_up(links: list[int], extra: int) -> None:
    """Property: a failed link lowers the collectives' speed or leaves it, and one more never raises it."""
    schedule = schedule_for(dense(tensor=8, pipeline=3), GB200)
    fewer = schedule.network_rate(np.array(links))
    more = schedule.network_rate(np.array(sorted({*links, extra})))
    assert 0 < more <= fewer <= 1.0


def test_a_failed_link_slows_the_tensor_parallel_group_it_touches() -> None:
    schedule = schedule_for(dense(tensor=8, pipeline=3), GB200)
    assert schedule.network_rate(np.array([0])) < 0.99  # one of GPU 0's 18 links


def test_the_same_workload_runs_faster_on_newer_designs() -> None:
    """GB300 serves FP4 1.5× faster than GB200 (15 vs 10 PFLOP/s dense); Vera Rubin trains faster than both."""
    serving = InferenceWorkload(kind="inference", active_parameters=70e9, precision="fp4",
                                model_flops_utilization=0.35, requests_per_s_mean=6000, tokens_per_request=2000)
    capacity = {d.name: schedule_for(serving, d) for d in (GB200, GB300)}
    gb200, gb300 = (capacity[d.name] for d in (GB200, GB300))
    assert isinstance(gb200, InferenceSchedule)
    assert isinstance(gb300, InferenceSchedule)
    assert gb300.capacity_tokens_per_s == pytest.approx(1.5 * gb200.capacity_tokens_per_s)
    day_gb200, day_gb300 = gb200.nominal_work_units(3600.0), gb300.nominal_work_units(3600.0)
    assert day_gb300 > 1.4 * day_gb200  # demand above both capacities: served tokens follow capacity
    steps = {d.name: schedule_for(dense(tensor=8, pipeline=3), d).nominal_work_units(3600.0) for d in (GB200, VR)}
    assert steps[VR.name] > 1.5 * steps[GB200.name]


def test_expected_arrivals_integrate_the_daily_cycle() -> None:
    mean, amplitude, peak = 500.0, 0.6, 14 * 3600.0
    assert expected_arrivals(mean, amplitude, peak, 0.0, DAY_S) == pytest.approx(mean * DAY_S, rel=1e-12)
    grid = np.linspace(0.0, 3600.0, 100001)
    rate = mean * (1 + amplitude * np.cos(2 * math.pi * (grid - peak) / DAY_S))
    assert expected_arrivals(mean, amplitude, peak, 0.0, 3600.0) == pytest.approx(np.trapezoid(rate, grid), rel=1e-8)


def test_inference_load_follows_arrivals_and_capacity() -> None:
    workload = InferenceWorkload(kind="inference", active_parameters=70e9, model_flops_utilization=0.35,
                                 requests_per_s_mean=100, tokens_per_request=2000, window_s=600)
    schedule = schedule_for(workload, GB200, seed=3)
    assert isinstance(schedule, InferenceSchedule)
    phases = [next(p) for p in [iter(schedule.phases())] * 144]  # one day
    served = sum(p.work_units for p in phases)
    expected = 100 * DAY_S * 2000
    assert served == pytest.approx(expected, rel=5 * math.sqrt(100 * DAY_S) / (100 * DAY_S))  # 5 σ of Poisson
    loads = [p.activity.gpu_utilization for p in phases]
    assert np.argmax(loads) * 600 / 3600 == pytest.approx(14, abs=1.5)  # busiest window near the peak hour
    capacity = schedule.capacity_tokens_per_s * 600
    assert all(p.work_units <= capacity * (1 + 1e-12) for p in phases)


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


@pytest.mark.parametrize("scenario", ["link-failures", "moe-all-to-all", "inference-diurnal", "trace-replay"])
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


def test_a_layout_that_does_not_fit_a_design_fails_before_anything_runs(tmp_path: Path) -> None:
    """An 8-GPU domain cannot hold tensor 8 × pipeline 3: one line, exit 2, and no run of the other design."""
    done = racksim("run", str(ROOT / "designs" / "gb200-nvl72.yaml"),
                   str(ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"),
                   "--suite", "quick", "--scenario", "link-failures", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "scenario link-failures on small-cabling: workload.model.layout.tensor" in done.stderr
    assert not list(tmp_path.rglob("metrics.json"))
