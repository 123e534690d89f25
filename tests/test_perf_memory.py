"""Memory per GPU: Korthikanti et al. 2022 activation formulas, ZeRO model state, and the refusal to run."""

from __future__ import annotations

import pytest

from racksim.errors import InputError
from racksim.perf.layout import Layout
from racksim.perf.memory import activation_bytes_per_layer, check_fits, memory_per_gpu, stage_params
from racksim.perf.model import bundled_model
from racksim.perf.params import param_counts
from tests.perf_fixtures import A100_SXM_80GB, GB200, GB300

M175 = bundled_model("megatron-175b")
S, B, H, A = 2048, 1, 12288, 96


def layout(**kw: object) -> Layout:
    return Layout(**{"global_batch": 64, "seq_len": S, "micro_batch": B, "flash_attention": False, **kw})


def test_activations_per_layer_follow_korthikanti_2022() -> None:
    sbh = S * B * H
    t = 8
    assert activation_bytes_per_layer(M175, layout()) == pytest.approx(sbh * (34 + 5 * A * S / H))
    assert activation_bytes_per_layer(M175, layout(tp=t)) == pytest.approx(
        sbh * (10 + 24 / t + 5 * A * S / (H * t)))
    assert activation_bytes_per_layer(M175, layout(tp=t, sequence_parallel=True)) == pytest.approx(
        sbh * (34 / t + 5 * A * S / (H * t)))
    assert activation_bytes_per_layer(M175, layout(tp=t, sequence_parallel=True, recompute="selective")) == \
        pytest.approx(sbh * 34 / t)
    assert activation_bytes_per_layer(M175, layout(tp=t, recompute="full")) == pytest.approx(2 * sbh)


def test_model_state_is_16_or_18_bytes_per_parameter_sharded_by_zero() -> None:
    m = bundled_model("llama3-8b")
    n = param_counts(m).total
    mem = memory_per_gpu(m, Layout(global_batch=8, seq_len=4096, fp32_grads=False, zero=0))
    state = mem.weights_gb + mem.gradients_gb + mem.optimizer_gb
    assert state * 1e9 == pytest.approx(16 * n, rel=1e-9)
    zero1 = memory_per_gpu(m, Layout(global_batch=8, seq_len=4096, dp=8, zero=1))
    assert zero1.optimizer_gb * 1e9 == pytest.approx(12 * n / 8, rel=1e-9)
    assert zero1.gradients_gb * 1e9 == pytest.approx(4 * n, rel=1e-9)  # fp32 grads: 18 bytes in all
    zero3 = memory_per_gpu(m, Layout(global_batch=8, seq_len=4096, dp=8, zero=3))
    assert (zero3.weights_gb + zero3.gradients_gb + zero3.optimizer_gb) * 1e9 == pytest.approx(18 * n / 8)


def test_stage_params_split_the_model() -> None:
    m = bundled_model("llama3-70b")
    total = param_counts(m).total
    dense, expert = stage_params(m, Layout(global_batch=8, seq_len=4096, tp=8, pp=1))
    assert expert == 0
    assert dense * 8 == pytest.approx(total, rel=0.001)  # norms are replicated, a rounding error here


def test_layout_that_does_not_fit_is_refused_with_needed_and_available() -> None:
    m = bundled_model("llama3-405b")
    lay = Layout(global_batch=16, seq_len=8192, tp=8, pp=3, dp=1, zero=0, recompute="full",
                 sequence_parallel=True)
    with pytest.raises(InputError) as info:
        check_fits(memory_per_gpu(m, lay), GB200)
    message = str(info.value)
    assert "needs" in message
    assert "GB200 has 186 GB" in message
    assert "largest term optimizer state" in message
    assert "\n" not in message


def test_gb300_fits_what_gb200_does_not() -> None:
    m = bundled_model("llama3-70b")
    lay = Layout(global_batch=64, seq_len=8192, micro_batch=2, tp=8, pp=1, dp=1, zero=0, recompute="selective",
                 sequence_parallel=True)
    mem = memory_per_gpu(m, lay)
    assert GB200.hbm_gb < mem.total_gb < GB300.hbm_gb
    check_fits(mem, GB300)
    with pytest.raises(InputError, match="does not fit"):
        check_fits(mem, GB200)


def test_megatron_published_layouts_fit_in_80_gb() -> None:
    # Korthikanti et al. 2022 ran these on A100-80GB: the model must not refuse them.
    for name, pp, vpp in (("megatron-175b", 8, 3), ("megatron-530b", 35, 3), ("megatron-1t", 64, 1)):
        lay = Layout(global_batch=64, seq_len=2048, tp=8, pp=pp, vpp=vpp, sequence_parallel=True,
                     recompute="selective", flash_attention=False, zero=0)
        check_fits(memory_per_gpu(bundled_model(name), lay), A100_SXM_80GB)
