"""Cost model against hand calculations: capex, opex by component, TCO, cost per unit of work, sensitivities."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest

from racksim.cabling import cabling_metrics, plan_cabling
from racksim.cost import RunStats, cost_metrics, evaluate, unit_counts
from racksim.cost.model import facility_usd_per_year
from racksim.cost.sensitivity import analytic_swings, coolant_swing
from racksim.design import Design
from racksim.design.cost_schema import Energy, Facility
from racksim.run.cost import cost_inputs
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "data" / "cost" / "small-cost.yaml"


def run_metrics(**changes: float) -> dict[str, Any]:
    """A one-hour run at a steady 10 kW with 95 % goodput and 60 work units at nominal."""
    metrics: dict[str, Any] = {
        "duration_s": 3600.0,
        "power": {"input_energy_j": 10e3 * 3600},
        "thermal": {"heat_to_liquid_j": 8e3 * 3600, "heat_to_air_j": 2e3 * 3600, "pump_energy_j": 0.5e3 * 3600},
        "performance": {"goodput_fraction": 0.95, "nominal_work_units": 60.0},
        "cabling": {"cost_usd": 1234.0, "failure_rate_fit": 0.0},
    }
    for dotted, value in changes.items():
        group, key = dotted.split("__")
        metrics[group][key] = value
    return metrics


@pytest.fixture(scope="module")
def small() -> Design:
    return load_design(SMALL).design


def test_unit_counts_of_the_small_design(small: Design) -> None:
    counts = unit_counts(small)
    assert (counts["gpu"], counts["compute_tray"], counts["switch_tray"]) == (8, 2, 1)
    assert (counts["power_shelf"], counts["psu"], counts["management_switch"]) == (8, 48, 1)


def test_hand_computed_tco_of_the_small_design(small: Design) -> None:
    counts = unit_counts(small)
    cables_usd = cabling_metrics(plan_cabling(small))["cost_usd"]
    stats = RunStats.from_metrics(run_metrics(cabling__cost_usd=cables_usd), pumps_in_row=True)
    result = evaluate(small.cost, counts, stats)

    # capex: 8 × 10,000 + 2 × 5,000 + 8,000 + 8 × 500 + 48 × 250 + 2,000 + 1,000 + 4,000 + 1,000 + 2,000 + 3,000
    assert result.capex_usd == pytest.approx(127_000 + cables_usd, rel=1e-12)
    assert result.capex_usd_by_component["psu"] == 12_000
    # energy: 10 kW × 8,760 h = 87,600 kWh at 0.10 USD/kWh; facility: (1.25 − 1) × that
    opex = result.opex_usd_per_year_by_component
    assert opex["energy"] == pytest.approx(8_760.0, rel=1e-12)
    assert opex["facility"] == pytest.approx(2_190.0, rel=1e-12)
    # failures: 8 GPUs / 87,600 h MTBF × 8,760 h = 0.8 per year, each 1,000 USD parts + 2 h × 50 USD
    assert result.failures_per_year_by_class == pytest.approx({"gpu": 0.8})
    assert opex["maintenance"] == pytest.approx(880.0, rel=1e-12)
    # lost work: (1 − 0.95) × 8 GPUs × 8,760 h + 0.8 × 0.5 h × 8 GPUs = 3,507.2 GPU-h at 2 USD
    assert opex["lost_work"] == pytest.approx(7_014.4, rel=1e-12)
    assert result.opex_usd_per_year == pytest.approx(18_844.4, rel=1e-12)
    # TCO over 4 years; work: 60 units/h × 8,760 h × 4 years
    assert result.tco_usd == pytest.approx(127_000 + cables_usd + 4 * 18_844.4, rel=1e-12)
    assert result.work_units == pytest.approx(2_102_400.0, rel=1e-12)
    assert result.usd_per_work_unit == pytest.approx(result.tco_usd / 2_102_400.0, rel=1e-12)


def test_cost_per_unit_of_work_falls_when_work_rises_at_equal_cost(small: Design) -> None:
    counts = unit_counts(small)
    base = evaluate(small.cost, counts, RunStats.from_metrics(run_metrics(), pumps_in_row=True))
    more = evaluate(small.cost, counts, RunStats.from_metrics(run_metrics(performance__nominal_work_units=90.0),
                                                              pumps_in_row=True))
    assert more.tco_usd == base.tco_usd
    assert more.usd_per_work_unit < base.usd_per_work_unit
    assert more.usd_per_work_unit == pytest.approx(base.usd_per_work_unit * 60 / 90, rel=1e-12)
    group = cost_metrics(small.cost, counts, RunStats.from_metrics(run_metrics(), pumps_in_row=True))
    assert group["work_per_usd"] == pytest.approx(1 / group["usd_per_work_unit"], rel=1e-12)


def test_sensitivities_have_the_right_sign(small: Design) -> None:
    counts = unit_counts(small)
    stats = RunStats.from_metrics(run_metrics(), pumps_in_row=True)
    base = evaluate(small.cost, counts, stats).usd_per_work_unit
    swings = analytic_swings(small.cost, counts, stats)
    assert set(swings) == {"energy_price", "gpu_price", "failure_rates"}
    for name, swing in swings.items():
        assert swing.low_usd_per_work_unit < base < swing.high_usd_per_work_unit, name
    # the GPU line is 80,000 USD of capex: ±20 % moves the TCO by ±16,000 USD
    gpu = swings["gpu_price"]
    assert (gpu.high_usd_per_work_unit - base) * 2_102_400 == pytest.approx(16_000, rel=1e-9)
    # a warmer coolant that throttles (less goodput) costs more per unit; a colder one that does not, no more
    warmer = dataclasses.replace(stats, goodput_fraction=0.8)
    colder = dataclasses.replace(stats, goodput_fraction=0.95)
    coolant = coolant_swing(small.cost, counts, colder, warmer)
    assert coolant.high_usd_per_work_unit > base
    assert coolant.low_usd_per_work_unit == pytest.approx(base, rel=1e-12)
    assert (coolant.low_change, coolant.high_change) == ("−5 K", "+5 K")


def test_reliability_counts_replace_the_rates(small: Design) -> None:
    counts = unit_counts(small)
    metrics = run_metrics() | {"reliability": {"failures_by_class": {"gpu": 2, "psu": 1}}}
    stats = RunStats.from_metrics(metrics, pumps_in_row=True)
    result = evaluate(small.cost, counts, stats)
    # 2 failures in one hour → 17,520 per year; classes without a cost entry (psu here) are not priced
    assert result.failures_per_year_by_class == pytest.approx({"gpu": 2 * 8760.0})
    # the job stops of simulated failures are already in the run's goodput: only the in-run loss is priced
    assert result.opex_usd_per_year_by_component["lost_work"] == pytest.approx(0.05 * 8 * 8760 * 2.0, rel=1e-12)
    assert cost_metrics(small.cost, counts, stats)["failures_source"] == "reliability model"


def test_facility_energy_from_the_cooling() -> None:
    facility = Facility(liquid_heat_rejection_w_per_w=0.1, air_heat_rejection_w_per_w=0.5,
                        electrical_overhead_fraction=0.02, assumption=True)
    in_row = RunStats.from_metrics(run_metrics(), pumps_in_row=True)
    in_rack = RunStats.from_metrics(run_metrics(), pumps_in_row=False)
    # 0.1 × 8 kW + 0.5 × 2 kW + 0.02 × 10 kW (+ 0.5 kW of in-row pumps) over 8,760 h at 1 USD/kWh
    assert facility_usd_per_year(facility, in_rack, 1.0) == pytest.approx(2.0 * 8760, rel=1e-12)
    assert facility_usd_per_year(facility, in_row, 1.0) == pytest.approx(2.5 * 8760, rel=1e-12)


def test_a_hall_with_ups_and_feeders_modelled_pays_their_losses_once(small: Design) -> None:
    # The same run, but its energy balance has the hall's UPS and row-feeder stages: the 10 kW at the feed already
    # include their losses, so the 2 % electrical overhead (0.2 kW) is not added: 0.1 × 8 kW + 0.5 × 2 kW = 1.8 kW.
    facility = Facility(liquid_heat_rejection_w_per_w=0.1, air_heat_rejection_w_per_w=0.5,
                        electrical_overhead_fraction=0.02, assumption=True)
    metrics = run_metrics()
    metrics["power"]["loss_energy_j_by_stage"] = {"psu": 1e6, "ups": 2e6, "row_feeder": 1e5}
    hall = RunStats.from_metrics(metrics, pumps_in_row=False)
    assert hall.hall_losses_modelled
    assert facility_usd_per_year(facility, hall, 1.0) == pytest.approx(1.8 * 8760, rel=1e-12)
    metrics["power"]["loss_energy_j_by_stage"] = {"psu": 1e6}  # a rack run: the overhead stays
    assert facility_usd_per_year(facility, RunStats.from_metrics(metrics, pumps_in_row=False), 1.0) == pytest.approx(
        2.0 * 8760, rel=1e-12)
    assert small.cost is not None
    cost = small.cost.model_copy(update={"facility": facility})
    rows = {row["input"]: row for row in cost_metrics(cost, unit_counts(small), hall)["inputs"]}
    assert "not applied" in rows["facility.electrical_overhead_fraction"]["note"]
    # A group of a mixed hall is priced from its cost inputs: its share of the hall's stages carries over.
    group = cost_inputs(3600.0, 10e3 * 3600, 8e3 * 3600, 2e3 * 3600, 0.0, 57.0, 60.0, {}, None,
                        loss_energy_j_by_stage={"ups": 2e6})
    assert facility_usd_per_year(facility, RunStats.from_metrics(group, pumps_in_row=False), 1.0) == pytest.approx(
        1.8 * 8760, rel=1e-12)


def test_pue_counts_the_halls_modelled_losses_once() -> None:
    # 10 kW at the feed over an hour, of which 0.6 kW are the hall's UPS and feeders: the racks draw 9.4 kW, the
    # facility PUE · 9.4 kW = 12.22 kW in all, so on top of the feed (PUE − 1) · 9.4 − 0.6 = 2.22 kW; without the
    # hall stages (a rack run) (PUE − 1) · 10 kW = 3 kW.
    facility = Facility(pue=1.3, assumption=True)
    metrics = run_metrics()
    assert facility_usd_per_year(facility, RunStats.from_metrics(metrics, pumps_in_row=False), 1.0) == pytest.approx(
        3.0 * 8760, rel=1e-12)
    metrics["power"]["loss_energy_j_by_stage"] = {"psu": 1e6, "ups": 0.5e3 * 3600, "row_feeder": 0.1e3 * 3600}
    hall = RunStats.from_metrics(metrics, pumps_in_row=False)
    assert hall.hall_loss_energy_j == pytest.approx(0.6e3 * 3600)
    assert facility_usd_per_year(facility, hall, 1.0) == pytest.approx(2.22 * 8760, rel=1e-12)


def test_time_of_day_tariff_is_averaged_over_the_day() -> None:
    tariff = Energy(time_of_day=[{"from_hour": 7, "price_usd_per_kwh": 0.20},  # type: ignore[list-item]
                                 {"from_hour": 23, "price_usd_per_kwh": 0.08}], source="test figure")
    # 16 h at 0.20 and 8 h (23:00 → 07:00) at 0.08
    assert tariff.mean_price_usd_per_kwh() == pytest.approx((16 * 0.20 + 8 * 0.08) / 24, rel=1e-12)
    assert Energy(price_usd_per_kwh=0.1, assumption=True).mean_price_usd_per_kwh() == 0.1


def test_a_run_without_work_costs_infinitely_much_per_unit(small: Design) -> None:
    stats = RunStats.from_metrics(run_metrics(performance__nominal_work_units=0.0), pumps_in_row=True)
    assert math.isinf(evaluate(small.cost, unit_counts(small), stats).usd_per_work_unit)
