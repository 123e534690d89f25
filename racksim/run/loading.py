"""A design file loaded for a run: validated at the boundary, then checked for feasibility and risks at nameplate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from racksim.design.checks import DesignWarning, check_physical, design_warnings
from racksim.design.loader import load_model
from racksim.design.schema import Design
from racksim.errors import InputError
from racksim.physics.derived import check_feasible


@dataclass(frozen=True)
class LoadedDesign:
    """A validated design with its resolved form, content hash and nameplate figures."""

    design: Design
    source: str
    resolved: dict[str, Any]
    """The design as run, every default filled in (JSON-compatible)."""
    design_hash: str
    """sha256 of the resolved design's canonical JSON."""
    figures: dict[str, Any]
    warnings: tuple[DesignWarning, ...] = ()
    """Risks the design carries knowingly (racksim.design.checks): shown by validate and in the report."""


def load_design(path: str | Path, overrides: Iterable[str | tuple[list[str], Any]] = ()) -> LoadedDesign:
    """Load, merge, override, validate and check a design file; errors are one-line InputErrors."""
    design, _ = load_model(Design, Path(path), overrides)
    try:
        figures = check_feasible(design, str(path))
    except InputError as error:  # compiling the design (cabling plan) names the design: name the file
        if error.source != design.name:
            raise
        raise InputError(str(path), error.field_path, error.rule) from None
    check_physical(design, figures, str(path))
    resolved = design.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(resolved, sort_keys=True).encode()).hexdigest()
    return LoadedDesign(design, str(path), resolved, digest, figures, tuple(design_warnings(design, figures)))


__all__ = ["LoadedDesign", "load_design"]
