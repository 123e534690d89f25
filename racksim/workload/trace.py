"""Trace replay: a CSV of utilization or GPU power over time drives the racks, row by row."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from racksim.design.workload_schema import TraceWorkload
from racksim.errors import InputError
from racksim.physics.operating_point import Activity
from racksim.workload.phases import Phase, UncheckpointedSchedule

MAX_TRACE_ROWS = 1_000_000


@dataclass(frozen=True)
class Trace:
    """A validated trace: row start times and the GPU (per GPU or all), CPU and network utilizations."""

    time_s: np.ndarray
    gpu_utilization: np.ndarray
    """(rows,) for every GPU alike, or (rows, GPUs)."""
    cpu_utilization: np.ndarray
    network_utilization: np.ndarray
    period_s: float
    """Length of the trace: the last row holds for the median row interval."""


def gpu_utilization_from_power(power_w: np.ndarray, idle_w: float, tdp_w: float) -> np.ndarray:
    """Invert P = P_idle + u · (P_max − P_idle): u = (P − P_idle)/(P_max − P_idle), clipped to [0, 1]."""
    return np.clip((power_w - idle_w) / (tdp_w - idle_w), 0.0, 1.0)


def load_trace(path: Path, gpus_per_rack: int, n_racks: int, idle_w: float, tdp_w: float) -> Trace:
    """Read and check a trace CSV; errors name the file, the column or row, and the rule."""
    source = str(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader if row and not row[0].lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(source, "", f"cannot read the trace: {error}") from None
    if len(rows) < 2:
        raise InputError(source, "", "a trace needs a header and at least one row")
    if len(rows) > MAX_TRACE_ROWS:
        raise InputError(source, "", f"more than {MAX_TRACE_ROWS} rows")
    header = [name.strip() for name in rows[0][1]]
    if "time_s" not in header:
        raise InputError(source, "time_s", "the header must have a time_s column")
    parsed = []
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise InputError(source, f"line {line}", f"expected {len(header)} values, found {len(row)}")
        try:
            parsed.append([float(cell) for cell in row])
        except ValueError:
            raise InputError(source, f"line {line}", "values must be numbers") from None
    values = np.array(parsed, dtype=np.float64)
    if not np.isfinite(values).all():
        raise InputError(source, f"line {rows[1 + int(np.argmax(~np.isfinite(values).all(axis=1)))][0]}",
                         "values must be finite")
    column = {name: values[:, i] for i, name in enumerate(header)}
    time_s = column["time_s"]
    if time_s[0] != 0 or (np.diff(time_s) <= 0).any():
        raise InputError(source, "time_s", "must start at 0 and increase row by row")
    gpu_columns = [name for name in header if name.startswith("gpu") and name[3:].isdigit()]
    if "gpu_power_w" in column:
        gpu = gpu_utilization_from_power(column["gpu_power_w"], idle_w, tdp_w)
    elif "gpu_utilization" in column:
        gpu = column["gpu_utilization"]
    elif gpu_columns:
        if sorted(gpu_columns) != sorted(f"gpu{i}" for i in range(len(gpu_columns))):
            raise InputError(source, "gpu0", "GPU columns must be gpu0, gpu1, … without gaps")
        if len(gpu_columns) not in (gpus_per_rack, gpus_per_rack * n_racks):
            raise InputError(source, "gpu0", f"{len(gpu_columns)} GPU columns: give one per GPU of a rack "
                             f"({gpus_per_rack}) or of the job ({gpus_per_rack * n_racks})")
        gpu = np.column_stack([column[f"gpu{i}"] for i in range(len(gpu_columns))])
        gpu = np.tile(gpu, (1, n_racks)) if len(gpu_columns) == gpus_per_rack else gpu
    else:
        raise InputError(source, "", "give a gpu_utilization, gpu_power_w or gpu0 … gpuN column")
    for name in ("gpu_utilization", "cpu_utilization", "network_utilization", *gpu_columns):
        if name in column and ((column[name] < 0) | (column[name] > 1)).any():
            raise InputError(source, name, "utilizations must lie in [0, 1]")
    step_s = float(np.median(np.diff(time_s))) if time_s.size > 1 else 1.0
    zeros = np.zeros_like(time_s)
    return Trace(time_s, gpu, column.get("cpu_utilization", zeros), column.get("network_utilization", zeros),
                 float(time_s[-1] + step_s))


@dataclass(frozen=True)
class TraceSchedule(UncheckpointedSchedule):
    """A trace on one design: one compute-paced phase per row; work in busy GPU-hours."""

    trace: Trace
    n_gpus: int
    loop: bool
    work_unit: str = "GPU-hours"

    @classmethod
    def for_design(cls, workload: TraceWorkload, gpus_per_rack: int, n_racks: int, idle_w: float,
                   tdp_w: float) -> TraceSchedule:
        """Load the workload's trace for the design's GPUs."""
        return cls(load_trace(workload.path, gpus_per_rack, n_racks, idle_w, tdp_w), gpus_per_rack * n_racks,
                   workload.loop)

    def phases(self) -> Iterator[Phase]:
        """Each row for its interval (the last for the median one), over and over when looping."""
        trace = self.trace
        ends = np.append(trace.time_s[1:], trace.period_s)
        while True:
            for row, duration_s in enumerate(ends - trace.time_s):
                gpu = trace.gpu_utilization[row]
                busy_gpu_h = float(np.mean(gpu)) * self.n_gpus * duration_s / 3600.0
                activity = Activity(gpu if np.ndim(gpu) else float(gpu), float(trace.cpu_utilization[row]),
                                    float(trace.network_utilization[row]))
                yield Phase("trace", activity, float(duration_s), "compute", work_units=busy_gpu_h)
            if not self.loop:
                yield Phase("idle", Activity(0.0, 0.05, 0.0), math.inf)
                return
