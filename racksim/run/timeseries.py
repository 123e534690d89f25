"""A run's time series as Parquet: one float64 column per quantity, unit in its name, run metadata in the file.

`timeseries.parquet` holds the recorder's columns (racksim.engine.recorder.SERIES_COLUMNS: `time_s`,
`feed_power_w`, `gpu_temp_c_max`, `throttled_gpu_fraction`, `work_units`, ...), each name ending in its unit,
and the run's design, scenario, seed and racksim version in the file's key-value metadata (`racksim.*`).
Results written before the Parquet format hold `timeseries.npz` instead: reading one is a one-line error that
says how to regenerate it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from racksim._types import FloatArray
from racksim.errors import InputError
from racksim.io import atomic_write_bytes

if TYPE_CHECKING:
    import pyarrow as pa

TIMESERIES_FILE = "timeseries.parquet"
LEGACY_TIMESERIES_FILE = "timeseries.npz"
"""The format before Parquet: no longer read (rerun to regenerate)."""
METADATA_PREFIX = "racksim."
"""Prefix of the run's metadata keys in the Parquet file (racksim.design, racksim.scenario, ...)."""
UNIT_SUFFIXES = ("_s", "_w", "_j", "_c", "_fraction", "_units", "_c_max", "_c_mean")
"""How a column's name ends: its unit (s, W, J, °C), a fraction of 1, or work units."""


def timeseries_bytes(columns: Mapping[str, FloatArray], metadata: Mapping[str, object]) -> bytes:
    """The Parquet file of `columns` (float64, in order) with `metadata` as `racksim.<key>` string pairs."""
    import pyarrow as pa

    unitless = [name for name in columns if not name.endswith(UNIT_SUFFIXES)]
    if unitless:
        raise ValueError(f"time-series columns without a unit in their name: {', '.join(unitless)}")
    return parquet_bytes(pa.table({name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}),
                         metadata)


def parquet_bytes(table: pa.Table, metadata: Mapping[str, object]) -> bytes:
    """`table` as a zstd-compressed Parquet file with `metadata` as `racksim.<key>` string pairs."""
    import pyarrow.parquet as pq

    table = table.replace_schema_metadata({f"{METADATA_PREFIX}{key}": str(value) for key, value in metadata.items()})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


def write_timeseries(path: Path, columns: Mapping[str, FloatArray], metadata: Mapping[str, object]) -> None:
    """Write `columns` and the run's `metadata` to the Parquet file `path`, atomically."""
    atomic_write_bytes(path, timeseries_bytes(columns, metadata))


def read_timeseries(run_dir: Path, file: str = TIMESERIES_FILE) -> dict[str, FloatArray]:
    """The columns of a run directory's time series as float64 arrays ({} if the run has none).

    `file` names another series of the directory (grid.parquet). A directory from before the Parquet format
    (timeseries.npz only) is a one-line InputError.
    """
    import pyarrow.parquet as pq

    path = Path(run_dir) / file
    if not path.is_file():
        if (Path(run_dir) / LEGACY_TIMESERIES_FILE).is_file():
            raise InputError(str(Path(run_dir) / LEGACY_TIMESERIES_FILE), "", "time series in the old .npz format; "
                             "regenerate the results with this racksim version (racksim run ... --force)")
        return {}
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(str(path), "", f"unreadable time series: {error}") from error
    return {name: table.column(name).to_numpy().astype(np.float64, copy=False) for name in table.column_names}


def read_timeseries_metadata(run_dir: Path) -> dict[str, str]:
    """The run metadata of a run directory's time series (design, scenario, seed, version: racksim's)."""
    import pyarrow.parquet as pq

    stored = pq.read_schema(Path(run_dir) / TIMESERIES_FILE).metadata or {}
    return {key.decode()[len(METADATA_PREFIX):]: value.decode() for key, value in stored.items()
            if key.decode().startswith(METADATA_PREFIX)}
