"""The KPI specification (name, label, display unit, better direction, format) and the tables and verdicts built on it.

`KPIS` is the one list of the metrics the report knows; the scorecard, the scenario tables, summary.json, the cost
table, the Pareto figure of sweeps and the suites' weights all read it (through `kpi_spec`, which also gives any
other metrics.json name a unit from its suffix). The rest are pure functions of the flattened metrics of the
runs of one scenario (design -> {dotted name: SI value}).
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

DIRECTION_NAMES = {HIGHER: "higher", LOWER: "lower"}
"""How summary.json, suites (`better:`) and `--pareto` (`:higher`) name a better direction."""
DIRECTIONS = {name: better for better, name in DIRECTION_NAMES.items()}
_SUFFIX_UNITS = (("_w_per_s", "kW/s"), ("_gbyte_s", "GB/s"), ("_gbps", "Gb/s"), ("temp_c", "°C"),
                 ("_j", "kWh"), ("_w", "kW"), ("_usd", "USD"), ("_kg", "kg"), ("_m", "m"), ("_s", "s"),
                 ("fraction", "%"), ("count", "count"))
_SCALE = {"kWh": 1 / J_PER_KWH, "kW": 1e-3, "kW/s": 1e-3, "%": 100.0}
_DELTA_MODE = {"%": "pp", "°C": "K"}
"""Fractions differ in percentage points and temperatures in kelvin; everything else in relative %."""
DELTA_NOTE = "relative % (percentage points, pp, for fractions; kelvin, K, for temperatures)"
"""How the reports say what a delta against the baseline is (the rule of _DELTA_MODE)."""


@dataclass(frozen=True)
class Kpi:
    """One KPI as the report shows it: what it is called, in which unit, which way is better, how it reads."""

    name: str
    """Dotted metrics.json name, SI unit in it (e.g. power.input_power_w_peak)."""
    label: str
    unit: str
    """Display unit ('kW', '%', 'count', ...): the SI value is scaled to it (`display`) and formatted for it (`fmt`)."""
    better: int
    """HIGHER, LOWER or NEUTRAL (no direction: never marked best, never scored)."""
    best_phrase: str = ""
    """How a scenario's verdict says a design holds the best value ('does the most work per kWh'); see HEADLINES."""
    heading: str = ""
    """Short column heading, where a table shows the KPI as a column (the cost summary)."""
    absent_is_best: bool = False
    """A run has the metric only if the thing happened: a design without it did best, so no finite value is marked."""
    tabled: bool = True
    """False for metrics that say when, not how much: the figures use them, the KPI tables do not show them."""

    def display(self, value_si: float) -> float:
        """The SI value in the display unit."""
        return display(value_si, self.unit)

    def text(self, value_si: float) -> str:
        """The SI value as the report prints it (display unit, thousands separators, about four figures)."""
        return fmt(self.display(value_si), self.unit)

    @property
    def better_name(self) -> str | None:
        """'higher', 'lower' or None."""
        return DIRECTION_NAMES.get(self.better)


