"""A bad cost section is one line naming the file, the field path and the rule (as tests/test_design_errors.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from racksim.errors import InputError
from racksim.run.loading import load_design
from tests.test_design_errors import assert_one_line_error, validate_cli

ROOT = Path(__file__).resolve().parent.parent
GB200 = "designs/gb200-nvl72.yaml"
VR = "designs/vr-800vdc.yaml"

# (design, overrides, field path, fragment of the rule)
CASES = [
    pytest.param(GB200, ["cost.prices.gpu.source=null"], "cost.prices.gpu.source",
                 "give a source or assumption: true", id="price-without-provenance"),
    pytest.param(GB200, ["cost.prices.gpu.assumption=true"], "cost.prices.gpu.source",
                 "a figure with a source is not an assumption", id="price-with-both"),
    pytest.param(GB200, ["cost.prices.gpu.price_usd=-1"], "cost.prices.gpu.price_usd",
                 "greater than or equal to 0", id="negative-price"),
    pytest.param(GB200, ["cost.prices.gpu.price=1"], "cost.prices.gpu.price", "unknown field", id="unknown-key"),
    pytest.param(GB200, ["cost.prices.psu=null"], "cost.prices.psu", "required: the design has power shelves",
                 id="shelves-without-psu-price"),
    pytest.param(VR, ["cost.prices.management_switch=null"], "cost.prices.management_switch",
                 "required: the design has network slots", id="network-slot-without-price"),
    pytest.param(GB200, ["cost.facility.pue=1.2"], "cost.facility.pue", "not both", id="pue-and-cooling"),
    pytest.param(GB200, ["cost.energy.time_of_day=[{from_hour: 8, price_usd_per_kwh: 0.1}]"],
                 "cost.energy.price_usd_per_kwh", "one of the two", id="flat-and-tariff"),
    pytest.param(GB200, ["cost.energy.price_usd_per_kwh=null",
                         "cost.energy.time_of_day=[{from_hour: 8, price_usd_per_kwh: 0.1},"
                         " {from_hour: 8, price_usd_per_kwh: 0.2}]"],
                 "cost.energy.time_of_day", "strictly increasing", id="tariff-hours"),
    pytest.param(GB200, ["cost.maintenance.failures.gpu.failure_rate_fit=null"],
                 "cost.maintenance.failures.gpu.mtbf_h", "give mtbf_h or failure_rate_fit", id="rate-missing"),
    pytest.param(GB200, ["cost.maintenance.failures.gpu.mtbf_h=1000"], "cost.maintenance.failures.gpu.mtbf_h",
                 "not both", id="two-rates"),
    pytest.param(GB200, ["cost.depreciation.period_years=0"], "cost.depreciation.period_years", "greater than 0",
                 id="zero-period"),
    pytest.param(GB200, ["cost.prices.other_items=[{name: gpu, count: 1, price_usd: 5, assumption: true}]"],
                 "cost.prices.other_items", "names gpu are taken", id="item-name-taken"),
]


@pytest.mark.parametrize(("design", "overrides", "field", "fragment"), CASES)
def test_bad_cost_section_in_process(design: str, overrides: list[str], field: str, fragment: str) -> None:
    with pytest.raises(InputError) as caught:
        load_design(ROOT / design, overrides)
    error = caught.value
    assert error.source == str(ROOT / design)
    assert error.field_path == field
    assert fragment in error.rule
    assert "\n" not in str(error)


def test_bad_cost_section_cli_one_line() -> None:
    done = validate_cli(GB200, "--set", "cost.prices.gpu.source=null")
    assert_one_line_error(done, GB200, "cost.prices.gpu.source", "give a source or assumption: true")


def test_bad_cost_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "no-source.yaml"
    bad.write_text(f"extends: {ROOT / GB200}\nname: no-source\ncost:\n  lost_work: {{source: null}}\n")
    done = validate_cli(str(bad))
    assert_one_line_error(done, str(bad), "cost.lost_work.source", "give a source or assumption: true")
