"""Design-file models of the optional `cost` section: unit prices, energy, facility, failures, lost work.

Every price carries its provenance: a `source` (where the figure comes from) or `assumption: true` (no public
figure found), never both and never neither. `racksim.design.schema` imports this module for `Design.cost`, so
it builds on `racksim.design.base`; `CostSection` checks the prices against the rest of the design (a design with power
shelves needs shelf and PSU prices) through the fields validated before it.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from racksim.design.base import Model

NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
FailureClassName = Literal["gpu", "compute_tray", "switch_tray", "psu", "pump", "fan", "cable"]
"""Component classes a failure rate applies to; their counts come from the design (cable: the cabling plan)."""


def _rule(field: str, rule: str) -> PydanticCustomError:
    """A validation error at `field` below the validating model (as `racksim.design.schema.rule_error`)."""
    return PydanticCustomError("field_rule", "{rule}", {"field": field, "rule": rule})


class Sourced(Model):
    """A figure with its provenance: a source or an assumption flag, exactly one of the two."""

    source: str | None = None
    """Where the figure comes from (publication, URL, derivation), tagged P/S/D as in the design files."""
    assumption: bool = False
    """True when no public figure was found and the value is an assumption to revisit."""
    note: str = ""
    """Why the value was chosen (optional; for assumptions, the reasoning)."""

    @model_validator(mode="after")
    def _source_or_assumption(self) -> Sourced:
        has_source = bool(self.source and self.source.strip())
        if has_source == self.assumption:
            raise _rule("source", "give a source or assumption: true (exactly one of the two)"
                        if not has_source else "a figure with a source is not an assumption: drop one of them")
        return self


class UnitPrice(Sourced):
    """Price of one unit of a component, USD."""

    price_usd: NonNegativeFloat
    """Purchase price of one unit, USD."""


class Item(UnitPrice):
    """A line of the bill of materials that the design does not count itself (BBUs, storage, spares)."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    """Name in the capex breakdown (lower_snake_case)."""
    count: Annotated[int, Field(ge=0)]
    """Units per rack."""


class Prices(Model):
    """Unit prices of the rack's components; counts come from the design."""

    gpu: UnitPrice
    """One GPU (package with its HBM), USD; count: compute trays × GPUs per tray."""
    compute_tray: UnitPrice
    """One compute tray without its GPUs (CPUs, memory, board, NICs, DPUs, cold plates, tray converters), USD."""
    switch_tray: UnitPrice
    """One scale-up switch tray, USD."""
    power_shelf: UnitPrice | None = None
    """One power shelf without its PSUs, USD; required when the design has power shelves."""
    psu: UnitPrice | None = None
    """One PSU, USD; required when the design has power shelves (count: shelves × PSUs per shelf)."""
    management_switch: UnitPrice | None = None
    """One unit of the rack's `network` slots, USD; required when the design has network slots."""
    busbar: UnitPrice
    """The rack's busbar and its power connectors, USD per rack."""
    cdu: UnitPrice
    """The rack's CDU, or its share of an in-row CDU, USD per rack."""
    manifolds: UnitPrice
    """Rack coolant manifolds, hoses and quick disconnects, USD per rack."""
    rack: UnitPrice
    """Rack frame (enclosure, rails, reinforcement), USD per rack."""
    integration: UnitPrice
    """Rack assembly, burn-in test and delivery, USD per rack."""
    other_items: list[Item] = Field(default_factory=list)
    """Further lines (battery backup units, storage, spares kits) with their own counts."""

    @model_validator(mode="after")
    def _unique_item_names(self) -> Prices:
        names = [item.name for item in self.other_items]
        duplicates = sorted({name for name in names if names.count(name) > 1} | (set(names) & set(PRICED_CLASSES)))
        if duplicates:
            raise _rule("other_items", f"names {', '.join(duplicates)} are taken (item names must be unique "
                        "and differ from the priced component classes)")
        return self


PRICED_CLASSES = ("gpu", "compute_tray", "switch_tray", "power_shelf", "psu", "management_switch", "busbar", "cdu",
                  "manifolds", "rack", "integration")
