"""Blackwell serving against TensorRT-LLM's published B200 / GB200 FP4 throughput (racksim/perf/published_blackwell.py).

Source: github.com/NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md at commit
00f37686aa854010d68bcbd0f4ab000221541ca6 ("Llama 3.3 70B" and "Llama 3.1 405B" tables, B200 / GB200 FP4 columns).
No row calibrates anything; the misses are bounded and explained in racksim/perf/VALIDATION.md ("Blackwell serving").
"""

from __future__ import annotations

import pytest

from racksim.perf.inference import kv_bytes_per_token, serving_memory
from racksim.perf.memory import GB, RESERVED_GB
from racksim.perf.model import bundled_model
from racksim.perf.params import param_counts
from racksim.perf.published_blackwell import (
    BLACKWELL_SERVING_CASES,
    NVML_GIB,
    dgx_b200,
    gb200_nvl72,
    trtllm_fp4_replica,
)
from racksim.perf.serving_case import trtllm_bench_settings
from racksim.report.validation_tables import shipped_tables

CASES = {case.name: case for case in BLACKWELL_SERVING_CASES}

OVER_PREDICTED: set[str] = set()
"""The rows outside 15 %: none since the FP4 table (a standalone cuBLAS benchmark) takes the framework factor k as the
BF16/FP8 ceilings do (`GemmEfficiency.kernel_benchmark`); before, 13 of 40 were over-predicted by +16 to +22 %, all
Llama 3.3 70B on one GPU, prompt-heavy most (VALIDATION.md, "Blackwell serving"). Kept so a row that drifts out is
bounded here, not tuned away."""
OVER_LIMIT = 0.25
"""Bound on the over-predicted rows (largest today +21.5 %): a further drift fails."""


@pytest.fixture(scope="module")
def errors() -> dict[str, float]:
    """(predicted − measured) / measured of every case as the shipped validation.json holds it.

    Not predicted again here (the 40 simulated runs take about 13 s of CPU): tests/test_validation_tables.py checks
    that the shipped tables equal the current predictions, so a model change that moves these rows fails there
    until `make validation-table` is run, and then here if a row leaves its bound.
    """
    rows = {row.case: row.error for table in shipped_tables() if table.name == "serving" for row in table.rows}
    return {name: rows[name] for name in CASES}


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


def test_trtllm_bench_settings_of_the_fp4_checkpoints_by_hand() -> None:
    """tuning.py on a B200 (NVML 183359 MiB = 179.06 GiB), NVFP4 weights at 0.5 byte (no scales in its table), FP8 KV
    cache, fraction 0.90. 70B TP1 1000/1000: R = 0.9·(179.06 − 70.554e9·0.5/2^30) / (2·80·8·128 B/2^30 · 2000)
    = 0.9·146.21 / 0.30518 = 431.2: cap 128·⌈431.2/128⌉ = 512; n = 862 → 2048 (the floor), ≥ 1000 + 512. 405B TP4 on
    GB200 128/128: R far above 4096, cap 4096, n = 4096·2 = 8192."""
    m70, m405 = bundled_model("llama3-70b"), bundled_model("llama3-405b")
    assert trtllm_bench_settings(m70, 1, 1000, 1000, "fp4", "fp8", device_gib=NVML_GIB["B200"]) == (512, 2048)
    assert trtllm_bench_settings(m405, 4, 128, 128, "fp4", "fp8", device_gib=NVML_GIB["GB200"]) == (4096, 8192)
    case = CASES["TRT-LLM 70B B200 TP1 FP4 1000/1000 max load"]
    assert (case.replica.max_batch, case.replica.max_num_batched_tokens, case.offline_requests) == (512, 2048, 3000)
    assert not case.replica.chunked_prefill
    assert case.replica.cuda_graph_batch_sizes[-1] == 8192


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_blackwell_within_15_percent_or_bounded(name: str, errors: dict[str, float]) -> None:
    error = errors[name]
    if name in OVER_PREDICTED:
        assert 0.15 < error <= OVER_LIMIT, f"{name}: {error:+.1%}"
    else:
        assert abs(error) <= 0.15, f"{name}: {error:+.1%}"
