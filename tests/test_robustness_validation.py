"""Physically impossible designs fail with the rule they break; risky ones load with warnings the report shows."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from racksim.cli import main
from racksim.errors import InputError
from racksim.report import write_report
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"
BUNDLED = sorted([*(ROOT / "designs").glob("*.yaml"), *(ROOT / "designs" / "reference").glob("*.yaml"),
                  *(ROOT / "tests" / "data" / "good_designs").glob("*.yaml"),
                  *(ROOT / "tests" / "data" / "cost").glob("*.yaml")])


@pytest.mark.parametrize(("override", "field", "rule"), [
    pytest.param("power.feed.limit_w=100000", "power.feed.limit_w", "exceeds the feed limit 100.0 kW",
                 id="nameplate-above-feed-limit"),
    pytest.param("cooling.cdu.pumps.flow_lpm=0", "cooling.cdu.pumps.flow_lpm", "greater than 0", id="zero-flow"),
    pytest.param("cooling.cdu.pumps.flow_lpm=2", "cooling.cdu.pumps.flow_lpm",
                 "above its boiling point 102 °C: too little flow", id="coolant-boils"),
    pytest.param("compute_tray.coolant_flow_lpm=0.001", "compute_tray.coolant_flow_lpm",
                 "above its boiling point 102 °C", id="trays-starved-of-flow"),
    pytest.param("cabling.scale_out.beyond_rack_m=800", "cabling.scale_out.media", "reach no listed medium",
                 id="cable-beyond-every-reach"),
    pytest.param("rack.height_u=40", "rack.slots.5", "above the rack's 40 U", id="more-trays-than-units"),
    pytest.param("compute_tray.gpus.count=100000000", "compute_tray.gpus.count", "less than or equal to 64",
                 id="absurd-count"),
    pytest.param("reliability.hot_spare_trays=18", "reliability.hot_spare_trays", "at least one of the rack's 18",
                 id="all-trays-spare"),
    pytest.param("cabling.power.cables_per_unit=1000000", "cabling.power.cables_per_unit", "at most 16",
                 id="absurd-cords"),
])
def test_impossible_design_names_field_and_rule(override: str, field: str, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(GB200, [override])
    assert caught.value.source == str(GB200)
    assert caught.value.field_path == field
    assert rule in caught.value.rule


def test_bundled_designs_stay_valid_and_gb300_is_only_risky() -> None:
    warnings = {path.name: [w.field_path for w in load_design(path).warnings] for path in BUNDLED}
    assert warnings["gb200-nvl72.yaml"] == []
    assert warnings["vr-800vdc.yaml"] == []
    # 139.9 kW of busbar load at nameplate against 132 kW of BBU discharge: a risk, not an error
    assert "power.bbu.max_discharge_w" in warnings["gb300-nvl72.yaml"]
    assert "compute_tray.gpus.thermal.throttle_temp_c" in warnings["gb300-warm-water.yaml"]


def test_validate_lists_the_warnings() -> None:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(["validate", str(GB200), str(GB300)]) == 0
    lines = stdout.getvalue().splitlines()
    assert lines[0].startswith(f"ok: {GB200} ")
    assert lines[1].startswith(f"ok: {GB300} ")
    assert lines[2].startswith("  warning: power.bbu.max_discharge_w: the 139.9 kW busbar load at nameplate exceeds")
    assert stderr.getvalue() == ""


@pytest.mark.slow
def test_report_shows_the_warnings(tmp_path: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["run", str(GB200), str(GB300), "--suite", "quick", "--scenario", "training",
                     "--duration", "5s", "--out", str(tmp_path), "--jobs", "1"]) == 0
    html, markdown = write_report(tmp_path)
    text = markdown.read_text(encoding="utf-8")
    block = text[text.index("### gb300-nvl72"):]
    assert "Warnings (3), risks the design carries at nameplate:" in block
    assert "- power.bbu.max\\_discharge\\_w: the 139.9 kW busbar load" in block or \
           "- power.bbu.max_discharge_w: the 139.9 kW busbar load" in block
    assert "Warnings (" not in text[text.index("### gb200-nvl72"):text.index("### gb300-nvl72")]
    assert '<div class="warnings"><p><strong>Warnings (3)</strong>' in html.read_text(encoding="utf-8")
