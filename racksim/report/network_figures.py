"""Report figure of the networking model: collective time and bus bandwidth against message size per design."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from racksim._types import FloatArray
from racksim.design.schema import Design
from racksim.network import design_table
from racksim.report.plotkit import png, report_style
from racksim.report.rundir import read_yaml

SIZES_BYTES: FloatArray = np.asarray(2.0 ** np.arange(3, 34), dtype=np.float64)
"""8 B to 8 GiB, doubling (nccl-tests' default range)."""


def read_design(run_dir: Path) -> Design | None:
    """The design a run used (its design.resolved.yaml), or None if absent or not a valid design any more."""
    path = run_dir / "design.resolved.yaml"
    try:
        return Design.model_validate(read_yaml(path))
    except (OSError, yaml.YAMLError, ValidationError):
        return None


def collectives_figure(designs: Mapping[str, Design], colours: Mapping[str, str], op: str = "all-reduce") -> bytes:
    """Log-log time and busbw of `op` over each design's scale-up domain against message size (PNG)."""
    with report_style():
        from matplotlib.figure import Figure

        figure = Figure(figsize=(9.0, 3.6))
        time_axes, busbw_axes = figure.subplots(1, 2)
        for name, design in designs.items():
            table = design_table(design, op, SIZES_BYTES)
            label = f"{name} ({table.n_ranks} GPUs)"
            time_axes.loglog(table.size_bytes, table.time_s * 1e6, color=colours[name], label=label)
            busbw_axes.loglog(table.size_bytes, table.busbw_gbyte_s, color=colours[name], label=label)
        time_axes.set_ylabel("time (µs)")
        busbw_axes.set_ylabel("bus bandwidth (GB/s)")
        for axes in (time_axes, busbw_axes):
            axes.set_xlabel("message size (B)")
            axes.set_xscale("log", base=2)
        time_axes.set_title(f"{op}: time")
        busbw_axes.set_title(f"{op}: bus bandwidth (nccl-tests busbw)")
        busbw_axes.legend(fontsize=8, loc="lower right")
        figure.tight_layout()
        return png(figure)
