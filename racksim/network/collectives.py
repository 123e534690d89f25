"""Collective times from the links: alpha-beta costs of ring, tree, in-switch and direct algorithms.

Every algorithm has the form T(S) = t_base + k·α + S·β. The per-step latency α is the longest path of its
transfers (links and switches) plus the protocol's step cost; β comes from routing the algorithm's concurrent
transfers over the actual links with max-min fair sharing, so a failed link slows exactly the transfers that
cross it and the slowest transfer paces the collective. For each size the fastest (algorithm, protocol) wins,
as NCCL's tuner picks. Beyond one rack, all-reduce runs NCCL's multi-node algorithms (flat ring, tree, NVLS-tree)
with their intra- and inter-rack phases pipelined over chunks (`pipeline.py`), all-gather and reduce-scatter a
flat ring over the ranks of every rack (`CollectiveModel.hierarchical`). Sizes S follow nccl-tests: the
per-rank buffer for all-reduce, the total gathered (scattered, exchanged) size for the others; algbw = S / T and
busbw = algbw · F with F = 2(n−1)/n for all-reduce and (n−1)/n otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.design.network_schema import Protocol
from racksim.errors import InputError
from racksim.network.pipeline import TREE_CHUNK_BYTES, pipelined
from racksim.network.protocols import (
    NVLS_CHUNK_BYTES,
    NVLS_FULL_CHUNK_OPS,
    Cost,
    bytes_per_channel,
    in_switch_fill_bytes,
    time_s,
)
from racksim.network.routing import Router
from racksim.network.topology import Topology, compile_topology

if TYPE_CHECKING:
    from racksim.design.schema import Design

OPS = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all")
BYTES_PER_GBYTE = 1e9
TREE_BANDWIDTH_SHARE = 0.92
"""Share of the routed rate a tree all-reduce achieves (NCCL src/graph/tuning.cc ncclTopoTuneModel: busBw * .92)."""
NVLS_TREE_INTRA_SHARE = 0.916
"""Share of the in-switch (NVLS) rate left to NVLS-tree's intra-rack phase, which also stages every chunk for the
network (C: 2 × 8 H100 on 8 × 400G InfiniBand, 8 GiB: 468.0 GB/s measured against 510.9 at the full in-switch
rate; checked on the run's other sizes and on 2 GB200 NVL72 racks, tests/test_network_nccl_curves.py)."""

NVLS_TREE_MAX_DOMAINS = 2
"""Scale-up domains up to which NCCL runs an all-reduce as NVLS-tree. Beyond two nodes its tuner counts NVLS-tree's
network bandwidth halved (src/graph/tuning.cc at v2.26.2-1: bw = min(bwIntra, nNodes <= 2 ? bwInter : bwInter/2))
and picks Tree: 20 GB200 NVL72 racks (coreweave/nccl-tests, NCCL 2.26.2) follow the Tree's chain fill and slope at
every size (tests/test_network_nccl_curves.py)."""


def bus_factor(op: str, n_ranks: int) -> float:
    """nccl-tests' busbw / algbw: 2(n−1)/n for all-reduce, (n−1)/n for all-gather, reduce-scatter, all-to-all."""
    return (2.0 if op == "all-reduce" else 1.0) * (n_ranks - 1) / n_ranks


@dataclass(frozen=True)
class CollectiveTable:
    """An nccl-tests-like table: per message size, the time, algbw, busbw and the winning algorithm."""

    op: str
    n_ranks: int
    size_bytes: FloatArray
    time_s: FloatArray
    algorithm: tuple[str, ...]
    protocol: tuple[str, ...]

    @property
    def algbw_gbyte_s(self) -> FloatArray:
        """Algorithm bandwidth S / T, GB/s."""
        return self.size_bytes / self.time_s / BYTES_PER_GBYTE

    @property
    def busbw_gbyte_s(self) -> FloatArray:
        """Bus bandwidth algbw · F (nccl-tests), GB/s."""
        return self.algbw_gbyte_s * bus_factor(self.op, self.n_ranks)


def _double_tree_edges(n: int) -> tuple[IndexArray, IndexArray]:
    """Parent → child edges of two binary trees over ranks 0..n−1 (heap order, and mirrored), as (parent, child)."""
    child = np.arange(1, n)
    parent = (child - 1) // 2
    return np.concatenate([parent, n - 1 - parent]), np.concatenate([child, n - 1 - child])


class CollectiveModel:
    """Collective costs of one design on a topology (one rack, or N racks on the fabric)."""

    def __init__(self, design: Design, topology: Topology) -> None:
        """Bundle the topology's links for routing."""
        self.network = design.network
        self.topology = topology
        self.router = Router(topology)

    @property
    def _protocols(self) -> dict[str, Protocol]:
        p = self.network.protocols
        return {"ll": p.ll, "ll128": p.ll128, "simple": p.simple}

    def _rate_and_latency(self, src: IndexArray, dst: IndexArray) -> tuple[float, float]:
        """Slowest effective rate (GB/s, protocol efficiency applied) and longest path latency (s) of transfers."""
        routed = self.router.route(src, dst)
        efficiency = np.where(routed.cross_rack, self.network.scale_out.efficiency,
                              self.network.scale_up.p2p_efficiency)
        return float(np.min(routed.rate_gbyte_s * efficiency)), float(np.max(routed.latency_s))

    def _costs(self, name: str, steps: int, bytes_fraction: float, rate_gbyte_s: float, path_s: float,
               n_ranks: int) -> list[Cost]:
        """T = t_base + steps · (path + t_step) + S · fraction / (rate · payload share), for each protocol.

        `bytes_fraction` is the share of S the slowest transfer carries over the whole collective; below
        channels · b_ch bytes the bytes term runs on fewer channels (`protocols.time_s`).
        """
        channels = self.network.scale_up.channels
        return [Cost(p.base_latency_s + steps * (path_s + p.step_latency_s),
                     bytes_fraction / (rate_gbyte_s * p.bandwidth_fraction * BYTES_PER_GBYTE) if rate_gbyte_s > 0
                     else math.inf, name, key, channels, bytes_per_channel(key, name, n_ranks))
                for key, p in self._protocols.items()]

    def ring(self, op: str, rings: IndexArray) -> list[Cost]:
        """Ring all-reduce (2(n−1) steps of S/n), all-gather or reduce-scatter (n−1 steps of S/n).

        `rings` is (rings, n): rows run concurrently (the same phase in every rack, or every rail).
        """
        n = rings.shape[1]
        rate, path_s = self._rate_and_latency(rings.ravel(), np.roll(rings, -1, axis=1).ravel())
        steps = 2 * (n - 1) if op == "all-reduce" else n - 1
        return self._costs("ring", steps, steps / n, rate, path_s, n)

    def tree(self, groups: IndexArray) -> list[Cost]:
        """Double-binary-tree all-reduce: reduce up and broadcast down two trees, each carrying S/2.

        T = t_base + 2·⌈log2(n+1)⌉·α + (S/2) / (0.92 · r_min), every tree edge busy in both directions at once;
        0.92 is NCCL's tree all-reduce bandwidth share (src/graph/tuning.cc, ncclTopoTuneModel: busBw * .92).
        """
        n = groups.shape[1]
        parent, child = _double_tree_edges(n)
        src = np.concatenate([groups[:, child], groups[:, parent]], axis=1).ravel()
        dst = np.concatenate([groups[:, parent], groups[:, child]], axis=1).ravel()
        rate, path_s = self._rate_and_latency(src, dst)
        return self._costs("tree", 2 * math.ceil(math.log2(n + 1)), 0.5, rate * TREE_BANDWIDTH_SHARE, path_s, n)

    def in_switch(self, group: IndexArray) -> list[Cost]:
        """In-switch all-reduce (NVLS) inside one rack.

        T = t_base + 2·α + S·(1 + 1/n) / (η · Σ_c min_g B_gc) + t_fill · min(1, S / S_fill): each GPU sends and
        receives S·(1 + 1/n); chip c takes a share of the data in proportion to the slowest member's bandwidth to
        it, so a GPU's failed link lowers every member's share of that chip. The chunk pipeline's fill t_fill
        grows with the chunks up to S_fill = 64 · channels · 128 KiB, then stays t_fill = rounds · channels ·
        128 KiB at the in-switch rate (rounds: design, calibrated), so it scales with the links.
        """
        up = self.network.scale_up
        efficiency = up.in_switch_efficiency
        top = self.topology
        if efficiency is None or np.unique(group // top.gpus_per_rack).size > 1:
            return []
        n = group.size
        bandwidth = top.gpu_switch_bandwidth_gbyte_s[group[0] // top.gpus_per_rack][group % top.gpus_per_rack]
        rate = float(bandwidth.min(axis=0).sum()) * efficiency
        path_s = 2 * float(top.link_latency_s.max()) + float(top.node_latency_s.max())
        simple = self.network.protocols.simple
        fixed_s = self.network.protocols.in_switch_base_latency_s + 2 * (path_s + simple.step_latency_s)
        s_per_byte = (1 + 1 / n) / (rate * BYTES_PER_GBYTE) if rate > 0 else math.inf
        full_bytes = in_switch_fill_bytes(up.in_switch_channels)
        fill_s = up.in_switch_fill_rounds * full_bytes / NVLS_FULL_CHUNK_OPS * s_per_byte
        return [Cost(fixed_s, s_per_byte, "in-switch", "simple", fill_s=fill_s, fill_bytes=full_bytes)]

    def direct(self, groups: IndexArray) -> list[Cost]:
        """All-to-all: every rank sends S/n to every other at once; one step, paced by the slowest transfer.

        `groups` is one group of ranks, or (groups, n) exchanging at the same time (expert-parallel groups).
        """
        groups = np.atleast_2d(groups)
        n = groups.shape[1]
        src = np.repeat(groups, n, axis=1).ravel()
        dst = np.tile(groups, (1, n)).ravel()
        off = src != dst
        rate, path_s = self._rate_and_latency(src[off], dst[off])
        return self._costs("direct", 1, 1 / n, rate, path_s, n)

    def concurrent(self, op: str, groups: IndexArray) -> list[Cost]:
        """Every cost of `op` run at once by each row of `groups` (GPU indices), as a job's parallel groups do.

        Rows share links through the router's max-min fair shares; in-switch reduction is open to groups inside
        one rack, the slowest group pacing.
        """
        if op == "all-to-all":
            return self.direct(groups)
        costs = self.ring(op, groups)
        if op != "all-reduce":
            return costs
        in_switch = [self.in_switch(group) for group in groups]
        if not all(in_switch):
            return costs + self.tree(groups)
        return [*costs, *self.tree(groups), max((c[0] for c in in_switch), key=lambda cost: cost.s_per_byte)]

    def candidates(self, op: str, n_ranks: int) -> list[Cost]:
        """Every (algorithm, protocol) cost of `op` over the first `n_ranks` GPUs (whole racks beyond one)."""
        top = self.topology
        m = top.gpus_per_rack
        if n_ranks < 2 or (n_ranks > m and (n_ranks % m or n_ranks // m > top.n_racks)):
            raise ValueError(f"{n_ranks} ranks do not fit {top.n_racks} rack(s) of {m} GPUs")
        racks = max(1, n_ranks // m)
        if op == "all-to-all":
            return self.direct(np.arange(n_ranks))
        if n_ranks <= m:
            group = np.arange(n_ranks)[None, :]
            costs = self.ring(op, group)
            return costs + self.tree(group) + self.in_switch(group[0]) if op == "all-reduce" else costs
        return self.hierarchical(op, np.arange(racks * m).reshape(racks, m))

    def hierarchical(self, op: str, local: IndexArray) -> list[Cost]:
        """Every cost of `op` over a group spanning racks: row r of `local` holds the group's GPUs in rack r.

        All-reduce: NCCL's flat ring, tree and NVLS-tree (`flat_ring`, `pipelined_trees`). All-gather and
        reduce-scatter: the flat ring only; NCCL runs NVLS for them inside one node only (src/enqueue.cc skips NVLS
        all-gather/reduce-scatter when nNodes > 1) and PAT only at one GPU per node.
        """
        if op == "all-to-all":
            return self.direct(local.reshape(1, -1))
        if op == "all-reduce":
            m = local.shape[1]
            n_heads = self._heads(m)
            heads = np.arange(n_heads) * m // n_heads
            return self.flat_ring(op, local) + self.pipelined_trees(local, local[:, heads].T.copy())
        return self.flat_ring(op, local)

    def _heads(self, m: int) -> int:
        """NICs per scale-up domain a cross-domain collective of m GPUs per domain drives (`collective_nics`)."""
        limit = self.network.scale_out.collective_nics
        return m if limit is None else min(m, limit)

    def flat_ring(self, op: str, local: IndexArray) -> list[Cost]:
        """NCCL's multi-node ring: R rings over every rank, each carrying S/R, run at once.

        Ring k visits each rack's GPUs of the group from its (k·m/R)-th on, so the R rings leave each rack from R
        different GPUs (NICs) and the fabric carries R flows per rack boundary; R = min(m, channels), m the group's
        GPUs per rack (one ring per channel, NCCL src/graph/rings.cc). T = t_base + k·α + f·(S/R) / r_min with the
        ring's k steps and share f (`ring`), r_min the slowest routed flow.
        """
        m = local.shape[1]
        n_rings = min(m, self.network.scale_up.channels, self._heads(m))
        offsets = np.arange(n_rings) * m // n_rings
        rings = local[:, (np.arange(m)[None, :] + offsets[:, None]) % m].transpose(1, 0, 2).reshape(n_rings, -1)
        return [replace(c, s_per_byte=c.s_per_byte / n_rings) for c in self.ring(op, rings)]

    def chain(self, local: IndexArray) -> list[Cost]:
        """The intra-rack part of NCCL's tree all-reduce: a chain through each rack's GPUs, reduce up, broadcast down.

        Every chain edge carries S in each direction (the reduced data up, the result down), so a GPU sends 2S:
        T = t_base + 2(m−1)·α + S / (0.92 · r_min), r_min the slowest routed edge (NCCL tuning.cc: tree busBw · .92).
        """
        m = local.shape[1]
        up, down = local[:, 1:].ravel(), local[:, :-1].ravel()
        rate, path_s = self._rate_and_latency(np.concatenate([up, down]), np.concatenate([down, up]))
        return self._costs("chain", 2 * (m - 1), 1.0, rate * TREE_BANDWIDTH_SHARE, path_s, m)

    def pipelined_trees(self, local: IndexArray, rails: IndexArray) -> list[Cost]:
        """Multi-rack all-reduce as NCCL's tree and NVLS-tree: an intra-rack phase pipelined with trees on the rails.

        Tree: the chain in each rack (`chain`) with a double binary tree across racks on every rail, chunks of
        512 KiB per channel. NVLS-tree (when the switch reduces): in-switch reduce-scatter and multicast in each rack
        with the same trees across racks, chunks of 128 KiB per NVLS channel, the in-switch rate times
        `NVLS_TREE_INTRA_SHARE`. Each rail carries S/m. The phases
        overlap over chunks (`pipeline.pipelined`): T ≈ fill + max(intra, inter) instead of their sum.
        """
        up = self.network.scale_up
        inter = [replace(c, s_per_byte=c.s_per_byte / rails.shape[0]) for c in self.tree(rails)]
        tree_hops = 2 * int(math.log2(rails.shape[1]))
        phases = [(a, "tree", up.channels * TREE_CHUNK_BYTES, 2 * (local.shape[1] - 1)) for a in self.chain(local)]
        if rails.shape[1] <= NVLS_TREE_MAX_DOMAINS:
            phases += [(replace(a, s_per_byte=a.s_per_byte / NVLS_TREE_INTRA_SHARE), "in-switch/tree",
                        up.in_switch_channels * NVLS_CHUNK_BYTES, 1) for a in self.in_switch(local[0])]
        return [pipelined([a, b], span, self._protocols[a.protocol].base_latency_s, name, (hops, tree_hops))
                for a, name, span, hops in phases for b in inter if a.protocol == b.protocol]


def concurrent_time_s(model: CollectiveModel, op: str, groups: IndexArray, size_bytes: float) -> float:
    """Time of `op` over `size_bytes` run at once by every row of `groups`, the fastest algorithm, s."""
    return min(float(time_s(c, size_bytes)) for c in model.concurrent(op, np.atleast_2d(groups)))


def collective_table(model: CollectiveModel, op: str, n_ranks: int, size_bytes: FloatArray) -> CollectiveTable:
    """The fastest (algorithm, protocol) at each size, as nccl-tests would measure it."""
    if op not in OPS:
        raise ValueError(f"unknown collective {op!r}")
    costs = model.candidates(op, n_ranks)
    size_bytes = np.asarray(size_bytes, dtype=np.float64)
    times = np.array([time_s(c, size_bytes) for c in costs])
    best = np.argmin(times, axis=0)
    return CollectiveTable(op, n_ranks, size_bytes, times[best, np.arange(size_bytes.size)],
                           tuple(costs[i].algorithm for i in best), tuple(costs[i].protocol for i in best))


def design_table(design: Design, op: str, size_bytes: FloatArray, n_ranks: int | None = None,
                 source: str = "") -> CollectiveTable:
    """A design's collective table over its scale-up domain, or over enough racks for `n_ranks` GPUs."""
    m = design.slot_count("compute") * design.compute_tray.gpus.count
    n_ranks = m if n_ranks is None else n_ranks
    if n_ranks < 2 or (n_ranks > m and n_ranks % m):
        raise InputError(source, "--gpus", f"{n_ranks} GPUs: give 2 to {m} (one scale-up domain) or a multiple "
                         f"of {m} (whole racks on the fabric)")
    return collective_table(CollectiveModel(design, compile_topology(design, max(1, n_ranks // m))), op,
                            n_ranks, size_bytes)
