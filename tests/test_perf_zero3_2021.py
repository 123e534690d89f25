"""ZeRO 3 as DeepSpeed ran it in 2021 (per-tensor collectives, no overlap) against the FSDP-style default."""

from __future__ import annotations

import dataclasses
import math

import pytest

from racksim.errors import InputError
from racksim.perf.accelerator import HBM_PLATEAU, KERNEL_FIXED_TIME_S
from racksim.perf.layout import Layout
from racksim.perf.memory import memory_per_gpu, stage_params
from racksim.perf.model import bundled_model
from racksim.perf.params import layer_matrices, layer_vectors
from racksim.perf.published import NARAYANAN_2021_ZERO3, a100_dgx
from racksim.perf.training import System, train_step
from racksim.perf.zero3 import HOST_VIEW_OP_S
from racksim.perf.zero3 import staging_s as _staging_s

M70 = bundled_model("llama3-70b")
LAYOUT = Layout(global_batch=16, seq_len=1024, micro_batch=1, dp=8, zero=3, recompute="full", fp32_grads=False,
                zero3_prefetch_layers=0, zero3_gather="tensor")


def test_llama3_70b_layer_matrices_by_hand() -> None:
    # h 8192, 64 query and 8 key/value heads of 128, MLP 28672 gated: fused QKV 8192·(64 + 2·8)·128, output
    # 8192², gate and up fused 2·8192·28672, down 8192·28672; no experts.
    assert layer_matrices(M70) == ((83_886_080, 67_108_864, 469_762_048, 234_881_024), ())


def test_gpt3_layer_tensors_by_hand() -> None:
    # GPT-3 175B (Narayanan Table 2's shape: h 12288, 96 heads, MLP 4h, LayerNorm, biases): the matrices QKV 3h²,
    # output h², MLP 4h² and 4h²; the small tensors two LayerNorms (scale and bias, h each), the QKV bias 3h, the
    # output bias h, the MLP biases 4h and h. Together the layer: 12h² + 13h = 1,812,099,072 parameters.
    m = NARAYANAN_2021_ZERO3[0].model
    h = 12288
    assert layer_matrices(m) == ((3 * h * h, h * h, 4 * h * h, 4 * h * h), ())
    assert layer_vectors(m) == ((h, h, h, h, 3 * h, h, 4 * h, h), ())
    assert sum(layer_matrices(m)[0]) + sum(layer_vectors(m)[0]) == 12 * h * h + 13 * h == 1_812_099_072
    assert max(layer_vectors(m)[0]) < 1e5  # under DeepSpeed's persistence threshold: never re-gathered


def test_staging_copies_one_kernel_per_rank_by_hand() -> None:
    # 1 GB over 1536 ranks: 1536 copies of 2/1536 GB (read and write) plus the zero fill of 1 GB. A kernel moving
    # x bytes takes x / (B · f(x)), f the A100's HBM curve: samples of η·x / (x + η·B·t0) at each decade,
    # interpolated in log10(x) (η 0.9, B 2.039 TB/s, t0 5 µs).
    acc = a100_dgx().accelerator
    bandwidth = acc.hbm_bytes_per_s

    def f(x: float) -> float:
        return HBM_PLATEAU * x / (x + HBM_PLATEAU * bandwidth * KERNEL_FIXED_TIME_S)

    slice_bytes = 2e9 / 1536
    between = math.log10(slice_bytes) - 6
    f_slice = f(1e6) + (f(1e7) - f(1e6)) * between
    expected = 2e9 / (bandwidth * f_slice) + 1e9 / (bandwidth * f(1e9))
    assert _staging_s(acc, 1e9, 1536, zero_fill=True) == pytest.approx(expected, rel=1e-3)  # rounded samples
    assert _staging_s(acc, 1e9, 1536, zero_fill=False) == pytest.approx(2e9 / (bandwidth * f_slice), rel=1e-3)
    assert _staging_s(acc, 1e9, 1, zero_fill=True) == 0.0


