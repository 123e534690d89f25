"""A published serving measurement as a case the model predicts, and how the benchmark tools that took it are run.

`ServingCase`: model, replica, lengths, concurrency, the measured quantity and the machine, predicted by the
analytic steady state (`serving.serve`), the simulated closed loop of a concurrency benchmark (genai-perf/AIPerf:
`serving_sim.benchmark_loop`) or the simulated `trtllm-bench throughput` run (`serving_sim.simulate_offline`).
`trtllm_bench_settings` / `trtllm_bench_replica` restate the engine settings `trtllm-bench` derives for a
checkpoint. The published data live in `published_inference` (H100) and `published_blackwell` (B200, GB200).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from racksim.perf.inference import Replica
from racksim.perf.model import ModelConfig, bundled_model
from racksim.perf.params import param_counts
from racksim.perf.serving import ServingPoint, serve
from racksim.perf.serving_sim import SimulatedServing, benchmark_loop, simulate_offline
from racksim.perf.training import System

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
    system: Callable[[], System]
    """The measured machine (a cached builder, e.g. `published_inference.h100_dgx`)."""
    calibration: bool = False
    closed_loop: bool = False
    """Predict with the iteration-level simulator (`serving_sim.simulate_closed_loop`: C clients starting
    together, per-request means over the steady state) instead of the analytic steady state (`serving.serve`)."""
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
                    system: Callable[[], System]) -> SimulatedServing:
    """The simulated closed loop of a published benchmark on `system` (cached: one run serves three rows)."""
    return benchmark_loop(bundled_model(model), replica, system(), input_len, output_len, concurrency)


@cache
def offline_run(model: str, replica: Replica, input_len: int, output_len: int, requests: int,
                system: Callable[[], System]) -> SimulatedServing:
    """The simulated `trtllm-bench throughput` run of a published case on `system` (cached)."""
    return simulate_offline(bundled_model(model), replica, system(), input_len, output_len, requests)


TRTLLM_BENCH_CUDA_GRAPHS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192)
"""`cuda_graph_config: enable_padding: true, batch_sizes: [...]` of perf-overview.md's `llm_options.yml`."""
TRTLLM_BENCH_KV_FRACTION = 0.90
"""`--kv_cache_free_gpu_mem_fraction` default (the page: 0.95 "in many cases", not said which)."""
TRTLLM_BENCH_BYTES_PER_ELEM = {"bf16": 2.0, "fp8": 1.0, "fp4": 0.5}
"""`BYTES_PER_ELEM` of tensorrt_llm/bench/build/tuning.py by the checkpoint's `quant_algo` and `kv_cache_quant_algo`
(NO_QUANT 2, FP8 1, NVFP4 0.5): the heuristic sizes the engine on these, without NVFP4's block scales and with
every parameter at the checkpoint's width (the real memory, `inference.serving_memory`, counts them)."""


def trtllm_bench_settings(m: ModelConfig, tp: int, input_len: int, output_len: int, precision: str = "fp8",
                          kv_precision: str = "fp8", *, device_gib: float) -> tuple[int, int]:
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


def trtllm_bench_replica(m: ModelConfig, base: Replica, input_len: int, output_len: int, *,
                         device_gib: float) -> Replica:
    """The replica `trtllm-bench throughput` runs (perf-overview.md's commands) for a checkpoint run as `base`.

    `base`'s parallelism, precisions and memory accounting; the tool's batch cap and token budget
    (`trtllm_bench_settings` on `device_gib` per GPU), whole-prompt prefill (`--enable_chunked_context` off),
    padded CUDA graphs for decode-only iterations.
    """
    cap, budget = trtllm_bench_settings(m, base.tp, input_len, output_len, base.precision, base.kv_precision,
                                        device_gib=device_gib)
    return replace(base, max_batch=cap, max_num_batched_tokens=budget, chunked_prefill=False,
                   cuda_graph_batch_sizes=TRTLLM_BENCH_CUDA_GRAPHS)


TRTLLM_BENCH_PAGE = "TensorRT-LLM perf-overview.md (commit 00f3768)"
"""The page the H100 and Blackwell maximum-load rows come from (github.com/NVIDIA/TensorRT-LLM,
docs/source/performance/perf-overview.md at commit 00f37686aa854010d68bcbd0f4ab000221541ca6)."""
TRTLLM_BENCH_REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (500, 2000): 3000,
                         (1000, 1000): 3000, (1000, 2000): 1500, (2048, 128): 3000, (2048, 2048): 1500,
                         (5000, 500): 1500, (20000, 2000): 1000}
"""`$num_requests` per ISL/OSL, perf-overview.md "Preparing a Dataset"."""


def table_rows(cases: tuple[ServingCase, ...]) -> list[dict[str, object]]:
    """One row per case: name, source, quantity, settings, measured, predicted (display units), error, role."""
    rows = []
    for case in cases:
        scale = 1e3 if case.quantity != "tokens_per_s" else 1.0
        predicted = case.predict()
        rows.append({"case": case.name, "source": case.source, "quantity": UNITS[case.quantity],
                     "settings": case.settings, "measured": case.measured * scale, "predicted": predicted * scale,
                     "error": predicted / case.measured - 1.0,
                     "role": "calibrated" if case.calibration else "checked"})
    return rows
