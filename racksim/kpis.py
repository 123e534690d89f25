"""KPI tables and verdicts: which metrics to show, in which unit, which way is better, who wins.

Pure functions of the flattened metrics of the runs of one scenario (design -> {dotted name: SI value}).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

LOWER, NEUTRAL, HIGHER = -1, 0, 1
GROUP_ORDER = ("power", "thermal", "performance", "network", "cabling", "reliability", "cost")
STAGES = "power.loss_energy_j_by_stage"
J_PER_KWH = 3.6e6

KNOWN_KPIS: dict[str, tuple[str, str, int]] = {
    "power.input_energy_j": ("Feed energy", "kWh", LOWER),
    "power.it_energy_j": ("IT energy", "kWh", LOWER),
    "power.loss_energy_j": ("Conversion losses", "kWh", LOWER),
    "power.storage_net_energy_j": ("Net energy from storage", "kWh", NEUTRAL),
    "power.input_power_w_mean": ("Mean feed power", "kW", LOWER),
    "power.input_power_w_peak": ("Peak feed power", "kW", LOWER),
    "power.input_power_w_p99": ("P99 feed power", "kW", LOWER),
    "power.chain_efficiency": ("Power-chain efficiency", "%", HIGHER),
    "power.max_ramp_w_per_s": ("Max feed ramp", "kW/s", LOWER),
    "power.max_ramp_w_per_s_unsmoothed": ("Max feed ramp without smoothing storage", "kW/s", NEUTRAL),
    "power.breaker_trips": ("Feed breaker trips", "count", LOWER),
    "power.time_on_battery_s": ("Time carried by BBUs", "s", NEUTRAL),
    "power.capped_fraction": ("GPU time power-capped", "%", LOWER),
    "power.trips": ("Power trips", "count", LOWER),
    "power.feed_limit_exceeded_s": ("Time above the feed limit", "s", LOWER),
    "thermal.gpu_temp_c_max": ("Max GPU temperature", "°C", LOWER),
    "thermal.gpu_temp_c_p99": ("P99 GPU temperature", "°C", LOWER),
    "thermal.gpu_throttle_fraction": ("GPU time throttled", "%", LOWER),
    "thermal.coolant_return_temp_c_max": ("Max coolant return temperature", "°C", LOWER),
    "thermal.exhaust_air_temp_c_max": ("Max exhaust air temperature", "°C", LOWER),
    "thermal.gpu_shutdowns": ("GPU shutdowns", "count", LOWER),
    "thermal.time_to_throttle_after_fault_s": ("Time from a fault to the first throttle (—: none)", "s", HIGHER),
    "thermal.time_to_shutdown_after_fault_s": ("Time from a fault to the first shutdown (—: none)", "s", HIGHER),
    "thermal.heat_to_liquid_j": ("Heat to liquid", "kWh", NEUTRAL),
    "thermal.heat_to_air_j": ("Heat to air", "kWh", LOWER),
    "thermal.cooling_energy_j": ("Cooling energy (pumps, fans)", "kWh", LOWER),
    "thermal.fan_energy_j": ("Fan energy", "kWh", LOWER),
    "thermal.pump_energy_j": ("Pump energy", "kWh", LOWER),
    "thermal.heat_stored_in_chips_j": ("Heat stored in chips at the end", "kWh", NEUTRAL),
    "performance.work_units": ("Work done", "work units", HIGHER),
    "performance.work_lost_units": ("Work lost to a halt (since the last checkpoint)", "work units", LOWER),
    "performance.nominal_work_units": ("Work at nominal (no faults, no throttling)", "work units", NEUTRAL),
    "performance.goodput_fraction": ("Goodput", "%", HIGHER),
    "performance.work_per_kwh": ("Work per kWh", "work units/kWh", HIGHER),
    "performance.stall_time_s": ("Job time stretched by throttling, capping, failed links", "s", LOWER),
    "performance.downtime_s": ("Job time down after interruptions", "s", LOWER),
    "network.allreduce_busbw_gbyte_s": ("All-reduce bus bandwidth", "GB/s", HIGHER),
    "network.collective_time_s_total": ("Time in collectives", "s", LOWER),
    "network.scale_up_utilization": ("Mean scale-up link utilization", "%", NEUTRAL),
    "network.scale_out_utilization": ("Mean scale-out NIC utilization", "%", NEUTRAL),
    "cabling.cable_count": ("Cables", "count", LOWER),
    "cabling.cable_length_m": ("Cable length", "m", LOWER),
    "cabling.active_cable_count": ("Active cables", "count", LOWER),
    "cabling.optical_link_count": ("Optical links", "count", LOWER),
    "cabling.power_w": ("Power of active cables and optics in the rack", "kW", LOWER),
    "cabling.remote_power_w": ("Optics power at the far ends (leaf switches)", "kW", LOWER),
    "cabling.cost_usd": ("Cable cost", "USD", LOWER),
    "cabling.mass_kg": ("Cable mass", "kg", LOWER),
    "cabling.failure_rate_fit": ("Cable failure rate", "FIT", LOWER),
    "cabling.link_count": ("Signal links", "count", NEUTRAL),
    "cabling.longest_cable_m": ("Longest cable", "m", NEUTRAL),
    "reliability.failures": ("Failures", "count", LOWER),
    "cost.usd_per_work_unit": ("Cost per unit of work (TCO / nominal work)", "USD/work unit", LOWER),
    "cost.work_per_usd": ("Work per dollar", "work units/USD", HIGHER),
    "cost.capex_usd": ("Capital cost", "USD", LOWER),
    "cost.opex_usd_per_year": ("Operating cost per year", "USD", LOWER),
    "cost.tco_usd": ("TCO over the depreciation period", "USD", LOWER),
    "cost.period_years": ("Depreciation period", "years", NEUTRAL),
    "cost.work_units_over_period": ("Nominal work over the period", "work units", HIGHER),
    "cost.energy_price_usd_per_kwh": ("Energy price", "USD/kWh", NEUTRAL),
    "reliability.interruptions": ("Interruptions", "count", LOWER),
    "reliability.unavailable_fraction": ("Unavailability", "%", LOWER),
    "reliability.job_mtbf_h": ("Job interruption MTBF (from the failure rates)", "h", HIGHER),
    "reliability.checkpoint_interval_s": ("Checkpoint interval", "s", NEUTRAL),
    "reliability.young_interval_s": ("Young's checkpoint interval", "s", NEUTRAL),
    "reliability.daly_interval_s": ("Daly's checkpoint interval", "s", NEUTRAL),
    "reliability.goodput_optimal_interval_s": ("Goodput-optimal checkpoint interval", "s", NEUTRAL),
    "reliability.expected_goodput_at_interval": ("Expected goodput at this interval", "%", HIGHER),
}
ABSENT_MEANS_NEVER = frozenset({"thermal.time_to_throttle_after_fault_s", "thermal.time_to_shutdown_after_fault_s"})
"""Metrics a run has only if the thing happened: a design without one did best, so no finite value is marked."""
_SUFFIX_UNITS = (("_w_per_s", "kW/s"), ("_gbyte_s", "GB/s"), ("_gbps", "Gb/s"), ("temp_c", "°C"),
                 ("_j", "kWh"), ("_w", "kW"), ("_usd", "USD"), ("_kg", "kg"), ("_m", "m"), ("_s", "s"),
                 ("fraction", "%"), ("count", "count"))
_SCALE = {"kWh": 1 / 3.6e6, "kW": 1e-3, "kW/s": 1e-3, "%": 100.0}
_DELTA_MODE = {"%": "pp", "°C": "K"}
"""Fractions differ in percentage points and temperatures in kelvin; everything else in relative %."""
VERDICTS = (("performance.work_per_kwh", "does the most work per kWh"),
            ("cost.usd_per_work_unit", "has the lowest cost per unit of work"),
            ("power.input_power_w_peak", "has the lowest peak feed power"),
            ("power.chain_efficiency", "has the highest power-chain efficiency"),
            ("thermal.gpu_temp_c_max", "has the most thermal headroom (lowest max GPU temperature)"))


NOT_TABLED = frozenset({"power.max_ramp_time_s"})
"""Metrics that say when, not how much: the figures use them, the KPI tables do not show them."""


def kpi_spec(path: str) -> tuple[str, str, int]:
    """Label, display unit and better direction of a metric; unknown names get a unit from their suffix."""
    if path in KNOWN_KPIS:
        return KNOWN_KPIS[path]
    if path.startswith(STAGES + "."):
        return f"Loss: {path.removeprefix(STAGES + '.')}", "kWh", LOWER
    key = re.sub(r"_by_[a-z0-9_]+$", "", path.split(".")[1])
    unit = next((u for suffix, u in _SUFFIX_UNITS if key.endswith(suffix)), "")
    return path, unit, LOWER if unit == "USD" else NEUTRAL


def _order(path: str) -> tuple[int, float, str]:
    group = path.split(".")[0]
    group_rank = GROUP_ORDER.index(group) if group in GROUP_ORDER else len(GROUP_ORDER)
    known = list(KNOWN_KPIS)
    if path.startswith(STAGES + "."):
        return group_rank, known.index("power.loss_energy_j") + 0.5, path
    return group_rank, float(known.index(path)) if path in known else math.inf, path


def display(value_si: float, unit: str) -> float:
    """A metric in SI units converted to its display unit."""
    return value_si * _SCALE.get(unit, 1.0)


def fmt(value: float, unit: str) -> str:
    """A display value as text: thousands separators, about four significant figures."""
    if not math.isfinite(value):
        return "—"
    value += 0.0  # no "-0.00"
    magnitude = abs(value)
    if unit == "count" or magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.1f}"
    return f"{value:.2f}" if magnitude >= 1 or magnitude == 0 else f"{value:#.3g}"


def delta(value: float, base: float, unit: str) -> float | None:
    """Difference from the baseline: relative % or, for fractions and temperatures, absolute (pp, K)."""
    if not (math.isfinite(value) and math.isfinite(base)):
        return None
    if unit in _DELTA_MODE:
        return value - base
    return None if base == 0 else (value - base) / abs(base) * 100.0


def delta_text(change: float, unit: str) -> str:
    """A delta as signed text with its unit."""
    suffix = {"pp": "pp", "K": "K"}.get(_DELTA_MODE.get(unit, ""), "%")
    if change == 0:
        return f"±0 {suffix}"
    return f"{change + 0.0:+.2f} {suffix}" if abs(change) < 1 else f"{change:+.1f} {suffix}"


@dataclass(frozen=True)
class Cell:
    """One design's value in a KPI row."""

    design: str
    text: str
    best: bool
    delta: str
    trend: str
    """'better', 'worse' or '' (no direction, no change, or the baseline itself)."""


