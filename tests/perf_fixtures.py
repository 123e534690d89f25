"""GPUs and systems for the performance-model tests, compiled from the bundled designs (the one source of their
numbers)."""

from __future__ import annotations

from pathlib import Path

from racksim.design.loader import load_model
from racksim.design.schema import Design
from racksim.perf.hardware import accelerator_from_design

ROOT = Path(__file__).resolve().parent.parent
DESIGN_PATHS = {
    "gb200": ROOT / "designs" / "gb200-nvl72.yaml",
    "gb300": ROOT / "designs" / "gb300-nvl72.yaml",
    "vr": ROOT / "designs" / "vr-800vdc.yaml",
    "h100": ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml",
    "a100": ROOT / "designs" / "reference" / "dgx-a100.yaml",
    "b200": ROOT / "designs" / "reference" / "dgx-b200.yaml",
}
DESIGNS = {key: load_model(Design, path)[0] for key, path in DESIGN_PATHS.items()}
A100_SXM_80GB, H100_SXM, B200, GB200, GB300, RUBIN = (accelerator_from_design(DESIGNS[k])
                                                      for k in ("a100", "h100", "b200", "gb200", "gb300", "vr"))
REFERENCE_ACCELERATORS = {a.name: a for a in (A100_SXM_80GB, H100_SXM, B200, GB200, GB300, RUBIN)}
