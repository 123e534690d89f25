"""Cost of ownership equations: capital cost by component, operating cost per year, TCO, cost per unit of work.

Pure functions of the design's `cost` section, the design's unit counts and one run's figures (`RunStats`).
A run's energies and losses are scaled to a year as if the scenario repeated all year:
`x_per_year = x_run · T_year / T_run`, with `T_year = 8,760 h`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from racksim.design.cost_schema import PRICED_CLASSES, Cost, Facility, LostWork, Maintenance

if TYPE_CHECKING:
    from racksim.design.schema import Design

HOURS_PER_YEAR = 8760.0
HALL_LOSS_STAGES = frozenset({"ups", "row_feeder"})
"""Loss stages of a hall's power chain (racksim.physics.hall_power): when a run's energy balance has them, its feed
energy already pays the UPS and distribution losses the facility's `electrical_overhead_fraction` stands for."""
SECONDS_PER_YEAR = HOURS_PER_YEAR * 3600.0
J_PER_KWH = 3.6e6
CABLES = "cables_and_optics"
"""Capex line of the cabling plan's bill of materials."""


@dataclass(frozen=True)
class RunStats:
    """What the cost model takes from one run's metrics.json."""

    duration_s: float
    input_energy_j: float
    """Energy at the facility feed, J."""
    heat_to_liquid_j: float
    heat_to_air_j: float
    facility_pump_energy_j: float
    """Pump energy the facility pays outside the feed (in-row CDU), J; 0 for an in-rack CDU."""
    goodput_fraction: float
    nominal_work_units: float
    """Work a throttle-free, fault-free run of the design does in `duration_s`."""
    cabling_cost_usd: float
    cabling_failure_rate_fit: float
    failures_by_class: Mapping[str, float] | None = None
    """Failures per class over the run from the reliability model, when metrics.json carries them."""
    hall_losses_modelled: bool = False
    """The run's energy balance has the hall's UPS or row-feeder stages (HALL_LOSS_STAGES): the feed energy is
    measured upstream of them, so the facility's electrical overhead is not added again."""
    hall_loss_energy_j: float = 0.0
    """Energy lost in those hall stages over the run, J (part of `input_energy_j`)."""

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any], pumps_in_row: bool) -> RunStats:
        """The figures of a metrics.json dict; `pumps_in_row`: the CDU pumps are facility load."""
        power, thermal, performance = metrics["power"], metrics["thermal"], metrics["performance"]
        cabling = metrics.get("cabling", {})
        failures = metrics.get("reliability", {}).get("failures_by_class")
        losses_j = power.get("loss_energy_j_by_stage", {})
        return cls(
            duration_s=float(metrics["duration_s"]),
            input_energy_j=float(power["input_energy_j"]),
            heat_to_liquid_j=float(thermal["heat_to_liquid_j"]),
            heat_to_air_j=float(thermal["heat_to_air_j"]),
            facility_pump_energy_j=float(thermal.get("pump_energy_j", 0.0)) if pumps_in_row else 0.0,
            goodput_fraction=float(performance["goodput_fraction"]),
            nominal_work_units=float(performance["nominal_work_units"]),
            cabling_cost_usd=float(cabling.get("cost_usd", 0.0)),
            cabling_failure_rate_fit=float(cabling.get("failure_rate_fit", 0.0)),
            failures_by_class=None if failures is None else {k: float(v) for k, v in failures.items()},
            hall_losses_modelled=bool(HALL_LOSS_STAGES & set(losses_j)),
            hall_loss_energy_j=sum(float(joules) for stage, joules in losses_j.items() if stage in HALL_LOSS_STAGES),
        )

    def per_year(self, run_quantity: float) -> float:
        """A quantity accumulated over the run, scaled to a year: x · T_year / T_run."""
        return run_quantity * SECONDS_PER_YEAR / self.duration_s


def unit_counts(design: Design) -> dict[str, int]:
    """Units per rack of every priced and every failing component class."""
    shelves = design.power.shelves
    trays = design.slot_count("compute")
    return {
        "gpu": trays * design.compute_tray.gpus.count,
        "compute_tray": trays,
        "switch_tray": design.slot_count("switch"),
        "power_shelf": shelves.count if shelves else 0,
        "psu": shelves.count * shelves.units_per_shelf if shelves else 0,
        "management_switch": design.slot_count("network"),
        **dict.fromkeys(("busbar", "cdu", "manifolds", "rack", "integration"), 1),
        "pump": design.cooling.cdu.pumps.count,
        "fan": design.cooling.fans.count,
    }


