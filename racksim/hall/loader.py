"""Load a hall file, or a rack design as a hall of one: what `racksim run` and `compare` accept.

A hall loads as a LoadedDesign whose design is the rack design renamed after the hall (so results, reports
and comparisons name the hall), with the hall and its layout beside it. `--set` overrides apply to the rack
design. Errors are one-line InputErrors naming the hall file, the field and the rule.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racksim.design import LoadedDesign, load_design
from racksim.design.loader import load_model, resolve_extends
from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.hall.layout import HallLayout
from racksim.hall.schema import Hall

Overrides = Iterable[str | tuple[list[str], Any]]


@dataclass(frozen=True, kw_only=True)
class LoadedHall(LoadedDesign):
    """A validated hall: `design` is its rack design renamed after the hall, `source` the rack design's file."""

    hall: Hall
    layout: HallLayout
    hall_resolved: dict[str, Any]
    """The hall as run, every default filled in (JSON-compatible)."""


def is_hall_file(path: str | Path) -> bool:
    """Whether a YAML file describes a hall (it says how many `racks`) rather than one rack."""
    return "racks" in resolve_extends(Path(path))


def check_hall(hall: Hall, design: Design, source: str) -> None:
    """Raise InputError for the first rule the hall breaks with its rack design."""
    power = hall.row_power
    if power is not None and power.on_overload == "cap" and design.power.capping is None:
        raise InputError(source, "row_power.on_overload", "cap needs the rack design's power.capping controller "
                         "(its response time and lowest GPU cap); give the design one, or use trip")
    if hall.row_cdus is not None and design.cooling.cdu.location != "in_row":
        raise InputError(source, "row_cdus", "the rack design's CDU is in_rack; in-row CDUs need a design "
                         "with cooling.cdu.location: in_row")


def load_hall(path: str | Path, overrides: Overrides = ()) -> LoadedHall:
    """Load and check a hall file and its rack design (overrides apply to the rack design)."""
    path = Path(path)
    hall, _ = load_model(Hall, path)
    design_path = path.parent / hall.design
    if not design_path.is_file():
        raise InputError(str(path), "design", f"rack design {hall.design} not found (relative to the hall file)")
    rack = load_design(design_path, overrides)
    check_hall(hall, rack.design, str(path))
    hall_resolved = hall.model_dump(mode="json")
    content = {"hall": {k: v for k, v in hall_resolved.items() if k != "design"}, "design": rack.resolved}
    figures = {**rack.figures, "racks": hall.racks, "rows": hall.rows,
               "hall_gpu_count": rack.figures["gpu_count"] * hall.racks,
               "hall_nameplate_feed_power_w": rack.figures["nameplate_feed_power_w"] * hall.racks}
    return LoadedHall(
        design=rack.design.model_copy(update={"name": hall.name}), source=str(design_path),
        resolved={**rack.resolved, "name": hall.name},
        design_hash=hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest(),
        figures=figures, warnings=rack.warnings, hall=hall, layout=HallLayout.of(hall), hall_resolved=hall_resolved,
    )


def load_target(path: str | Path, overrides: Overrides = ()) -> LoadedDesign:
    """A hall file as a LoadedHall, a rack design file as a LoadedDesign (a hall of one)."""
    return load_hall(path, overrides) if is_hall_file(path) else load_design(path, overrides)


def layout_of(loaded: LoadedDesign) -> HallLayout:
    """The hall layout of a loaded hall; one rack with no row limits for a rack design."""
    return loaded.layout if isinstance(loaded, LoadedHall) else HallLayout.plain()