@dataclass(frozen=True)
class Row:
    """One KPI across the designs of a scenario."""

    metric: str
    label: str
    unit: str
    cells: list[Cell]

    @property
    def group(self) -> str:
        """The metrics.json group the KPI belongs to."""
        return self.metric.split(".")[0]


def best_designs(values: dict[str, float], better: int) -> set[str]:
    """Designs holding the best value of a row; none if the row has no direction or all are equal."""
    finite = {d: v for d, v in values.items() if math.isfinite(v)}
    if better == NEUTRAL or len(set(finite.values())) < 2:
        return set()
    best = max(finite.values()) if better == HIGHER else min(finite.values())
    return {d for d, v in finite.items() if v == best}


def kpi_rows(runs: Mapping[str, Mapping[str, float]], baseline: str | None) -> list[Row]:
    """The KPI table of one scenario: a row per metric any design has, a cell per design in `runs` order."""
    rows = []
    for path in sorted({p for values in runs.values() for p in values} - NOT_TABLED, key=_order):
        label, unit, better = kpi_spec(path)
        shown = {design: display(values.get(path, math.nan), unit) for design, values in runs.items()}
        best = best_designs(shown, better)
        if path in ABSENT_MEANS_NEVER and not all(math.isfinite(v) for v in shown.values()):
            best = set()
        cells = []
        for design, value in shown.items():
            change = None if baseline in (None, design) else delta(value, shown[baseline], unit)
            trend = "" if change is None or change == 0 or better == NEUTRAL else (
                "better" if (change > 0) == (better == HIGHER) else "worse")
            cells.append(Cell(design, fmt(value, unit), design in best,
                              "" if change is None else delta_text(change, unit), trend))
        rows.append(Row(path, label, unit, cells))
    return rows


