"""Networking: the scale-up domain, scale-out NICs and fabric, collective times and link contention.

`compile_topology(design, n_racks)` gives the links as arrays; `design_table(design, op, sizes)` an nccl-tests-like
table of collective times; `network_metrics(design)` the design's constant `network.*` metrics.

Physics is in `contention` (max-min fair water-filling), `routing` (paths over the links) and `collectives`
(alpha-beta costs of ring, tree, in-switch and direct algorithms), all pure and vectorized.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from racksim.network.collectives import (
    OPS,
    CollectiveModel,
    CollectiveTable,
    bus_factor,
    collective_table,
    concurrent_time_s,
    design_table,
)
from racksim.network.topology import SCALE_UP, Topology, compile_topology

if TYPE_CHECKING:
    from racksim.design.schema import Design

REFERENCE_BYTES = 4 * 2**30
"""Message size of the reference collectives (4 GiB, as the published NVL72 nccl-tests figure), bytes."""
LATENCY_BYTES = 8
"""Message size of the latency figure (nccl-tests' smallest float all-reduce), bytes."""


def allreduce_busbw_gbyte_s(design: Design) -> float:
    """Bus bandwidth of the reference all-reduce over the design's scale-up domain, GB/s."""
    return float(design_table(design, "all-reduce", np.array([REFERENCE_BYTES])).busbw_gbyte_s[0])


def with_scale_up_links_down(topology: Topology, scale_up_links_down: np.ndarray) -> Topology:
    """The topology with these scale-up links failed.

    Links are indexed in the plant's scale-up order (GPU by GPU over every rack); racks are identical, so a
    failure in any rack lands on the same link of the modelled domain (rack 0), the slowest rack pacing.
    """
    rows = np.flatnonzero(topology.link_kind == SCALE_UP)
    per_rack = rows.size // topology.n_racks
    return topology.with_links_down(rows[np.asarray(scale_up_links_down, dtype=np.intp) % per_rack])


def allreduce_rate_with_links_down(design: Design, scale_up_links_down: np.ndarray) -> float:
    """Reference all-reduce speed with some scale-up links failed, relative to all links up (≤ 1).

    The slowest ring member paces the collective, so one failed link of 18 slows a ring all-reduce by 17/18.
    """
    if scale_up_links_down.size == 0:
        return 1.0
    ranks = design.slot_count("compute") * design.compute_tray.gpus.count
    sizes = np.array([REFERENCE_BYTES], dtype=np.float64)
    degraded_topology = with_scale_up_links_down(compile_topology(design), scale_up_links_down)
    degraded = collective_table(CollectiveModel(design, degraded_topology), "all-reduce", ranks, sizes)
    return float(degraded.busbw_gbyte_s[0]) / allreduce_busbw_gbyte_s(design)


def network_metrics(design: Design) -> dict[str, Any]:
    """The design's `network` metrics group, constant over a run: reference collectives over the scale-up domain."""
    sizes = np.array([LATENCY_BYTES, REFERENCE_BYTES], dtype=np.float64)
    reduce, exchange = design_table(design, "all-reduce", sizes), design_table(design, "all-to-all", sizes)
    tray = design.compute_tray
    return {
        "allreduce_busbw_gbyte_s": float(reduce.busbw_gbyte_s[1]),
        "allreduce_time_s": float(reduce.time_s[1]),
        "allreduce_latency_s": float(reduce.time_s[0]),
        "alltoall_busbw_gbyte_s": float(exchange.busbw_gbyte_s[1]),
        "scale_up_gpus": reduce.n_ranks,
        "scale_out_gbyte_s_per_gpu": tray.nics.count * tray.nics.bandwidth_gbps / 8 / tray.gpus.count,
    }


def link_utilization(design: Design, traffic_gbyte_per_gpu: tuple[float, float], duration_s: float) -> dict[str, float]:
    """Mean utilization of each GPU's scale-up links and scale-out NICs over a run (one direction).

    u = bytes moved per GPU / (per-GPU capacity · duration): scale-up capacity = links · link rate, scale-out =
    NICs · line rate / GPUs per tray; dimensionless.
    """
    tray, up = design.compute_tray, design.network.scale_up
    up_gbyte_s = up.links_per_gpu * up.link_bandwidth_gbyte_s
    out_gbyte_s = tray.nics.count * tray.nics.bandwidth_gbps / 8 / tray.gpus.count
    return {
        "scale_up_utilization": traffic_gbyte_per_gpu[0] / (up_gbyte_s * duration_s),
        "scale_out_utilization": traffic_gbyte_per_gpu[1] / (out_gbyte_s * duration_s) if out_gbyte_s else 0.0,
    }


__all__ = [
    "LATENCY_BYTES",
    "OPS",
    "REFERENCE_BYTES",
    "CollectiveModel",
    "CollectiveTable",
    "Topology",
    "allreduce_busbw_gbyte_s",
    "bus_factor",
    "compile_topology",
    "concurrent_time_s",
    "design_table",
    "link_utilization",
    "network_metrics",
    "with_scale_up_links_down",
]
