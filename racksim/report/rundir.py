"""Lenient readers of a run directory: its JSON files, the resolved design, and what the thermal figures use of them.

Older result directories lack some files; a missing, unreadable or malformed file reads as None (or {}), never
an error, so whatever needs it simply shows nothing.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from racksim.run.components import read_component


def read_json(path: Path) -> Any | None:  # noqa: ANN401 - any JSON value
    """The JSON in `path`, or None if the file is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=64)
def _parsed_yaml(text: str) -> Any:  # noqa: ANN401 - any YAML value
    return yaml.safe_load(text)


def read_yaml(path: Path) -> Any:  # noqa: ANN401 - any YAML value
    """`yaml.safe_load` of the file (raises OSError, yaml.YAMLError), each text parsed once per process.

    A design's resolved YAML is the same text in every scenario's run, and read for several sections; the
    caller gets a copy of its own.
    """
    return copy.deepcopy(_parsed_yaml(path.read_text(encoding="utf-8")))


def _get(node: Any, *keys: str) -> Any:  # noqa: ANN401 - any YAML value
    """node[k1][k2]..., or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _positive_int(value: Any) -> int | None:  # noqa: ANN401 - any YAML value
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _finite(value: Any) -> float | None:  # noqa: ANN401 - any JSON or YAML value
    if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


def load_resolved(directory: Path) -> dict[str, Any]:
    """design.resolved.yaml of a run directory, or {} if missing or unreadable."""
    path = Path(directory) / "design.resolved.yaml"
    try:
        data = read_yaml(path) if path.is_file() else None
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Unit:
    """One unit of a slot block: a tray, shelf or box, from rack unit `u` up, `height_u` high."""

    u: int
    height_u: int
    kind: str


@dataclass(frozen=True)
class RackLayout:
    """The units of one rack, bottom to top, in a rack `height_u` high."""

    height_u: int
    units: tuple[Unit, ...]


def rack_layout(resolved: Mapping[str, Any]) -> RackLayout | None:
    """The rack's units from a resolved design (heights as racksim.design.schema.Design.slot_height_u)."""
    height = _positive_int(_get(resolved, "rack", "height_u"))
    slots = _get(resolved, "rack", "slots")
    if height is None or not isinstance(slots, list):
        return None
    tray_heights = {"compute": _positive_int(_get(resolved, "compute_tray", "height_u")) or 1,
                    "switch": _positive_int(_get(resolved, "switch_tray", "height_u")) or 1}
    shelf_height = _positive_int(_get(resolved, "power", "shelves", "height_u"))
    units = []
    for slot in slots:
        kind, u, count = _get(slot, "kind"), _positive_int(_get(slot, "u")), _positive_int(_get(slot, "count"))
        if not isinstance(kind, str) or u is None or count is None:
            continue
        own = _positive_int(_get(slot, "height_u"))
        if kind in tray_heights:
            each = tray_heights[kind]
        elif kind == "power_shelf" and own is None and shelf_height is not None:
            each = shelf_height
        else:
            each = own or 1
        units += [Unit(u + index * each, each, kind) for index in range(count)]
    return RackLayout(height, tuple(sorted(units, key=lambda unit: unit.u))) if units else None


def gpu_thresholds(resolved: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(throttle, shutdown) temperature of the design's GPUs, °C, where the resolved design gives them."""
    thermal = _get(resolved, "compute_tray", "gpus", "thermal")
    return _finite(_get(thermal, "throttle_temp_c")), _finite(_get(thermal, "shutdown_temp_c"))


def tray_temperatures(directory: Path) -> tuple[dict[int, float], int] | None:
    """Hottest die of each compute tray by its lowest rack unit (over all racks), and the number of racks.

    From the compute-tray summary (racksim.run.components); None if the run has none or it is unreadable.
    """
    trays = read_component(directory, "compute_trays")
    units, temps = _get(trays, "u"), _get(trays, "die_temp_c_max")
    if not isinstance(units, list) or not isinstance(temps, list) or len(units) != len(temps):
        return None
    racks = _get(trays, "rack")
    by_u: dict[int, float] = {}
    for u, temp in zip(units, temps, strict=True):
        value = _finite(temp)
        if _positive_int(u) is not None and value is not None:
            by_u[u] = max(by_u.get(u, -np.inf), value)
    rack_count = len({str(r) for r in racks}) if isinstance(racks, list) and racks else 1
    return (by_u, rack_count) if by_u else None
