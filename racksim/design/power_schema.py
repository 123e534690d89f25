"""Design-file schema, power section: feeds and breakers, PSU shelves, busbar, conversion stages, storage, capping.

Like every design section: frozen pydantic models, units in every quantity's name, a docstring on every field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.design.base import (
    Fraction,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Redundancy,
    UnitCount,
)


class EfficiencyCurve(Model):
    """Converter efficiency as a function of load, linearly interpolated, clamped at the ends."""

    load_fraction: list[Annotated[float, Field(gt=0, le=2)]] = Field(min_length=1)
    """Output load as a fraction of the unit's rating, strictly increasing."""
    efficiency: list[Annotated[float, Field(gt=0, le=1)]] = Field(min_length=1)
    """Efficiency (output / input power) at each load point."""

    @model_validator(mode="after")
    def _points_match(self) -> EfficiencyCurve:
        if len(self.load_fraction) != len(self.efficiency):
            raise ValueError("load_fraction and efficiency need the same number of points")
        if any(b <= a for a, b in zip(self.load_fraction, self.load_fraction[1:], strict=False)):
            raise ValueError("load_fraction must be strictly increasing")
        return self


# --------------------------------------------------------------------------- chips and trays



class Breaker(Model):
    """The feed's overcurrent protection: an inverse-time curve of IEC 60255-151 plus an instantaneous trip.

    Trip time at a steady current I above the pickup I_p: t = TMS · k / ((I / I_p)^α − 1), with (k, α)
    = (0.14, 0.02) standard inverse, (13.5, 1) very inverse, (80, 2) extremely inverse.
    """

    rating_a: PositiveFloat
    """Pickup current per phase (AC) or pole (DC): no trip at or below it, A."""
    curve: Literal["standard_inverse", "very_inverse", "extremely_inverse"] = "very_inverse"
    """IEC 60255-151 curve family."""
    time_multiplier: PositiveFloat = 1.0
    """Time multiplier setting (TMS) that scales the curve."""
    instantaneous_multiple: Annotated[float, Field(gt=1)] = 10.0
    """Current, as a multiple of the rating, above which the breaker trips at once (magnetic trip)."""


class Feed(Model):
    """The rack's facility feed: one, or an A and a B feed for N+N designs."""

    kind: Literal["ac_3phase", "dc"]
    """Three-phase AC into PSU shelves, or DC (e.g. 800 V) straight to the busbar or DC/DC stages."""
    voltage_v: PositiveFloat
    """Line-to-line (AC) or pole-to-pole (DC) voltage, V."""
    limit_w: PositiveFloat
    """Power one feed (whips, breakers) may carry continuously, W."""
    count: Literal[1, 2] = 1
    """1: a single feed; 2: A and B feeds, the shelves split evenly between them (first half on A)."""
    power_factor: Annotated[float, Field(gt=0, le=1)] = 1.0
    """Power factor at the AC input (I = P / (√3 · V · PF)); ignored for DC."""
    breaker: Breaker | None = None
    """Overcurrent protection of each feed; absent: the feed never trips on current."""


class PowerShelves(Model):
    """Power shelves of PSUs (or DC/DC units) feeding the busbar, sharing load actively."""

    count: Annotated[int, Field(gt=0, le=100)]
    """Shelves in the rack (one per power_shelf slot, so no more than the rack's units)."""
    units_per_shelf: UnitCount
    """PSUs per shelf."""
    unit_rating_w: PositiveFloat
    """Output rating of one PSU, W."""
    redundancy: Redundancy
    """N: all needed; N+1: one spare; N+N: half the units (one feed) carry the load."""
    efficiency_curve: EfficiencyCurve
    overload_limit_fraction: Annotated[float, Field(ge=1, le=3)] = 1.6
    """Load the healthy PSUs carry, as a share of their rating, until the capping controller acts;
    above it the rack trips at once."""
    height_u: PositiveInt = 1
    """Rack units of one shelf."""
    stage_name: str = "psu"
    """Name of this conversion stage in the loss report."""


class Busbar(Model):
    """The rack busbar from the shelves (or the feed) to the trays."""

    voltage_v: PositiveFloat
    """Voltage at the source end of the busbar, V."""
    resistance_ohm: PositiveFloat
    """End-to-end resistance of the conduction path (go and return), Ω."""
    rating_a: PositiveFloat
    """Current rating, A."""