def verdict(runs: Mapping[str, Mapping[str, float]], rows: list[Row]) -> list[str]:
    """Sentences naming the winner of the headline KPIs, with the values, and a tally of best marks."""
    sentences = []
    for path, phrase in VERDICTS:
        label, unit, better = kpi_spec(path)
        have = sorted(((display(values[path], unit), design) for design, values in runs.items()
                       if math.isfinite(values.get(path, math.nan))), key=lambda vd: -better * vd[0])
        if not have:
            continue
        text = [f"{fmt(v, unit)} {unit}" for v, _ in have]
        tied = [d for v, d in have if v == have[0][0]]
        if len(have) == 1:
            sentences.append(f"{label} of {have[0][1]}: {text[0]}.")
        elif len(tied) > 1:
            sentences.append(f"{', '.join(tied)} tie on {label.lower()}: {text[0]}.")
        else:
            sentences.append(f"{have[0][1]} {phrase}: {text[0]} (next: {have[1][1]}, {text[1]}).")
    if len(runs) > 1:
        wins = {d: sum(c.best for row in rows for c in row.cells if c.design == d) for d in runs}
        tally = ", ".join(f"{d} {n}" for d, n in sorted(wins.items(), key=lambda dn: -dn[1]))
        marked = sum(1 for row in rows if any(c.best for c in row.cells))
        sentences.append(f"Best values over the {marked} KPIs that separate the designs: {tally}.")
    return sentences
