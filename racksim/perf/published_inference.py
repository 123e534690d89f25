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

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from racksim.perf.comm import DGX_H100, DGX_H100_GPUS_PER_NODE
from racksim.perf.hardware import reference_accelerator
from racksim.perf.inference import Replica
from racksim.perf.model import ModelConfig, bundled_model
from racksim.perf.params import param_counts
from racksim.perf.published_blackwell import TRTLLM_BLACKWELL_FP4
from racksim.perf.serving import ServingPoint, serve
from racksim.perf.serving_sim import (  # noqa: F401 (the loop's constants, re-exported for benchmarks/)
    CLIENT_TURNAROUND_S,
    CLOSED_LOOP_ROUNDS,
    CLOSED_LOOP_WARMUP,
    SimulatedServing,
    benchmark_loop,
    simulate_offline,
)
from racksim.perf.training import System


@cache
def h100_dgx() -> System:
    """DGX H100: NVSwitch inside 8 GPUs (NCCL Simple and LL protocols, `comm.DGX_H100`), 8 × 400 Gb/s between nodes.

    The GPU is the one of designs/reference/hgx-h100-8gpu.yaml.
    """
    return System(reference_accelerator("reference/hgx-h100-8gpu.yaml"), DGX_H100, DGX_H100_GPUS_PER_NODE)


Quantity = Literal["ttft_s", "tpot_s", "tokens_per_s"]
QUANTITIES: tuple[Quantity, ...] = ("ttft_s", "tpot_s", "tokens_per_s")
UNITS = {"ttft_s": "TTFT, ms", "tpot_s": "ITL/TPOT, ms", "tokens_per_s": "output tokens/s (replica)"}
SHORT = {"ttft_s": "TTFT", "tpot_s": "ITL", "tokens_per_s": "throughput"}


@dataclass(frozen=True)
class ServingCase:
    """A published serving measurement: model, replica, lengths, concurrency (None: maximum load), the quantity."""

    name: str
    source: str
    model: str
    """Bundled config name."""
    replica: Replica
    input_len: int
    output_len: int
    concurrency: int | None
    quantity: Quantity
    measured: float
    """In the quantity's unit: seconds for times, output tokens/s of the whole replica for throughput."""
    settings: str
    calibration: bool = False
    closed_loop: bool = False
    """Predict with the iteration-level simulator (`serving_sim.simulate_closed_loop`: C clients starting
    together, per-request means over the steady state) instead of the analytic steady state (`serving.serve`)."""
    system: Callable[[], System] = h100_dgx
    """The measured machine (cached builder): the DGX H100 unless a case says otherwise."""
    offline_requests: int | None = None
    """Maximum load run as `trtllm-bench throughput` runs it (`serving_sim.simulate_offline`: this many requests
    queued at t = 0, throughput over the whole run) instead of the analytic steady state at the KV-cache limit."""

    def point(self) -> ServingPoint:
        """The predicted steady state (at the KV-cache limit when the concurrency is None)."""
        m, system = bundled_model(self.model), self.system()
        concurrency = self.concurrency
        if concurrency is None:
            concurrency = serve(m, self.replica, system, self.input_len, self.output_len, 1).max_batch
        return serve(m, self.replica, system, self.input_len, self.output_len, concurrency)

    def predict(self) -> float:
        """The model's value of the measured quantity (means per request for a simulated closed loop)."""
        if self.offline_requests is not None and self.quantity == "tokens_per_s":
            return offline_run(self.model, self.replica, self.input_len, self.output_len, self.offline_requests,
                               self.system).tokens_per_s
        if self.closed_loop and self.concurrency is not None:
            run = closed_loop_run(self.model, self.replica, self.input_len, self.output_len, self.concurrency,
                                  self.system)
            if self.quantity == "tokens_per_s":
                return run.tokens_per_s
            return float(run.ttft_s.mean() if self.quantity == "ttft_s" else run.tpot_s.mean())
        point = self.point()
        if self.quantity == "tokens_per_s":
            return point.tokens_per_s_per_gpu * self.replica.gpus
        return point.ttft_s if self.quantity == "ttft_s" else point.tpot_s

    @property
    def error(self) -> float:
        """(predicted − measured) / measured."""
        return self.predict() / self.measured - 1.0


@cache
def closed_loop_run(model: str, replica: Replica, input_len: int, output_len: int, concurrency: int,
                    system: Callable[[], System] = h100_dgx) -> SimulatedServing:
    """The simulated closed loop of a published benchmark on `system` (cached: one run serves three rows)."""
    return benchmark_loop(bundled_model(model), replica, system(), input_len, output_len, concurrency)


@cache
def offline_run(model: str, replica: Replica, input_len: int, output_len: int, requests: int,
                system: Callable[[], System] = h100_dgx) -> SimulatedServing:
    """The simulated `trtllm-bench throughput` run of a published case on `system` (cached)."""
    return simulate_offline(bundled_model(model), replica, system(), input_len, output_len, requests)


