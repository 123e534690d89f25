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
    "Results": "racksim.results",
}
"""Public name → the module that defines it."""
_SUBMODULES = ("results",)
"""Public modules, imported on first use (`racksim.results.open(RESULTS_DIR)`)."""

if TYPE_CHECKING:
    from racksim import results
    from racksim.design.schema import Design
    from racksim.design.suite import Scenario, Suite, load_suite
    from racksim.results import Results
    from racksim.run.loading import LoadedDesign, load_design
    from racksim.run.pipeline import RunRequest, run_many, run_one


def __getattr__(name: str) -> Any:  # noqa: ANN401 - any public name
    """Import a public name's module (or a public module) on first use."""
    if name in _SUBMODULES:
        value: Any = importlib.import_module(f"racksim.{name}")
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module 'racksim' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, for completion."""
    return sorted({*globals(), *_PUBLIC, *_SUBMODULES})


__all__ = ["Design", "LoadedDesign", "Results", "RunRequest", "Scenario", "Suite", "__version__", "load_design",
           "load_suite", "results", "run_many", "run_one"]
