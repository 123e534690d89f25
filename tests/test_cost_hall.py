"""A hall's cost group prices every rack of the hall: its work and energy are all its racks' together."""

from __future__ import annotations

from typing import Any

import pytest

from racksim.run.cost import cost_group
from racksim.run.loading import load_design

from .conftest import ROOT


def run_metrics(racks: int) -> dict[str, Any]:
    """Metrics of an hour's run of `racks` racks, each drawing 120 kW and doing 1,000 steps (figures by hand)."""
    energy_j = racks * 120e3 * 3600.0
    return {
        "duration_s": 3600.0,
        "power": {"input_energy_j": energy_j},
        "thermal": {"heat_to_liquid_j": 0.85 * energy_j, "heat_to_air_j": 0.15 * energy_j},
        "performance": {"goodput_fraction": 1.0, "nominal_work_units": 1000.0},
        "cabling": {"cost_usd": 100_000.0, "failure_rate_fit": 5_000.0},
    }


def test_a_hall_of_ten_racks_costs_ten_racks() -> None:
    design = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
    one = cost_group(design, run_metrics(1))
    ten = cost_group(design, run_metrics(10), racks=10)
    assert one is not None
    assert ten is not None
    assert ten["capex_usd"] == pytest.approx(10 * one["capex_usd"])
    for component, usd in one["capex_usd_by_component"].items():
        assert ten["capex_usd_by_component"][component] == pytest.approx(10 * usd), component
    opex_one, opex_ten = one["opex_usd_per_year_by_component"], ten["opex_usd_per_year_by_component"]
    for component in ("energy", "facility", "maintenance"):  # ten racks' energy, heat and repairs
        assert opex_ten[component] == pytest.approx(10 * opex_one[component]), component
    # a failure stops the job spanning the whole hall: ten times the failures, each stopping ten times the GPUs
    assert opex_ten["lost_work"] == pytest.approx(100 * opex_one["lost_work"])
    assert ten["usd_per_work_unit"] > 10 * one["usd_per_work_unit"]
