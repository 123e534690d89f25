"""Published serving measurements with their settings, and the inference model's predictions of them.

NVIDIA NIM benchmarking guide, "Performance" page (docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance, section
"Llama-3.3-70b-instruct Results", Version 1.8.0, "2 x H100 80G", "fp8 TP2", "5000 Input Tokens / 500 Output
Tokens"): TTFT, ITL and throughput (output tokens/s of the replica) per concurrency, measured with genai-perf/AIPerf
(closed loop at a fixed concurrency), predicted with the iteration-level simulator (`serving_sim`: C clients starting
together, each sending its next request on completion, means per request over the steady state). NIM's engine is
TensorRT-LLM; its KV-cache fraction, KV-cache precision and chunking are not stated: TensorRT-LLM's defaults (0.9
of the free memory, `max_num_tokens` 8192, no chunked prefill: `enable_chunked_prefill` False in
tensorrt_llm/llmapi/llm_args.py, so a 5000-token prompt is prefilled whole and two do not share an iteration) and an
FP8 KV cache (the fp8 profile) are assumed.

TensorRT-LLM performance overview (github.com/NVIDIA/TensorRT-LLM, docs/source/performance/perf-overview.md at
commit 00f37686aa854010d68bcbd0f4ab000221541ca6, tables "Llama 3.1 8B" (H100 TP1 FP8) and "Llama 3.3 70B" (H100 TP2
FP8)): "Total Output Throughput (tokens/sec)" of `trtllm-bench throughput` (PyTorch backend) with every request
queued at once, fixed input and output lengths (stdev 0), ModelOpt FP8 checkpoints. Predicted by simulating that
run (`serving_sim.simulate_offline`): the page's `$num_requests` per length pair queued at t = 0, throughput over
the whole run (ramp-up and drain included, as `trtllm-bench` reports it), on the replica `trtllm-bench` builds
(`trtllm_bench_replica`): its max_batch_size / max_num_tokens heuristic for the dataset, whole-prompt prefill (its
default), the guaranteed-no-evict scheduler (a request's whole context reserved at admission, as
`ServingMemory.max_batch` does) and the page's padded CUDA graphs for decode-only iterations. Not fully known: the
KV-cache fraction ("in many cases" 0.95, else the default 0.90; 0.90 taken) and the KV-cache precision (FP8, the
default for an FP8 checkpoint in `get_settings`, taken).

Llama 3.3 70B has the shape of Llama 3.1 70B (`racksim/models/llama3-70b.json`: same hidden size, layers, heads,
KV heads, MLP width and vocabulary in the Hugging Face configs), so that config is used for both.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from racksim.perf.comm import DGX_H100, DGX_H100_GPUS_PER_NODE
from racksim.perf.hardware import reference_accelerator
from racksim.perf.inference import Replica
from racksim.perf.model import bundled_model
from racksim.perf.published_blackwell import BLACKWELL_SERVING_CASES
from racksim.perf.serving_case import (
    QUANTITIES,
    SHORT,
    TRTLLM_BENCH_PAGE,
    TRTLLM_BENCH_REQUESTS,
    ServingCase,
    table_rows,
    trtllm_bench_replica,
)
from racksim.perf.training import System


@cache
def h100_dgx() -> System:
    """DGX H100: NVSwitch inside 8 GPUs (NCCL Simple and LL protocols, `comm.DGX_H100`), 8 × 400 Gb/s between nodes.

    The GPU is the one of designs/reference/hgx-h100-8gpu.yaml.
    """
    return System(reference_accelerator("reference/hgx-h100-8gpu.yaml"), DGX_H100, DGX_H100_GPUS_PER_NODE)


TRTLLM_REPLICA_TP1 = Replica(tp=1, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm")
"""A TensorRT-LLM replica with FP8 weights and KV cache and its memory accounting (the engine's own defaults); the
maximum-load rows take it at their TP degree."""
H100_NVML_GIB = 81559 / 1024
"""Device memory NVML reports for "NVIDIA H100 80GB HBM3" (nvidia-smi: 81559MiB), GiB: what `trtllm-bench` reads
(`get_device_memory`, tensorrt_llm/bench/build/utils.py) to size its engine settings."""
NIM_REPLICA_TP2 = Replica(tp=2, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm",
                          chunked_prefill=False)

_NIM = "NVIDIA NIM benchmarking, Performance, Llama-3.3-70b-instruct v1.8.0, 2 x H100 fp8 TP2, 5000/500"
# concurrency: (TTFT ms, ITL ms, throughput tokens/s)
_NIM_TABLE = {1: (406.77, 18.58, 51.67), 5: (546.7, 21.83, 218.48), 25: (688.69, 38.75, 623.4),
              50: (834.51, 59.73, 814.37), 100: (7996.25, 92.91, 917.26), 200: (61680.22, 93.06, 920.54)}
NIM_LLAMA70B_H100 = tuple(
    ServingCase(f"NIM 70B TP2 5000/500 C={c} {SHORT[q]}", _NIM, "llama3-70b", NIM_REPLICA_TP2, 5000, 500,
                c, q, value, "partly known (KV fraction, KV precision, no chunked prefill: TensorRT-LLM defaults)",
                h100_dgx, closed_loop=True)
    for c, row in _NIM_TABLE.items()
    for q, value in zip(QUANTITIES, (row[0] / 1e3, row[1] / 1e3, row[2]), strict=True)
)

_TRT = TRTLLM_BENCH_PAGE + ", {} table, H100 TP{} FP8"
_TRT_8B = {(128, 128): 28312, (128, 2048): 22714, (128, 4096): 14325, (500, 2000): 17660, (1000, 1000): 15220,
           (1000, 2000): 13899, (2048, 128): 3450, (2048, 2048): 9305, (5000, 500): 3459, (20000, 2000): 1351}
_TRT_70B = {(128, 128): 6378, (128, 2048): 6651, (128, 4096): 4199, (500, 2000): 5222, (1000, 1000): 4205,
            (1000, 2000): 4146, (2048, 128): 762, (2048, 2048): 3082, (5000, 500): 898, (20000, 2000): 437}
_TRT_SETTINGS = "partly known (KV fraction 0.90 or 0.95, KV precision)"
TRTLLM_MAX_THROUGHPUT = tuple(
    ServingCase(f"TRT-LLM {label} {isl}/{osl} max load", _TRT.format(table, tp), model,
                trtllm_bench_replica(bundled_model(model), replace(TRTLLM_REPLICA_TP1, tp=tp), isl, osl,
                                     device_gib=H100_NVML_GIB), isl, osl,
                None, "tokens_per_s", float(value), _TRT_SETTINGS, h100_dgx,
                offline_requests=TRTLLM_BENCH_REQUESTS[isl, osl])
    for label, table, model, tp, data in (("8B TP1", "Llama 3.1 8B", "llama3-8b", 1, _TRT_8B),
                                          ("70B TP2", "Llama 3.3 70B", "llama3-70b", 2, _TRT_70B))
    for (isl, osl), value in data.items()
)

ALL_SERVING_CASES = NIM_LLAMA70B_H100 + TRTLLM_MAX_THROUGHPUT
"""Every published H100 serving case; none calibrates a number (inference reuses the training curves unchanged)."""


def serving_validation_table() -> list[dict[str, object]]:
    """One row per case (`serving_case.table_rows`): the H100 cases, then the Blackwell ones."""
    return table_rows(ALL_SERVING_CASES + BLACKWELL_SERVING_CASES)
