"""Hall-file schema: rows of racks sharing row feeders, an upstream UPS and in-row CDUs.

A hall file names one rack design (a path relative to the hall file) and how many racks and rows, or `groups`
of racks of several designs, each in rows of its own; and the row-level power and cooling the racks share.
Validated like a design: frozen models, unknown keys refused, one-line errors (racksim.design.loader.load_model).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.design.base import Model, PositiveFloat, PositiveInt, rule_error

MAX_RACKS = 10_000
"""Racks in one hall at most: enough for a 700,000-GPU hall, and a typo cannot ask for billions of arrays."""
RackCount = Annotated[int, Field(gt=0, le=MAX_RACKS)]


class RowPower(Model):
    """The power every row shares: its feeder (busway), and the UPS upstream of all rows."""

    feeder_capacity_w: PositiveFloat
    """Rating of each row's feeder: the sum of its racks' feed power it carries, W."""
    on_overload: Literal["cap", "trip"] = "cap"
    """What an overloaded row (or UPS) does: cap the GPUs of every rack it feeds (the rack design's capping
    controller, its response time and lowest cap), or trip every rack it feeds."""
    ups_capacity_w: PositiveFloat | None = None
    """Rating of the UPS upstream of every row (the hall's critical load), W; absent: not modelled."""


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
