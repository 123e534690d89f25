"""Design-file schema: pydantic v2 models, units in every quantity's name.

Every model is frozen and forbids unknown keys; every field carries a docstring that ends up
in the JSON Schema (`racksim schema`). Cross-field rules live in the validators of the model
that owns all the fields they compare, so an error names the narrowest field path possible.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from racksim.cabling.schema import Cabling
from racksim.cost.schema import CostSection
from racksim.network.schema import Network
from racksim.reliability.schema import Reliability
from racksim.schema_base import (
    Fraction,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Redundancy,
    rule_error,
)

UnitCount = Annotated[int, Field(gt=0, le=64)]
"""Chips of a kind on a tray, switch ASICs, PSUs in a shelf, CDU pumps: 64 at most. Real racks hold a few; the
bound keeps a typo (or a hostile file) from building arrays of billions of components."""
PortCount = Annotated[int, Field(gt=0, le=4096)]
"""Ports of a switch tray: 4096 at most (an NVL72 switch tray has 144)."""


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


class ChipThermal(Model):
    """A die on a cold plate: first-order RC node from junction to the local coolant."""

    r_junction_to_coolant_k_per_w: PositiveFloat
    """Thermal resistance junction → coolant at `reference_flow_lpm` through the plate, K/W."""
    reference_flow_lpm: PositiveFloat
    """Coolant flow through the cold-plate loop at which the resistance above was measured, L/min."""
    flow_exponent: Annotated[float, Field(ge=0, le=2)] = 0.8
    """R = R0 · (flow / flow0)^(-exponent); 0.8 for turbulent forced convection (Dittus–Boelter)."""
    heat_capacity_j_per_k: PositiveFloat
    """Lumped heat capacity of die, package and cold plate, J/K."""
    throttle_temp_c: float = Field(gt=0, lt=200)
    """Die temperature at which the chip throttles, °C."""
    throttle_hysteresis_c: PositiveFloat = 3.0
    """Throttling ends when the die cools this far below the throttle temperature, K."""
    throttle_power_fraction: Annotated[float, Field(gt=0, le=1)] = 0.7
    """Power cap while throttled, as a fraction of TDP."""
    shutdown_temp_c: float = Field(gt=0, lt=250)
    """Die temperature at which the chip shuts itself off (it stays off for the rest of the run), °C."""

    @model_validator(mode="after")
    def _shutdown_above_throttle(self) -> ChipThermal:
        if self.shutdown_temp_c <= self.throttle_temp_c:
            raise rule_error("shutdown_temp_c", f"must be above throttle_temp_c ({self.throttle_temp_c})")
        return self


class ChipSpec(Model):
    """A kind of chip on the compute tray (GPU or CPU)."""

    count: UnitCount
    """Chips of this kind per compute tray."""
    tdp_w: PositiveFloat
    """Maximum sustained power (TDP/TGP, at the chip's input rail), W."""
    idle_w: NonNegativeFloat
    """Power at zero utilization, W."""
    thermal: ChipThermal
    """Die-to-coolant thermal model."""

    @model_validator(mode="after")
    def _idle_below_tdp(self) -> ChipSpec:
        if self.idle_w >= self.tdp_w:
            raise ValueError(f"idle_w ({self.idle_w}) must be below tdp_w ({self.tdp_w})")
        return self


class GpuSpec(ChipSpec):
    """GPUs: also say how throughput follows power when capped or throttled."""

    dense_tflops: PositiveFloat
    """Dense tensor throughput at the training precision (FP8, no sparsity), TFLOP/s."""
    fp4_dense_tflops: PositiveFloat | None = None
    """Dense FP4 tensor throughput (no sparsity), TFLOP/s; absent: FP4 runs at the FP8 rate."""
    throughput_power_exponent: Annotated[float, Field(gt=0, le=1)] = 1 / 3
    """Work rate = (dynamic power allowed / dynamic power demanded)^exponent; 1/3 when P ∝ f·V², V ∝ f."""


class NicSpec(Model):
    """Scale-out network adapters on a compute tray."""

    count: Annotated[int, Field(ge=0, le=64)]
    """NICs per compute tray."""
    power_w: NonNegativeFloat
    """Power of one NIC (without its optics), W."""
    bandwidth_gbps: PositiveFloat
    """Line rate of one NIC, Gb/s (bits)."""


class ComputeTray(Model):
    """A compute tray: GPUs and CPUs on cold plates, NICs and the rest of the board."""

    height_u: PositiveInt = 1
    """Rack units the tray occupies."""
    gpus: GpuSpec
    cpus: ChipSpec
    nics: NicSpec
    other_power_w: NonNegativeFloat
    """Memory, DPUs, SSDs, BMC and the rest of the board at full load, W."""
    other_idle_power_w: NonNegativeFloat = 0.0
    """Same at idle, W (interpolated with GPU utilization)."""
    coolant_flow_lpm: PositiveFloat
    """Design coolant flow through one tray; the manifold splits the pumps' flow in these proportions, L/min."""
    other_heat_to_liquid_fraction: Fraction
    """Share of the tray's non-cold-plate heat (NICs, memory, conversion losses) taken by liquid."""
    cold_plate_loops: list[list[str]] = Field(min_length=1)
    """Coolant loops in the tray, each a list of chips in flow order (gpu0, cpu1, ...); loops share
    the tray's flow equally and each chip sees coolant warmed by the chips before it."""

    @model_validator(mode="after")
    def _loops_cover_chips(self) -> ComputeTray:
        expected = {f"gpu{i}" for i in range(self.gpus.count)} | {f"cpu{i}" for i in range(self.cpus.count)}
        seen = [chip for loop in self.cold_plate_loops for chip in loop]
        duplicates = sorted({c for c in seen if seen.count(c) > 1})
        if duplicates:
            raise rule_error("cold_plate_loops", f"{', '.join(duplicates)} listed more than once")
        unknown = sorted(set(seen) - expected)
        if unknown:
            raise rule_error("cold_plate_loops", f"unknown chips {', '.join(unknown)} (the tray has gpu0.. and cpu0..)")
        missing = sorted(expected - set(seen), key=lambda c: (c[:3], int(c[3:])))
        if missing:
            raise rule_error("cold_plate_loops", f"{', '.join(missing)} on no loop")
        if self.other_idle_power_w > self.other_power_w:
            raise rule_error("other_idle_power_w", "must not exceed other_power_w")
        return self


class SwitchTray(Model):
    """A scale-up (NVLink-class) switch tray."""

    height_u: PositiveInt = 1
    """Rack units the tray occupies."""
    switch_chips: UnitCount
    """Switch ASICs per tray."""
    ports: PortCount
    """Scale-up ports per tray (each takes one GPU link)."""
    idle_power_w: NonNegativeFloat
    """Tray power with idle links, W."""
    max_power_w: PositiveFloat
    """Tray power with all links busy, W."""
    heat_to_liquid_fraction: Fraction
    """Share of the tray's heat taken by liquid (ASIC cold plates)."""
    coolant_flow_lpm: PositiveFloat
    """Design coolant flow through one tray, L/min (sets its share of the pumps' flow)."""

    @model_validator(mode="after")
    def _idle_below_max(self) -> SwitchTray:
        if self.idle_power_w > self.max_power_w:
            raise ValueError("idle_power_w must not exceed max_power_w")
        return self


# --------------------------------------------------------------------------- rack


SlotKind = Literal["compute", "switch", "power_shelf", "network", "other"]


class Slot(Model):
    """A block of identical units stacked upward from rack unit `u`."""

    kind: SlotKind
    """What sits there; compute and switch take their height from the tray definitions."""
    u: PositiveInt
    """Lowest rack unit of the block (1 = bottom)."""
    count: Annotated[int, Field(gt=0, le=100)] = 1
    """Units stacked one above the other."""
    height_u: PositiveInt | None = None
    """Height of one unit; only for power_shelf (else power.shelves.height_u), network and other."""
    power_w: NonNegativeFloat = 0.0
    """Constant power of one unit, W; only for network and other (air-cooled, fed from the busbar)."""


class Rack(Model):
    """The rack frame and what sits in it, bottom to top."""

    height_u: Annotated[int, Field(gt=0, le=100)]
    """Usable rack units."""
    u_pitch_mm: PositiveFloat = 48.0
    """Height of one rack unit, mm (OpenU 48 mm, EIA 44.45 mm)."""
    slots: list[Slot] = Field(min_length=1)
    """Trays and shelves in slot order with their U positions."""


# --------------------------------------------------------------------------- power


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


# --------------------------------------------------------------------------- cooling


class Pumps(Model):
    """CDU pumps."""

    count: UnitCount
    """Pumps installed; all healthy pumps share the flow."""
    redundancy: Redundancy
    """Pumps that may fail with full flow kept: N none, N+1 one, N+N half."""
    flow_lpm: PositiveFloat
    """Total coolant flow delivered to the rack at the operating point, L/min."""
    power_w_each: NonNegativeFloat
    """Electrical power of one running pump at the operating point, W."""


class Cdu(Model):
    """Coolant distribution unit between facility water and the rack's secondary loop."""

    location: Literal["in_rack", "in_row"]
    """in_rack CDUs are powered from the rack busbar; in_row pump power is facility load."""
    approach_temp_c: NonNegativeFloat
    """Secondary supply minus facility water temperature at `capacity_w`, K (scales with the heat load)."""
    capacity_w: PositiveFloat
    """Heat the CDU rejects at the design approach, W."""
    loop_volume_l: PositiveFloat
    """Coolant in the rack's secondary loop (manifolds, hoses, plates, CDU share); it heats up when the
    CDU stops rejecting heat, L."""
    pumps: Pumps


class Fans(Model):
    """Rack fans for the air-cooled share of the heat."""

    count: Annotated[int, Field(ge=0, le=10_000)]
    """Fans in the rack (trays and shelves together)."""
    max_power_w_each: NonNegativeFloat
    """Power of one fan at full speed, W; power ∝ speed³ (fan affinity law)."""
    max_airflow_m3_s_each: PositiveFloat
    """Airflow of one fan at full speed, m³/s; airflow ∝ speed."""
    min_speed_fraction: Annotated[float, Field(gt=0, le=1)]
    """Lowest speed the controller commands."""
    target_exhaust_rise_c: PositiveFloat
    """The controller sets the speed so exhaust air is this much above the inlet, K."""


class Cooling(Model):
    """Liquid loop and air path."""

    fluid: Literal["water", "pg25"]
    """Secondary coolant."""
    facility_supply_temp_c: float = Field(gt=-20, lt=80)
    """Facility water supply temperature, °C."""
    cdu: Cdu
    air_inlet_temp_c: float = Field(gt=-20, lt=60)
    """Air temperature at the rack inlet, °C."""
    fans: Fans


# --------------------------------------------------------------------------- network and cabling


# The `network` section (scale-up, scale-out, protocols) is modelled in racksim/network/schema.py.
# The `cabling` section (media catalog, link groups, routes) is modelled in racksim/cabling/schema.py.


# --------------------------------------------------------------------------- design

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_CORDS_PER_UNIT = 16
"""Power cords of one network or other unit (real gear has one or two per PSU)."""


class Design(Model):
    """One candidate rack generation."""

    name: str
    """Short identifier, used for result directories."""
    description: str = ""
    """One-paragraph summary shown in reports."""
    rack: Rack
    compute_tray: ComputeTray
    switch_tray: SwitchTray
    power: Power
    cooling: Cooling
    network: Network
    cabling: Cabling
    reliability: Reliability | None = None
    """Failure processes for stochastic faults (reliability scenarios); absent: nothing fails by chance."""
    cost: CostSection | None = None
    """Cost of ownership (prices, energy, facility, failures); without it a run has no cost group."""

    @field_validator("name")
    @classmethod
    def _name_is_a_path_segment(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("name must be letters, digits, '.', '_' or '-' (it names a directory)")
        return name

    def slot_height_u(self, slot: Slot) -> int:
        """Height of one unit in a slot block, rack units."""
        if slot.kind == "compute":
            return self.compute_tray.height_u
        if slot.kind == "switch":
            return self.switch_tray.height_u
        if slot.kind == "power_shelf" and slot.height_u is None and self.power.shelves is not None:
            return self.power.shelves.height_u
        return slot.height_u or 1

    def slot_count(self, kind: SlotKind) -> int:
        """Units of one kind in the rack."""
        return sum(s.count for s in self.rack.slots if s.kind == kind)

    @model_validator(mode="after")
    def _rack_layout(self) -> Design:
        occupied: dict[int, int] = {}
        for index, slot in enumerate(self.rack.slots):
            if slot.height_u is not None and slot.kind in ("compute", "switch"):
                raise rule_error(f"rack.slots.{index}.height_u",
                                 f"{slot.kind} trays take their height from {slot.kind}_tray.height_u")
            if slot.power_w and slot.kind not in ("network", "other"):
                raise rule_error(f"rack.slots.{index}.power_w", "only network and other slots carry power_w")
            top = slot.u + slot.count * self.slot_height_u(slot) - 1
            if top > self.rack.height_u:
                raise rule_error(f"rack.slots.{index}", f"{slot.kind} block reaches U{top}, "
                                 f"above the rack's {self.rack.height_u} U")
            for u in range(slot.u, top + 1):
                if u in occupied:
                    raise rule_error(f"rack.slots.{index}", f"U{u} is already taken by rack.slots.{occupied[u]}")
                occupied[u] = index
        if self.slot_count("compute") == 0:
            raise rule_error("rack.slots", "a rack needs at least one compute tray")
        shelves = self.power.shelves
        shelf_slots = self.slot_count("power_shelf")
        if shelves is not None and shelf_slots != shelves.count:
            raise rule_error("rack.slots", f"{shelf_slots} power_shelf units but power.shelves.count is "
                             f"{shelves.count}")
        if shelves is None and shelf_slots:
            raise rule_error("rack.slots", "power_shelf slots without power.shelves")
        return self

    @model_validator(mode="after")
    def _spares_and_cords(self) -> Design:
        trays = self.slot_count("compute")
        if self.reliability is not None and self.reliability.hot_spare_trays >= trays:
            raise rule_error("reliability.hot_spare_trays", f"must leave the job at least one of the rack's "
                             f"{trays} compute trays")
        if self.cabling.power.cables_per_unit > MAX_CORDS_PER_UNIT:
            raise rule_error("cabling.power.cables_per_unit", f"must be at most {MAX_CORDS_PER_UNIT}")
        return self

    @model_validator(mode="after")
    def _scale_up_ports(self) -> Design:
        gpu_links = self.slot_count("compute") * self.compute_tray.gpus.count * self.network.scale_up.links_per_gpu
        ports = self.slot_count("switch") * self.switch_tray.ports
        if gpu_links > ports:
            raise rule_error("network.scale_up.links_per_gpu", f"{gpu_links} GPU links need more than the "
                             f"{ports} switch ports of the rack")
        return self
