"""Load a hall file, or a rack design as a hall of one: what `racksim run` and `compare` accept.

A hall loads as a LoadedDesign whose design is the rack design (with groups: the first group's) renamed after
the hall (so results, reports and comparisons name the hall), with the hall, its layout and its groups beside
it. `--set` overrides apply to every rack design. Errors are one-line InputErrors naming the hall file, the
field and the rule.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from racksim.design.hall_schema import Hall
from racksim.design.loader import is_file, load_model, parse_override, resolve_extends
from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.physics.layout import HallLayout
from racksim.physics.rows import ups_shares_w
from racksim.run.loading import LoadedDesign, load_design

Overrides = Iterable[str | tuple[list[str], Any]]


@dataclass(frozen=True)
class LoadedGroup:
    """One group of a hall's racks: one rack design in rows of its own, run as a hall of its own."""

    index: int
    rack: LoadedDesign
    """The group's rack design, under its own name."""
    layout: HallLayout
    """The group as a hall: its rows, their feeders and CDUs, and its share of the UPS."""
    first_rack: int
    """Hall-wide index of the group's first rack."""
    first_row: int
    """Hall-wide index of the group's first row."""

    @property
    def label(self) -> str:
        """'group 1 (gb300-nvl72, racks 70-139, rows 5-9)': how events and errors name the group."""
        def span(name: str, first: int, count: int) -> str:
            return f"{name} {first}" if count == 1 else f"{name}s {first}-{first + count - 1}"

        return (f"group {self.index} ({self.rack.design.name}, {span('rack', self.first_rack, self.layout.n_racks)}, "
                f"{span('row', self.first_row, self.layout.n_rows)})")


@dataclass(frozen=True, kw_only=True)
class LoadedHall(LoadedDesign):
    """A validated hall: `design` is its (first group's) rack design renamed after the hall, `source` that file."""

    hall: Hall
    layout: HallLayout
    """The whole hall (with groups: theirs side by side)."""
    hall_resolved: dict[str, Any]
    """The hall as run, every default filled in (JSON-compatible)."""
    groups: tuple[LoadedGroup, ...]
    """The hall's groups (a hall of one design: one)."""

    @property
    def is_mixed(self) -> bool:
        """Whether the hall file gives `groups` (each then runs as its own simulation, racksim.run.mixed_hall)."""
        return self.hall.groups is not None


def is_hall_file(path: str | Path) -> bool:
    """Whether a YAML file describes a hall (it says how many `racks`, or gives `groups`) rather than one rack."""
    data = resolve_extends(Path(path))
    return "racks" in data or "groups" in data


def check_hall(hall: Hall, design: Design, source: str, where: str = "") -> None:
    """Raise InputError for the first rule the hall breaks with a rack design (`where` names its group)."""
    power = hall.row_power
    if power is not None and power.on_overload == "cap" and design.power.capping is None:
        raise InputError(source, "row_power.on_overload", f"cap needs the rack design's power.capping controller "
                         f"(its response time and lowest GPU cap){where}; give the design one, or use trip")
    if hall.row_cdus is not None and design.cooling.cdu.location != "in_row":
        raise InputError(source, "row_cdus", f"the rack design's CDU is in_rack{where}; in-row CDUs need a design "
                         "with cooling.cdu.location: in_row")


def _load_rack(path: Path, design: str, field: str, overrides: Overrides) -> LoadedDesign:
    design_path = path.parent / design
    if not is_file(design_path):
        raise InputError(str(path), field, f"rack design {design} not found (relative to the hall file)")
    return load_design(design_path, overrides)


HALL_PREFIX = "hall"
"""Overrides of `hall.<field>` set the hall file's fields; the others set the rack designs'."""


def split_overrides(overrides: Overrides) -> tuple[list[tuple[list[str], Any]], list[str | tuple[list[str], Any]]]:
    """(the hall's overrides with `hall.` taken off, the rack designs' overrides)."""
    hall: list[tuple[list[str], Any]] = []
    rack: list[str | tuple[list[str], Any]] = []
    for override in overrides:
        parts, value = parse_override(override) if isinstance(override, str) else override
        if parts[0] == HALL_PREFIX and len(parts) > 1:
            hall.append((parts[1:], value))
        else:
            rack.append(override)
    return hall, rack


