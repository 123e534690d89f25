"""DualPipe (DeepSeek-V3's pipeline schedule), node-limited expert all-to-all and DeepSeek's memory savings, by hand."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from racksim.design.workload_schema import TrainingWorkload
from racksim.errors import InputError
from racksim.perf.comm import AlphaBeta, link_bytes, node_limited_all_to_all
from racksim.perf.dualpipe import dualpipe_step
from racksim.perf.layout import Layout, check_layout, pipeline_ranks, stage_layer_counts
from racksim.perf.memory import activation_bytes, activation_bytes_per_layer, memory_per_gpu, stage_params
from racksim.perf.model import bundled_model, parse_model
from racksim.perf.ops import OpTable
from racksim.perf.training import System, train_step
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule, schedule_for
from tests.conftest import ROOT
from tests.perf_fixtures import H100_SXM
from tests.test_perf_cli import GB200, one_line_error, racksim

TINY = parse_model({"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 8, "num_hidden_layers": 8,
                    "vocab_size": 32000, "max_position_embeddings": 4096}, "tiny")
NO_HEAD = OpTable((), np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
DUALPIPE = Layout(global_batch=8, seq_len=1024, pp=4, pp_schedule="dualpipe", comm_sm_fraction=0.2)


def test_dualpipe_ranks_hold_stage_i_and_its_mirror() -> None:
    assert pipeline_ranks(DUALPIPE) == [(0, 3), (1, 2)]
    assert pipeline_ranks(dataclasses.replace(DUALPIPE, pp_schedule="1f1b")) == [(0,), (1,), (2,), (3,)]
    # DeepSeek-V3's 61 layers on 16 stages: the three short stages at the ends (one first, two last).
    assert stage_layer_counts(61, 16) == [3, *[4] * 13, 3, 3]


@pytest.mark.parametrize(("ep_fwd", "ep_bwd", "expected"), [
    # 2 layers per stage, F 1, B 2, W 0.5, TP/CP 0.1 per layer; 20 % of the SMs for communication; send 0.05.
    # Hidden: compute 2·3/0.8 = 7.5 ≥ all-to-alls 2·1.5 + 2·0.05 = 3.1 → F&B = 7.5 + 0.2 = 7.7; B alone
    # 2·2 + 2·0.9 + 0.05 = 5.85; W 2·0.5 = 1; bubble (4/2 − 1)·(7.7 + 5.85 − 3) = 10.55.
    (0.6, 0.9, {"compute_s": 60.0, "ep_comm_s": 0.0, "pp_comm_s": 0.0, "bubble_s": 10.55}),
    # Exposed: all-to-alls 2·7 + 0.1 = 14.1 > 7.5 → 6.6 exposed per pair, 14/14.1 of it the experts';
    # F&B = 7.7 + 6.6 = 14.3; B alone 4 + 8 + 0.05 = 12.05; bubble 14.3 + 12.05 − 3 = 23.35.
    (3.0, 4.0, {"compute_s": 60.0, "ep_comm_s": 8 * 6.6 * 14 / 14.1, "pp_comm_s": 8 * 6.6 * 0.1 / 14.1,
                "bubble_s": 23.35}),
])
def test_dualpipe_overlap_and_bubble_by_hand(ep_fwd: float, ep_bwd: float, expected: dict[str, float]) -> None:
    layers, parts = dualpipe_step(TINY, DUALPIPE, (1.0, 2.0, 0.5, 0.1, ep_fwd, ep_bwd), 0.05, (NO_HEAD, NO_HEAD),
                                  H100_SXM)
    assert layers == 2
    assert parts == pytest.approx(expected)


def test_dualpipe_step_adds_up_and_beats_1f1b_bubble() -> None:
    system = System(H100_SXM, AlphaBeta(450.0, 50.0, 0.82, 8.4e-6, 3.4e-6, 6e-6), 8)
    layout = dataclasses.replace(DUALPIPE, comm_sm_fraction=0.0)
    dual = train_step(TINY, layout, system)
    one = train_step(TINY, dataclasses.replace(layout, pp_schedule="1f1b"), system)
    assert dual.breakdown.total_s == pytest.approx(dual.step_time_s)
    assert dual.breakdown.bubble_s < one.breakdown.bubble_s / 2  # (p/2 − 1)(F&B + B − 3W) vs (p − 1)(F + B)
    assert dual.breakdown.pp_comm_s == 0.0 < one.breakdown.pp_comm_s  # sends hidden behind the paired compute


def test_dualpipe_memory_two_stages_of_parameters_and_p_plus_1_activations() -> None:
    # 8 layers on 4 stages of 2: a middle rank holds stages 1 and 2, twice a 1F1B middle stage's parameters; every
    # rank keeps p + 1 = 5 micro-batches of a 2-layer stage against 1F1B's first stage's p = 4.
    one = dataclasses.replace(DUALPIPE, pp_schedule="1f1b")
    assert stage_params(TINY, DUALPIPE, (1, 2)) == pytest.approx(tuple(2 * x for x in stage_params(TINY, one, (1,))))
    assert activation_bytes(TINY, DUALPIPE) == pytest.approx(5 / 4 * activation_bytes(TINY, one))
    assert memory_per_gpu(TINY, DUALPIPE).weights_gb > memory_per_gpu(TINY, one).weights_gb


@pytest.mark.parametrize(("change", "rule"), [
    ({"pp": 3, "global_batch": 6}, "even number of pipeline stages"), ({"vpp": 2}, "no virtual stages"),
    ({"global_batch": 6}, "at least 2 × 4"), ({"comm_sm_fraction": 1.0}, "below 1"),
    ({"fp8_activations": True}, "needs precision fp8"),
])
def test_dualpipe_layout_rules(change: dict[str, object], rule: str) -> None:
    with pytest.raises(InputError, match=rule):
        check_layout(TINY, dataclasses.replace(DUALPIPE, **change))


def test_node_limited_all_to_all_by_hand() -> None:
    # EP 64 over 8 domains of 8, k = 8, at most M = 4 domains per token: S = N·k·h·bytes = 8 MB. Fabric: a rail
    # all-to-all of S·u/k = 4 MB among 8 ranks, each sending 7/8 of it over its NIC (N·u·h·(D − 1)/D bytes); NVLink:
    # the 8 ranks of a domain forwarding all k copies, 7/8 of 8 MB each.
    fabric, nvlink = node_limited_all_to_all(8e6, 64, 8, 8, 4)
    assert fabric == ("all-to-all", 4e6, 8, False, 1)
    assert nvlink == ("all-to-all", 8e6, 8, True, 8)
    assert link_bytes(*fabric) == pytest.approx((0.0, 3.5e6))
    assert link_bytes(*nvlink) == pytest.approx((7e6, 0.0))
    # Unlimited: the plain all-to-all, 56/64 of S over the NICs; inside one domain: all over NVLink.
    assert node_limited_all_to_all(8e6, 64, 8, 8, 0) == [("all-to-all", 8e6, 64, False, 8)]
    assert node_limited_all_to_all(8e6, 8, 8, 8, 4) == [("all-to-all", 8e6, 8, True, 8)]


def test_deepseek_memory_savings_by_hand() -> None:
    # DeepSeek-V3 MoE layer, 4096 tokens, t = 1, sbh = 4096·7168; per token, in units of h bytes:
    # bf16, no savings: norms' inputs 4 + dropout masks 2 + QKV and MLP inputs 4; MLA Q, K (128 heads × 192)
    # and V (× 128) 2·(24576·2 + 16384)/7168 = 18.29, the attention output 2·16384/7168 = 4.57, the latents
    # 2·(1536 + 512)/7168 = 0.571; 8 routed copies of (input 2 + SwiGLU 2·3·2048/7168) and the shared expert's
    # 2·3·2048/7168.
    m = bundled_model("deepseek-v3")
    base = Layout(global_batch=15360, seq_len=4096, pp=16, dp=128, ep=64, precision="fp8")
    sbh, swiglu = 4096 * 7168, 2048 / 7168
    plain = 10 + 2 * (2 * 24576 + 16384) / 7168 + 2 * 16384 / 7168 + 2 * 2048 / 7168 + 8 * (2 + 6 * swiglu) + 6 * swiglu
    assert activation_bytes_per_layer(m, base, moe_layer=True) == pytest.approx(sbh * plain)
    # Norms and up-projections recomputed (no QKV/MLP inputs, no Q, K, V), FP8 caches (latents 1 byte, attention
    # output E5M6 1.5, routed inputs 1, SwiGLU inputs 2·2048 at 1 byte, output recomputed).
    saved = dataclasses.replace(base, recompute_norms=True, fp8_activations=True)
    lean = 6 + 1.5 * 16384 / 7168 + 2048 / 7168 + 8 * (1 + 2 * swiglu) + 2 * swiglu
    assert activation_bytes_per_layer(m, saved, moe_layer=True) == pytest.approx(sbh * lean)
    moments = dataclasses.replace(saved, adam_bf16_moments=True)
    assert memory_per_gpu(m, moments).optimizer_gb == pytest.approx(8 / 12 * memory_per_gpu(m, saved).optimizer_gb)


def test_cli_pins_dualpipe_and_refuses_a_layout_it_cannot_run() -> None:
    pinned = ("--model", "llama3-70b", "--gpus", "72", "--global-batch", "576", "--seq-len", "8192", "--tp", "2",
              "--pp", "4", "--vpp", "1", "--micro-batch", "1", "--zero", "1", "--recompute", "full", "--json")
    dual = racksim("perf", "train", GB200, *pinned, "--pp-schedule", "dualpipe")
    assert dual.returncode == 0, dual.stderr
    prediction = json.loads(dual.stdout)
    assert prediction["layout"]["pp_schedule"] == "dualpipe"
    one = json.loads(racksim("perf", "train", GB200, *pinned).stdout)
    assert prediction["breakdown_s"]["bubble_s"] < one["breakdown_s"]["bubble_s"]
    assert prediction["memory_gb_per_gpu"]["weights"] > one["memory_gb_per_gpu"]["weights"]  # two stages per rank
    one_line_error(racksim("perf", "train", GB200, *pinned[:-1], "--pp", "3", "--pp-schedule", "dualpipe"),
                   "dualpipe needs an even number of pipeline stages")


def test_a_scenario_layout_pins_dualpipe() -> None:
    run: dict[str, object] = {"model": "llama3-70b", "global_batch_sequences": 144, "seq_len": 8192,
                              "checkpoint_every_steps": 10, "checkpoint_time_s": 30.0}
    workload = TrainingWorkload.model_validate({**run, "precision": "fp8",
                                                "layout": {"tp": 4, "pp": 2, "pp_schedule": "dualpipe"}})
    schedule = schedule_for(workload, load_design(ROOT / "designs" / "gb200-nvl72.yaml").design)
    assert isinstance(schedule, TrainingSchedule)
    assert "DualPipe" in schedule.predicted["layout"]
    assert sum(phase.nominal_s for phase in schedule.step) == pytest.approx(schedule.predicted["step_time_s"])
    with pytest.raises(ValueError, match="pp_schedule"):
        TrainingWorkload.model_validate({**run, "layout": {"pp_schedule": "gpipe"}})