def test_per_tensor_zero3_without_prefetch_counts_every_collective() -> None:
    # Every collective 1 ms: per layer and micro-batch, 4 matrices gathered for the forward, again for the
    # recomputed forward and again for the backward, each gather staged, preceded by one host view op per rank
    # and followed by a norm read of each of the layer's tensors (the 2 RMSNorm scales of 8192 too, which stay
    # gathered); 6 gradients reduce-scattered (4 matrices and the 2 norms), each staged; the rest (embedding,
    # output layer, final norm) once per pass. Nothing hides behind compute.
    def timer(kind: str, message_bytes: float, group_size: int, scale_up: bool, per_domain: int = 1) -> float:
        return 1e-3 if group_size > 1 else 0.0

    acc = a100_dgx().accelerator
    step = train_step(M70, LAYOUT, System(acc, timer, 8), check_memory=False)
    layers, n = M70.num_hidden_layers, 8
    dense, _ = stage_params(M70, LAYOUT)
    matrices, vectors = layer_matrices(M70)[0], layer_vectors(M70)[0]
    assert vectors == (8192, 8192)
    rest = dense - layers * (sum(matrices) + sum(vectors))

    def read(x: float) -> float:  # one kernel reading x bytes on the HBM curve
        return x / (acc.hbm_bytes_per_s * float(acc.memory_efficiency(x)))

    def gathered(x: float) -> float:
        return 1e-3 + _staging_s(acc, 2.0 * x, n, zero_fill=True) + n * HOST_VIEW_OP_S + read(2.0 * x)

    gather = sum(gathered(x) for x in matrices) + sum(read(2.0 * x) for x in vectors)
    reduce = sum(1e-3 + _staging_s(acc, 2.0 * x, n, zero_fill=False) for x in matrices + vectors)
    gather += gathered(rest) / layers
    reduce += (1e-3 + _staging_s(acc, 2.0 * rest, n, zero_fill=False)) / layers
    assert step.breakdown.dp_comm_s == pytest.approx(LAYOUT.microbatches * layers * (3 * gather + reduce))
    # Per layer (FSDP-style) units keep the recompute's gather for the backward: 2 gathers of one collective each.
    per_layer = train_step(M70, dataclasses.replace(LAYOUT, zero3_gather="layer"), System(acc, timer, 8),
                           check_memory=False)
    assert per_layer.breakdown.dp_comm_s == pytest.approx(LAYOUT.microbatches * layers * 3e-3)


def test_prefetch_depth_sets_the_gathered_layers_held() -> None:
    # Gathered weights of 1 + k layers (2 bytes each) and one layer's gradients (2 bytes here).
    dense, expert = stage_params(M70, LAYOUT)
    per_layer = (dense + expert) / M70.num_hidden_layers
    none = memory_per_gpu(M70, LAYOUT)
    two = memory_per_gpu(M70, dataclasses.replace(LAYOUT, zero3_prefetch_layers=2))
    assert (two.buffers_gb - none.buffers_gb) * 1e9 == pytest.approx(2 * 2.0 * per_layer)


def test_bad_zero3_options_are_one_line_errors() -> None:
    with pytest.raises(InputError, match="zero3_prefetch_layers"):
        train_step(M70, dataclasses.replace(LAYOUT, zero3_prefetch_layers=-1), a100_dgx(), check_memory=False)
    with pytest.raises(InputError, match="zero3_gather"):
        train_step(M70, dataclasses.replace(LAYOUT, zero3_gather="bucket"),  # type: ignore[arg-type]
                   a100_dgx(), check_memory=False)


def test_narayanan_zero3_falls_with_scale_as_measured() -> None:
    # Table 2: 144 / 88 / 44 TFLOP/s per GPU on 384 / 768 / 1536 GPUs at a fixed batch. The per-tensor gathers
    # without overlap do not shrink with the per-GPU compute, and their ring latency and per-rank copies grow with
    # the group: the prediction must fall at each doubling (it was flat at ~202 with one-layer prefetch).
    predicted = [case.predict() for case in NARAYANAN_2021_ZERO3]
    assert predicted[0] > 1.3 * predicted[1] > 1.3 * 1.3 * predicted[2]
    fsdp = [dataclasses.replace(c, layout=dataclasses.replace(c.layout, zero3_prefetch_layers=1,
                                                              zero3_gather="layer")).predict()
            for c in NARAYANAN_2021_ZERO3]
    assert min(fsdp) > 0.95 * max(fsdp)  # the FSDP-style default hides the gathers at every scale
