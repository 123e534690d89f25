"""Data-parallel communication across racks and ZeRO 3's per-layer gathers: hand calculations and placements."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from racksim.design.loader import load_model
from racksim.design.schema import Design
from racksim.network.collectives import CollectiveModel
from racksim.network.protocols import time_s
from racksim.network.topology import compile_topology
from racksim.perf import predict_training
from racksim.perf.comm import DGX_A100, network_collective_time
from racksim.perf.layout import Layout
from racksim.perf.memory import memory_per_gpu, stage_params
from racksim.perf.model import bundled_model
from racksim.perf.published import a100_dgx
from racksim.perf.training import System, train_step

M70 = bundled_model("llama3-70b")


@pytest.fixture(scope="module")
def gb200() -> Design:
    return load_model(Design, Path(__file__).parents[1] / "designs" / "gb200-nvl72.yaml")[0]


def test_alpha_beta_flat_ring_with_several_ranks_per_node_by_hand() -> None:
    # 32 ranks, 8 per DGX A100 node: 8 rings leave each node through 8 NICs, so the slower of NVLink (300 GB/s)
    # and 8 x 25 GB/s paces: T = 8.4 us + 62 x 6 us + 1 GB x 2 x 31/32 / (0.82 x 200 GB/s).
    expected = 8.4e-6 + 62 * 6e-6 + 1e9 * 2 * 31 / 32 / (0.82 * 200e9)
    assert DGX_A100("all-reduce", 1e9, 32, False, 8) == pytest.approx(expected)
    assert DGX_A100("all-reduce", 1e9, 32, False, 1) > 7 * expected  # one GPU per node: one NIC carries it all


@pytest.mark.parametrize(("group", "expected"), [("tp", (8, True, 8)), ("dp", (32, False, 4)),
                                                 ("cp", (1, True, 1)), ("edp", (32, False, 4))])
def test_group_placement_in_rank_order(group: str, expected: tuple[int, bool, int]) -> None:
    # tp 8 · dp 32 on 32-GPU domains: a data-parallel group strides by 8 ranks, so 32 // 8 = 4 of its members
    # share each domain; the tensor-parallel group fits one.
    layout = Layout(global_batch=256, seq_len=4096, tp=8, dp=32)
    assert layout.placement(group, 32) == expected


def test_network_adapter_uses_the_ranks_per_rack(gb200: Design) -> None:
    timer = network_collective_time(gb200)
    size = 1e9
    rail = timer("reduce-scatter", size, 72, False, 1)  # one GPU in each of 72 racks
    two_racks = timer("reduce-scatter", size, 72, False, 36)  # 36 GPUs in each of 2 racks
    inside = timer("reduce-scatter", size, 72, True)
    assert inside < two_racks < rail
    # The flat ring over 2 racks of 36: min(36, 16 channels, 10 collective NICs) rings, each leaving the rack
    # through its own NIC.
    model = CollectiveModel(gb200, compile_topology(gb200, 2))
    local = np.arange(2)[:, None] * 72 + np.arange(36)[None, :] * 2
    assert two_racks == pytest.approx(min(float(time_s(c, size)) for c in model.hierarchical("reduce-scatter",
                                                                                              local)))


def test_zero3_exposes_per_layer_gathers_by_hand() -> None:
    # A timer where every collective takes 1 ms: per micro-batch the first gather of each pass, the last
    # reduce-scatter, and per further layer max(0, g - f) forward and max(0, g + r - b) backward.
    def timer(kind: str, message_bytes: float, group_size: int, scale_up: bool, per_domain: int = 1) -> float:
        return 1e-3 if group_size > 1 else 0.0

    system = System(a100_dgx().accelerator, timer, 8)
    layout = Layout(global_batch=16, seq_len=1024, micro_batch=1, dp=8, zero=3)
    step = train_step(M70, layout, system, check_memory=False)
    no_overlap = train_step(M70, dataclasses.replace(layout, dp_overlap=False), system, check_memory=False)
    layers, mb = M70.num_hidden_layers, layout.microbatches
    assert no_overlap.breakdown.dp_comm_s == pytest.approx(mb * layers * 3e-3)
    # Each layer's forward and backward take longer than 1 and 2 ms here, so only the unhidden ends show.
    assert step.breakdown.compute_s / mb / layers > 3e-3
    assert step.breakdown.dp_comm_s == pytest.approx(mb * 3e-3)


def test_zero3_holds_two_gathered_layers_and_one_layer_of_gradients() -> None:
    layout = Layout(global_batch=72, seq_len=8192, dp=72, zero=3)
    dense, expert = stage_params(M70, layout)
    extra_gb = (dense + expert) / M70.num_hidden_layers * (2 * 2 + 4) / 1e9
    zero1 = memory_per_gpu(M70, dataclasses.replace(layout, zero=1))
    zero3 = memory_per_gpu(M70, layout)
    assert zero3.buffers_gb - zero1.buffers_gb == pytest.approx(extra_gb)
    assert 6.0 < extra_gb < 7.5  # 0.86 B parameters per Llama 3 70B layer (+ its share of the embeddings)


def test_search_times_zero3_without_recompute_against_zero1_with_it() -> None:
    # Llama 3 70B in FP8 on one Rubin rack at tp 2 · dp 36 · mb 2: ZeRO 1 fits only with full recompute, ZeRO 3
    # without any. Neither dominates (recompute against exposed gathers), so the search must time both; it used to
    # stop at the first fit (ZeRO 1, full) and missed the faster ZeRO 3 layout.
    rubin = Path(__file__).parents[1] / "designs" / "vr-800vdc.yaml"
    zero1 = predict_training(rubin, "llama3-70b", 72, 144, 8192, precision="fp8", tp=2, pp=1, micro_batch=2, zero=1)
    searched = predict_training(rubin, "llama3-70b", 72, 144, 8192, precision="fp8", tp=2, pp=1, micro_batch=2)
    assert (zero1.layout.zero, zero1.layout.recompute) == (1, "full")
    assert (searched.layout.zero, searched.layout.recompute) == (3, "none")
    assert searched.step.step_time_s < zero1.step.step_time_s
    assert {lay.zero for lay, _ in searched.choice.ranked} == {1, 3}
