"""The sweep's results as one Parquet table: a row per point × design × scenario.

Columns: `point` (its id), `design`, `scenario`, `status` ("ok" or the one-line error that kept the point from
running), `run_dir` (relative to the sweep's folder), `param.<path>` per swept field, then every leaf of
metrics.json by dotted name (`power.loss_energy_j_by_stage.busbar`). A column's type follows its values:
integers, floats (integers and floats mixed), booleans or text (anything else as JSON text); missing cells are
null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from racksim.io import atomic_write_bytes

TABLE_FILE = "sweep.parquet"
FIXED_COLUMNS = ("point", "design", "scenario", "status", "run_dir")
PARAM_PREFIX = "param."


def _column(values: Sequence[Any]) -> pa.Array:
    """One column, typed by its non-null values."""
    present = [value for value in values if value is not None]
    if present and all(isinstance(value, bool) for value in present):
        return pa.array(values, pa.bool_())
    if present and all(isinstance(value, int) and not isinstance(value, bool) for value in present):
        return pa.array(values, pa.int64())
    if present and all(isinstance(value, int | float) and not isinstance(value, bool) for value in present):
        return pa.array([None if value is None else float(value) for value in values], pa.float64())
    if all(isinstance(value, str) for value in present):
        return pa.array(values, pa.string())
    return pa.array([None if value is None else value if isinstance(value, str) else json.dumps(value)
                     for value in values], pa.string())


def build_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows (dicts) as an Arrow table: the fixed columns, the parameters, then the metrics in name order."""
    names = {name for row in rows for name in row}
    params = sorted(name for name in names if name.startswith(PARAM_PREFIX))
    metrics = sorted(names - set(FIXED_COLUMNS) - set(params))
    order = [*FIXED_COLUMNS, *params, *metrics]
    return pa.table({name: _column([row.get(name) for row in rows]) for name in order})


def write_table(path: Path, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Write the rows as Parquet, atomically; returns the table."""
    table = build_table(rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return table

