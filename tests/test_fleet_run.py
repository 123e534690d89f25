"""A hall job mix end to end through the command line: the per-job table beside metrics.json, the energy balance,
a failure on one rack stopping only its job, a job trace given with --job-trace, and bad traces as one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import racksim.results as racksim_results
from racksim.design.suite import SUITES_DIR
from tests.cli import racksim

HALL = "designs/halls/gb200-hall-10.yaml"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def job_mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fleet")
    done = racksim("run", HALL, "--suite", "hall-quick", "--scenario", "job-mix", "--out", str(out), "-j", "1")
    assert done.returncode == 0, done.stderr
    return out / "gb200-hall-10" / "job-mix"


def _metrics(run_dir: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return metrics


def test_job_table_and_energy_balance(job_mix: Path) -> None:
    jobs = pq.read_table(job_mix / "jobs.parquet").to_pylist()
    assert [job["name"] for job in jobs] == ["llama70b-pretrain", "llama8b-a", "llama8b-b", "chat.0", "chat.1"]
    assert {"wait_s", "run_s", "goodput", "ettr", "interruptions", "racks", "rows", "work_tokens"} <= set(jobs[0])
    assert all(0 < job["ettr"] <= 1 and 0 < job["goodput"] <= 1 for job in jobs)
    metrics = _metrics(job_mix)
    power = metrics["power"]
    supplied = power["input_energy_j"] + power["storage_net_energy_j"]
    assert supplied == pytest.approx(power["it_energy_j"] + sum(power["loss_energy_j_by_stage"].values()), rel=1e-9)
    hall = metrics["hall"]
    assert 0 < hall["utilization"] < 1
    assert hall["jobs_completed"] == sum(job["done"] for job in jobs)
    assert metrics["performance"]["work_units"] == pytest.approx(sum(job["work_tokens"] for job in jobs))
    # the same tables through racksim.results, for a notebook
    results = racksim_results.open(job_mix.parent.parent)
    assert results.jobs("gb200-hall-10", "job-mix")["name"].tolist() == [job["name"] for job in jobs]
    placements = results.placements("gb200-hall-10", "job-mix")
    assert set(placements["job"]) == {job["name"] for job in jobs}
    assert (placements["end_s"] >= placements["start_s"]).all()


def test_a_failure_on_one_rack_stops_only_its_job(job_mix: Path) -> None:
    # The link failure on rack 2 at 1 h interrupts the one job spanning rack 2; the feed loss at 3 h trips one
    # random rack and interrupts its job only. The other jobs run through.
    events = json.loads((job_mix / "events.json").read_text(encoding="utf-8"))
    stopped = [(e["time_s"], e["detail"]) for e in events if e["kind"] == "interruption"]
    assert [t for t, _ in stopped] == [3600.0, 10800.0]
    assert "racks [2]" in stopped[0][1]
    jobs = pq.read_table(job_mix / "jobs.parquet").to_pylist()
    assert sorted(job["interruptions"] for job in jobs) == [0, 0, 0, 1, 1]
    assert sum(job["work_lost_tokens"] > 0 for job in jobs) == 2
    # The placements (a Gantt of jobs on racks): an interrupted job's stretch on rack 2 ends at the failure.
    placements = pq.read_table(job_mix / "placements.parquet").to_pylist()
    on_rack_2 = [p for p in placements if 2 in p["racks"] and p["start_s"] <= 3600.0 < p["end_s"] + 1e-9]
    assert [p["end_s"] for p in on_rack_2] == [3600.0]
    assert all(p["start_s"] <= p["end_s"] for p in placements)


def test_a_job_trace_on_the_command_line(tmp_path: Path) -> None:
    trace = SUITES_DIR / "traces" / "sample-jobs.swf"
    done = racksim("run", HALL, "--suite", "hall-quick", "--scenario", "job-mix", "--job-trace", str(trace),
                   "--duration", "4h", "--out", str(tmp_path), "-j", "1")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "gb200-hall-10" / "job-mix"
    jobs = pq.read_table(run_dir / "jobs.parquet").to_pylist()
    assert len(jobs) == 36
    assert jobs[7]["racks"] == 1  # 8 GPUs: one whole rack
    assert _metrics(run_dir)["hall"]["jobs"] == 36
    bad = tmp_path / "bad.swf"
    bad.write_text("1 0 -1 3600 72 -1 -1 72\n")
    failed = racksim("run", HALL, "--suite", "hall-quick", "--scenario", "job-mix", "--job-trace", str(bad),
                     "--out", str(tmp_path / "bad"))
    assert failed.returncode != 0
    assert "bad.swf:1" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_a_mixed_hall_runs_as_one_fleet(tmp_path: Path) -> None:
    # A job on the GB300 group by name; one left to the scheduler, which starts it where it packs into the fewest
    # rows (one either way: the lower group, GB200); a service pinned to GB200 then takes 68 of its 70 racks (68
    # one-rack replicas), and a 2-rack job left to the scheduler starts at once on GB300 (GB200 has one rack free).
    suite = tmp_path / "mix.yaml"
    suite.write_text(
        "name: mix\nscenarios:\n  - name: mixed\n    duration_s: 7200\n    jobs:\n"
        "      - {name: on-gb300, model: llama3-8b, gpus: 144, global_batch_sequences: 144, steps: 2000,\n"
        "         checkpoint_every_steps: 500, design: gb300-nvl72}\n"
        "      - {name: anywhere, model: llama3-8b, gpus: 72, global_batch_sequences: 72, steps: 2000,\n"
        "         checkpoint_every_steps: 500}\n"
        "      - {kind: inference, name: chat, model: llama3-8b, replicas: 68, design: gb200-nvl72, submit_s: 60}\n"
        "      - {name: overflow, model: llama3-8b, gpus: 144, global_batch_sequences: 144, steps: 2000,\n"
        "         checkpoint_every_steps: 500, submit_s: 120}\n")
    done = racksim("run", "designs/halls/mixed-hall-140.yaml", "--suite", str(suite), "--out", str(tmp_path / "out"),
                   "-j", "1")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "out" / "mixed-hall-140" / "mixed"
    jobs = pq.read_table(run_dir / "jobs.parquet").to_pylist()
    assert [(job["name"], job["design"], job["wait_s"]) for job in jobs if job["kind"] == "training"] == [
        ("on-gb300", "gb300-nvl72", 0.0), ("anywhere", "gb200-nvl72", 0.0), ("overflow", "gb300-nvl72", 0.0)]
    assert {job["design"] for job in jobs if job["kind"] == "inference"} == {"gb200-nvl72"}
    overflow = [p for p in pq.read_table(run_dir / "placements.parquet").to_pylist() if p["job"] == "overflow"]
    assert all(70 <= rack < 140 for p in overflow for rack in p["racks"])  # the GB300 group's racks
    metrics = _metrics(run_dir)
    assert metrics["hall"]["racks"] == 140
    power = metrics["power"]
    losses_j = sum(power["loss_energy_j_by_stage"].values())
    assert power["input_energy_j"] == pytest.approx(power["it_energy_j"] + losses_j, rel=1e-9)
    # one cost group: each design's racks priced as its own (70 of each), the sums the hall's
    cost = metrics["cost"]
    groups = {group["design"]: group for group in cost["groups"]}
    assert {name: group["racks"] for name, group in groups.items()} == {"gb200-nvl72": 70, "gb300-nvl72": 70}
    for key in ("capex_usd", "opex_usd_per_year", "tco_usd", "work_units_over_period"):
        assert cost[key] == pytest.approx(sum(group[key] for group in groups.values())), key
    assert groups["gb300-nvl72"]["capex_usd"] > groups["gb200-nvl72"]["capex_usd"] > 0
    assert cost["usd_per_mtoken"] == pytest.approx(cost["tco_usd"] / cost["work_units_over_period"] * 1e6)


def test_grid_window_at_the_highest_load(job_mix: Path) -> None:
    # The scenario's grid: block is seen at the fleet's highest facility input: the running training jobs swing
    # through their predicted steps (offset from each other), the other racks hold their states' power. The
    # window's mean agrees with the fleet's cycle-mean peak within 5 % (the window holds steps, not checkpoints;
    # the grid model settles fans and loop to each phase); a 90 % power floor shrinks the swing at an energy cost.
    metrics = _metrics(job_mix)
    grid, peak_w = metrics["grid"], metrics["power"]["input_power_w_peak"]
    assert (job_mix / "grid.parquet").is_file()
    base, floor = grid["variants"]["none"], grid["variants"]["power_floor"]
    assert base["feed_power_w_mean"] == pytest.approx(peak_w, rel=0.05)
    assert floor["peak_to_trough_w"] < base["peak_to_trough_w"]
    assert floor["overhead_j"] > 0
