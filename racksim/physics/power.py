"""Power physics: pure, vectorized functions from chip load back to the facility feed.

Each function takes numpy arrays (any shape that broadcasts) and returns arrays; none sees the engine.
The chain, from the chips outward: chip power → tray conversion stages → busbar (I²R) → power
shelves (PSUs sharing load) → feed. Every stage's loss is returned by name so the energy balance
``input = IT + Σ losses`` closes by construction, stage by stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from racksim._types import FloatArray


def sum_by_group(values_w: FloatArray, group: NDArray[np.intp], n_groups: int) -> FloatArray:
    """Σ of `values_w` per group index (e.g. tray → rack), as float64 of length `n_groups`."""
    return np.bincount(group, weights=values_w, minlength=n_groups)  # type: ignore[return-value]  # float with weights


def utilization_power_w(utilization: ArrayLike, idle_w: ArrayLike, max_w: ArrayLike) -> FloatArray:
    """Power of a chip (or board) at a utilization, linear between idle and maximum.

    P = P_idle + u · (P_max − P_idle),  u ∈ [0, 1];  W.
    """
    u = np.clip(np.asarray(utilization, dtype=float), 0.0, 1.0)
    return np.asarray(idle_w, dtype=float) + u * (np.asarray(max_w, dtype=float) - np.asarray(idle_w, dtype=float))


def capped_power_w(demand_w: ArrayLike, cap_w: ArrayLike) -> FloatArray:
    """Power drawn under a cap: P = min(P_demand, P_cap); W."""
    return np.minimum(np.asarray(demand_w, dtype=float), np.asarray(cap_w, dtype=float))


def throughput_fraction(demand_w: ArrayLike, allowed_w: ArrayLike, idle_w: ArrayLike, exponent: float) -> FloatArray:
    """Work rate of a capped chip relative to its uncapped rate (dimensionless, ≤ 1).

    r = ((P_allowed − P_idle) / (P_demand − P_idle))^k for P_allowed < P_demand, else 1.
    With dynamic power P ∝ f·V² and V ∝ f, throughput ∝ f ∝ P_dyn^(1/3), so k = 1/3.
    """
    demand_dyn = np.asarray(demand_w, dtype=float) - np.asarray(idle_w, dtype=float)
    allowed_dyn = np.asarray(allowed_w, dtype=float) - np.asarray(idle_w, dtype=float)
    ratio = np.divide(allowed_dyn, demand_dyn, out=np.ones_like(demand_dyn), where=demand_dyn > 0)
    np.clip(ratio, 0.0, 1.0, out=ratio)
    slowed = ratio != 1.0  # 1^k is 1: the power only where a cap bites (most chips run uncapped)
    ratio[slowed] **= exponent
    return ratio


def interpolated_efficiency(load_fraction: ArrayLike, curve_load: ArrayLike, curve_efficiency: ArrayLike) -> FloatArray:
    """Converter efficiency at a load fraction, linear between curve points, clamped beyond them.

    η(x) = η_i + (x − x_i)·(η_{i+1} − η_i)/(x_{i+1} − x_i) for x_i ≤ x ≤ x_{i+1}; dimensionless.
    """
    return np.interp(np.asarray(load_fraction, dtype=float), np.asarray(curve_load, dtype=float),
                     np.asarray(curve_efficiency, dtype=float))


def converter_input_w(
    output_w: ArrayLike, units_sharing: ArrayLike, unit_rating_w: float, curve_load: ArrayLike,
    curve_efficiency: ArrayLike,
) -> FloatArray:
    """Input power of a group of identical converters sharing an output load equally.

    Each unit carries x = P_out / (n · P_rated); P_in = P_out / η(x); W. A group with no
    healthy unit (n = 0) and a positive load has infinite input: the caller must treat that as a trip.
    A NaN output (no operating point upstream) stays NaN.
    """
    output = np.asarray(output_w, dtype=float)
    units = np.asarray(units_sharing, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        load = np.where(units > 0, output / (units * unit_rating_w), np.inf)
    efficiency = interpolated_efficiency(load, curve_load, curve_efficiency)
    return np.where(output == 0, 0.0, np.where(units > 0, output / efficiency, np.inf))


def busbar_current_a(delivered_w: ArrayLike, source_voltage_v: float, resistance_ohm: float) -> FloatArray:
    """Current in a busbar fed at V_s with resistance R that delivers P to its loads.

    V_s·I − I²·R = P  ⇒  I = (V_s − √(V_s² − 4·R·P)) / (2·R); A. NaN where no operating point exists
    (P > V_s²/(4R), the busbar's maximum power transfer).
    """
    power = np.asarray(delivered_w, dtype=float)
    discriminant = source_voltage_v**2 - 4.0 * resistance_ohm * power
    with np.errstate(invalid="ignore"):
        root = np.sqrt(discriminant)
    # The algebraically equal form 2P / (V + √disc) avoids cancellation when R·P ≪ V².
    return np.where(discriminant >= 0, 2.0 * power / (source_voltage_v + root), np.nan)


def busbar_loss_w(current_a: ArrayLike, resistance_ohm: float) -> FloatArray:
    """Conduction loss P_loss = I²·R; W."""
    current = np.asarray(current_a, dtype=float)
    return current * current * resistance_ohm


@dataclass(frozen=True)
class ChainFlow:
    """Power at every point of the chain for a set of racks (arrays indexed by rack), W."""

    feed_w: FloatArray
    it_w: FloatArray
    loss_w_by_stage: dict[str, FloatArray]
    busbar_current_a: FloatArray
    tray_conversion_loss_w: FloatArray
    """Loss of all tray stages in each tray (indexed like the tray loads), W."""
    source_w: FloatArray
    """Power the source (shelves' output, or the feed without shelves) delivers into the busbar, W."""


@dataclass(frozen=True)
class ConverterStage:
    """A named conversion stage, compiled from the design."""

    name: str
    unit_rating_w: float
    curve_load: FloatArray
    curve_efficiency: FloatArray


@dataclass(frozen=True)
class PowerChain:
    """The chain of one design: tray stages (busbar side first), busbar, optional shelves."""

    tray_stages: tuple[ConverterStage, ...]
    busbar_voltage_v: float
    busbar_resistance_ohm: float
    shelf_stage: ConverterStage | None

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Loss stages in feed → chip order."""
        shelf = (self.shelf_stage.name,) if self.shelf_stage else ()
        return (*shelf, "busbar", *(s.name for s in self.tray_stages))


def solve_chain(
    chain: PowerChain,
    tray_load_w: FloatArray,
    tray_rack: NDArray[np.intp],
    bus_load_w: FloatArray,
    healthy_shelf_units: FloatArray,
) -> ChainFlow:
    """Feed power and per-stage losses of every rack for given loads.

    tray_load_w: load at the chip side of every tray (compute and switch), W; tray_rack its rack index.
    bus_load_w: loads fed straight from the busbar per rack (fans, pumps, management switches), W.
    Walking outward: P_in,tray = P_out / η(P_out / P_rated) per stage; busbar P_src = P_del + I²R;
    shelves P_in = P_src / η(P_src / (n_healthy · P_rated)).  IT = Σ tray loads + bus loads;
    feed = IT + Σ losses exactly.
    """
    n_racks = bus_load_w.shape[0]
    losses: dict[str, FloatArray] = {}
    stage_out: FloatArray = tray_load_w
    for stage in reversed(chain.tray_stages):
        stage_in = converter_input_w(stage_out, 1.0, stage.unit_rating_w, stage.curve_load, stage.curve_efficiency)
        losses[stage.name] = sum_by_group(stage_in - stage_out, tray_rack, n_racks)
        stage_out = stage_in
    it_w = sum_by_group(tray_load_w, tray_rack, n_racks) + bus_load_w
    delivered_w = sum_by_group(stage_out, tray_rack, n_racks) + bus_load_w
    current_a = busbar_current_a(delivered_w, chain.busbar_voltage_v, chain.busbar_resistance_ohm)
    losses["busbar"] = busbar_loss_w(current_a, chain.busbar_resistance_ohm)
    source_w = delivered_w + losses["busbar"]
    feed_w = shelf_input_w(chain, source_w, healthy_shelf_units)
    if chain.shelf_stage is not None:
        losses[chain.shelf_stage.name] = feed_w - source_w
    ordered = {name: losses[name] for name in chain.stage_names}
    return ChainFlow(feed_w=feed_w, it_w=it_w, loss_w_by_stage=ordered, busbar_current_a=current_a,
                     tray_conversion_loss_w=stage_out - tray_load_w, source_w=source_w)


def shelf_input_w(chain: PowerChain, source_w: ArrayLike, healthy_shelf_units: ArrayLike) -> FloatArray:
    """Feed power that delivers `source_w` into the busbar: through the shelves' PSUs, or 1:1 without shelves; W."""
    if chain.shelf_stage is None:
        return np.asarray(source_w, dtype=float)
    shelf = chain.shelf_stage
    return converter_input_w(source_w, healthy_shelf_units, shelf.unit_rating_w, shelf.curve_load,
                             shelf.curve_efficiency)


def chain_losses_at_it_load(chain: PowerChain, trays: int, it_load_w: ArrayLike,
                            healthy_shelf_units: float) -> dict[str, FloatArray]:
    """Loss of each stage when `trays` trays share each IT load of `it_load_w` equally (one row per load), W.

    For comparing chains at the same IT load (e.g. 800 V DC against 50 V): every load is solved as a
    rack of its own with no busbar-fed loads.
    """
    loads_w = np.atleast_1d(np.asarray(it_load_w, dtype=float))
    tray_rack = np.repeat(np.arange(loads_w.size), trays)
    flow = solve_chain(chain, np.repeat(loads_w / trays, trays), tray_rack, np.zeros(loads_w.size),
                       np.full(loads_w.size, healthy_shelf_units))
    return flow.loss_w_by_stage