KPIS: tuple[Kpi, ...] = (
    Kpi("power.input_energy_j", "Feed energy", "kWh", LOWER),
    Kpi("power.it_energy_j", "IT energy", "kWh", LOWER),
    Kpi("power.loss_energy_j", "Conversion losses", "kWh", LOWER),
    Kpi("power.storage_net_energy_j", "Net energy from storage", "kWh", NEUTRAL),
    Kpi("power.input_power_w_mean", "Mean feed power", "kW", LOWER),
    Kpi("power.input_power_w_peak", "Peak feed power", "kW", LOWER,
        best_phrase="has the lowest peak feed power"),
    Kpi("power.input_power_w_p99", "P99 feed power", "kW", LOWER),
    Kpi("power.chain_efficiency", "Power-chain efficiency", "%", HIGHER,
        best_phrase="has the highest power-chain efficiency"),
    Kpi("power.max_ramp_w_per_s", "Max feed ramp", "kW/s", LOWER),
    Kpi("power.max_ramp_w_per_s_unsmoothed", "Max feed ramp without smoothing storage", "kW/s", NEUTRAL),
    Kpi("power.max_ramp_time_s", "Time of the steepest feed ramp", "s", NEUTRAL, tabled=False),
    Kpi("power.breaker_trips", "Feed breaker trips", "count", LOWER),
    Kpi("power.time_on_battery_s", "Time carried by BBUs", "s", NEUTRAL),
    Kpi("power.capped_fraction", "GPU time power-capped", "%", LOWER),
    Kpi("power.trips", "Power trips", "count", LOWER),
    Kpi("power.feed_limit_exceeded_s", "Time above the feed limit", "s", LOWER),
    Kpi("thermal.gpu_temp_c_max", "Max GPU temperature", "°C", LOWER,
        best_phrase="has the most thermal headroom (lowest max GPU temperature)"),
    Kpi("thermal.gpu_temp_c_p99", "P99 GPU temperature", "°C", LOWER),
    Kpi("thermal.gpu_throttle_fraction", "GPU time throttled", "%", LOWER),
    Kpi("thermal.coolant_return_temp_c_max", "Max coolant return temperature", "°C", LOWER),
    Kpi("thermal.exhaust_air_temp_c_max", "Max exhaust air temperature", "°C", LOWER),
    Kpi("thermal.gpu_shutdowns", "GPU shutdowns", "count", LOWER),
    Kpi("thermal.time_to_throttle_after_fault_s", "Time from a fault to the first throttle (—: none)", "s", HIGHER,
        absent_is_best=True),
    Kpi("thermal.time_to_shutdown_after_fault_s", "Time from a fault to the first shutdown (—: none)", "s", HIGHER,
        absent_is_best=True),
    Kpi("thermal.heat_to_liquid_j", "Heat to liquid", "kWh", NEUTRAL),
    Kpi("thermal.heat_to_air_j", "Heat to air", "kWh", LOWER),
    Kpi("thermal.cooling_energy_j", "Cooling energy (pumps, fans)", "kWh", LOWER),
    Kpi("thermal.fan_energy_j", "Fan energy", "kWh", LOWER),
    Kpi("thermal.pump_energy_j", "Pump energy", "kWh", LOWER),
    Kpi("thermal.heat_stored_in_chips_j", "Heat stored in chips at the end", "kWh", NEUTRAL),
    Kpi("performance.work_units", "Work done", "work units", HIGHER),
    Kpi("performance.work_lost_units", "Work lost to a halt (since the last checkpoint)", "work units", LOWER),
    Kpi("performance.nominal_work_units", "Work at nominal (no faults, no throttling)", "work units", NEUTRAL),
    Kpi("performance.goodput_fraction", "Goodput", "%", HIGHER),
    Kpi("performance.work_per_kwh", "Work per kWh", "work units/kWh", HIGHER,
        best_phrase="does the most work per kWh"),
    Kpi("performance.stall_time_s", "Job time stretched by throttling, capping, failed links", "s", LOWER),
    Kpi("performance.downtime_s", "Job time down after interruptions", "s", LOWER),
    Kpi("performance.tokens", "Tokens trained or generated", "tokens", HIGHER),
    Kpi("performance.tokens_per_work_unit", "Tokens per unit of work", "tokens", NEUTRAL, tabled=False),
    Kpi("performance.tokens_per_kwh", "Tokens per kWh", "tokens/kWh", HIGHER,
        best_phrase="does the most tokens per kWh"),
    Kpi("performance.step_time_s", "Predicted training step time", "s", LOWER),
    Kpi("performance.mfu", "Model FLOPs utilization (predicted)", "%", HIGHER),
    Kpi("performance.hfu", "Hardware FLOPs utilization (predicted)", "%", HIGHER),
    Kpi("performance.tokens_per_s_per_gpu", "Training tokens/s per GPU (predicted)", "tokens/s", HIGHER),
    Kpi("performance.memory_gb_per_gpu_peak", "Training memory per GPU (predicted peak)", "GB", NEUTRAL),
    Kpi("performance.memory_gb_per_gpu_by_part.weights_gb", "Training memory per GPU: weights", "GB", NEUTRAL,
        tabled=False),
    Kpi("performance.memory_gb_per_gpu_by_part.gradients_gb", "Training memory per GPU: gradients", "GB", NEUTRAL,
        tabled=False),
    Kpi("performance.memory_gb_per_gpu_by_part.optimizer_gb", "Training memory per GPU: optimizer state", "GB", NEUTRAL,
        tabled=False),
    Kpi("performance.memory_gb_per_gpu_by_part.activations_gb", "Training memory per GPU: activations", "GB", NEUTRAL,
        tabled=False),
    Kpi("performance.memory_gb_per_gpu_by_part.buffers_gb", "Training memory per GPU: buffers", "GB", NEUTRAL,
        tabled=False),
    Kpi("performance.ttft_s_p50", "Time to first token, median", "s", LOWER),
    Kpi("performance.ttft_s_p99", "Time to first token, p99", "s", LOWER),
    Kpi("performance.tpot_s_p50", "Time per output token, median", "s", LOWER),
    Kpi("performance.tpot_s_p99", "Time per output token, p99", "s", LOWER),
    Kpi("performance.replicas", "Serving replicas", "count", NEUTRAL),
    Kpi("performance.tokens_per_s_per_gpu_at_slo", "Serving tokens/s per GPU at the operating point", "tokens/s",
        HIGHER),
    Kpi("performance.capacity_tokens_per_s_per_gpu", "Serving capacity per GPU at the SLO", "tokens/s", HIGHER),
    Kpi("network.allreduce_busbw_gbyte_s", "All-reduce bus bandwidth", "GB/s", HIGHER),
    Kpi("network.collective_time_s_total", "Time in collectives", "s", LOWER),
    Kpi("network.scale_up_utilization", "Mean scale-up link utilization", "%", NEUTRAL),
    Kpi("network.scale_out_utilization", "Mean scale-out NIC utilization", "%", NEUTRAL),
    Kpi("cabling.cable_count", "Cables", "count", LOWER),
    Kpi("cabling.cable_length_m", "Cable length", "m", LOWER),
    Kpi("cabling.active_cable_count", "Active cables", "count", LOWER),
    Kpi("cabling.optical_link_count", "Optical links", "count", LOWER),
    Kpi("cabling.power_w", "Power of active cables and optics in the rack", "kW", LOWER),
    Kpi("cabling.remote_power_w", "Optics power at the far ends (leaf switches)", "kW", LOWER),
    Kpi("cabling.cost_usd", "Cable cost", "USD", LOWER),
    Kpi("cabling.mass_kg", "Cable mass", "kg", LOWER),
    Kpi("cabling.failure_rate_fit", "Cable failure rate", "FIT", LOWER),
    Kpi("cabling.link_count", "Signal links", "count", NEUTRAL),
    Kpi("cabling.longest_cable_m", "Longest cable", "m", NEUTRAL),
    Kpi("reliability.failures", "Failures", "count", LOWER),
    Kpi("cost.usd_per_work_unit", "Cost per unit of work (TCO / nominal work)", "USD/work unit", LOWER,
        heading="USD per work unit", best_phrase="has the lowest cost per unit of work"),
    Kpi("cost.usd_per_mtoken", "Cost per million tokens (TCO / nominal tokens)", "USD/Mtoken", LOWER,
        heading="USD per M tokens"),
    Kpi("cost.work_per_usd", "Work per dollar", "work units/USD", HIGHER, heading="work units per USD"),
    Kpi("cost.capex_usd", "Capital cost", "USD", LOWER, heading="capex (USD)"),
    Kpi("cost.opex_usd_per_year", "Operating cost per year", "USD", LOWER, heading="opex (USD/yr)"),
    Kpi("cost.tco_usd", "TCO over the depreciation period", "USD", LOWER, heading="TCO (USD)"),
    Kpi("cost.period_years", "Depreciation period", "years", NEUTRAL, heading="years"),
    Kpi("cost.work_units_over_period", "Nominal work over the period", "work units", HIGHER),
    Kpi("cost.energy_price_usd_per_kwh", "Energy price", "USD/kWh", NEUTRAL),
    Kpi("reliability.interruptions", "Interruptions", "count", LOWER),
    Kpi("reliability.unavailable_fraction", "Unavailability", "%", LOWER),
    Kpi("reliability.job_mtbf_h", "Job interruption MTBF (from the failure rates)", "h", HIGHER),
    Kpi("reliability.checkpoint_interval_s", "Checkpoint interval", "s", NEUTRAL),
    Kpi("reliability.young_interval_s", "Young's checkpoint interval", "s", NEUTRAL),
    Kpi("reliability.daly_interval_s", "Daly's checkpoint interval", "s", NEUTRAL),
    Kpi("reliability.goodput_optimal_interval_s", "Goodput-optimal checkpoint interval", "s", NEUTRAL),
    Kpi("reliability.expected_goodput_at_interval", "Expected goodput at this interval", "%", HIGHER),
)
"""Every KPI the report knows, in table order within each group."""
KNOWN_KPIS = {kpi.name: kpi for kpi in KPIS}
HEADLINES = ("performance.work_per_kwh", "cost.usd_per_work_unit", "power.input_power_w_peak",
             "power.chain_efficiency", "thermal.gpu_temp_c_max")
