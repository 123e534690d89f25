"""A run's per-component summaries as Parquet: one table per kind of component, a row per component.

`components/` in a run directory holds `chips.parquet` (label, kind, temp_c_max, throttled_s),
`compute_trays.parquet` (rack, u, die_temp_c_max), `racks.parquet` (row, input_energy_j, feed_w_max) and
`rows.parquet` (feed_w_max, feeder_capacity_w: null for a row without a feeder rating), the columns as
racksim.run.metrics.component_summary makes them (units in their names), with the run's metadata in each
file's key-value metadata as in the time series (`racksim.design`, ...). Results written before this format
hold `components.json` instead, which nothing reads any more: rerun to regenerate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from racksim.io import atomic_write_bytes
from racksim.run.timeseries import parquet_bytes

COMPONENTS_DIR = "components"
PARTS = ("chips", "compute_trays", "racks", "rows")
"""The summaries' tables, each `COMPONENTS_DIR/<part>.parquet`."""
LEGACY_COMPONENTS_FILE = "components.json"
"""The format before Parquet: no longer read."""


def component_path(run_dir: Path, part: str) -> Path:
    """Where a run directory's `part` table is."""
    return Path(run_dir) / COMPONENTS_DIR / f"{part}.parquet"


def table_bytes(columns: Mapping[str, Sequence[Any]], metadata: Mapping[str, object]) -> bytes:
    """A Parquet file of `columns` (numbers, strings or booleans, one entry per row) with the run's `metadata`."""
    import pyarrow as pa

    return parquet_bytes(pa.table({name: list(values) for name, values in columns.items()}), metadata)


def write_components(run_dir: Path, components: Mapping[str, Mapping[str, Sequence[Any]]],
                     metadata: Mapping[str, object]) -> None:
    """Write each part of `components` ({part: {column: values}}) as its Parquet table, atomically."""
    unknown = set(components) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown component summaries: {', '.join(sorted(unknown))}")
    for part, columns in components.items():
        atomic_write_bytes(component_path(run_dir, part), table_bytes(columns, metadata))


def read_table(path: Path) -> dict[str, list[Any]] | None:
    """The columns of the Parquet table in `path` as lists, or None if it is missing or unreadable."""
    import pyarrow.parquet as pq

    if not Path(path).is_file():
        return None
    try:
        columns: dict[str, list[Any]] = pq.read_table(path).to_pydict()
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return None
    return columns


def read_component(run_dir: Path, part: str) -> dict[str, list[Any]] | None:
    """The columns of a run directory's `part` table as lists, or None if it is missing or unreadable."""
    return read_table(component_path(run_dir, part))
