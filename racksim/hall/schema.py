"""Hall-file schema: rows of identical racks sharing row feeders, an upstream UPS and in-row CDUs.

A hall file names one rack design (a path relative to the hall file), how many racks and rows, and the
row-level power and cooling the racks share. Validated like a design: frozen models, unknown keys refused,
one-line errors (racksim.design.loader.load_model).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from racksim.schema_base import Model, PositiveFloat, PositiveInt, rule_error

MAX_RACKS = 10_000
"""Racks in one hall at most: enough for a 700,000-GPU hall, and a typo cannot ask for billions of arrays."""


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


class Hall(Model):
    """A hall: `racks` racks of one design, split evenly over `rows` rows."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """Names the hall's runs (results go to OUT/<name>/<scenario>)."""
    description: str = ""
    design: Annotated[str, Field(min_length=1)]
    """The rack design file, relative to the hall file (one design per hall)."""
    racks: Annotated[int, Field(gt=0, le=MAX_RACKS)]
    rows: PositiveInt = 1
    """Rows the racks are split over; row sizes differ by one rack at most."""
    row_power: RowPower | None = None
    """Row feeders and UPS; absent: the racks' own feeds are the only power limit."""
    row_cdus: RowCdus | None = None
    """In-row CDUs shared by neighbouring racks; absent: each rack has the CDU its design describes."""

    @model_validator(mode="after")
    def _rows_hold_racks(self) -> Hall:
        if self.rows > self.racks:
            raise rule_error("rows", f"{self.rows} rows for {self.racks} racks: every row needs a rack")
        longest_row = -(-self.racks // self.rows)
        if self.row_cdus is not None and self.row_cdus.racks_per_cdu > longest_row:
            raise rule_error("row_cdus.racks_per_cdu", f"{self.row_cdus.racks_per_cdu} racks per CDU, but the "
                             f"longest row has {longest_row}: a CDU serves one row")
        return self
