"""The base every input model builds on (design sections, suites): frozen, strict, documented fields.

It imports pydantic alone, so subsystem schemas (cabling, network, reliability, cost) can build on it while
`racksim.design.schema` imports them for its `Design` model.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
Redundancy = Literal["N", "N+1", "N+N"]
UnitCount = Annotated[int, Field(gt=0, le=64)]
"""Chips of a kind on a tray, switch ASICs, PSUs in a shelf, CDU pumps: 64 at most. Real racks hold a few; the
bound keeps a typo (or a hostile file) from building arrays of billions of components."""


def rule_error(field_path: str, rule: str) -> PydanticCustomError:
    """A validation error located at `field_path` (relative to the validating model)."""
    return PydanticCustomError("field_rule", "{rule}", {"field": field_path, "rule": rule})


class Model(BaseModel):
    """Frozen, strict base: unknown keys, NaN and infinity are errors."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, use_attribute_docstrings=True
    )
