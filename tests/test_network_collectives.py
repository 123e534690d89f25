"""Collective costs: hand-computed alpha-beta values, published nccl-tests figures, failed links."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from racksim.design.schema import Design
from racksim.network import bus_factor, compile_topology, design_table, network_metrics
from racksim.network.collectives import NVLS_TREE_INTRA_SHARE, CollectiveModel, Cost, collective_table
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
HGX = ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml"
GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
LARGE_BYTES = 8 * 2**30


@pytest.fixture(scope="module")
def hgx() -> Design:
    return load_design(HGX).design


@pytest.fixture(scope="module")
def gb200() -> Design:
    return load_design(GB200).design


def _simple(costs: list[Cost]) -> Cost:
    return next(c for c in costs if c.protocol == "simple")


def test_bus_factors_follow_nccl_tests() -> None:
    assert bus_factor("all-reduce", 8) == pytest.approx(1.75)
    assert bus_factor("all-gather", 8) == pytest.approx(0.875)
    assert bus_factor("reduce-scatter", 72) == pytest.approx(71 / 72)
    assert bus_factor("all-to-all", 2) == pytest.approx(0.5)


def test_ring_all_gather_alpha_beta_by_hand(hgx: Design) -> None:
    # 8 GPUs, 7 steps; α = link + NVSwitch + link + Simple step; β: 7/8 of S over 18 × 25 GB/s × 0.822.
    model = CollectiveModel(hgx, compile_topology(hgx))
    cost = _simple(model.ring("all-gather", np.arange(8)[None, :]))
    assert cost.fixed_s == pytest.approx(8.4e-6 + 7 * (1e-7 + 2.5e-7 + 1e-7 + 3.4e-6))
    assert cost.s_per_byte == pytest.approx((7 / 8) / (450e9 * 0.822))


def test_in_switch_all_reduce_alpha_beta_by_hand(hgx: Design) -> None:
    model = CollectiveModel(hgx, compile_topology(hgx))
    (cost,) = model.in_switch(np.arange(8))
    assert cost.fixed_s == pytest.approx(23e-6 + 2 * (2 * 1e-7 + 2.5e-7 + 3.4e-6))
    assert cost.s_per_byte == pytest.approx((1 + 1 / 8) / (450e9 * 0.6875))


def test_hgx_h100_ring_busbw_matches_nccl_tests(hgx: Design) -> None:
    # hardware.md §4: ~370 GB/s with NCCL_ALGO=RING (P: NVIDIA/nccl-tests issue 212).
    model = CollectiveModel(hgx, compile_topology(hgx))
    cost = _simple(model.ring("all-reduce", np.arange(8)[None, :]))
    busbw = LARGE_BYTES / (cost.fixed_s + LARGE_BYTES * cost.s_per_byte) / 1e9 * bus_factor("all-reduce", 8)
    assert busbw == pytest.approx(370, rel=0.15)


def test_hgx_h100_default_all_reduce_is_nvls_at_published_busbw(hgx: Design) -> None:
    # hardware.md §4: NVLS peak busbw ~480 GB/s (P: issue 212), 476 measured (P: issue 290).
    table = design_table(hgx, "all-reduce", np.array([LARGE_BYTES]))
    assert table.algorithm == ("in-switch",)
    assert table.busbw_gbyte_s[0] == pytest.approx(480, rel=0.15)


def test_gb200_nvl72_all_reduce_busbw_matches_published(gb200: Design) -> None:
    # hardware.md §4: 839 GB/s at 4 GB over 72 GPUs (P: coreweave/nccl-tests PR 43).
    table = design_table(gb200, "all-reduce", np.array([4 * 2**30]))
    assert table.n_ranks == 72
    assert table.busbw_gbyte_s[0] == pytest.approx(839, rel=0.15)


@pytest.mark.parametrize("op", ["all-reduce", "all-gather", "reduce-scatter", "all-to-all"])
def test_small_sizes_are_latency_bound_and_bandwidth_rises(gb200: Design, op: str) -> None:
    sizes = 2.0 ** np.arange(3, 34)
    table = design_table(gb200, op, sizes)
    assert table.time_s[0] == pytest.approx(table.time_s[4], rel=0.01)  # 8 B and 128 B: the same latency
    assert table.time_s[0] > 5e-6
    assert np.all(np.diff(table.busbw_gbyte_s) > 0)
    assert np.all(np.diff(table.time_s) >= 0)
    assert table.busbw_gbyte_s[0] < 1e-2 * table.busbw_gbyte_s[-1]


def test_failed_link_slows_exactly_the_ring_pairs_it_touches(gb200: Design) -> None:
    topology = compile_topology(gb200)
    ring = np.arange(72)[None, :]
    healthy = _simple(CollectiveModel(gb200, topology).ring("all-gather", ring))
    link = 3 * 18 + 5  # GPU 3's link to switch chip 5
    failed = _simple(CollectiveModel(gb200, topology.with_links_down([link])).ring("all-gather", ring))
    # Pairs 2→3 and 3→4 lose chip 5: 17 of 18 links; the slowest pair paces the ring.
    assert failed.s_per_byte == pytest.approx(healthy.s_per_byte * 18 / 17)
    assert failed.fixed_s == pytest.approx(healthy.fixed_s)


def test_failed_link_lowers_the_in_switch_share_of_every_member(gb200: Design) -> None:
    topology = compile_topology(gb200)
    (healthy,) = CollectiveModel(gb200, topology).in_switch(np.arange(72))
    (failed,) = CollectiveModel(gb200, topology.with_links_down([0])).in_switch(np.arange(72))
    assert failed.s_per_byte == pytest.approx(healthy.s_per_byte * 18 / 17)


def test_two_racks_all_to_all_by_hand(gb200: Design) -> None:
    # 144 GPUs: half of every GPU's S/144 chunks leave the rack through its 400 Gb/s NIC at 90 % efficiency.
    model = CollectiveModel(gb200, compile_topology(gb200, 2))
    cost = _simple(model.direct(np.arange(144)))
    assert cost.s_per_byte == pytest.approx((72 / 144) / (50e9 * 0.9))


def test_two_racks_overlap_the_scale_out_behind_the_in_switch_phase(gb200: Design) -> None:
    # NVLS-tree pipelines the racks' in-switch reduction with the trees on the rails: the in-switch phase (at
    # NVLS_TREE_INTRA_SHARE of its single-rack rate) paces, the scale-out phase (S/72 per NIC) hides behind it but
    # for its fill and latency (well under 2 % at 8 GiB).
    one, two = (design_table(gb200, "all-reduce", np.array([LARGE_BYTES]), n) for n in (72, 144))
    assert two.algorithm[0] == "in-switch/tree"
    assert one.time_s[0] < two.time_s[0] < 1.02 * one.time_s[0] / NVLS_TREE_INTRA_SHARE


@pytest.mark.parametrize("gpus", [1, 73, 100])
def test_gpu_counts_that_do_not_fit_are_input_errors(gb200: Design, gpus: int) -> None:
    from racksim.errors import InputError

    with pytest.raises(InputError, match="--gpus"):
        design_table(gb200, "all-reduce", np.array([8.0]), gpus)


@pytest.mark.slow
@given(st.sets(st.integers(0, 8 * 18 - 1), min_size=1, max_size=12), st.sampled_from(
    ["all-reduce", "all-gather", "reduce-scatter", "all-to-all"]))
def test_failed_links_never_speed_a_collective_up(failed: set[int], op: str) -> None:
    design = load_design(HGX).design
    topology = compile_topology(design)
    sizes = 2.0 ** np.arange(3, 34, 5)
    healthy = collective_table(CollectiveModel(design, topology), op, 8, sizes)
    broken = collective_table(CollectiveModel(design, topology.with_links_down(sorted(failed))), op, 8, sizes)
    assert np.all(broken.time_s >= healthy.time_s * (1 - 1e-12))
    assert broken.time_s[-1] > healthy.time_s[-1]  # large messages are bandwidth-bound: every lost link shows


def test_network_metrics_of_the_bundled_designs(gb200: Design) -> None:
    metrics = network_metrics(gb200)
    assert metrics["scale_up_gpus"] == 72
    assert metrics["allreduce_busbw_gbyte_s"] == pytest.approx(839, rel=0.15)
    assert 0 < metrics["allreduce_latency_s"] < 1e-4
    faster = network_metrics(load_design(ROOT / "designs" / "vr-800vdc.yaml").design)
    assert faster["allreduce_busbw_gbyte_s"] == pytest.approx(2 * metrics["allreduce_busbw_gbyte_s"], rel=0.01)
