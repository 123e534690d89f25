"""The report's hall section for job mixes: the readers by hand, the figures of one small hall run, the hall table in
report.md and report.html, and the hall suites."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import Scenario, load_suite
from racksim.report import render
from racksim.report.fleet_figures import gantt_rectangles, rack_runs, restart_segments, restarts
from racksim.report.hall_jobs import HALL_HEADINGS, HallJobs, Mark, event_racks, hall_table, read_hall_jobs
from racksim.report.job_figures import PUBLISHED_MTTF_H, mttf_by_size
from racksim.report.registry import FIGURE_MODULES
from racksim.report.registry import scenario_figures as draw_figures
from racksim.run.pipeline import RunRequest, run_one
from tests.cli import ROOT

HALL = ROOT / "designs" / "halls" / "gb200-hall-10.yaml"
PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def hall_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hall-quick's job mix on the 10-rack hall for 4 simulated hours (a link failure on rack 2 at 1 h, a feed loss
    tripping a random rack at 3 h), its grid window cut to 5 s."""
    scenario = load_suite("hall-quick").scenarios[0]
    assert scenario.grid is not None
    short = Scenario.model_validate({**scenario.model_dump(exclude_unset=True), "duration_s": 4 * 3600.0,
                                     "grid": {**scenario.grid.model_dump(exclude_unset=True), "window_s": 5.0,
                                              "step_s": 0.02}})
    return run_one(RunRequest(HALL, short), tmp_path_factory.mktemp("hall") / "out")


def jobs_by_hand() -> HallJobs:
    """Two jobs of 1 rack (72 GPUs) held 10 h each, one interrupted twice; one of 4 racks (288 GPUs) held 5 h,
    interrupted once and restarted on other racks."""
    jobs = {"name": ["a", "b", "c"], "kind": ["training"] * 3, "gpus": [72, 72, 288], "interruptions": [2, 0, 1],
            "run_s": [36000.0, 36000.0, 20000.0], "ettr": [0.9, 1.0, 0.8], "checkpoint_interval_s": [600.0] * 3}
    return HallJobs(jobs, np.array([0, 1, 2, 2]), np.array([0.0, 0.0, 0.0, 9000.0]),
                    np.array([36000.0, 36000.0, 7200.0, 19800.0]), [[0], [1], [2, 3, 4, 5], [2, 3, 6, 7]],
                    faults=[Mark(7200.0, (4, 5))], interruptions=[Mark(7200.0, (4, 5))], repairs=[], racks=8)


def test_event_details_name_their_racks() -> None:
    assert event_racks("gpu on rack 7") == (7,)
    assert event_racks("llama70b (racks [2, 3])") == (2, 3)
    assert event_racks("feed_loss on racks 0, 1, 2, ...") == (0, 1, 2)
    assert event_racks("cleared: facility water") == ()


def test_gantt_merges_consecutive_racks_and_marks_restarts() -> None:
    assert rack_runs([6, 2, 3, 7, 4]) == [(2, 3), (6, 2)]
    hall = jobs_by_hand()
    vertices, owners = gantt_rectangles(hall, 3600.0)
    # a, b: one rack each; c's first stretch: racks 2-5 in one rectangle; its second: 2-3 and 6-7
    assert owners.tolist() == [0, 1, 2, 2, 2]
    assert vertices[2].tolist() == [[0.0, 1.6], [2.0, 1.6], [2.0, 5.4], [0.0, 5.4]]
    assert restarts(hall) == [Mark(9000.0, (2, 3, 6, 7))]
    assert restart_segments(restarts(hall), 3600.0) == [((2.5, 1.6), (2.5, 3.4)), ((2.5, 5.6), (2.5, 7.4))]


def test_mttf_by_size_by_hand() -> None:
    # 72 GPUs: 20 h held, 2 interruptions: 10 h. 288 GPUs: 2 h + 3 h held, 1 interruption: 5 h.
    # Series model: 3 interruptions over 72 × 20 + 288 × 5 = 2,880 GPU-hours.
    pooled = mttf_by_size(jobs_by_hand())
    assert pooled.gpus.tolist() == [72.0, 288.0]
    assert pooled.mttf_h.tolist() == pytest.approx([10.0, 5.0])
    assert pooled.rate_per_gpu_h == pytest.approx(3 / 2880)


