"""The hall's power chain above the racks: each row's feeder (busway) and the UPS upstream of every row.

Pure and vectorized: row loads of shape (..., n_rows) (any leading axes: time, scenarios) give losses of shape
(...). The hall's facility input is Σ rack feed inputs + these losses. A hall without `row_power` is lossless
(no stage at all: metrics stay zero-free).

- Row feeder (three-phase busway, line-to-line voltage V, unity power factor): the row's current is
  I = P_row / (√3 V) in each phase, and three line-to-neutral resistances R lose 3 I² R = P_row² · R / V², W,
  with R = resistance per metre × length (the whole load taken at the far end: an upper bound for racks tapped
  along the run).
- UPS (output P_out = Σ rows (P_row + feeder loss), rating C): loss = P_out · (1/η(P_out / C) − 1), η linear
  between the curve's points and clamped beyond them (as every converter in racksim.physics.power).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from racksim._types import FloatArray
from racksim.design.hall_schema import Hall
from racksim.physics.power import interpolated_efficiency

ROW_FEEDER = "row_feeder"
"""Loss-stage name of the row feeders (busways)."""
UPS = "ups"
"""Loss-stage name of the UPS."""


@dataclass(frozen=True)
class HallPowerChain:
    """Row feeders and UPS of a hall, compiled from design.hall_schema.Hall (HallPowerChain.of(hall))."""

    n_rows: int
    feeder_resistance_ohm: FloatArray
    """Line-to-neutral resistance of each row's busway over its length (0: no feeder loss), Ω."""
    feeder_voltage_v: float
    """Line-to-line voltage of the busways, V."""
    ups_capacity_w: float
    """UPS rating (inf: no UPS modelled), W."""
    ups_load_fraction: FloatArray
    """Load fractions of the UPS efficiency curve, increasing."""
    ups_efficiency: FloatArray
    """UPS efficiency at each load fraction."""

    @classmethod
    def of(cls, hall: Hall, n_rows: int | None = None, ups_capacity_w: float | None = None) -> HallPowerChain:
        """The hall's chain (or, with `n_rows` and `ups_capacity_w`, one group's rows and its share of the UPS)."""
        rows = hall.row_count if n_rows is None else n_rows
        power = hall.row_power
        if power is None:
            return cls.lossless(rows)
        if ups_capacity_w is None:
            ups_capacity_w = power.ups_capacity_w or math.inf
        curve = power.ups_curve
        return cls(n_rows=rows,
                   feeder_resistance_ohm=np.full(rows, power.busway_resistance_ohm_per_m * power.busway_length_m),
                   feeder_voltage_v=power.busway_voltage_v, ups_capacity_w=ups_capacity_w,
                   ups_load_fraction=np.asarray(curve.load_fraction, dtype=float),
                   ups_efficiency=np.asarray(curve.efficiency, dtype=float))

    @classmethod
    def lossless(cls, n_rows: int) -> HallPowerChain:
        """A hall without row_power: no row or UPS stage."""
        return cls(n_rows=n_rows, feeder_resistance_ohm=np.zeros(n_rows), feeder_voltage_v=1.0,
                   ups_capacity_w=math.inf, ups_load_fraction=np.ones(1), ups_efficiency=np.ones(1))

    @classmethod
    def joined(cls, chains: Sequence[HallPowerChain]) -> HallPowerChain | None:
        """Groups' chains side by side as one hall: rows numbered on, UPS shares added (the first one's curve)."""
        if not chains:
            return None
        return replace(chains[0], n_rows=sum(chain.n_rows for chain in chains),
                       feeder_resistance_ohm=np.concatenate([chain.feeder_resistance_ohm for chain in chains]),
                       ups_capacity_w=math.fsum(chain.ups_capacity_w for chain in chains))

    @property
    def has_feeders(self) -> bool:
        """Whether any row feeder loses power."""
        return bool(np.any(self.feeder_resistance_ohm > 0))

    @property
    def has_ups(self) -> bool:
        """Whether a UPS is modelled."""
        return math.isfinite(self.ups_capacity_w)

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The loss stages modelled, in power-flow order (upstream last)."""
        return (ROW_FEEDER,) * self.has_feeders + (UPS,) * self.has_ups


def feeder_loss_w(row_load_w: ArrayLike, resistance_ohm: ArrayLike, voltage_v: float) -> FloatArray:
    """I²R loss of three-phase busways carrying `row_load_w`: P² · R / V², W (elementwise)."""
    load = np.asarray(row_load_w, dtype=float)
    return load * load * np.asarray(resistance_ohm, dtype=float) / (voltage_v * voltage_v)


def ups_loss_w(output_w: ArrayLike, capacity_w: float, curve_load: ArrayLike,
               curve_efficiency: ArrayLike) -> FloatArray:
    """Loss of a UPS delivering `output_w`: P_out · (1/η(P_out / C) − 1), W (0 at no output)."""
    output = np.asarray(output_w, dtype=float)
    efficiency = interpolated_efficiency(output / capacity_w, curve_load, curve_efficiency)
    return output * (1.0 / efficiency - 1.0)


def hall_losses_w(chain: HallPowerChain, row_load_w: FloatArray) -> dict[str, FloatArray]:
    """Loss of each hall stage ("row_feeder", "ups") for row loads (W) of shape (..., n_rows) -> arrays of shape (...).

    Only the stages modelled appear (a lossless chain gives {}). The UPS carries the rows' loads and the
    feeders' losses.
    """
    load = np.asarray(row_load_w, dtype=float)
    feeders_w = feeder_loss_w(load, chain.feeder_resistance_ohm, chain.feeder_voltage_v).sum(axis=-1)
    losses: dict[str, FloatArray] = {}
    if chain.has_feeders:
        losses[ROW_FEEDER] = feeders_w
    if chain.has_ups:
        losses[UPS] = ups_loss_w(load.sum(axis=-1) + feeders_w, chain.ups_capacity_w, chain.ups_load_fraction,
                                 chain.ups_efficiency)
    return losses


def hall_input_w(chain: HallPowerChain, row_load_w: FloatArray) -> FloatArray:
    """The hall's facility input for row loads of shape (..., n_rows): Σ rows + every hall stage's loss, W."""
    load = np.asarray(row_load_w, dtype=float)
    total = load.sum(axis=-1)
    for loss_w in hall_losses_w(chain, load).values():
        total = total + loss_w
    return total