"""The KPIs each scenario's verdict names the winner of, in this order (each has a `best_phrase`)."""


def kpi_spec(path: str) -> Kpi:
    """The KPI of a metrics.json name: from KPIS, a loss stage, or else labelled by its name, unit by its suffix."""
    if path in KNOWN_KPIS:
        return KNOWN_KPIS[path]
    if path.startswith(STAGES + "."):
        return Kpi(path, f"Loss: {path.removeprefix(STAGES + '.')}", "kWh", LOWER)
    key = re.sub(r"_by_[a-z0-9_]+$", "", path.split(".")[1])
    unit = next((u for suffix, u in _SUFFIX_UNITS if key.endswith(suffix)), "")
    return Kpi(path, path, unit, LOWER if unit == "USD" else NEUTRAL)


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


def trend(change: float | None, better: int) -> str:
    """'better' or 'worse' for a change against the baseline; '' without a change or a direction."""
    if change is None or change == 0 or better == NEUTRAL:
        return ""
    return "better" if (change > 0) == (better == HIGHER) else "worse"


def kpi_rows(runs: Mapping[str, Mapping[str, float]], baseline: str | None) -> list[Row]:
    """The KPI table of one scenario: a row per metric any design has, a cell per design in `runs` order."""
    rows = []
    for path in sorted({p for values in runs.values() for p in values}, key=_order):
        kpi = kpi_spec(path)
        if not kpi.tabled:
            continue
        shown = {design: kpi.display(values.get(path, math.nan)) for design, values in runs.items()}
        best = best_designs(shown, kpi.better)
        if kpi.absent_is_best and not all(math.isfinite(v) for v in shown.values()):
            best = set()
        cells = []
        for design, value in shown.items():
            change = None if baseline in (None, design) else delta(value, shown[baseline], kpi.unit)
            cells.append(Cell(design, fmt(value, kpi.unit), design in best,
                              "" if change is None else delta_text(change, kpi.unit), trend(change, kpi.better)))
        rows.append(Row(path, kpi.label, kpi.unit, cells))
    return rows