TRTLLM_REPLICA_TP1 = Replica(tp=1, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm")
TRTLLM_REPLICA_TP2 = Replica(tp=2, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm")
"""TensorRT-LLM replicas with FP8 weights and KV cache and its memory accounting (the engine's own defaults)."""
H100_NVML_GIB = 81559 / 1024
"""Device memory NVML reports for "NVIDIA H100 80GB HBM3" (nvidia-smi: 81559MiB), GiB: what `trtllm-bench` reads
(`get_device_memory`, tensorrt_llm/bench/build/utils.py) to size its engine settings."""
TRTLLM_BENCH_CUDA_GRAPHS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192)
"""`cuda_graph_config: enable_padding: true, batch_sizes: [...]` of perf-overview.md's `llm_options.yml`."""
TRTLLM_BENCH_KV_FRACTION = 0.90
"""`--kv_cache_free_gpu_mem_fraction` default (the page: 0.95 "in many cases", not said which)."""
TRTLLM_BENCH_BYTES_PER_ELEM = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5}
"""`BYTES_PER_ELEM` of tensorrt_llm/bench/build/tuning.py by the checkpoint's `quant_algo` and `kv_cache_quant_algo`
(NO_QUANT 2, FP8 1, NVFP4 0.5): the heuristic sizes the engine on these, without NVFP4's block scales and with
every parameter at the checkpoint's width (the real memory, `inference.serving_memory`, counts them)."""


def trtllm_bench_settings(m: ModelConfig, tp: int, input_len: int, output_len: int, precision: str = "fp8",
                          kv_precision: str = "fp8", device_gib: float = H100_NVML_GIB) -> tuple[int, int]:
    """(max_batch_size, max_num_tokens) `trtllm-bench throughput` gives a checkpoint on t GPUs of `device_gib` each.

    `precision` the weights' and `kv_precision` the KV cache's format; `device_gib` NVML's figure.

    TensorRT-LLM v1.0's heuristic (tensorrt_llm/bench/build/tuning.py `calc_engine_setting`/`finetune_setting`,
    used by bench/benchmark/utils/general.py `get_settings` for the PyTorch backend), restated: the KV cache
    holds R = f·(t·M − P·B_w) / (2·L·max(t, g)·d·B_kv·(L_in + L_out)) requests (M the device memory, GiB, f the KV
    fraction, B_w and B_kv bytes per element, `TRTLLM_BENCH_BYTES_PER_ELEM`); b = min(R, 4096),
    n = min(b·(1 + L_in/L_out), 32768); the batch cap rounds b up to a multiple of 32 (at least 64) below 256, of
    128 below 1024, else of 256; the token budget rounds n up to a multiple of 256 (at least 2048) below 4096, of
    512 below 8192, else of 1024; without chunked prefill (the default) the budget is raised to at least L_in + the
    batch cap.
    """
    width = TRTLLM_BENCH_BYTES_PER_ELEM
    per_token_gib = 2 * m.num_hidden_layers * max(tp, m.kv_heads) * m.d_head * width[kv_precision] / 1024**3
    free_gib = device_gib * tp - param_counts(m).total * width[precision] / 1024**3
    requests = TRTLLM_BENCH_KV_FRACTION * free_gib / (per_token_gib * (input_len + output_len))
    batch = min(requests, 4096.0)
    tokens = min(batch * (1 + input_len / output_len), 32768.0)
    cap = next(max(floor, step * math.ceil(batch / step)) for limit, step, floor in
               ((256, 32, 64), (1024, 128, 0), (math.inf, 256, 0)) if batch < limit)
    budget = next(max(floor, step * math.ceil(tokens / step)) for limit, step, floor in
                  ((4096, 256, 2048), (8192, 512, 0), (math.inf, 1024, 0)) if tokens < limit)
    return cap, max(budget, input_len + cap)


def trtllm_bench_replica(m: ModelConfig, base: Replica, input_len: int, output_len: int,
                         device_gib: float = H100_NVML_GIB) -> Replica:
    """The replica `trtllm-bench throughput` runs (perf-overview.md's commands) for a checkpoint run as `base`.

    `base`'s parallelism, precisions and memory accounting; the tool's batch cap and token budget
    (`trtllm_bench_settings` on `device_gib` per GPU), whole-prompt prefill (`--enable_chunked_context` off),
    padded CUDA graphs for decode-only iterations.
    """
    cap, budget = trtllm_bench_settings(m, base.tp, input_len, output_len, base.precision, base.kv_precision,
                                        device_gib)
    return replace(base, max_batch=cap, max_num_batched_tokens=budget, chunked_prefill=False,
                   cuda_graph_batch_sizes=TRTLLM_BENCH_CUDA_GRAPHS)


