"""Whole-prompt prefill (TensorRT-LLM's default) against chunked prefill (vLLM V1): hand checks of the scheduling."""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.inference import Iteration, Replica, iteration_time_s, prefill_time_s
from racksim.perf.model import bundled_model
from racksim.perf.published_inference import h100_dgx
from racksim.perf.serving import serve

LLAMA70B = bundled_model("llama3-70b")
CHUNKED = Replica(tp=2, precision="fp8", kv_precision="fp8", memory_policy="tensorrt-llm")
WHOLE = dataclasses.replace(CHUNKED, chunked_prefill=False)


def test_prefill_spans_one_iteration_without_chunking() -> None:
    assert (CHUNKED.prefill_chunks(20000), WHOLE.prefill_chunks(20000), CHUNKED.prefill_chunks(5000)) == (3, 1, 1)
    # A 20000-token prompt whole: one iteration of 20000 tokens attending to all of them, its first token out.
    one = iteration_time_s(LLAMA70B, WHOLE, h100_dgx(), Iteration(chunks=1, chunk_tokens=20000, chunk_context=20000,
                                                                  logit_tokens=1))
    assert prefill_time_s(LLAMA70B, WHOLE, h100_dgx(), 20000) == pytest.approx(one)


def test_whole_prompts_that_fit_the_budget_alone_change_nothing_at_concurrency_one() -> None:
    # One client: no other prompt to wait for, and a 5000-token prompt is one iteration either way.
    chunked, whole = (serve(LLAMA70B, r, h100_dgx(), 5000, 500, 1) for r in (CHUNKED, WHOLE))
    assert whole.ttft_s == pytest.approx(chunked.ttft_s)
    assert whole.tpot_s == pytest.approx(chunked.tpot_s)


def test_whole_prompts_queue_one_per_iteration() -> None:
    # 5000-token prompts in an 8192-token budget: whole, only one fits an iteration, so a prompt holds the prefill
    # server for a full iteration (S_q = T) instead of its 5000/(8192 - d) share; the wait grows with the load.
    waits = []
    for c in (5, 25, 50):
        chunked, whole = (serve(LLAMA70B, r, h100_dgx(), 5000, 500, c) for r in (CHUNKED, WHOLE))
        assert whole.tpot_s == pytest.approx(chunked.tpot_s)  # the same iterations, only the queue differs
        waits.append(whole.ttft_s - chunked.ttft_s)
    assert 0 < waits[0] < waits[1] < waits[2]
    # 1000-token prompts: ⌊(8192 - d)/1000⌋ share an iteration, close to the chunked budget share.
    chunked, whole = (serve(LLAMA70B, r, h100_dgx(), 1000, 1000, 25) for r in (CHUNKED, WHOLE))
    assert whole.ttft_s == pytest.approx(chunked.ttft_s, rel=0.05)

