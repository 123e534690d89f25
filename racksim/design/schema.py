"""Design-file schema: pydantic v2 models, units in every quantity's name.

Every model is frozen and forbids unknown keys; every field carries a docstring that ends up
in the JSON Schema (`racksim schema`). Cross-field rules live in the validators of the model
that owns all the fields they compare, so an error names the narrowest field path possible.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from racksim.design.accelerator_schema import AcceleratorSpec
from racksim.design.base import (
    Fraction,
    Model,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Redundancy,
    UnitCount,
    rule_error,
)
from racksim.design.cabling_schema import Cabling
from racksim.design.cost_schema import CostSection
from racksim.design.network_schema import Network
from racksim.design.power_schema import Power
from racksim.design.reliability_schema import Reliability

PortCount = Annotated[int, Field(gt=0, le=4096)]
"""Ports of a switch tray: 4096 at most (an NVL72 switch tray has 144)."""


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
    accelerator: AcceleratorSpec | None = None
    """Peaks per precision, HBM and efficiency curves for the performance model (`racksim perf`); absent: the
    design cannot be used for performance predictions."""

    @model_validator(mode="after")
    def _one_peak(self) -> GpuSpec:
        """dense_tflops and fp4_dense_tflops restate the accelerator's peaks: they must agree with it."""
        if self.accelerator is None:
            return self
        peaks = self.accelerator.peak_tflops
        training, name = (peaks.fp8, "fp8") if peaks.fp8 is not None else (peaks.bf16, "bf16")
        if abs(self.dense_tflops - training) > 1e-9 * training:
            raise rule_error("dense_tflops", f"{self.dense_tflops:g} differs from accelerator.peak_tflops.{name} "
                             f"({training:g}): one GPU, one peak")
        if self.fp4_dense_tflops is not None and self.fp4_dense_tflops != peaks.fp4:
            raise rule_error("fp4_dense_tflops", f"{self.fp4_dense_tflops:g} differs from "
                             f"accelerator.peak_tflops.fp4 ({peaks.fp4}): one GPU, one peak")
        return self


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


# The `network` section (scale-up, scale-out, protocols) is modelled in racksim/design/network_schema.py.
# The `cabling` section (media catalog, link groups, routes) is modelled in racksim/design/cabling_schema.py.


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
