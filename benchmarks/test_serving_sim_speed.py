"""Iteration-level serving simulator speed (`make bench`): one NIM closed-loop row, uncached, per concurrency, and
the `trtllm-bench` offline runs.

The NIM 70B TP2 5000/500 rows of `published_inference` run `serving_sim.simulate_closed_loop` with 2 warm-up and
4 measured requests per client; C = 25 stays under the KV-cache limit (86), C = 200 queues past it. The TRT-LLM rows
run `serving_sim.simulate_offline`: 70B TP2 1000/1000 (3000 requests, ~13,000 iterations) and 8B TP1 128/128 (30000
requests, ~1,100 iterations of up to 3,778 requests).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from racksim.perf.model import bundled_model
from racksim.perf.published_inference import H100_NVML_GIB, NIM_REPLICA_TP2, TRTLLM_REPLICA_TP1, h100_dgx
from racksim.perf.serving_case import trtllm_bench_replica
from racksim.perf.serving_sim import (
    CLIENT_TURNAROUND_S,
    CLOSED_LOOP_ROUNDS,
    CLOSED_LOOP_WARMUP,
    simulate_closed_loop,
    simulate_offline,
)

LLAMA70B = bundled_model("llama3-70b")


@pytest.mark.benchmark(group="serving simulator, NIM 70B TP2 5000/500 closed loop")
@pytest.mark.parametrize("concurrency", [25, 200])
def test_nim_closed_loop(benchmark: pytest.FixtureRequest, concurrency: int) -> None:
    benchmark.pedantic(simulate_closed_loop, args=(LLAMA70B, NIM_REPLICA_TP2, h100_dgx(), 5000, 500, concurrency),
                       kwargs={"rounds": CLOSED_LOOP_ROUNDS, "warmup": CLOSED_LOOP_WARMUP,
                               "turnaround_s": CLIENT_TURNAROUND_S}, rounds=3, iterations=1)


@pytest.mark.benchmark(group="serving simulator, trtllm-bench offline run")
@pytest.mark.parametrize(("model", "tp", "lengths", "requests"), [("llama3-70b", 2, (1000, 1000), 3000),
                                                                  ("llama3-8b", 1, (128, 128), 30000)])
def test_trtllm_bench_offline(benchmark: pytest.FixtureRequest, model: str, tp: int, lengths: tuple[int, int],
                              requests: int) -> None:
    m = bundled_model(model)
    replica = trtllm_bench_replica(m, replace(TRTLLM_REPLICA_TP1, tp=tp), *lengths, device_gib=H100_NVML_GIB)
    benchmark.pedantic(simulate_offline, args=(m, replica, h100_dgx(), *lengths, requests), rounds=3, iterations=1)