def test_published_mttf_points_fall_with_size() -> None:
    # Kokolis et al.'s points (measured, then projected) fall with size; Llama 3's 16k-GPU MTTF is of the same order
    # as their 16k projection.
    kokolis = [p for p in PUBLISHED_MTTF_H if p.label.startswith("Kokolis")]
    assert [p.x for p in kokolis] == sorted(p.x for p in kokolis)
    assert all(a.value > b.value for a, b in itertools.pairwise(kokolis))
    llama = next(p for p in PUBLISHED_MTTF_H if p.label.startswith("Llama 3"))
    assert llama.value == pytest.approx(54 * 24 / 419)
    assert 1.0 < llama.value / 1.8 < 2.0


def test_hall_table_by_hand() -> None:
    metrics = {"h": {"hall": {"jobs": 5, "jobs_started": 4, "jobs_completed": 3, "utilization": 0.5,
                              "fragmentation": 0.02, "work_per_kwh": 2.5e7, "ettr_mean": 0.9},
                     "performance": {"work_unit": "tokens"},
                     "reliability": {"failures": 6, "interruptions": 2, "repairs": 4, "repair_time_s_mean": 9000.0,
                                     "repair_wait_s_mean": 1800.0}},
               "rack": {"power": {}}}
    assert hall_table(metrics) == [["h", "3 / 4 / 5", "50.0 %", "2.0 %", "25.00 M tokens", "0.900", "6", "2",
                                    "2.5 h (0.5 h)"]]
    assert len(HALL_HEADINGS) == 9


@pytest.mark.slow
def test_a_small_runs_jobs_and_events(hall_run: Path) -> None:
    hall = read_hall_jobs(hall_run)
    assert hall is not None
    assert hall.racks == 10
    assert [m.time_s for m in hall.interruptions] == [3600.0, 10800.0]
    assert hall.interruptions[0].racks == (2,)
    assert hall.jobs["gpus"][0] == 288  # llama70b-pretrain: 4 racks of 72
    assert restarts(hall)[0] == Mark(3600.0, (0, 1, 3, 4))  # rack 2 failed: the hot spare (rack 0) swapped in


@pytest.mark.slow
def test_the_report_has_the_hall_section(hall_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The figures of one small job-mix run through the report. Only the hall section's figures are drawn here (the
    # others, and the cabling, network and cost sections, have their own tests): the hall table and every figure
    # of the section, the grid's included, in both reports.
    modules = [m for m in FIGURE_MODULES if m.split(":")[0].endswith(("fleet_figures", "job_figures", "grid_figures"))]
    monkeypatch.setattr(render, "draw_scenario_figures", lambda runs, colours: draw_figures(runs, colours, modules))
    monkeypatch.setattr(render, "_network_figure", lambda *_: None)
    monkeypatch.setattr(render, "_cabling_sections", lambda *_: [])
    monkeypatch.setattr(render.cost_figures, "cost_report", lambda *_: None)
    results = hall_run.parent.parent
    html, md = render.write_report(results, jobs=1)
    report = md.read_text(encoding="utf-8")
    assert "### Hall: jobs, utilization, failures" in report
    assert "| gb200-hall-10 |" in report.split("### Hall")[1]
    for key in ("hall-gantt", "hall-utilization", "hall-mttf", "hall-ettr", "grid-feed", "grid-spectrum",
                "grid-trade"):
        assert f"figures/job-mix-{key}.png" in report
        assert (results / "figures" / f"job-mix-{key}.png").read_bytes().startswith(PNG)
    assert "<h3>Hall: jobs, utilization, failures</h3>" in html.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["hall-quick", "hall-standard"])
def test_hall_suites_load(name: str) -> None:
    suite = load_suite(name)
    mixes = [s for s in suite.scenarios if s.jobs is not None or s.job_trace is not None]
    assert mixes
    assert all(s.stochastic_failures for s in mixes)
    grids = [s.grid for s in suite.scenarios if s.grid is not None]
    assert {m.kind for m in grids[0].mitigations} == {"power_floor", "rack_storage", "facility_battery"}


def test_hall_standard_has_faults_by_selector_and_a_crew() -> None:
    suite = load_suite("hall-standard")
    week = next(s for s in suite.scenarios if s.jobs is not None)
    selectors = {name for fault in week.faults for name in ("racks", "rows", "random_racks", "fraction")
                 if getattr(fault, name) is not None}
    assert {"rows", "random_racks", "fraction"} <= selectors
    assert week.repair is not None
    assert week.repair.technicians == 3
    assert [s.name for s in suite.scenarios] == ["job-mix-week", "grid-training"]
