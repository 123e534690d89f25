"""Communication for the step model: a protocol any collective model can satisfy, and two implementations.

A `CollectiveTime` answers (collective kind, message bytes, group size, inside the scale-up domain?, ranks of the
group in each domain when it spans several) → seconds.
Message sizes follow nccl-tests: the per-rank buffer for all-reduce, the total gathered (scattered, exchanged)
size for all-gather, reduce-scatter and all-to-all, the payload for a point-to-point send.

`AlphaBeta` is the simple model the tests use: T = α_base + k·α_step + S·f / (η·B), with k steps and f the share of
S each rank sends (ring all-reduce: k = 2(n−1), f = 2(n−1)/n; all-gather, reduce-scatter: n−1, (n−1)/n;
all-to-all: 1 step, (n−1)/n; send: 1, 1). A group spanning domains with q > 1 ranks in each runs NCCL's flat ring:
q rings, one leaving each domain through each of the q ranks' NICs, so B is the slower of the scale-up link and
q NICs: S·f · max(1/B_up, 1/(q·B_out)) / η (all-to-all: (q−1)/n of S over NVLink, (n−q)/n over the NICs).
`node_limited_all_to_all` splits an expert all-to-all with node-limited routing into the fabric and NVLink
collectives DeepSeek-V3 runs instead (§3.2.2).
`network_collective_time` adapts racksim's own collective model (`racksim.network.collectives`: ring, tree,
in-switch and direct algorithms, and NCCL's multi-node ones, on a design's topology) to the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from racksim.design.schema import Design

Kind = Literal["all-reduce", "all-gather", "reduce-scatter", "all-to-all", "send"]


class CollectiveTime(Protocol):
    """Seconds for one collective of `kind` over `message_bytes` among `group_size` ranks."""

    def __call__(self, kind: Kind, message_bytes: float, group_size: int, scale_up: bool,
                 per_domain: int = 1) -> float:
        """Time of the collective, s.

        `scale_up` says the whole group sits in one NVLink domain; otherwise `per_domain` of its ranks sit in each
        domain it spans (1: one rank per domain, a rail).
        """
        ...


def steps_and_share(kind: Kind, n: int) -> tuple[int, float]:
    """Algorithm steps k and share f of the message each rank sends, for ring collectives and direct exchange."""
    if kind == "all-reduce":
        return 2 * (n - 1), 2 * (n - 1) / n
    if kind in ("all-gather", "reduce-scatter"):
        return n - 1, (n - 1) / n
    if kind == "all-to-all":
        return 1, (n - 1) / n
    return 1, 1.0


def link_bytes(kind: Kind, message_bytes: float, group_size: int, scale_up: bool,
               per_domain: int = 1) -> tuple[float, float]:
    """Bytes each rank sends in one collective over (scale-up links, scale-out NICs), B.

    The bus bytes f·S of nccl-tests' bus-bandwidth convention (f of `steps_and_share`), whichever algorithm times
    the call, placed as `AlphaBeta` places them: all on the scale-up links inside one domain; for a group spanning
    domains with q ranks in each, NCCL's q flat rings leave each domain through each rank's NIC once, so 1 in q of
    a rank's ring hops crosses the fabric (out = f·S/q, up = f·S − out; q = 1, a rail: all on the NIC); an
    all-to-all sends (q − 1)/n of S over the scale-up links and (n − q)/n over the NICs; a send crossing domains
    goes over the NIC.
    """
    if group_size <= 1 or message_bytes <= 0:
        return 0.0, 0.0
    bus = message_bytes * steps_and_share(kind, group_size)[1]
    if scale_up:
        return bus, 0.0
    q = 1 if kind == "send" else min(per_domain, group_size)
    if kind == "all-to-all":
        return message_bytes * (q - 1) / group_size, message_bytes * (group_size - q) / group_size
    return bus - bus / q, bus / q


def node_limited_all_to_all(message_bytes: float, group_size: int, per_domain: int, top_k: int,
                            max_domains: int) -> list[tuple[Kind, float, int, bool, int]]:
    """The collectives of one expert all-to-all whose tokens reach at most `max_domains` scale-up domains.

    Each as (kind, message bytes, ranks, inside one domain, ranks per domain) for a `CollectiveTime`; they run
    pipelined (DeepSeek forwards a token over NVLink as soon as it arrives). `message_bytes` S is the all-to-all's
    total in nccl-tests' convention, every one of a token's k = `top_k` routed copies counted (S = N·k·h·bytes for
    N tokens of width h). DeepSeek-V3 (arXiv 2412.19437 §3.2.2): a token is
    sent over InfiniBand once to each remote node holding one of its experts, to the GPU with the sender's local
    index, which forwards it over NVLink to the experts' GPUs there; the combine runs the reverse. With the group's
    n ranks in D = n/q domains of q and u = min(M, k, D) target domains per token (M = `max_domains`; balanced
    routing makes each domain a target with the same probability, so u·(D − 1)/D of them are remote):

    - fabric: an all-to-all among the D ranks of one rail, S_out = S·u/k (each rank sends (D − 1)/D of it,
      N·u·h·(D − 1)/D bytes over its NIC, one copy per remote target domain);
    - scale-up: an all-to-all among the q ranks of a domain of all k copies, S (each rank forwards (q − 1)/q of it).

    With one rank per domain (q = 1) the scale-up part is empty (a group of one). Without a limit (M = 0) or inside
    one domain (q = n) it is the plain all-to-all of S.
    """
    if max_domains <= 0 or per_domain >= group_size:
        return [("all-to-all", message_bytes, group_size, per_domain >= group_size, per_domain)]
    domains = group_size // per_domain
    targets = min(max_domains, top_k, domains)
    return [("all-to-all", message_bytes * targets / top_k, domains, False, 1),
            ("all-to-all", message_bytes, per_domain, True, per_domain)]


@dataclass(frozen=True)
class AlphaBeta:
    """Ring/direct alpha-beta collectives over two tiers: the scale-up domain and the scale-out fabric.

    T = base_latency_s + k·step_latency_s + S·f / (efficiency · bandwidth), bandwidth per GPU per direction.
    """

    scale_up_gbyte_s: float
    """Scale-up (NVLink) bandwidth per GPU per direction, GB/s."""
    scale_out_gbyte_s: float
    """Scale-out (NIC) bandwidth per GPU per direction, GB/s."""
    efficiency: float
    """Achieved fraction of the link rate for large messages (protocol and channel overheads)."""
    base_latency_s: float
    """Fixed cost of one collective (launch, setup), s."""
    step_latency_s: float
    """Cost of one ring step (one hop), s."""
    scale_out_step_latency_s: float
    """Cost of one step across the fabric (NIC, switches), s."""

    def __call__(self, kind: Kind, message_bytes: float, group_size: int, scale_up: bool,
                 per_domain: int = 1) -> float:
        """Seconds for the collective (see the class docstring); 0 for a group of one."""
        if group_size <= 1 or message_bytes <= 0:
            return 0.0
        steps, share = steps_and_share(kind, group_size)
        up_byte_s, out_byte_s = (b * 1e9 * self.efficiency for b in (self.scale_up_gbyte_s, self.scale_out_gbyte_s))
        q = 1 if scale_up or kind == "send" else min(per_domain, group_size)
        if scale_up:
            bytes_s, step_s = message_bytes * share / up_byte_s, self.step_latency_s
        elif kind == "all-to-all" and q > 1:
            n = group_size
            bytes_s = message_bytes * max((q - 1) / n / up_byte_s, (n - q) / n / out_byte_s)
            step_s = self.scale_out_step_latency_s
        else:
            bytes_s = message_bytes * share * max(1 / up_byte_s if q > 1 else 0.0, 1 / (q * out_byte_s))
            step_s = self.scale_out_step_latency_s
        return self.base_latency_s + steps * step_s + bytes_s


# DGX A100: NVLink 3 through NVSwitch, 600 GB/s bidirectional per GPU = 300 GB/s per direction (NVIDIA A100
# datasheet); 8 × 200 Gb/s HDR InfiniBand per 8-GPU node = 25 GB/s per GPU per direction (DGX A100 user guide:
# eight single-port ConnectX-6 for the compute fabric). Efficiency 0.82: NVIDIA's measured 8-GPU H100 ring
# all-reduce, ~370 of 450 GB/s (hardware.md §4, nccl-tests issue 212), taken to hold for A100 as well (an
# assumption). Latencies: NCCL tuning.cc Simple protocol, base 8.4 µs and 3.4 µs per NVLink step; a fabric step
# adds the NIC and two switch hops, taken as 6 µs (an assumption).
DGX_A100 = AlphaBeta(scale_up_gbyte_s=300.0, scale_out_gbyte_s=25.0, efficiency=0.82, base_latency_s=8.4e-6,
                     step_latency_s=3.4e-6, scale_out_step_latency_s=6e-6)
DGX_A100_GPUS_PER_NODE = 8


_OPS = {"all-reduce": "all-reduce", "all-gather": "all-gather", "reduce-scatter": "reduce-scatter",
        "all-to-all": "all-to-all"}


def gpus_per_rack(design: Design) -> int:
    """GPUs in one rack of the design: its scale-up (NVLink) domain."""
    return design.slot_count("compute") * design.compute_tray.gpus.count


def network_collective_time(design: Design) -> CollectiveTime:
    """A `CollectiveTime` from racksim's network model on the design's topology (thin adapter).

    Inside the scale-up domain the group is the first n GPUs of one rack; across it, q = `per_domain` GPUs in each
    of n/q racks (spread evenly over each rack), timed by the network's multi-node algorithms
    (`CollectiveModel.hierarchical`: NCCL's flat ring, tree and NVLS-tree with their phases pipelined); q = 1 is
    one GPU per rack, a rail. Sends are timed as a two-rank all-gather of twice the payload (each rank contributes
    S) on a rail. Topologies are compiled once per rack count.
    """
    from racksim.network.collectives import CollectiveModel, concurrent_time_s
    from racksim.network.protocols import time_s as time_s_of
    from racksim.network.topology import compile_topology

    per_rack = gpus_per_rack(design)
    models: dict[int, CollectiveModel] = {}

    def model(racks: int) -> CollectiveModel:
        if racks not in models:
            models[racks] = CollectiveModel(design, compile_topology(design, racks))
        return models[racks]

    def time_s(kind: Kind, message_bytes: float, group_size: int, scale_up: bool, per_domain: int = 1) -> float:
        if group_size <= 1 or message_bytes <= 0:
            return 0.0
        op, size = (_OPS[kind], message_bytes) if kind != "send" else ("all-gather", 2.0 * message_bytes)
        if scale_up:
            if group_size > per_rack:
                raise ValueError(f"{group_size} ranks do not fit one scale-up domain of {per_rack}")
            return concurrent_time_s(model(1), op, np.arange(group_size)[None, :], size)
        q = 1 if kind == "send" else per_domain
        if q < 1 or q > per_rack or group_size % q:
            raise ValueError(f"{group_size} ranks do not split into {q} per scale-up domain of {per_rack}")
        racks = group_size // q
        if q == 1:
            return concurrent_time_s(model(racks), op, (np.arange(racks) * per_rack)[None, :], size)
        local = np.arange(racks)[:, None] * per_rack + np.arange(q)[None, :] * (per_rack // q)
        return min(float(time_s_of(cost, size)) for cost in model(racks).hierarchical(op, local))

    return time_s


@dataclass(frozen=True)
class FastestOf:
    """Several protocol models of one fabric; each call takes the fastest, as NCCL's tuner picks a protocol per call.

    T = min over the models of their times (`AlphaBeta` each): low-latency protocols win at KB messages (decode
    all-reduces), bandwidth protocols at MB messages (prefill, training).
    """

    models: tuple[AlphaBeta, ...]

    def __call__(self, kind: Kind, message_bytes: float, group_size: int, scale_up: bool,
                 per_domain: int = 1) -> float:
        """The least of the models' times, s."""
        return min(model(kind, message_bytes, group_size, scale_up, per_domain) for model in self.models)


# NCCL's ring protocols (src/graph/tuning.cc, the version DGX_A100's latencies come from): Simple, base 8.4 µs and
# 3.4 µs per NVLink step; LL, base 3.6 µs and 0.47 µs per NVLink step (2.7 µs per network step) at a quarter of the
# bus bandwidth for all-reduce (busBw *= 1/4: LL moves 4 bytes of data per 8-byte flagged word, and more).
LL_BASE_LATENCY_S = 3.6e-6
LL_STEP_LATENCY_S = 0.47e-6
LL_SCALE_OUT_STEP_LATENCY_S = 2.7e-6
LL_BANDWIDTH_SHARE = 0.25


def nccl_protocols(simple: AlphaBeta) -> FastestOf:
    """The Simple-protocol model `simple` and its LL twin (same links, NCCL's LL latencies, 1/4 of the bandwidth)."""
    low_latency = AlphaBeta(simple.scale_up_gbyte_s, simple.scale_out_gbyte_s,
                            simple.efficiency * LL_BANDWIDTH_SHARE, LL_BASE_LATENCY_S, LL_STEP_LATENCY_S,
                            LL_SCALE_OUT_STEP_LATENCY_S)
    return FastestOf((simple, low_latency))


# DGX H100: NVLink 4 through NVSwitch, 900 GB/s bidirectional per GPU = 450 GB/s per direction (NVIDIA H100
# datasheet, SXM); 8 × 400 Gb/s ConnectX-7 per 8-GPU node = 50 GB/s per GPU per direction (DGX H100 user guide).
# Efficiency 0.82: NVIDIA's measured 8-GPU H100 ring all-reduce, ~370 of 450 GB/s (hardware.md §4, nccl-tests
# issue 212). Latencies and the fabric step as DGX_A100; with the LL protocol for small messages.
DGX_H100 = nccl_protocols(AlphaBeta(scale_up_gbyte_s=450.0, scale_out_gbyte_s=50.0, efficiency=0.82,
                                    base_latency_s=8.4e-6, step_latency_s=3.4e-6, scale_out_step_latency_s=6e-6))
DGX_H100_GPUS_PER_NODE = 8
