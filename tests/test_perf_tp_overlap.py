"""Transformer Engine's TP communication overlap (racksim/perf/tp_overlap.py): the exposed part by hand, and the
Megatron-Bridge rows that run it (racksim/perf/VALIDATION.md, "NeMo Framework (Megatron-Bridge) pre-training")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from racksim.perf.model import bundled_model
from racksim.perf.published_inference import h100_dgx
from racksim.perf.published_nemo import NEMO_CASES
from racksim.perf.tp_overlap import exposed_tp_s, overlapped_s
from racksim.perf.training import train_step


def test_ring_exchange_and_bulk_by_hand() -> None:
    # Ring exchange over 4 ranks, GEMM 400 us in 4 chunks of 100, collective 600 us in 3 steps of 200: each step is
    # paced by its transfer, 3 * 200 + the last chunk 100 = 700 us (300 exposed); a 150 us collective hides entirely.
    assert overlapped_s(400e-6, 600e-6, 4, "ring") == pytest.approx(700e-6)
    assert overlapped_s(400e-6, 150e-6, 4, "ring") == pytest.approx(400e-6)
    # Bulk: both at once, the longer sets the time.
    assert overlapped_s(400e-6, 600e-6, 4, "bulk") == pytest.approx(600e-6)
    assert overlapped_s(400e-6, 150e-6, 4, "bulk") == pytest.approx(400e-6)


def test_exposed_per_layer_by_hand() -> None:
    """tp 2, every collective 100 us. Forward GEMMs qkv 40, out_proj 300, mlp_in 60, mlp_out 500 us: ring exposes
    max(0, 100 - 20) = 80 (qkv), 0, 70 (mlp_in), 0. Backward (dgrad = wgrad = half): out_proj and mlp_out dgrad
    rings hide; qkv halves of 40 us under bulk expose 60 + 60, mlp_in halves of 60 expose 40 + 40. Total 150 + 200.
    Full recompute repeats the forward's; an MoE layer (no mlp_in / mlp_out) exposes its MLP collectives whole."""
    fwd = {"qkv": 40e-6, "out_proj": 300e-6, "mlp_in": 60e-6, "mlp_out": 500e-6}
    bwd = {name: 2 * t for name, t in fwd.items()}
    coll = {"all-gather": 100e-6, "reduce-scatter": 100e-6}
    assert exposed_tp_s(fwd, bwd, coll, 2, False) == pytest.approx(350e-6)
    assert exposed_tp_s(fwd, bwd, coll, 2, True) == pytest.approx(500e-6)
    moe = {"qkv": 40e-6, "out_proj": 300e-6}
    assert exposed_tp_s(moe, {k: 2 * v for k, v in moe.items()}, coll, 2, False) == pytest.approx(
        80e-6 + 100e-6 * 2 + 120e-6 + 100e-6 * 3)


def test_the_nemo_rows_with_tp_overlap_it_and_the_step_only_shortens() -> None:
    """The recipes set tp_comm_overlap with TP > 1 (Megatron-Bridge llama3.py / llama31_llm_pretrain.py @5776a6d);
    the overlap hides part of the exposed TP time and nothing else moves. Published check: the H100 70B row
    (settings known, TP 4) comes within 15 % with it."""
    for case in NEMO_CASES:
        assert case.layout.tp_comm_overlap == (case.layout.tp > 1)
    case = next(c for c in NEMO_CASES if c.name == "NeMo Llama 3 70B 64 H100 FP8-CS")
    system = h100_dgx()  # the case's system
    m = bundled_model("llama3-70b")
    on = train_step(m, case.layout, system, check_memory=False)
    off = train_step(m, replace(case.layout, tp_comm_overlap=False), system, check_memory=False)
    assert 0 < on.breakdown.tp_comm_s < off.breakdown.tp_comm_s
    assert on.breakdown.compute_s == pytest.approx(off.breakdown.compute_s)
    assert abs(case.error) <= 0.15
    # Without sequence parallelism Megatron-Bridge turns the overlap off, and so does the model.
    no_sp = replace(case.layout, sequence_parallel=False)
    assert train_step(m, no_sp, system, check_memory=False).step_time_s == pytest.approx(
        train_step(m, replace(no_sp, tp_comm_overlap=False), system, check_memory=False).step_time_s)
