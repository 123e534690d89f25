"""Published Blackwell serving measurements with their settings, and the inference model's predictions of them.

TensorRT-LLM performance overview (github.com/NVIDIA/TensorRT-LLM, docs/source/performance/perf-overview.md at
commit 00f37686aa854010d68bcbd0f4ab000221541ca6, the commit of the H100 rows in `published_inference`), tables
"Llama 3.3 70B" (columns "B200 TP1 (FP4)" and "GB200 TP1 (FP4)") and "Llama 3.1 405B" ("B200 TP4 (FP4)" and "GB200
TP4 (FP4)"): "Total Output Throughput (tokens/sec)" of `trtllm-bench throughput` (PyTorch backend, every request
queued at once, fixed input and output lengths with stdev 0, `cuda_graph_config` padding with batch sizes up to 8192)
on ModelOpt NVFP4 checkpoints (nvidia/Llama-3.3-70B-Instruct-FP4, nvidia/Llama-3.1-405B-Instruct-FP4: the weights
and activations of the linear layers in FP4, per their model cards). Hardware as the page lists it: "B200 180GB
(DGX B200)" and "GB200 192GB (GB200 NVL72)". Predicted as the H100 rows are (`BLACKWELL_SERVING_CASES`, in
`published_inference.serving_validation_table`): the page's request counts simulated as `trtllm-bench` runs
them (`serving_sim.simulate_offline`) on the replica it builds (`serving_case.trtllm_bench_replica`: its
engine-settings heuristic for an NVFP4 checkpoint with an FP8 KV cache on NVML's device memory, `NVML_GIB`), the B200
on designs/reference/dgx-b200.yaml, the GB200 on designs/gb200-nvl72.yaml (186 GB per GPU there, 13.4 TB / 72 from
NVIDIA's NVL72 table, against the 192 GB the page prints), each with racksim's own collective model of the design
(`hardware.system_from_design`). The page has no Blackwell FP8 row at that commit.

Not fully known, the same as the H100 rows: the KV-cache fraction (0.90 or 0.95; 0.90 taken) and the KV-cache
precision: FP8 taken, ModelOpt's PTQ default (`--kv_cache_qformat fp8`, examples/llm_ptq/hf_ptq.py of
NVIDIA/TensorRT-Model-Optimizer in the versions stored; the 405B card names nvidia-modelopt v0.23.0); the
checkpoints' own `hf_quant_config.json` was not found (VALIDATION.md: a BF16 cache puts the decode-heavy rows at
−20 to −40 %).

**GEMM curves**: FP4 matmuls on the B200's measured FP4 table (cuBLAS 13.3, every dense shape of deepseek-ai/DeepGEMM
pull request 348, as fractions of the FP4 peak against the GEMM's FLOPs; carried to GB200 as the same fractions),
everything else on the GB200 design's carried A100 curve (η = 0.70). These rows check that curve, the HBM roofline,
the memory accounting and the simulated scheduler on Blackwell; none calibrates anything (racksim/perf/VALIDATION.md,
"Blackwell serving").
"""

from __future__ import annotations

from racksim.perf.hardware import reference_system
from racksim.perf.inference import Replica
from racksim.perf.model import bundled_model
from racksim.perf.serving_case import TRTLLM_BENCH_PAGE, TRTLLM_BENCH_REQUESTS, ServingCase, trtllm_bench_replica
from racksim.perf.training import System


def dgx_b200() -> System:
    """DGX B200 (designs/reference/dgx-b200.yaml): 8 B200 on NVSwitch, racksim's collective model of the node."""
    return reference_system("reference/dgx-b200.yaml")


def gb200_nvl72() -> System:
    """GB200 NVL72 (designs/gb200-nvl72.yaml): the rack the quick suite runs, racksim's collective model of it."""
    return reference_system("gb200-nvl72.yaml")


def trtllm_fp4_replica(tp: int) -> Replica:
    """An NVFP4 checkpoint on TensorRT-LLM: FP4 weights and matmuls, FP8 KV cache (ModelOpt's default), its memory.

    `serving_case.trtllm_bench_replica` adds the tool's batch cap, token budget and CUDA graphs.
    """
    return Replica(tp=tp, precision="fp4", kv_precision="fp8", memory_policy="tensorrt-llm")


_SOURCE = TRTLLM_BENCH_PAGE + ", {} table, {} TP{} FP4"
_SETTINGS = "partly known (KV fraction 0.90 or 0.95, KV precision)"
_LENGTHS = tuple(TRTLLM_BENCH_REQUESTS)
"""The page's (ISL, OSL) pairs, in its order: the same for every table."""
# Total output tokens/s of the replica, in the order of _LENGTHS, as printed (B200, GB200).
_TRT_70B_FP4 = {"B200": (11147, 9922, 6831, 7762, 7007, 6271, 1339, 4783, 1459, 665),
                "GB200": (12189, 11309, 7849, 9028, 7326, 6513, 1450, 5646, 1602, 755)}
_TRT_405B_FP4 = {"B200": (6281, 8020, 6345, 6244, 5209, 4933, 749, 4212, 1048, 672),
                 "GB200": (6740, 8151, 6608, 6540, 5389, 5135, 797, 4407, 1112, 739)}
_SYSTEMS = {"B200": dgx_b200, "GB200": gb200_nvl72}
NVML_GIB = {"B200": 183359 / 1024, "GB200": 189471 / 1024}
"""Device memory NVML reports per GPU (nvidia-smi "Memory-Usage" totals), GiB: "NVIDIA B200" 183359MiB (DGX B200
nodes, 1,000 W), "NVIDIA GB200" 189471MiB (GB200 NVL72 compute trays, 1,200 W); nvidia-smi listings in public
repositories as stored by the search tools (read 2026-12). `get_device_memory` (tensorrt_llm/bench/build/utils.py)
reads this figure; the H100's is `published_inference.H100_NVML_GIB`."""

BLACKWELL_SERVING_CASES = tuple(
    ServingCase(f"TRT-LLM {label} {gpu} TP{tp} FP4 {isl}/{osl} max load", _SOURCE.format(table, gpu, tp), model,
                trtllm_bench_replica(bundled_model(model), trtllm_fp4_replica(tp), isl, osl, device_gib=NVML_GIB[gpu]),
                isl, osl, None, "tokens_per_s", float(value), _SETTINGS, _SYSTEMS[gpu],
                offline_requests=TRTLLM_BENCH_REQUESTS[isl, osl])
    for label, table, model, tp, data in (("70B", "Llama 3.3 70B", "llama3-70b", 1, _TRT_70B_FP4),
                                          ("405B", "Llama 3.1 405B", "llama3-405b", 4, _TRT_405B_FP4))
    for gpu, values in data.items()
    for (isl, osl), value in zip(_LENGTHS, values, strict=True)
)
"""Every published Blackwell serving measurement, run as the H100 rows (`published_inference`): the page's request
counts through `trtllm-bench`'s engine settings for the NVFP4 checkpoint; none calibrates a number."""