"""Fields of Prices that price a counted component, in capex-breakdown order."""


class TariffPeriod(Model):
    """One block of a time-of-day tariff: the price from `from_hour` until the next block starts."""

    from_hour: Annotated[int, Field(ge=0, le=23)]
    """Hour of the day (0–23, local time) from which this price applies."""
    price_usd_per_kwh: NonNegativeFloat
    """Energy price in this block, USD/kWh."""


class Energy(Sourced):
    """Price of energy at the facility feed: flat, or a time-of-day tariff."""

    price_usd_per_kwh: NonNegativeFloat | None = None
    """Flat energy price, USD/kWh (give this or `time_of_day`)."""
    time_of_day: list[TariffPeriod] = Field(default_factory=list)
    """Time-of-day tariff, blocks in increasing `from_hour`; the last block runs through midnight to the first."""

    @model_validator(mode="after")
    def _flat_or_tariff(self) -> Energy:
        if (self.price_usd_per_kwh is None) == (not self.time_of_day):
            raise _rule("price_usd_per_kwh", "give a flat price_usd_per_kwh or a time_of_day tariff (one of the two)")
        hours = [block.from_hour for block in self.time_of_day]
        if any(b <= a for a, b in pairwise(hours)):
            raise _rule("time_of_day", "from_hour must be strictly increasing")
        return self

    def mean_price_usd_per_kwh(self) -> float:
        """Flat price, or the tariff averaged over the 24 h of a day, USD/kWh.

        Training draws the same power at every hour (its cycle is seconds to minutes long), so the energy bought
        in each block is proportional to the block's hours: p̄ = Σ p_i · h_i / 24.
        """
        if self.price_usd_per_kwh is not None:
            return self.price_usd_per_kwh
        blocks = self.time_of_day
        ends = [b.from_hour for b in blocks[1:]] + [blocks[0].from_hour + 24]
        return sum(b.price_usd_per_kwh * (end - b.from_hour) for b, end in zip(blocks, ends, strict=True)) / 24


class Facility(Sourced):
    """Facility energy on top of the rack's feed: a PUE, or heat rejection from the simulated cooling."""

    pue: Annotated[float, Field(ge=1, le=5)] | None = None
    """Power usage effectiveness: facility energy = (PUE − 1) × feed energy (give this or the three below)."""
    liquid_heat_rejection_w_per_w: NonNegativeFloat | None = None
    """Facility power per watt of heat the rack puts into liquid (dry coolers, tower fans, facility pumps)."""
    air_heat_rejection_w_per_w: NonNegativeFloat | None = None
    """Facility power per watt of heat the rack puts into air (CRAH fans, chillers)."""
    electrical_overhead_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    """Facility electrical losses (UPS, transformers) and lighting per watt at the feed."""

    @model_validator(mode="after")
    def _pue_or_cooling(self) -> Facility:
        parts = (self.liquid_heat_rejection_w_per_w, self.air_heat_rejection_w_per_w,
                 self.electrical_overhead_fraction)
        if self.pue is not None and any(p is not None for p in parts):
            raise _rule("pue", "give a pue or the heat-rejection figures, not both")
        if self.pue is None and any(p is None for p in parts):
            raise _rule("pue", "give a pue, or all of liquid_heat_rejection_w_per_w, air_heat_rejection_w_per_w "
                        "and electrical_overhead_fraction")
        return self