def verdict(runs: Mapping[str, Mapping[str, float]], rows: list[Row]) -> list[str]:
    """Sentences naming the winner of the headline KPIs, with the values, and a tally of best marks."""
    sentences = []
    for path in HEADLINES:
        kpi = kpi_spec(path)
        have = sorted(((kpi.display(values[path]), design) for design, values in runs.items()
                       if math.isfinite(values.get(path, math.nan))), key=lambda vd: -kpi.better * vd[0])
        if not have:
            continue
        text = [f"{fmt(v, kpi.unit)} {kpi.unit}" for v, _ in have]
        tied = [d for v, d in have if v == have[0][0]]
        if len(have) == 1:
            sentences.append(f"{kpi.label} of {have[0][1]}: {text[0]}.")
        elif len(tied) > 1:
            sentences.append(f"{', '.join(tied)} tie on {kpi.label.lower()}: {text[0]}.")
        else:
            sentences.append(f"{have[0][1]} {kpi.best_phrase}: {text[0]} (next: {have[1][1]}, {text[1]}).")
    if len(runs) > 1:
        wins = {d: sum(c.best for row in rows for c in row.cells if c.design == d) for d in runs}
        tally = ", ".join(f"{d} {n}" for d, n in sorted(wins.items(), key=lambda dn: -dn[1]))
        marked = sum(1 for row in rows if any(c.best for c in row.cells))
        sentences.append(f"Best values over the {marked} KPIs that separate the designs: {tally}.")
    return sentences