def capex_usd_by_component(cost: Cost, counts: Mapping[str, int], cabling_cost_usd: float,
                           gpu_price_scale: float = 1.0) -> dict[str, float]:
    """Capital cost per component line, USD: count × unit price; cables and optics from the cabling BOM.

    `gpu_price_scale` multiplies the GPU price (for the sensitivity analysis).
    """
    capex: dict[str, float] = {}
    for name in PRICED_CLASSES:
        price = getattr(cost.prices, name)
        if price is not None and counts.get(name, 0):
            capex[name] = counts[name] * price.price_usd * (gpu_price_scale if name == "gpu" else 1.0)
    capex[CABLES] = cabling_cost_usd
    racks = counts.get("rack", 1)
    for item in cost.prices.other_items:  # counted per rack, like every class
        capex[item.name] = item.count * item.price_usd * racks
    return capex


def failures_per_year(maintenance: Maintenance, counts: Mapping[str, int], stats: RunStats,
                      rate_scale: float = 1.0) -> dict[str, float]:
    """Expected failures per year by class: λ · n · 8,760 h, λ = 1/MTBF or FIT · 10⁻⁹ per unit-hour.

    Cables without a rate of their own take the cabling plan's summed FIT. When the run carries reliability
    failure counts, those replace the rates: n_run · T_year / T_run. `rate_scale` multiplies every rate.
    """
    simulated = stats.failures_by_class
    failures: dict[str, float] = {}
    for name, failure in maintenance.failures.items():
        if simulated is not None:
            per_year = stats.per_year(simulated.get(name, 0.0))
        else:
            rate = failure.rate_per_unit_h()
            fleet_rate_per_h = stats.cabling_failure_rate_fit * 1e-9 if rate is None else rate * counts.get(name, 0)
            per_year = fleet_rate_per_h * HOURS_PER_YEAR
        failures[name] = per_year * rate_scale
    return failures


def energy_usd_per_year(stats: RunStats, price_usd_per_kwh: float) -> float:
    """Feed energy cost: E_feed · T_year / T_run / 3.6 MJ/kWh · p, USD/yr."""
    return stats.per_year(stats.input_energy_j) / J_PER_KWH * price_usd_per_kwh


def facility_usd_per_year(facility: Facility, stats: RunStats, price_usd_per_kwh: float) -> float:
    """Facility energy cost on top of the feed, USD/yr.

    PUE form: the facility draws PUE · E_IT in all, E_IT the racks' own input (E_feed less the hall's modelled UPS
    and row-feeder losses E_hall, which E_feed already pays): max(0, (PUE − 1) · E_IT − E_hall); without hall
    stages that is (PUE − 1) · E_feed. Cooling form: k_liq · Q_liquid + k_air · Q_air + f_elec · E_feed + E_pumps
    (in-row CDU pumps), every energy scaled to a year and priced at p. The f_elec term (UPS and distribution
    losses) is left out when the run models the hall's UPS and row feeders (`stats.hall_losses_modelled`): their
    losses are already in E_feed, and counting the fraction on top would pay for them twice.
    """
    if facility.pue is not None:
        racks_j = stats.input_energy_j - stats.hall_loss_energy_j
        energy_j = max(0.0, (facility.pue - 1.0) * racks_j - stats.hall_loss_energy_j)
    else:
        energy_j = (float(facility.liquid_heat_rejection_w_per_w or 0.0) * stats.heat_to_liquid_j
                    + float(facility.air_heat_rejection_w_per_w or 0.0) * stats.heat_to_air_j
                    + electrical_overhead_fraction(facility, stats) * stats.input_energy_j
                    + stats.facility_pump_energy_j)
    return stats.per_year(energy_j) / J_PER_KWH * price_usd_per_kwh


def electrical_overhead_fraction(facility: Facility, stats: RunStats) -> float:
    """The facility's electrical overhead per watt at the feed: 0 where the run models the UPS and row feeders."""
    return 0.0 if stats.hall_losses_modelled else float(facility.electrical_overhead_fraction or 0.0)