class FailureClass(Sourced):
    """Failures of one component class: rate per unit (MTBF or FIT; provenance of the rate) and cost per failure."""

    mtbf_h: PositiveFloat | None = None
    """Mean time between failures of one unit, h (give this or `failure_rate_fit`)."""
    failure_rate_fit: PositiveFloat | None = None
    """Failures per 10⁹ unit-hours (FIT). For `cable`, leave both out to use the cabling plan's FIT."""
    parts: UnitPrice
    """Parts used per failure (replacement unit, or its share when most failures need none), USD."""
    labour_h: NonNegativeFloat
    """Technician time per failure (diagnosis, swap, test), h."""
    downtime_h: NonNegativeFloat
    """Time the rack's synchronous job stands still per failure (restart from checkpoint; 0 when redundancy keeps
    it running), h."""

    @model_validator(mode="after")
    def _one_rate(self) -> FailureClass:
        if self.mtbf_h is not None and self.failure_rate_fit is not None:
            raise _rule("mtbf_h", "give mtbf_h or failure_rate_fit, not both")
        return self

    def rate_per_unit_h(self) -> float | None:
        """Failures per unit-hour, or None when the rate comes from elsewhere (cabling plan)."""
        if self.mtbf_h is not None:
            return 1.0 / self.mtbf_h
        return None if self.failure_rate_fit is None else self.failure_rate_fit * 1e-9


class Maintenance(Model):
    """Repairs: failure classes and the labour rate."""

    labour_per_hour: UnitPrice
    """Loaded technician cost per hour of work, USD (in `price_usd`)."""
    failures: dict[FailureClassName, FailureClass] = Field(default_factory=dict)
    """Failure classes by component class (null removes one a parent design gives); when metrics.json carries
    reliability.failures_by_class, those counts replace the rates given here."""

    @field_validator("failures", mode="before")
    @classmethod
    def _drop_removed(cls, failures: object) -> object:
        return {k: v for k, v in failures.items() if v is not None} if isinstance(failures, dict) else failures

    @model_validator(mode="after")
    def _rates_given(self) -> Maintenance:
        for name, failure in self.failures.items():
            if name != "cable" and failure.rate_per_unit_h() is None:
                raise _rule(f"failures.{name}.mtbf_h", "give mtbf_h or failure_rate_fit (only cable may take its "
                            "rate from the cabling plan)")
        return self


class LostWork(Sourced):
    """What lost work costs: the price of the GPU-hours needed to make it up elsewhere."""

    price_usd_per_gpu_hour: NonNegativeFloat
    """Market price of one GPU-hour of comparable capacity, USD/GPU-h."""


class Sensitivity(Model):
    """How far the sensitivity analysis moves each input."""

    relative_change: Annotated[float, Field(gt=0, lt=1)] = 0.2
    """Energy price, GPU price and failure rates move by ± this fraction."""
    coolant_delta_temp_c: Annotated[float, Field(ge=0, le=20)] = 5.0
    """The facility supply temperature moves by ± this much, K; the scenario is rerun at each (0: skip)."""
    coolant_scenario: str = "training"
    """Scenario whose runs carry the coolant sensitivity (rerun twice); other scenarios get analytic ones only."""


class Depreciation(Sourced):
    """The period over which the rack is written off; the TCO covers the same period."""

    period_years: Annotated[float, Field(gt=0, le=30)]
    """Years over which the capital cost is spread, and the TCO period."""


class Cost(Model):
    """Cost of ownership: what the rack costs to buy and to run, per unit of work."""

    depreciation: Depreciation
    prices: Prices
    energy: Energy
    facility: Facility
    maintenance: Maintenance
    lost_work: LostWork
    sensitivity: Sensitivity = Sensitivity()


def _fits_design(cost: Cost, info: ValidationInfo) -> Cost:
    """Prices for what the design has: shelves need shelf and PSU prices, network slots a switch price."""
    power, rack = info.data.get("power"), info.data.get("rack")
    shelves = getattr(power, "shelves", None)
    if shelves is not None:
        for name in ("power_shelf", "psu"):
            if getattr(cost.prices, name) is None:
                raise _rule(f"prices.{name}", "required: the design has power shelves")
    slots: list[Any] = list(getattr(rack, "slots", []))
    if any(slot.kind == "network" for slot in slots) and cost.prices.management_switch is None:
        raise _rule("prices.management_switch", "required: the design has network slots")
    return cost


CostSection = Annotated[Cost, AfterValidator(_fits_design)]
"""The design's `cost` field type: a Cost checked against the design's power shelves and slots."""