def load_hall(path: str | Path, overrides: Overrides = ()) -> LoadedHall:
    """Load and check a hall file and its rack design(s).

    Overrides of `hall.<field>` apply to the hall file, the others to every rack design.
    """
    path = Path(path)
    hall_overrides, overrides = split_overrides(overrides)
    hall, _ = load_model(Hall, path, hall_overrides)
    if hall.groups is None:
        assert hall.design is not None
        rack = _load_rack(path, hall.design, "design", overrides)
        check_hall(hall, rack.design, str(path))
        layout = HallLayout.of(hall)
        groups: tuple[LoadedGroup, ...] = (LoadedGroup(0, rack, layout, 0, 0),)
        hall_resolved = hall.model_dump(mode="json", exclude={"groups"})
        content: dict[str, Any] = {"hall": {k: v for k, v in hall_resolved.items() if k != "design"},
                                   "design": rack.resolved}
    else:
        racks = [_load_rack(path, group.design, f"groups.{i}.design", overrides) for i, group in enumerate(hall.groups)]
        for index, rack in enumerate(racks):
            check_hall(hall, rack.design, str(path), f" (groups.{index}: {hall.groups[index].design})")
        layouts = group_layouts(hall, racks)
        first_rack = np.cumsum([0] + [layout.n_racks for layout in layouts])
        first_row = np.cumsum([0] + [layout.n_rows for layout in layouts])
        groups = tuple(LoadedGroup(i, rack, layout, int(first_rack[i]), int(first_row[i]))
                       for i, (rack, layout) in enumerate(zip(racks, layouts, strict=True)))
        layout = HallLayout.joined(layouts)
        hall_resolved = {**hall.model_dump(mode="json", exclude={"design"}), "racks": hall.rack_count,
                         "rows": hall.row_count}
        content = {"hall": {**hall_resolved, "groups": [{k: v for k, v in group.items() if k != "design"}
                                                        for group in hall_resolved["groups"]]},
                   "designs": [rack.resolved for rack in racks]}
    first = groups[0].rack
    figures = {**(first.figures if len(groups) == 1 else {}), "racks": hall.rack_count, "rows": hall.row_count,
               "hall_gpu_count": sum(g.rack.figures["gpu_count"] * g.layout.n_racks for g in groups),
               "hall_nameplate_feed_power_w": sum(g.rack.figures["nameplate_feed_power_w"] * g.layout.n_racks
                                                  for g in groups)}
    warnings = tuple(dict.fromkeys(warning for group in groups for warning in group.rack.warnings))
    return LoadedHall(
        design=first.design.model_copy(update={"name": hall.name}), source=first.source,
        resolved={**first.resolved, "name": hall.name},
        design_hash=hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest(),
        figures=figures, warnings=warnings, hall=hall, layout=layout, hall_resolved=hall_resolved, groups=groups,
    )


def group_layouts(hall: Hall, racks: Sequence[LoadedDesign]) -> list[HallLayout]:
    """Each group's layout, with the UPS split in proportion to the groups' nameplate feed power (rows.ups_shares_w)."""
    power = hall.row_power
    ups_capacity_w = (power.ups_capacity_w or math.inf) if power else math.inf
    nameplate_w = np.array([rack.figures["nameplate_feed_power_w"] * group.racks
                            for rack, group in zip(racks, hall.rack_groups, strict=True)])
    shares_w = ups_shares_w(ups_capacity_w, nameplate_w)
    return [HallLayout.of(hall, group, float(share_w))
            for group, share_w in zip(hall.rack_groups, shares_w, strict=True)]


def load_target(path: str | Path, overrides: Overrides = ()) -> LoadedDesign:
    """A hall file as a LoadedHall, a rack design file as a LoadedDesign (a hall of one)."""
    return load_hall(path, overrides) if is_hall_file(path) else load_design(path, overrides)


def layout_of(loaded: LoadedDesign) -> HallLayout:
    """The hall layout of a loaded hall; one rack with no row limits for a rack design."""
    return loaded.layout if isinstance(loaded, LoadedHall) else HallLayout.plain()


def design_groups(loaded: LoadedDesign) -> list[tuple[Design, HallLayout]]:
    """Each design group of a loaded hall with its layout; a rack design is one group of one plain rack."""
    if isinstance(loaded, LoadedHall):
        return [(group.rack.design, group.layout) for group in loaded.groups]
    return [(loaded.design, HallLayout.plain())]
