"""Thermal parts of the report: rack elevation, cooling figure, temperature marks, events list, thermal KPIs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from racksim.report import figures as report_figures
from racksim.report import rundir, thermal_figures, write_report
from racksim.report.events import Event, compact, load_events
from racksim.run.components import component_path, write_components
from racksim.run.timeseries import TIMESERIES_FILE, read_timeseries, write_timeseries
from tests.conftest import Compared
from tests.test_report import PNG_MAGIC, cell, make_run, md_row, table_row

SCENARIO = "pump-failure"
SLOTS = [{"kind": "power_shelf", "u": 3, "count": 4, "height_u": None},
         {"kind": "compute", "u": 7, "count": 8, "height_u": None},
         {"kind": "switch", "u": 15, "count": 9, "height_u": None},
         {"kind": "compute", "u": 24, "count": 10, "height_u": None},
         {"kind": "other", "u": 35, "count": 1, "height_u": 4},
         {"kind": "network", "u": 40, "count": 2, "height_u": 1}]
TRAY_US = [*range(7, 15), *range(24, 34)]


def resolved_design(name: str, throttle_c: float = 87.0, shutdown_c: float = 92.0) -> dict[str, Any]:
    """The parts of design.resolved.yaml the thermal figures read."""
    return {"name": name, "description": f"{name} rack",
            "rack": {"height_u": 48, "slots": SLOTS},
            "compute_tray": {"height_u": 1, "gpus": {"thermal": {"throttle_temp_c": throttle_c,
                                                                 "shutdown_temp_c": shutdown_c}}},
            "switch_tray": {"height_u": 1}, "power": {"shelves": {"height_u": 1}}}


def thermal_run(root: Path, design: str, *, hot_c: float, events: list[dict[str, Any]] | None,
                components: bool = True, throttle_c: float = 87.0, thermal: dict[str, float] | None = None,
                work_lost: float = 0.0) -> Path:
    """A synthetic run with the new time-series columns, a rack layout and (optionally) events and components."""
    metrics_thermal = {"exhaust_air_temp_c_max": 41.0 + hot_c - 85.0, "gpu_shutdowns": 0,
                       "fan_energy_j": 0.4e6, "pump_energy_j": 0.6e6, **(thermal or {})}
    run_dir = make_run(root, design, SCENARIO, peak_kw=120.0, energy_kwh=10.0, gpu_temp_max_c=hot_c,
                       work_units=800.0)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["thermal"].update(metrics_thermal)
    metrics["performance"]["work_lost_units"] = work_lost
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    columns = read_timeseries(run_dir)
    time_s = columns["time_s"]
    pump_lost = (time_s >= 60.0) & (time_s < 180.0)
    columns |= {"coolant_supply_temp_c": 33.0 + 4.0 * pump_lost, "coolant_return_temp_c": 43.0 + 6.0 * pump_lost,
                "exhaust_temp_c": 40.0 + time_s / 300.0, "fan_power_w": np.full(time_s.size, 900.0),
                "pump_power_w": np.where(pump_lost, 750.0, 1500.0), "coolant_flow_fraction": 1.0 - 0.5 * pump_lost,
                "shutdown_gpu_fraction": np.zeros(time_s.size)}
    write_timeseries(run_dir / TIMESERIES_FILE, columns, {"design": design, "scenario": SCENARIO})
    (run_dir / "design.resolved.yaml").write_text(yaml.safe_dump(resolved_design(design, throttle_c)))
    if events is not None:
        (run_dir / "events.json").write_text(json.dumps(events))
    if components:
        temps = [hot_c - 0.5 * i for i in range(len(TRAY_US))]
        write_components(run_dir, {
            "chips": {"label": ["t0.gpu0"], "kind": ["gpu"], "temp_c_max": [hot_c], "throttled_s": [0.0]},
            "compute_trays": {"rack": [0] * len(TRAY_US), "u": TRAY_US, "die_temp_c_max": temps}}, {})
    return run_dir


def fault_events(throttles: int, shutdown: bool = True) -> list[dict[str, Any]]:
    """A pump fault at 60 s, `throttles` throttle/release cycles, maybe a shutdown, and a repair at 180 s."""
    events = [{"time_s": 60.0, "kind": "fault", "detail": "pump_failure x1"}]
    for index in range(throttles):
        events += [{"time_s": 90.0 + 2 * index, "kind": "throttle", "detail": "t3.gpu1"},
                   {"time_s": 91.0 + 2 * index, "kind": "release", "detail": "t3.gpu1"}]
    if shutdown:
        events += [{"time_s": 150.0, "kind": "shutdown", "detail": "t3.gpu1"},
                   {"time_s": 150.0, "kind": "job_halted", "detail": "a GPU shut down; 3 steps lost"}]
    events.append({"time_s": 180.0, "kind": "repair", "detail": "repair pump_failure x1"})
    return events


def make_thermal_results(root: Path) -> Path:
    """alpha: one throttle cycle; beta: 15 cycles, a shutdown, a lower throttle temperature."""
    thermal_run(root, "alpha", hot_c=86.0, events=fault_events(1, shutdown=False),
                thermal={"time_to_throttle_after_fault_s": 30.0})
    thermal_run(root, "beta", hot_c=93.0, events=fault_events(15), throttle_c=85.0, work_lost=3.0,
                thermal={"time_to_throttle_after_fault_s": 30.0, "time_to_shutdown_after_fault_s": 90.0,
                         "gpu_shutdowns": 1})
    return root


@pytest.fixture(scope="module")
def thermal_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(results dir, HTML, Markdown) of the two-design thermal results."""
    root = make_thermal_results(tmp_path_factory.mktemp("thermal") / "results")
    html_path, md_path = write_report(root)
    return root, html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each figure rendered while the test runs shows (titles, legend texts, lines), before it is cleared."""
    figures: list[dict[str, Any]] = []
    original = report_figures.png

    def keep(figure: Figure) -> bytes:
        copy = {"axes": [(a.get_title(), [t.get_text() for legend in _legends(a) for t in legend.get_texts()],
                          len(a.lines), [tuple(line.get_ydata()) for line in a.lines])
                         for a in figure.axes],
                "suptitle": figure.get_suptitle(),
                "figure_legends": [t.get_text() for legend in figure.legends for t in legend.get_texts()]}
        figures.append(copy)
        return original(figure)

    monkeypatch.setattr(report_figures, "png", keep)
    monkeypatch.setattr(thermal_figures, "png", keep)
    return figures


def _legends(axes: Any) -> list[Any]:
    found = [artist for artist in axes.artists if artist.__class__.__name__ == "Legend"]
    return found + ([axes.legend_] if axes.legend_ is not None else [])


@pytest.mark.slow
def test_thermal_figures_are_written_and_embedded(thermal_report: tuple[Path, str, str]) -> None:
    results, html, markdown = thermal_report
    for key in ("rack-elevation", "cooling", "gpu-temperature"):
        png = results / "figures" / f"{SCENARIO}-{key}.png"
        assert png.read_bytes().startswith(PNG_MAGIC)
        assert f"](figures/{SCENARIO}-{key}.png)" in markdown
    assert 'alt="Rack elevation: compute trays by their hottest die over the run, scenario pump-failure"' in html
    assert 'alt="Coolant supply and return, exhaust air and cooling power against time' in html
    assert html.count('<img src="data:image/png;base64,') == 7


@pytest.mark.slow
def test_elevation_has_a_panel_per_design_and_a_shared_colour_scale(tmp_path: Path,
                                                                    captured: list[dict[str, Any]]) -> None:
    write_report(make_thermal_results(tmp_path / "results"))
    elevation = next(f for f in captured if f["suptitle"].startswith("Rack elevation"))
    titles = [title for title, *_ in elevation["axes"]]
    assert titles[:2] == ["alpha", "beta"]
    assert len(titles) == 3  # two racks and one colorbar shared by both
    assert {"compute tray (colour scale)", "switch", "power shelf", "network", "other", "empty"} <= set(
        elevation["figure_legends"])


def test_elevation_units_follow_the_slots() -> None:
    layout = rundir.rack_layout(resolved_design("x"))
    assert layout is not None
    assert layout.height_u == 48
    assert [u.u for u in layout.units if u.kind == "compute"] == TRAY_US
    assert [(u.u, u.height_u) for u in layout.units if u.kind == "other"] == [(35, 4)]
    assert len([u for u in layout.units if u.kind == "power_shelf"]) == 4
    two_u = resolved_design("y")
    two_u["compute_tray"]["height_u"] = 2
    two_u["rack"]["slots"] = [{"kind": "compute", "u": 5, "count": 3, "height_u": None}]
    layout = rundir.rack_layout(two_u)
    assert layout is not None
    assert [(u.u, u.height_u) for u in layout.units] == [(5, 2), (7, 2), (9, 2)]
    assert rundir.rack_layout({"rack": {"height_u": 48}}) is None
    assert rundir.gpu_thresholds(resolved_design("z", 80.0, 90.0)) == (80.0, 90.0)


@pytest.mark.slow
def test_temperature_figure_has_thresholds_and_event_marks(tmp_path: Path, captured: list[dict[str, Any]]) -> None:
    write_report(make_thermal_results(tmp_path / "results"))
    _, legend, line_count, ydata = next(a for f in captured for a in f["axes"] if a[0] == "GPU die temperature")
    # The designs differ in throttle temperature, so one line each; the shutdown temperature is shared.
    assert {"GPU throttle 87 °C (alpha)", "GPU throttle 85 °C (beta)", "GPU shutdown 92 °C",
            "fault (F) / repair (R)", "throttle onset", "shutdown", "alpha", "beta"} <= set(legend)
    assert {(87.0, 87.0), (85.0, 85.0), (92.0, 92.0)} <= set(ydata)
    # 4 curves, 3 thresholds, 2 faults + 2 repairs, throttle markers of both designs, beta's shutdown marker
    assert line_count == 4 + 3 + 4 + 2 + 1


@pytest.mark.slow
def test_cooling_figure_has_three_axes_with_units(tmp_path: Path, captured: list[dict[str, Any]]) -> None:
    write_report(make_thermal_results(tmp_path / "results"))
    cooling = next(f for f in captured if f["axes"] and f["axes"][0][0].startswith("Cooling"))
    assert len(cooling["axes"]) == 3
    legends = [set(legend) for _, legend, _, _ in cooling["axes"]]
    assert {"alpha", "beta", "supply", "return", "fault (F) / repair (R)"} <= legends[0]
    assert {"fans", "pumps"} <= legends[2]


@pytest.mark.slow
def test_events_are_listed_and_repeated_kinds_collapsed(thermal_report: tuple[Path, str, str]) -> None:
    _, html, markdown = thermal_report
    body = markdown.split(f"## Scenario: {SCENARIO}\n", 1)[1]
    events = body.split("### Events\n", 1)[1]
    alpha, beta = events.split("**beta**", 1)
    assert "**alpha** (4 events):" in alpha
    assert "| 60.0 | fault | pump_failure x1 |" in alpha
    assert "| 90.0 | throttle | t3.gpu1 |" in alpha
    assert "| 180.0 | repair | repair pump_failure x1 |" in alpha
    assert "(34 events):" in beta
    assert "| 90.0–118.0 | throttle ×15 | 15 events; first: t3.gpu1 |" in beta
    assert "| 91.0–119.0 | release ×15 | 15 events; first: t3.gpu1 |" in beta
    assert "| 150.0 | shutdown | t3.gpu1 |" in beta
    assert "| 150.0 | job_halted | a GPU shut down; 3 steps lost |" in beta
    assert '<div data-design="beta">' in html
    assert "<td>throttle ×15</td>" in html


@pytest.mark.slow
def test_thermal_kpis_have_units_and_directions(thermal_report: tuple[Path, str, str]) -> None:
    _, html, markdown = thermal_report
    assert md_row(markdown, SCENARIO, "Max exhaust air temperature") == [
        "Max exhaust air temperature", "°C", "**42.00**", "49.00<br>+7.0 K"]
    assert md_row(markdown, SCENARIO, "GPU shutdowns")[1:] == ["count", "**0**", "1"]
    assert md_row(markdown, SCENARIO, "Fan energy")[1:3] == ["kWh", "0.111"]
    assert md_row(markdown, SCENARIO, "Pump energy")[1:3] == ["kWh", "0.167"]
    assert md_row(markdown, SCENARIO, "Work lost to a halt (since the last checkpoint)")[1:] == [
        "work units", "**0.00**", "3.00"]
    # Present for beta only: "—" for alpha, and no best mark (alpha never shut down, which is better).
    shutdown = table_row(html, SCENARIO, "thermal.time_to_shutdown_after_fault_s")
    assert cell(shutdown, "alpha") == ("value", "—")
    assert cell(shutdown, "beta") == ("value", "90.00")
    assert "<td class=\"unit\">s</td>" in shutdown
    throttle = md_row(markdown, SCENARIO, "Time from a fault to the first throttle (—: none)")
    assert throttle[1:] == ["s", "30.00", "30.00<br>±0 %"]


def test_higher_time_to_throttle_is_better() -> None:
    from racksim.kpis import kpi_rows

    rows = kpi_rows({"a": {"thermal.time_to_throttle_after_fault_s": 20.0},
                     "b": {"thermal.time_to_throttle_after_fault_s": 50.0}}, "a")
    assert [(c.best, c.trend) for c in rows[0].cells] == [(False, ""), (True, "better")]


@pytest.mark.slow
def test_missing_and_broken_files_do_not_crash(tmp_path: Path) -> None:
    root = tmp_path / "results"
    thermal_run(root, "full", hot_c=88.0, events=fault_events(2))
    no_extras = thermal_run(root, "bare", hot_c=80.0, events=None, components=False)
    (no_extras / "design.resolved.yaml").write_text(yaml.safe_dump({"name": "bare"}))  # no rack, no thresholds
    broken = thermal_run(root, "broken", hot_c=82.0, events=None, components=False)
    (broken / "events.json").write_text("[{not json")
    component_path(broken, "compute_trays").parent.mkdir()
    component_path(broken, "compute_trays").write_bytes(b"PAR1 not a table")
    layout_only = thermal_run(root, "layout-only", hot_c=84.0, events=None, components=False)
    (layout_only / "events.json").write_text(json.dumps([{"kind": "fault"}, "x", {"time_s": 5, "kind": "fault"}]))
    make_run(root, "old", SCENARIO, peak_kw=100.0, energy_kwh=9.0, gpu_temp_max_c=70.0, work_units=10.0,
             with_series=False)
    md_path = write_report(root)[1]
    markdown = md_path.read_text(encoding="utf-8")
    events = markdown.split("### Events\n", 1)[1]
    assert "**full** (8 events):" in events
    assert "**layout-only** (1 event):" in events
    assert "**bare**" not in events
    assert "**broken**" not in events
    assert (root / "figures" / f"{SCENARIO}-rack-elevation.png").read_bytes().startswith(PNG_MAGIC)
    assert load_events(broken) is None
    assert load_events(root / "nowhere") is None
    assert rundir.tray_temperatures(broken) is None
    assert "—" in md_row(markdown, SCENARIO, "Max exhaust air temperature")


@pytest.mark.slow
def test_only_old_columns_and_no_layout_gives_no_thermal_figures(tmp_path: Path) -> None:
    root = tmp_path / "results"
    make_run(root, "a", "s", peak_kw=100.0, energy_kwh=5.0, gpu_temp_max_c=70.0, work_units=10.0)
    html = write_report(root)[0].read_text(encoding="utf-8")
    assert "Rack elevation" not in html
    assert "<h3>Events</h3>" not in html
    assert not (root / "figures" / "s-rack-elevation.png").exists()


def test_compact_collapses_kinds_above_ten() -> None:
    events = [Event(1.0, "fault", "pump")]
    events += [Event(10.0 + i, "throttle", f"gpu{i}") for i in range(11)]
    events += [Event(30.0 + i, "release", f"gpu{i}") for i in range(10)]
    lines = compact(events)
    assert [(line.time, line.label) for line in lines[:3]] == [("1.0", "fault"), ("10.0–20.0", "throttle ×11"),
                                                               ("30.0", "release")]
    assert len(lines) == 1 + 1 + 10
    assert lines[1].detail == "11 events; first: gpu0"


@pytest.mark.slow
def test_thermal_report_is_byte_reproducible(tmp_path: Path) -> None:
    root = make_thermal_results(tmp_path / "results")

    def written() -> dict[Path, bytes]:
        reports = write_report(root)
        return {p: p.read_bytes() for p in (*reports, *sorted((root / "figures").glob("*.png")))}

    first = written()
    assert written() == first


SUITE_SCENARIOS = ("pump-failure", "hot-facility-water", "fan-failure", "cdu-failure")


@pytest.mark.slow
def test_compare_end_to_end_has_an_elevation_per_scenario(quick_compare: Compared) -> None:
    out, done = quick_compare.out, quick_compare.done  # compare GB200 GB300 --suite quick --duration 120s
    assert done.returncode == 0, done.stderr[-3000:]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    for scenario in SUITE_SCENARIOS:
        assert f"## Scenario: {scenario}\n" in markdown
        anchor = re.sub(r"[^A-Za-z0-9_.-]+", "-", scenario)
        assert (out / "figures" / f"{anchor}-rack-elevation.png").read_bytes().startswith(PNG_MAGIC)
        assert f"](figures/{anchor}-rack-elevation.png)" in markdown
        assert f'alt="Rack elevation: compute trays by their hottest die over the run, scenario {scenario}"' in html
        assert (out / "figures" / f"{anchor}-cooling.png").is_file()
    pump = markdown.split("## Scenario: pump-failure\n", 1)[1].split("\n## ", 1)[0]
    assert "### Events" in pump
    assert "| 60.0 | fault |" in pump
