"""GPU activity versus what the GPU does (racksim.perf.power), against its sourced figures by hand."""

from __future__ import annotations

import numpy as np
import pytest

from racksim.perf import bundled_model
from racksim.perf.hardware import system_from_design
from racksim.perf.inference import Iteration, Replica
from racksim.perf.layout import Layout
from racksim.perf.ops import OpTable
from racksim.perf.power import (
    HBM_ACTIVITY,
    LINK_ACTIVITY,
    WAIT_ACTIVITY,
    Busy,
    iteration_busy,
    link_busy,
    ops_busy,
    training_compute_busy,
)
from racksim.perf.training import System, train_step
from racksim.physics.power import utilization_power_w
from tests.perf_fixtures import DESIGNS


def gb200() -> System:
    """The GB200 NVL72 design's GPU on its own network model."""
    return system_from_design(DESIGNS["gb200"])


H200_TDP_W, H200_IDLE_W = 700.0, 80.0
"""S: H200 TDP 700 W (hardware.md §1e, P) and 80.3 W idle (a published vLLM power ladder, S)."""


def test_activity_formula_by_hand() -> None:
    """u = min(1, (1.0·t_T + 0.5·t_V + 0.35·t_H + 0.10·t_L) / T)."""
    assert Busy(10.0, tensor_s=4.0, vector_s=2.0, hbm_s=4.0, link_s=2.0).activity == pytest.approx(
        (4.0 + 0.5 * 2.0 + 0.35 * 4.0 + 0.10 * 2.0) / 10.0)
    assert Busy(1.0, tensor_s=1.0, hbm_s=0.5).activity == 1.0  # clipped at TDP
    assert Busy(0.0).activity == 0.0
    assert (Busy(1.0, tensor_s=1.0) + link_busy(1.0)).activity == pytest.approx((1.0 + 0.1) / 2)


def test_hbm_bound_decode_reproduces_its_calibration_point() -> None:
    """Calibration: decode with HBM saturated draws up to 300 W on a 700 W H200 (S) -> (300 − 80)/(700 − 80)."""
    streaming = Busy(1.0, hbm_s=1.0)
    power_w = float(utilization_power_w(streaming.activity, H200_IDLE_W, H200_TDP_W))
    assert pytest.approx((300.0 - H200_IDLE_W) / (H200_TDP_W - H200_IDLE_W), abs=0.01) == HBM_ACTIVITY
    assert power_w == pytest.approx(80.0 + 0.35 * 620.0)  # 297 W
    assert 137.0 <= power_w <= 300.0  # within the measured range (S)


def test_a_large_gemm_runs_at_tdp_and_communication_near_idle() -> None:
    """Check (P, Choukse et al. 2025): compute-heavy phases near TDP, communication-heavy ones near idle."""
    acc = gb200().accelerator
    n = 8192.0
    gemm = OpTable(("gemm",), np.array([2 * n**3]), np.array([3 * 2 * n * n]), np.array([True]))
    busy = ops_busy(gemm, acc, "fp8")
    assert busy.tensor_s == pytest.approx(busy.time_s)  # compute-bound
    assert busy.activity == 1.0
    assert link_busy(0.1).activity == pytest.approx(LINK_ACTIVITY)
    assert LINK_ACTIVITY <= 0.15


def test_a_waiting_gpu_reproduces_the_context_held_idle_step() -> None:
    """Calibration (S, arXiv 2605.23918): a CUDA context holds an HBM GPU 26-50 W above bare idle; midpoint 38 W on
    the HGX-H100 reference's 700 W TDP and 90 W idle -> u = 38 / 610 = 0.062. A collective adds its links on top
    (LINK_ACTIVITY above that floor, and near idle: P, Choukse et al. 2025; NVIDIA's GB300 power blog 2025)."""
    gpu = DESIGNS["h100"].compute_tray.gpus
    assert (gpu.tdp_w, gpu.idle_w) == (700.0, 90.0)
    waiting_w = float(utilization_power_w(WAIT_ACTIVITY, gpu.idle_w, gpu.tdp_w))
    assert waiting_w - gpu.idle_w == pytest.approx(38.0, abs=1.5)  # 36.6 W above bare idle
    assert 26.0 <= waiting_w - gpu.idle_w <= 50.0
    collective_w = float(utilization_power_w(LINK_ACTIVITY, gpu.idle_w, gpu.tdp_w))
    assert waiting_w < collective_w <= gpu.idle_w + 0.15 * (gpu.tdp_w - gpu.idle_w)  # 151 W of 700 W


def test_prefill_draws_more_than_decode() -> None:
    """Check (P, Patel et al. 2024): the prompt phase spikes toward TDP, token generation runs lower."""
    system = gb200()
    m, replica = bundled_model("llama3-70b"), Replica(tp=2)
    prefill = iteration_busy(m, replica, system, Iteration(chunks=1, chunk_tokens=1500, chunk_context=1500))
    decode = iteration_busy(m, replica, system, Iteration(decode=32, decode_context=1750))
    assert prefill.activity > 0.75
    assert HBM_ACTIVITY <= decode.activity < 0.6 < prefill.activity


@pytest.mark.parametrize("options", [{"recompute": "selective"}, {"recompute_norms": True},
                                     {"recompute_norms": True, "fp8_activations": True}],
                         ids=["selective", "norms", "norms-and-activations"])
def test_the_power_model_is_busy_for_the_recompute_the_step_times(options: dict[str, object]) -> None:
    """The activity behind a training phase's power covers the recompute `train_step` times: what a recompute option
    adds to one micro-batch's busy time, × the micro-batches, is what it adds to the step's compute (the extra
    recompute of `memory.recomputed_ops` included; the head's time, in the step's compute only, cancels out)."""
    system = gb200()
    m = bundled_model("llama3-8b")
    base = Layout(global_batch=16, seq_len=4096, micro_batch=1, tp=2, dp=4, precision="fp8")
    other = Layout(global_batch=16, seq_len=4096, micro_batch=1, tp=2, dp=4, precision="fp8", **options)
    added_compute_s = (train_step(m, other, system).breakdown.compute_s
                       - train_step(m, base, system).breakdown.compute_s)
    added_busy_s = (training_compute_busy(m, other, system.accelerator).time_s
                    - training_compute_busy(m, base, system.accelerator).time_s)
    assert added_compute_s > 0
    assert added_busy_s * base.microbatches == pytest.approx(added_compute_s, rel=1e-9)
