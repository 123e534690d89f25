"""A scenario's `grid:` block: the hall's feed power as the grid sees it.

The window it is seen over at sub-second resolution, the limits the utility sets on its swing, and the
mitigations to compare (racksim.physics.grid, racksim.run.grid).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.design.base import Fraction, Model, NonNegativeFloat, PositiveFloat, rule_error

Efficiency = Annotated[float, Field(gt=0, le=1)]
MAX_SAMPLES = 1_000_000
"""Samples in a window at most (window_s / step_s): a typo cannot ask for billions."""


class GridLimits(Model):
    """What the utility allows of the hall's feed power (absent limits are not checked)."""

    ramp_mw_per_s: PositiveFloat | None = None
    """Largest ramp of the feed power, MW/s (over the grid's ramp_window_s)."""
    peak_to_trough_mw: PositiveFloat | None = None
    """Largest peak-to-trough swing of the feed power over the window, MW."""
    band_hz: tuple[NonNegativeFloat, PositiveFloat] = (0.1, 20.0)
    """The critical frequency band, Hz (0.1-20 Hz: Choukse et al. 2025, arXiv:2508.14318)."""
    band_share_max: Fraction | None = None
    """Largest share of the swing's energy in the band (e.g. 0.2: Choukse et al.'s example specification)."""

    @model_validator(mode="after")
    def _band_ordered(self) -> GridLimits:
        if self.band_hz[0] >= self.band_hz[1]:
            raise rule_error("band_hz", f"{list(self.band_hz)}: the band's low end must be below its high end")
        return self


class PowerFloor(Model):
    """GPUs draw at least a floor while the job runs (its low phases raised), as the GB200/GB300 power floor."""

    kind: Literal["power_floor"]
    """Mitigation kind."""
    floor_fraction: Fraction = 0.9
    """Floor as a fraction of the GPU's TDP (up to 90 %: Choukse et al. 2025)."""


class RackStorage(Model):
    """Energy storage in every rack moving the rack's feed toward its load at limited ramp rates."""

    kind: Literal["rack_storage"]
    """Mitigation kind."""
    energy_j: PositiveFloat | None = None
    """Usable energy per rack, J; absent: the rack design's power.smoothing storage."""
    ramp_w_per_s: PositiveFloat | None = None
    """Ramp rate of each rack's feed, either way, W/s; absent: the design's, else the ramp limit shared by the
    job's racks."""
    efficiency: Efficiency | None = None
    """One-way efficiency of the storage; absent: the design's, else 0.98."""
    recovery_w: NonNegativeFloat | None = None
    """Power that returns the storage to half charge between swings, W per rack; absent: the design's, else 1 % of
    the rack's mean power."""
    time_constant_s: PositiveFloat = 5.0
    """The rack's feed follows its load low-passed over this time constant, s (A: several training steps)."""


class FacilityBattery(Model):
    """A battery at the hall's feed: the grid supplies a ramp-limited version of the hall's demand.

    The battery supplies (or takes) the difference.
    """

    kind: Literal["facility_battery"]
    """Mitigation kind."""
    energy_kwh: PositiveFloat
    """Usable energy, kWh."""
    power_kw: PositiveFloat
    """Largest charge or discharge power, kW."""
    round_trip_efficiency: Efficiency = 0.85
    """Energy out / energy in over a full cycle (S: 85 %, NREL Annual Technology Baseline, utility-scale Li-ion)."""
    ramp_mw_per_s: PositiveFloat | None = None
    """Ramp rate the grid's side follows, MW/s; absent: the limits' ramp_mw_per_s."""
    recovery_kw: NonNegativeFloat | None = None
    """Power that returns the battery to half charge between swings, kW; absent: 1 % of power_kw."""
    time_constant_s: PositiveFloat = 5.0
    """The grid's side follows the hall's demand low-passed over this time constant, s (A: several steps)."""


Mitigation = Annotated[PowerFloor | RackStorage | FacilityBattery, Field(discriminator="kind")]


class Grid(Model):
    """The hall's feed power over a window as the grid sees it, its limits and the mitigations compared."""

    window_s: PositiveFloat = 60.0
    """Length of the window, s (from the start of every job's cycle unless the caller offsets the jobs)."""
    step_s: Annotated[float, Field(gt=0, lt=1)] = 0.01
    """Sample step, s (sub-second: 0.01 s resolves swings up to 50 Hz)."""
    ramp_window_s: PositiveFloat | None = None
    """Window over which ramps are measured, s; absent: one sample step."""
    limits: GridLimits = GridLimits()
    mitigations: list[Mitigation] = Field(default_factory=list)
    """Mitigations to compare with the unmitigated feed, each on its own."""

    @model_validator(mode="after")
    def _samples_fit(self) -> Grid:
        if self.window_s / self.step_s > MAX_SAMPLES:
            raise rule_error("step_s", f"{self.window_s / self.step_s:.0f} samples in the window: at most "
                             f"{MAX_SAMPLES}")
        if self.window_s < 2 * self.step_s:
            raise rule_error("window_s", "the window needs two samples at least")
        for index, mitigation in enumerate(self.mitigations):
            if isinstance(mitigation, FacilityBattery) and mitigation.ramp_mw_per_s is None \
                    and self.limits.ramp_mw_per_s is None:
                raise rule_error(f"mitigations.{index}.ramp_mw_per_s",
                                 "a facility battery needs a ramp to follow (here or in limits.ramp_mw_per_s)")
        kinds = [mitigation.kind for mitigation in self.mitigations]
        if len(set(kinds)) != len(kinds):
            raise rule_error("mitigations", "each kind of mitigation once")
        return self
