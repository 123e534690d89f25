"""Hall-file schema: rows of racks sharing row feeders, an upstream UPS and in-row CDUs.

A hall file names one rack design (a path relative to the hall file) and how many racks and rows, or `groups`
of racks of several designs, each in rows of its own; and the row-level power and cooling the racks share.
Validated like a design: frozen models, unknown keys refused, one-line errors (racksim.design.loader.load_model).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.design.base import Model, PositiveFloat, PositiveInt, rule_error
from racksim.design.power_schema import EfficiencyCurve

MAX_RACKS = 10_000
"""Racks in one hall at most: enough for a 700,000-GPU hall, and a typo cannot ask for billions of arrays."""
RackCount = Annotated[int, Field(gt=0, le=MAX_RACKS)]


BUSWAY_RESISTANCE_OHM_PER_M = 0.47e-3 / 30.48
"""Line-to-neutral resistance of a 3,200 A copper busway: 0.47 mΩ per 100 ft (P: Eaton Pow-R-Way III technical
data TD01701001E, Table 8), Ω/m; 3,200 A carries a 2.1 MW row at 415 V (2.9 kA)."""
UPS_DOUBLE_CONVERSION = EfficiencyCurve(load_fraction=[0.1, 0.25, 0.5, 0.75, 1.0],
                                        efficiency=[0.955, 0.97, 0.97, 0.97, 0.97])
"""Double-conversion efficiency vs load: 97 % at every load level from 25 % (S: Schneider Galaxy VS "up to 97 %
in double conversion", schneiderupsus.com blog quoting the datasheet); 95.5 % at 10 % (A: no-load losses)."""
UPS_ECO = EfficiencyCurve(load_fraction=[0.1, 0.25, 0.5, 0.75, 1.0],
                          efficiency=[0.985, 0.99, 0.99, 0.99, 0.99])
"""ECO (eConversion) mode: a third of the double-conversion losses (P: Schneider Galaxy VX operation manual
990-5452, "reduce the electricity absorbed by the UPS by a factor three compared with double conversion"), i.e.
99 % (S: Galaxy VS "up to 99 % in eConversion")."""


class RowPower(Model):
    """The power every row shares: its feeder (busway), and the UPS upstream of all rows.

    Losses: each row's busway loses P_row² · R / V² (three phases, line-to-line V, unity power factor, R the
    line-to-neutral resistance over its length, the whole load taken at the far end), and the UPS loses
    P_out · (1/η(P_out / C) − 1) on its efficiency curve.
    """

    feeder_capacity_w: PositiveFloat
    """Rating of each row's feeder: the sum of its racks' feed power it carries, W."""
    on_overload: Literal["cap", "trip"] = "cap"
    """What an overloaded row (or UPS) does: cap the GPUs of every rack it feeds (the rack design's capping
    controller, its response time and lowest cap), or trip every rack it feeds."""
    ups_capacity_w: PositiveFloat | None = None
    """Rating of the UPS upstream of every row (the hall's critical load), W; absent: not modelled (no UPS loss)."""
    busway_resistance_ohm_per_m: PositiveFloat = BUSWAY_RESISTANCE_OHM_PER_M
    """Line-to-neutral resistance of the row's busway per metre, Ω/m (default: 3,200 A copper, Eaton Pow-R-Way III)."""
    busway_length_m: PositiveFloat = 30.0
    """Length of each row's busway from the switchboard to its last rack, m (A: a 14-rack row of 0.6 m racks,
    8.4 m, plus ~20 m of run to the switchboard)."""
    busway_voltage_v: PositiveFloat = 415.0
    """Line-to-line voltage of the row busway, V (415 V three-phase, the GB200 NVL72 rack's input)."""
    ups_mode: Literal["double_conversion", "eco"] = "double_conversion"
    """The UPS's operating mode, choosing its default efficiency curve."""
    ups_efficiency: EfficiencyCurve | None = None
    """The UPS's efficiency vs load fraction of ups_capacity_w; absent: the mode's published curve."""

    @property
    def ups_curve(self) -> EfficiencyCurve:
        """The UPS efficiency curve in force: the one given, else the mode's default."""
        if self.ups_efficiency is not None:
            return self.ups_efficiency
        return UPS_ECO if self.ups_mode == "eco" else UPS_DOUBLE_CONVERSION


class RowCdus(Model):
    """In-row CDUs: each serves a run of neighbouring racks of one row."""

    racks_per_cdu: PositiveInt
    """Racks one CDU serves (the last CDU of a row may serve fewer)."""
    capacity_w: PositiveFloat
    """Heat one CDU rejects at the rack design's approach temperature, W."""


class HallGroup(Model):
    """Racks of one design in rows of their own (rows are homogeneous: a hall is built a row at a time)."""

    design: Annotated[str, Field(min_length=1)]
    """The group's rack design file, relative to the hall file."""
    racks: RackCount
    """Racks of the group's design."""
    rows: PositiveInt = 1
    """Rows the group's racks are split over; row sizes differ by one rack at most."""


class Hall(Model):
    """A hall: `racks` racks of one `design` split evenly over `rows` rows, or `groups` of racks of several designs.

    With groups, the hall's rows are the groups' rows in order (row 0 is the first group's first row), and
    `racks` and `rows`, if given, must be the groups' totals.
    """

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """Names the hall's runs (results go to OUT/<name>/<scenario>)."""
    description: str = ""
    """One-paragraph summary shown in reports."""
    design: Annotated[str, Field(min_length=1)] | None = None
    """The rack design file, relative to the hall file (a hall of one design; else give `groups`)."""
    groups: Annotated[list[HallGroup], Field(min_length=1)] | None = None
    """Racks of several designs, each group in rows of its own (else give `design`)."""
    racks: RackCount | None = None
    """Racks in the hall (with groups: optional, their total)."""
    rows: PositiveInt = 1
    """Rows the racks are split over; row sizes differ by one rack at most (with groups: optional, their total)."""
    row_power: RowPower | None = None
    """Row feeders and UPS; absent: the racks' own feeds are the only power limit."""
    row_cdus: RowCdus | None = None
    """In-row CDUs shared by neighbouring racks; absent: each rack has the CDU its design describes."""

    @property
    def rack_groups(self) -> list[HallGroup]:
        """The hall's groups; a hall of one design is one group."""
        if self.groups is not None:
            return self.groups
        assert self.design is not None  # the validator saw to both
        assert self.racks is not None
        return [HallGroup(design=self.design, racks=self.racks, rows=self.rows)]

    @property
    def rack_count(self) -> int:
        """Racks in the hall."""
        return sum(group.racks for group in self.rack_groups)

    @property
    def row_count(self) -> int:
        """Rows in the hall."""
        return sum(group.rows for group in self.rack_groups)

    @model_validator(mode="after")
    def _rows_hold_racks(self) -> Hall:
        if self.design is not None and self.groups is not None:
            raise rule_error("groups", "give design (racks of one design) or groups (racks of several), not both")
        if self.design is None and self.groups is None:
            raise rule_error("design", "give design (racks of one design) or groups (racks of several)")
        if self.design is not None and self.racks is None:
            raise rule_error("racks", "a hall of one design says how many racks it holds")
        if self.groups is not None:
            if self.racks is not None and self.racks != self.rack_count:
                raise rule_error("racks", f"{self.racks} racks, but the groups hold {self.rack_count}")
            if "rows" in self.model_fields_set and self.rows != self.row_count:
                raise rule_error("rows", f"{self.rows} rows, but the groups have {self.row_count}")
            if self.rack_count > MAX_RACKS:
                raise rule_error("groups", f"{self.rack_count} racks in all: a hall holds {MAX_RACKS} at most")
        for index, group in enumerate(self.rack_groups):
            if group.rows > group.racks:
                where = f"groups.{index}.rows" if self.groups is not None else "rows"
                raise rule_error(where, f"{group.rows} rows for {group.racks} racks: every row needs a rack")
        longest_row = max(-(-group.racks // group.rows) for group in self.rack_groups)
        if self.row_cdus is not None and self.row_cdus.racks_per_cdu > longest_row:
            raise rule_error("row_cdus.racks_per_cdu", f"{self.row_cdus.racks_per_cdu} racks per CDU, but the "
                             f"longest row has {longest_row}: a CDU serves one row")
        return self
