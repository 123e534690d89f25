"""Blackwell serving against TensorRT-LLM's published B200 / GB200 FP4 throughput (racksim/perf/published_blackwell.py).

Source: github.com/NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md at commit
00f37686aa854010d68bcbd0f4ab000221541ca6 ("Llama 3.3 70B" and "Llama 3.1 405B" tables, B200 / GB200 FP4 columns).
No row calibrates anything; the misses are bounded and explained in racksim/perf/VALIDATION.md ("Blackwell serving").
"""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.inference import kv_bytes_per_token, serving_memory
from racksim.perf.memory import GB, RESERVED_GB
from racksim.perf.model import bundled_model
from racksim.perf.params import param_counts
from racksim.perf.published_blackwell import dgx_b200, gb200_nvl72, trtllm_fp4_replica
from racksim.perf.published_inference import BLACKWELL_SERVING_CASES, ServingCase

CASES = {case.name: case for case in BLACKWELL_SERVING_CASES}

BUDGET_SATURATED = {f"TRT-LLM 405B {gpu} TP4 FP4 {lengths} max load"
                    for gpu in ("B200", "GB200") for lengths in ("128/128", "2048/128")}
"""Rows where the KV-cache limit B holds more requests than the token budget T can keep decoding,
B > T·L_out/(L_in + L_out): the analytic steady state (`serving.serve`) then lets almost all B decode, which
starves the prompts of budget and under-predicts by 43-85 %. A limit of the serving model at maximum load, not of
the GPU (VALIDATION.md)."""
WITHIN_15 = {"TRT-LLM 70B GB200 TP1 FP4 2048/2048 max load", "TRT-LLM 70B GB200 TP1 FP4 20000/2000 max load",
             "TRT-LLM 405B B200 TP4 FP4 5000/500 max load", "TRT-LLM 405B GB200 TP4 FP4 5000/500 max load",
             "TRT-LLM 405B GB200 TP4 FP4 20000/2000 max load"}
"""The rows within 15 % with an FP8 KV cache and the measured FP4 GEMM ceiling. Every other row (31) over-predicts
by 15-44 %: the KV-cache precision of the FP4 checkpoints is not known, and with a BF16 one 30 of the 40 rows come
within 15 % (VALIDATION.md); not changed, since no source settles it."""
OVER_LIMIT = 0.45
"""Bound on the over-predicted rows (largest today +43.6 %): a further drift fails."""


@pytest.fixture(scope="module")
def errors() -> dict[str, float]:
    """(predicted − measured) / measured of every case, computed once (about 1 s)."""
    return {name: case.error for name, case in CASES.items()}


def test_the_transcription_has_both_tables_and_both_gpus() -> None:
    assert len(CASES) == 40
    assert CASES["TRT-LLM 70B B200 TP1 FP4 128/128 max load"].measured == 11147
    assert CASES["TRT-LLM 70B GB200 TP1 FP4 20000/2000 max load"].measured == 755
    assert CASES["TRT-LLM 405B B200 TP4 FP4 1000/2000 max load"].measured == 4933
    assert CASES["TRT-LLM 405B GB200 TP4 FP4 2048/128 max load"].measured == 797
    for case in BLACKWELL_SERVING_CASES:
        assert (case.replica.precision, case.concurrency, case.calibration) == ("fp4", None, False)
        assert case.replica.tp == (1 if case.model == "llama3-70b" else 4)
        assert case.system is (dgx_b200 if " B200 " in case.name else gb200_nvl72)
    assert (dgx_b200().accelerator.name, gb200_nvl72().accelerator.name) == ("B200-SXM-180GB", "GB200")


def test_b200_kv_capacity_of_70b_fp4_by_hand() -> None:
    """Llama 3.3 70B, FP4 weights on one 180 GB B200: 70.55e9 × 0.5 bytes = 35.3 GB of weights; the KV cache takes
    0.9 × (180 − weights − workspace − 1 GB reserve) (TensorRT-LLM's free-memory fraction), at 2 × 80 layers × 8 KV
    heads × 128 × 1 byte = 163,840 bytes per token (FP8): about 786k tokens, 393 requests of 1000 + 1000 tokens."""
    m, replica = bundled_model("llama3-70b"), trtllm_fp4_replica(1)
    memory = serving_memory(m, replica, dgx_b200().accelerator)
    assert memory.weights_gb == pytest.approx(param_counts(m).total * 0.5 / GB)
    assert memory.kv_bytes_per_token == kv_bytes_per_token(m, "fp8") == 163_840
    free = 180.0 - memory.weights_gb - memory.workspace_gb - RESERVED_GB
    assert memory.kv_cache_gb == pytest.approx(0.9 * free)
    assert memory.max_batch(2000) == int(0.9 * free * GB // 163_840) // 2000
    assert 380 < memory.max_batch(2000) < 400


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_blackwell_within_15_percent_or_bounded(name: str, errors: dict[str, float]) -> None:
    error = errors[name]
    if name in WITHIN_15:
        assert abs(error) <= 0.15
    elif name in BUDGET_SATURATED:
        assert -0.90 <= error < -0.15
    else:
        assert 0.15 < error <= OVER_LIMIT, f"{name}: {error:+.1%}"


def test_the_budget_saturated_rows_are_the_ones_the_token_budget_cannot_keep_decoding() -> None:
    for case in BLACKWELL_SERVING_CASES:
        sustained = case.replica.max_num_batched_tokens * case.output_len / (case.input_len + case.output_len)
        assert (case.point().batch > sustained) == (case.name in BUDGET_SATURATED), case.name


def test_the_kv_cache_precision_moves_the_over_predicted_rows_across_zero(errors: dict[str, float]) -> None:
    """The sensitivity VALIDATION.md reports, on two rows: a BF16 KV cache (half the requests, twice the bytes per
    decode step) brings the decode-heavy 1000/2000 rows from +43 % to within 15 %, the 128/4096 ones below −15 %."""
    def with_bf16_kv(case: ServingCase) -> float:
        return dataclasses.replace(case, replica=dataclasses.replace(case.replica, kv_precision="bf16")).error

    decode_heavy = CASES["TRT-LLM 70B GB200 TP1 FP4 1000/2000 max load"]
    assert errors[decode_heavy.name] > 0.4
    assert abs(with_bf16_kv(decode_heavy)) < 0.17
    assert with_bf16_kv(CASES["TRT-LLM 70B GB200 TP1 FP4 128/4096 max load"]) < -0.3