NIM_REPLICA_TP2 = Replica(tp=2, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm",
                          chunked_prefill=False)

_NIM = "NVIDIA NIM benchmarking, Performance, Llama-3.3-70b-instruct v1.8.0, 2 x H100 fp8 TP2, 5000/500"
# concurrency: (TTFT ms, ITL ms, throughput tokens/s)
_NIM_TABLE = {1: (406.77, 18.58, 51.67), 5: (546.7, 21.83, 218.48), 25: (688.69, 38.75, 623.4),
              50: (834.51, 59.73, 814.37), 100: (7996.25, 92.91, 917.26), 200: (61680.22, 93.06, 920.54)}
NIM_LLAMA70B_H100 = tuple(
    ServingCase(f"NIM 70B TP2 5000/500 C={c} {SHORT[q]}", _NIM, "llama3-70b", NIM_REPLICA_TP2, 5000, 500,
                c, q, value, "partly known (KV fraction, KV precision, no chunked prefill: TensorRT-LLM defaults)",
                closed_loop=True)
    for c, row in _NIM_TABLE.items()
    for q, value in zip(QUANTITIES, (row[0] / 1e3, row[1] / 1e3, row[2]), strict=True)
)

_TRT = "TensorRT-LLM perf-overview.md (commit 00f3768), {} table, H100 TP{} FP8"
_TRT_8B = {(128, 128): 28312, (128, 2048): 22714, (128, 4096): 14325, (500, 2000): 17660, (1000, 1000): 15220,
           (1000, 2000): 13899, (2048, 128): 3450, (2048, 2048): 9305, (5000, 500): 3459, (20000, 2000): 1351}
_TRT_70B = {(128, 128): 6378, (128, 2048): 6651, (128, 4096): 4199, (500, 2000): 5222, (1000, 1000): 4205,
            (1000, 2000): 4146, (2048, 128): 762, (2048, 2048): 3082, (5000, 500): 898, (20000, 2000): 437}
_TRT_SETTINGS = "partly known (KV fraction 0.90 or 0.95, KV precision)"
_TRT_REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (500, 2000): 3000, (1000, 1000): 3000,
                 (1000, 2000): 1500, (2048, 128): 3000, (2048, 2048): 1500, (5000, 500): 1500, (20000, 2000): 1000}
"""`$num_requests` per ISL/OSL, perf-overview.md "Preparing a Dataset"."""
TRTLLM_MAX_THROUGHPUT = tuple(
    ServingCase(f"TRT-LLM {label} {isl}/{osl} max load", _TRT.format(table, tp), model,
                trtllm_bench_replica(bundled_model(model), replace(TRTLLM_REPLICA_TP1, tp=tp), isl, osl), isl, osl,
                None, "tokens_per_s",
                float(value), _TRT_SETTINGS, offline_requests=_TRT_REQUESTS[isl, osl])
    for label, table, model, tp, data in (("8B TP1", "Llama 3.1 8B", "llama3-8b", 1, _TRT_8B),
                                          ("70B TP2", "Llama 3.3 70B", "llama3-70b", 2, _TRT_70B))
    for (isl, osl), value in data.items()
)

ALL_SERVING_CASES = NIM_LLAMA70B_H100 + TRTLLM_MAX_THROUGHPUT
"""Every published H100 serving case; none calibrates a number (inference reuses the training curves unchanged)."""

BLACKWELL_SERVING_CASES = tuple(
    ServingCase(t.name, t.source, t.model,
                trtllm_bench_replica(bundled_model(t.model), t.replica, t.input_len, t.output_len, t.nvml_gib),
                t.input_len, t.output_len, None, "tokens_per_s", t.measured, t.settings, system=t.system,
                offline_requests=_TRT_REQUESTS[t.input_len, t.output_len])
    for t in TRTLLM_BLACKWELL_FP4
)
"""TensorRT-LLM's B200 and GB200 FP4 maximum-load rows (`published_blackwell` has the data and its sources), run as
the H100 rows: the page's request counts through `trtllm-bench`'s engine settings for the NVFP4 checkpoint."""


def serving_validation_table() -> list[dict[str, object]]:
    """One row per case: name, source, quantity, settings, measured, predicted (display units), error, role.

    The H100 cases, then the Blackwell ones.
    """
    rows = []
    for case in ALL_SERVING_CASES + BLACKWELL_SERVING_CASES:
        scale = 1e3 if case.quantity != "tokens_per_s" else 1.0
        predicted = case.predict()
        rows.append({"case": case.name, "source": case.source, "quantity": UNITS[case.quantity],
                     "settings": case.settings, "measured": case.measured * scale, "predicted": predicted * scale,
                     "error": predicted / case.measured - 1.0,
                     "role": "calibrated" if case.calibration else "checked"})
    return rows