def maintenance_usd_per_year(maintenance: Maintenance, failures: Mapping[str, float]) -> float:
    """Repairs: Σ_c N_c · (parts_c + labour_h_c · labour rate), USD/yr."""
    rate_usd_per_h = maintenance.labour_per_hour.price_usd
    return math.fsum(failures.get(name, 0.0) * (failure.parts.price_usd + failure.labour_h * rate_usd_per_h)
                     for name, failure in maintenance.failures.items())


def lost_gpu_hours_per_year(maintenance: Maintenance, n_gpus: int, stats: RunStats,
                            failures: Mapping[str, float]) -> float:
    """GPU-hours of work lost per year: (1 − goodput) · n_GPU · 8,760 h + Σ_c N_c · downtime_c · n_GPU.

    The first term is what the run itself lost (throttling, capping, trips, halts). The second adds the job
    stops of the expected failures; it is left out when the failures come from the reliability model, whose
    interruptions are already in the run's goodput.
    """
    in_run_h = max(0.0, 1.0 - stats.goodput_fraction) * n_gpus * HOURS_PER_YEAR
    if stats.failures_by_class is not None:
        return in_run_h
    return in_run_h + math.fsum(failures.get(name, 0.0) * failure.downtime_h * n_gpus
                                for name, failure in maintenance.failures.items())


def lost_work_usd_per_year(lost_work: LostWork, lost_gpu_hours: float) -> float:
    """Lost work priced as the GPU-hours needed to make it up elsewhere, USD/yr."""
    return lost_gpu_hours * lost_work.price_usd_per_gpu_hour


def tco_usd(capex_usd: float, opex_usd_per_year: float, period_years: float) -> float:
    """Total cost of ownership over the depreciation period (undiscounted): capex + years · opex, USD."""
    return capex_usd + period_years * opex_usd_per_year


def usd_per_work_unit(tco: float, work_units: float) -> float:
    """Cost per unit of work: TCO / work over the same period, USD/unit (inf without work)."""
    return tco / work_units if work_units > 0 else math.inf


@dataclass(frozen=True)
class CostResult:
    """Capex and opex by component, failures, and the work they buy over the period."""

    capex_usd_by_component: dict[str, float]
    opex_usd_per_year_by_component: dict[str, float]
    failures_per_year_by_class: dict[str, float]
    period_years: float
    work_units: float
    """Nominal work over the period: the rate a throttle-free, fault-free run achieves, times the period."""

    @property
    def capex_usd(self) -> float:
        """Capital cost, USD."""
        return math.fsum(self.capex_usd_by_component.values())

    @property
    def opex_usd_per_year(self) -> float:
        """Operating cost, USD/yr."""
        return math.fsum(self.opex_usd_per_year_by_component.values())

    @property
    def tco_usd(self) -> float:
        """TCO over the period, USD."""
        return tco_usd(self.capex_usd, self.opex_usd_per_year, self.period_years)

    @property
    def usd_per_work_unit(self) -> float:
        """TCO per unit of nominal work, USD/unit."""
        return usd_per_work_unit(self.tco_usd, self.work_units)


def evaluate(cost: Cost, counts: Mapping[str, int], stats: RunStats, *, energy_price_scale: float = 1.0,
             gpu_price_scale: float = 1.0, failure_rate_scale: float = 1.0) -> CostResult:
    """The whole cost model for one run; the scales move one input each (sensitivity analysis).

    Work over the period is the nominal rate (work a throttle-free, fault-free run does) times the period, so a
    loss counts once: as lost-work cost in the numerator, not again as missing work in the denominator.
    """
    price_usd_per_kwh = cost.energy.mean_price_usd_per_kwh() * energy_price_scale
    failures = failures_per_year(cost.maintenance, counts, stats, failure_rate_scale)
    lost_h = lost_gpu_hours_per_year(cost.maintenance, counts["gpu"], stats, failures)
    opex = {
        "energy": energy_usd_per_year(stats, price_usd_per_kwh),
        "facility": facility_usd_per_year(cost.facility, stats, price_usd_per_kwh),
        "maintenance": maintenance_usd_per_year(cost.maintenance, failures),
        "lost_work": lost_work_usd_per_year(cost.lost_work, lost_h),
    }
    period_years = cost.depreciation.period_years
    work_units = stats.per_year(stats.nominal_work_units) * period_years
    return CostResult(capex_usd_by_component(cost, counts, stats.cabling_cost_usd, gpu_price_scale), opex,
                      failures, period_years, work_units)