class ConversionStage(Model):
    """A DC/DC stage inside every tray (e.g. 50 V → 12 V), in order from the busbar toward the chips."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """Stage name in the loss report (lower_snake_case)."""
    rating_w: PositiveFloat
    """Output rating of the stage in one tray, W."""
    efficiency_curve: EfficiencyCurve


class Smoothing(Model):
    """GB300-class power smoothing: a GPU power floor, and storage that limits the feed's ramp rate.

    With storage, the source power into the busbar moves toward the load at most at the ramp rates; the
    storage covers (or absorbs) the difference while it has charge (or room). Without storage energy the
    floor alone acts.
    """

    gpu_power_floor_fraction: Fraction
    """GPUs do not draw less than this fraction of TDP while the floor is on."""
    storage_energy_j: NonNegativeFloat = 0.0
    """Usable energy of the rack's smoothing storage, J (it starts half full)."""
    ramp_up_w_per_s: PositiveFloat | None = None
    """Largest rise of the source power the storage enforces, W/s (absent: no limit)."""
    ramp_down_w_per_s: PositiveFloat | None = None
    """Largest fall of the source power the storage enforces, W/s (absent: no limit)."""
    efficiency: Annotated[float, Field(gt=0, le=1)] = 0.98
    """One-way conversion efficiency of the storage (charge and discharge alike)."""
    recovery_w: NonNegativeFloat = 0.0
    """Power the storage exchanges with the busbar, between ramps, to return to half charge, W."""
    stage_name: str = "smoothing"
    """Name of the storage's conversion loss in the loss report."""


class Bbu(Model):
    """Battery backup units on the busbar: they carry the rack through a loss of every feed."""

    energy_j: PositiveFloat
    """Usable stored energy when full, J."""
    max_discharge_w: PositiveFloat
    """Largest power the BBUs deliver to the busbar, W; a heavier load trips the rack at a feed loss."""
    recharge_w: PositiveFloat
    """Charging power drawn from the busbar while the feed is back and the BBUs are not full, W."""
    charge_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.95
    """Share of the charging power stored."""
    discharge_efficiency: Annotated[float, Field(gt=0, le=1)] = 0.97
    """Share of the stored energy taken out that reaches the busbar."""
    stage_name: str = "bbu"
    """Name of the BBUs' conversion loss in the loss report."""


class Capping(Model):
    """A rack power-capping controller (DPS-class): one GPU power cap for the rack, sized for full load."""

    response_time_s: PositiveFloat
    """Delay from a change of supply (PSU lost or back) to the new cap, s."""
    rack_cap_w: PositiveFloat | None = None
    """Optional user limit on the feed power at full load, W."""
    min_gpu_cap_fraction: Annotated[float, Field(gt=0, le=1)] = 0.3
    """Lowest GPU cap the controller may set, as a share of TDP; needing less trips the rack."""


class Power(Model):
    """The power chain from the feed to the chips."""

    feed: Feed
    shelves: PowerShelves | None = None
    """Absent when the feed connects straight to the busbar (e.g. an 800 V DC design)."""
    busbar: Busbar
    tray_stages: list[ConversionStage] = Field(default_factory=list)
    """Conversion stages inside each compute and switch tray, busbar side first."""
    smoothing: Smoothing | None = None
    bbu: Bbu | None = None
    """Battery backup; absent: a loss of every feed trips the rack at once."""
    capping: Capping | None = None
    """Without a controller, a supply shortfall trips the rack at once."""

    @property
    def stage_names(self) -> list[str]:
        """Every loss stage's name, feed to chip: shelves, busbar, tray stages, then storage."""
        storage = [self.smoothing.stage_name] if self.smoothing and self.smoothing.storage_energy_j > 0 else []
        storage += [self.bbu.stage_name] if self.bbu else []
        shelves = [self.shelves.stage_name] if self.shelves else []
        return [*shelves, "busbar", *(s.name for s in self.tray_stages), *storage]

    @model_validator(mode="after")
    def _unique_stage_names(self) -> Power:
        names = self.stage_names
        if len(set(names)) != len(names):
            raise ValueError(f"loss stage names must be unique, got {names}")
        return self
