"""Design-file models of the `cabling` section: the media catalog, the link groups with their routes, power cords.

`racksim.design.schema` imports this module for `Design.cabling`, so it builds on `racksim.design.base` (importing
the design schema here would be circular).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from racksim.design.base import Model

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Positions = Annotated[list[NonNegativeFloat], Field(min_length=1)]
MediumName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
MediumKind = Literal["passive_copper", "active_copper", "optics", "cpo"]
POWER_CORD = "power_cord"
"""Name of the power cords in the bill of materials (reserved: no medium of the catalog may take it)."""


class Medium(Model):
    """A cable medium of the catalog: loss, reach, power, cost, mass and failure rate, per lane.

    A lane is one transmit and one receive path (two differential pairs or two fibres).
    """

    kind: MediumKind
    """passive_copper (DAC, cartridge twinax), active_copper (ACC/AEC: redrivers or retimers in the cable
    ends), optics (pluggable transceivers on fibre), cpo (co-packaged optics on fibre)."""
    skin_loss_db_per_m_sqrt_ghz: NonNegativeFloat = 0.0
    """Conductor (skin-effect) coefficient a of the cable's loss IL(f) = a·√f + b·f, dB/m with f in GHz;
    0 for fibre (its optical loss is inside the transceivers' reach)."""
    dielectric_loss_db_per_m_ghz: NonNegativeFloat = 0.0
    """Dielectric coefficient b of IL(f) = a·√f + b·f, dB/m per GHz; 0 for fibre."""
    equalization_gain_db: NonNegativeFloat = 0.0
    """Loss the medium's own electronics recover on top of the link's budget (redriver gain, retimer), dB."""
    max_length_m: PositiveFloat
    """Longest cable of this medium whatever the loss (product range, optical reach of the transceivers), m."""
    end_energy_pj_per_bit: NonNegativeFloat
    """Energy per bit at each end (transceiver, retimer, redriver), pJ/bit: an end draws e · lanes · lane rate."""
    cost_usd_per_lane_end: NonNegativeFloat
    """Cost per lane at each end (connector and paddle card, retimer, transceiver share), USD."""
    cost_usd_per_lane_m: NonNegativeFloat
    """Cable cost per lane and metre, USD/m."""
    mass_kg_per_lane_m: NonNegativeFloat
    """Cable mass per lane and metre, kg/m."""
    failure_rate_fit_per_lane_end: NonNegativeFloat
    """Failure rate per lane and end (connector, retimer, laser), FIT (failures per 10⁹ h)."""


class Riser(Model):
    """A vertical cable channel behind (or in front of) the trays: spine cartridges, a side channel, the busbar."""

    x_mm: Positions
    """Lateral positions of the channel's columns across the equipment bay; a cable climbs in the column
    nearest its source connector, mm."""
    depth_mm: NonNegativeFloat
    """Horizontal run from a tray's face back (or forward) to the channel, mm."""


class LinkGroup(Model):
    """Signal links of one kind: lanes, lane rate, loss budget, candidate media and route."""

    lanes_per_link: PositiveInt
    """Lanes per link (each one transmit and one receive path)."""
    lane_rate_gbps: PositiveFloat
    """Signalling rate of one lane in one direction, Gb/s."""
    bits_per_symbol: Literal[1, 2, 3] = 2
    """1 NRZ, 2 PAM4, 3 PAM8: the Nyquist frequency is lane rate / (2 · bits per symbol)."""
    loss_budget_db: PositiveFloat
    """Insertion loss at Nyquist the SerDes of the two ends allow between the tray connectors, both
    connectors included (what their host channels leave), dB."""
    connector_loss_db: NonNegativeFloat
    """Insertion loss at Nyquist of the mated connector at each end, dB."""
    media: list[MediumName] = Field(min_length=1)
    """Media of `cabling.media` the links may use; each link takes the cheapest that reaches it."""
    cable_unit: Literal["pair", "link"]
    """What counts as one cable: `pair` one differential pair or fibre per lane and direction (loose twinax
    in a cartridge: 2 · lanes cables per link), `link` one assembly per link."""
    face: Literal["front", "rear"] = "rear"
    """Tray face the group's connectors are on."""
    port_x_mm: Positions
    """Lateral positions of the connectors on the compute tray; its ports spread over them in order, in
    equal blocks, mm."""
    riser: Riser
    service_slack_m: NonNegativeFloat
    """Length added to every cable for bend radius, strain relief and dressing, m."""


class ScaleUpCabling(LinkGroup):
    """GPU links: each goes from a compute tray connector through the spine to a switch tray port.

    The links of a GPU go round-robin over the switch trays; switch ports are numbered by the GPU's place on
    its tray first, so the links of GPU j of every tray land on the same connector column (a cartridge).
    """

    switch_port_x_mm: Positions
    """Lateral positions of the connectors on the switch tray; its ports spread over them in equal blocks, mm."""


class ScaleOutCabling(LinkGroup):
    """NIC links: each goes from a compute tray NIC up its channel to the top of the rack and on to a leaf."""

    beyond_rack_m: NonNegativeFloat
    """Length from the top of the rack to the leaf switch port (a network rack), m; its transceiver power is
    drawn there, not from this rack."""


class PowerCabling(Model):
    """Power cords from units that do not blind-mate the busbar (network and other slots) to a busbar tap."""

    cables_per_unit: Annotated[int, Field(ge=0)]
    """Cords per network or other unit (compute and switch trays and power shelves blind-mate the busbar)."""
    port_x_mm: NonNegativeFloat
    """Lateral position of the units' power inlets, mm."""
    busbar: Riser
    """The busbar's position; a cord runs level from its inlet to the nearest column."""
    service_slack_m: NonNegativeFloat
    """Length added to every cord, m."""
    mass_kg_per_m: NonNegativeFloat
    """Cord mass per metre, kg/m."""
    cost_usd_per_cable: NonNegativeFloat
    """Cost of a cord's two plugs, USD."""
    cost_usd_per_m: NonNegativeFloat
    """Cord cost per metre, USD/m."""
    failure_rate_fit_per_cable: NonNegativeFloat
    """Failure rate of one cord, FIT (failures per 10⁹ h)."""


def _rule(field_path: str, rule: str) -> PydanticCustomError:
    """A validation error located at `field_path` (as `racksim.design.schema.rule_error`)."""
    return PydanticCustomError("field_rule", "{rule}", {"field": field_path, "rule": rule})


class Cabling(Model):
    """Cables of the rack: the media catalog, the scale-up and scale-out link groups and the power cords.

    Positions are in the rear plane of the rack: x across the equipment bay from its left edge, height from
    the bottom of U1 (a tray's ports sit at its mid-height).
    """

    bay_width_mm: PositiveFloat
    """Width of the equipment bay; every lateral position lies within it, mm."""
    tray_depth_mm: PositiveFloat
    """Depth from a tray's front face to its rear face (places front and rear connectors in the side view), mm."""
    media: dict[MediumName, Medium] = Field(min_length=1)
    """The media catalog by name."""
    scale_up: ScaleUpCabling
    scale_out: ScaleOutCabling
    power: PowerCabling

    @model_validator(mode="after")
    def _names_and_positions(self) -> Cabling:
        if POWER_CORD in self.media:
            raise _rule(f"media.{POWER_CORD}", "name reserved for the power cords")
        groups = {"scale_up": self.scale_up, "scale_out": self.scale_out}
        for name, group in groups.items():
            unknown = [medium for medium in group.media if medium not in self.media]
            if unknown:
                raise _rule(f"{name}.media", f"unknown medium {unknown[0]!r} (the catalog has "
                            f"{', '.join(self.media)})")
        positions = {
            **{f"{name}.port_x_mm": group.port_x_mm for name, group in groups.items()},
            **{f"{name}.riser.x_mm": group.riser.x_mm for name, group in groups.items()},
            "scale_up.switch_port_x_mm": self.scale_up.switch_port_x_mm,
            "power.port_x_mm": [self.power.port_x_mm],
            "power.busbar.x_mm": self.power.busbar.x_mm,
        }
        for path, values in positions.items():
            if max(values) > self.bay_width_mm:
                raise _rule(path, f"{max(values):g} mm lies outside the {self.bay_width_mm:g} mm bay")
        return self
