"""racksim: co-design simulator for AI data-center racks (power, cooling, networking, cabling).

The public API: load a design, run scenarios, compute metrics and write reports. Names are imported on first
use (PEP 562), so `import racksim` or `import racksim.errors` loads no simulation code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from racksim._version import __version__

_PUBLIC = {
    "Design": "racksim.design.schema",
    "LoadedDesign": "racksim.run.loading",
    "load_design": "racksim.run.loading",
    "Scenario": "racksim.design.suite",
    "Suite": "racksim.design.suite",
    "load_suite": "racksim.design.suite",
    "RunRequest": "racksim.run.pipeline",
    "run_many": "racksim.run.pipeline",
    "run_one": "racksim.run.pipeline",
}
"""Public name → the module that defines it."""

if TYPE_CHECKING:
    from racksim.design.schema import Design
    from racksim.design.suite import Scenario, Suite, load_suite
    from racksim.run.loading import LoadedDesign, load_design
    from racksim.run.pipeline import RunRequest, run_many, run_one


def __getattr__(name: str) -> Any:  # noqa: ANN401 - any public name
    """Import a public name's module on first use."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'racksim' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for completion."""
    return sorted([*globals(), *_PUBLIC])


__all__ = ["Design", "LoadedDesign", "RunRequest", "Scenario", "Suite", "__version__", "load_design", "load_suite",
           "run_many", "run_one"]
