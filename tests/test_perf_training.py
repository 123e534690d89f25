"""The training step model: collectives, breakdown, MFU/HFU, layouts, and the network adapter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from racksim.errors import InputError
from racksim.perf.comm import DGX_A100, AlphaBeta, network_collective_time
from racksim.perf.layout import Layout, check_layout
from racksim.perf.model import bundled_model
from racksim.perf.published import a100_dgx
from racksim.perf.training import System, model_flops, train_step
from tests.perf_fixtures import H100_SXM

M175 = bundled_model("megatron-175b")
SEL = Layout(global_batch=64, seq_len=2048, tp=8, pp=8, vpp=3, sequence_parallel=True, recompute="selective",
             flash_attention=False, zero=0)


def test_alpha_beta_ring_all_reduce_by_hand() -> None:
    # 8 GPUs on NVLink: T = 8.4 µs + 14·3.4 µs + 1 GB · 2·7/8 / (0.82 · 300 GB/s).
    expected = 8.4e-6 + 14 * 3.4e-6 + 1e9 * 1.75 / (0.82 * 300e9)
    assert DGX_A100("all-reduce", 1e9, 8, True) == pytest.approx(expected)
    assert DGX_A100("all-reduce", 1e9, 8, False) > 10 * DGX_A100("all-reduce", 1e9, 8, True)
    assert DGX_A100("all-gather", 1e9, 1, True) == 0.0


def test_breakdown_adds_up_and_mfu_follows_from_step_time() -> None:
    step = train_step(M175, SEL, a100_dgx())
    assert step.breakdown.total_s == pytest.approx(step.step_time_s)
    assert step.mfu == pytest.approx(model_flops(M175, 64, 2048) / (64 * 312e12 * step.step_time_s))
    assert step.hfu > step.mfu
    assert step.tokens_per_s_per_gpu == pytest.approx(64 * 2048 / (step.step_time_s * 64))
    assert step.breakdown.bubble_s > 0
    assert step.breakdown.tp_comm_s > 0


def test_interleaving_shrinks_the_bubble_by_v() -> None:
    one = train_step(M175, dataclasses.replace(SEL, vpp=1), a100_dgx())
    three = train_step(M175, SEL, a100_dgx())
    # bubble = (p − 1)/v · (F + B): a third of it with v = 3 (same per-micro-batch work).
    assert three.breakdown.bubble_s == pytest.approx(one.breakdown.bubble_s / 3, rel=1e-9)


def test_recompute_costs_time_and_saves_memory() -> None:
    steps = {r: train_step(M175, dataclasses.replace(SEL, recompute=r, vpp=1), a100_dgx(), check_memory=False)
             for r in ("none", "selective", "full")}
    assert steps["none"].step_time_s < steps["selective"].step_time_s < steps["full"].step_time_s
    mem = {r: s.memory.activations_gb for r, s in steps.items()}
    assert mem["none"] > mem["selective"] > mem["full"]


def test_data_parallel_overlap_hides_gradient_reduction() -> None:
    m = bundled_model("llama3-8b")
    lay = Layout(global_batch=64, seq_len=4096, tp=1, pp=1, dp=64, zero=1)
    overlapped = train_step(m, lay, System(H100_SXM, DGX_A100, 8))
    exposed = train_step(m, dataclasses.replace(lay, dp_overlap=False), System(H100_SXM, DGX_A100, 8))
    assert overlapped.breakdown.dp_comm_s < exposed.breakdown.dp_comm_s
    assert exposed.breakdown.dp_comm_s > 0


def test_moe_expert_parallel_all_to_all_and_fp8() -> None:
    m = bundled_model("deepseek-v3")
    lay = Layout(global_batch=1024, seq_len=4096, tp=1, pp=1, dp=64, ep=64, vpp=1, zero=1, recompute="full",
                 precision="fp8")
    step = train_step(m, lay, System(H100_SXM, DGX_A100, 8), check_memory=False)
    assert step.breakdown.ep_comm_s > 0
    assert 0.0 < step.mfu < 1.0
    # MoE model FLOPs count the active experts: close to 6·N_active·tokens (plus attention).
    six_n_d = 6 * 37.6e9 * 1024 * 4096
    assert 1.0 < step.model_flops / six_n_d < 1.5


def test_context_parallel_splits_attention() -> None:
    m = bundled_model("llama3-70b")
    lay = Layout(global_batch=16, seq_len=32768, tp=8, cp=2, pp=4, dp=1, sequence_parallel=True,
                 recompute="selective")
    step = train_step(m, lay, System(H100_SXM, DGX_A100, 8), check_memory=False)
    assert step.breakdown.cp_comm_s >= 0
    assert step.step_time_s > 0


def test_all_gather_context_parallel_by_hand() -> None:
    # Llama 3 8B, 131,072 tokens, tp 8 inside an 8-GPU node, cp 16: the CP group (stride 8) is a rail over 16
    # nodes, one rank per node. Per layer it gathers the keys and values of the whole sequence, KV = 131072 · 2 ·
    # 8 KV heads · 128 · 2 B / 8 = 64 MiB, 15/16 of it through the rank's 25 GB/s NIC: T = 8.4 µs + 15 · 6 µs +
    # KV · 15/16 / (0.82 · 25 GB/s) = 3.168 ms; twice (forward, recomputed forward) plus the gradients'
    # reduce-scatter, 32 layers, one micro-batch.
    m = bundled_model("llama3-8b")
    lay = Layout(global_batch=1, seq_len=131072, tp=8, cp=16, sequence_parallel=True, recompute="full",
                 cp_overlap=False)
    system = System(H100_SXM, DGX_A100, 8)
    exposed = train_step(m, lay, system, check_memory=False)
    kv = 131072 * 2 * 8 * 128 * 2 / 8
    assert (m.kv_heads, m.d_head, m.num_hidden_layers, kv) == (8, 128, 32, 2**26)
    gather_s = 8.4e-6 + 15 * 6e-6 + kv * 15 / 16 / (0.82 * 25e9)
    assert gather_s == pytest.approx(3.168e-3, rel=1e-3)
    assert exposed.breakdown.cp_comm_s == pytest.approx(32 * 3 * gather_s, rel=1e-9)
    assert exposed.traffic.layers_gbyte[1] == pytest.approx(32 * 3 * kv * 15 / 16 / 1e9, rel=1e-9)
    # Ring-style overlap hides it behind the attention core (~4 ms forward at 131k): same bytes, less time.
    hidden = train_step(m, dataclasses.replace(lay, cp_overlap=True), system, check_memory=False)
    assert hidden.traffic == exposed.traffic
    assert 0.0 <= hidden.breakdown.cp_comm_s < exposed.breakdown.cp_comm_s
    assert hidden.step_time_s == pytest.approx(exposed.step_time_s - exposed.breakdown.cp_comm_s
                                               + hidden.breakdown.cp_comm_s, rel=1e-9)


@pytest.mark.parametrize(("change", "field"), [
    ({"tp": 7}, "tp"), ({"pp": 33}, "pp"), ({"pp": 97, "vpp": 1}, "pp"),
    ({"global_batch": 65, "micro_batch": 2}, "global_batch"),
    ({"tp": 0}, "layout"), ({"ep": 2}, "ep"), ({"vpp": 2, "pp": 1}, "vpp"),
])
def test_impossible_layouts_are_one_line_errors(change: dict, field: str) -> None:
    with pytest.raises(InputError, match=rf"^layout: {field}: "):
        check_layout(M175, dataclasses.replace(SEL, **change))


def test_network_model_adapter_times_collectives() -> None:
    from racksim.design.loader import load_model
    from racksim.design.schema import Design

    design, _ = load_model(Design, Path(__file__).parents[1] / "designs" / "gb200-nvl72.yaml")
    timer = network_collective_time(design)
    small, large = timer("all-reduce", 1e6, 8, True), timer("all-reduce", 1e9, 8, True)
    assert 0 < small < large
    # 1 GB over NVLink 5 (900 GB/s per direction): a ring all-reduce takes a few ms, not more.
    assert 1e-3 < large < 1e-2
    assert timer("send", 1e8, 2, True) > 0


def test_custom_collective_timer_plugs_in() -> None:
    calls: list[tuple[str, int, bool]] = []

    def timer(kind: str, message_bytes: float, group_size: int, scale_up: bool, per_domain: int = 1) -> float:
        calls.append((kind, group_size, scale_up))
        return 0.0

    step = train_step(M175, SEL, System(a100_dgx().accelerator, timer, 8))
    assert ("reduce-scatter", 8, True) in calls
    assert ("send", 2, False) in calls
    assert step.breakdown.tp_comm_s == 0.0
    assert isinstance(DGX_A100, AlphaBeta)
