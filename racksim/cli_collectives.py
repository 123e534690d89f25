"""`racksim collectives`: an nccl-tests-like table of modelled collective times for one design (imports lazily)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from racksim.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from racksim.network.collectives import CollectiveTable

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)
_UNIT_BYTES = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
MAX_BYTES = 2**40
"""Largest message size accepted, bytes."""


def parse_bytes(text: str, option: str) -> int:
    """'8', '64K', '1M', '8G' (binary multiples, as nccl-tests) → bytes."""
    match = _SIZE.match(text)
    if not match or not 0 < int(match.group(1)) * _UNIT_BYTES[match.group(2).lower()] <= MAX_BYTES:
        raise InputError(option, text, "expected a size from 1 byte to 1T, like 8, 64K, 1M or 8G")
    return int(match.group(1)) * _UNIT_BYTES[match.group(2).lower()]


def doubling_sizes(min_bytes: int, max_bytes: int) -> np.ndarray:
    """min, 2·min, 4·min, ... up to max (inclusive), bytes."""
    if max_bytes < min_bytes:
        raise InputError("--max-bytes", str(max_bytes), f"must not be below --min-bytes ({min_bytes})")
    import numpy as np

    count = int(np.floor(np.log2(max_bytes / min_bytes))) + 1
    return min_bytes * 2.0 ** np.arange(count)


def table_json(design: str, table: CollectiveTable) -> dict[str, object]:
    """The table as JSON-ready columns."""
    return {"design": design, "op": table.op, "gpus": table.n_ranks, "size_bytes": table.size_bytes.tolist(),
            "time_s": table.time_s.tolist(), "algbw_gbyte_s": table.algbw_gbyte_s.tolist(),
            "busbw_gbyte_s": table.busbw_gbyte_s.tolist(), "algorithm": list(table.algorithm),
            "protocol": list(table.protocol)}


def collectives(
    design: Annotated[Path, typer.Argument(help="Design file.")],
    op: Annotated[str, typer.Option(help="all-reduce, all-gather, reduce-scatter or all-to-all.")] = "all-reduce",
    gpus: Annotated[int | None, typer.Option(help="Ranks; beyond the scale-up domain, whole racks.")] = None,
    min_bytes: Annotated[str, typer.Option(help="Smallest size: 8, 64K, 1M, 8G.")] = "8",
    max_bytes: Annotated[str, typer.Option(help="Largest size.")] = "8G",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a design field: dotted.path=value.")]
    = None,
) -> None:
    """Modelled collective time, algbw and busbw for sizes doubling from --min-bytes to --max-bytes."""
    from rich.console import Console
    from rich.table import Table

    from racksim.network.collectives import OPS, design_table
    from racksim.run.loading import load_design

    if op not in OPS:
        raise InputError("--op", op, f"expected one of {', '.join(OPS)}")
    sizes = doubling_sizes(parse_bytes(min_bytes, "--min-bytes"), parse_bytes(max_bytes, "--max-bytes"))
    loaded = load_design(design, set_ or ())
    table = design_table(loaded.design, op, sizes, gpus, source=str(design))
    if as_json:
        print(json.dumps(table_json(loaded.design.name, table), indent=2))
        return
    view = Table(title=f"{loaded.design.name}: {op} over {table.n_ranks} GPUs (modelled)")
    for heading in ("size (B)", "time (us)", "algbw (GB/s)", "busbw (GB/s)", "algorithm", "protocol"):
        view.add_column(heading, justify="left" if heading in ("algorithm", "protocol") else "right", no_wrap=True)
    for size, time_s, algbw, busbw, algorithm, protocol in zip(
            table.size_bytes, table.time_s, table.algbw_gbyte_s, table.busbw_gbyte_s, table.algorithm,
            table.protocol, strict=True):
        view.add_row(f"{size:,.0f}", f"{time_s * 1e6:,.2f}", f"{algbw:,.2f}", f"{busbw:,.2f}", algorithm, protocol)
    Console().print(view)
