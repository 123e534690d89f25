"""Uneven pipeline stages: layer counts, the stage that paces, memory, and Llama 3 405B's 126 layers on pp 16."""

from __future__ import annotations

import dataclasses

import pytest

from racksim.perf.comm import DGX_H100
from racksim.perf.layout import Layout, stage_layers
from racksim.perf.memory import memory_per_gpu
from racksim.perf.model import bundled_model
from racksim.perf.search import pipeline_options
from racksim.perf.training import System, pace_stage, train_step
from tests.perf_fixtures import H100_SXM

M405 = bundled_model("llama3-405b")


@pytest.mark.parametrize(("layers", "pp", "expected"), [
    (126, 16, (7, 8, 7)),  # 14 stages of 8, the two ends of 7 (Llama 3's layout)
    (126, 8, (15, 16, 15)), (80, 8, (10, 10, 10)), (80, 3, (27, 27, 26)), (9, 2, (5, 0, 4)), (126, 1, (126, 0, 126)),
    (7, 4, (2, 2, 1)),  # one short stage: the last takes it
])
def test_stage_layers_by_hand(layers: int, pp: int, expected: tuple[int, int, int]) -> None:
    first, middle, last = stage_layers(layers, pp)
    assert (first, middle, last) == expected
    if pp > 2:  # every stage is ⌈L/p⌉ or ⌊L/p⌋ and they add up (ends as given, the rest the middle's or less)
        assert layers // pp <= min(first, last) <= max(first, middle, last) <= -(-layers // pp)


def test_the_slowest_stage_paces() -> None:
    # 126 layers on 16 stages at 1 s per layer: the middle 8-layer stages pace unless an end's head exceeds 1 s.
    assert pace_stage(126, 16, 1.0, 0.5, 0.9) == (8, 0.0)
    assert pace_stage(126, 16, 1.0, 0.5, 1.5) == (7, 1.5)
    assert pace_stage(126, 1, 1.0, 0.5, 0.9) == (126, 1.4)


def test_llama3_405b_runs_on_16_uneven_stages() -> None:
    assert {4, 8, 16} <= set(pipeline_options(126))
    layout = Layout(global_batch=256, seq_len=8192, tp=8, pp=16, dp=2, sequence_parallel=True, recompute="full")
    system = System(H100_SXM, DGX_H100, 8)
    step = train_step(M405, layout, system, check_memory=False)
    assert step.breakdown.total_s == pytest.approx(step.step_time_s)
    # The pacing stage sets both the micro-batch time and the bubble: (p − 1) of its micro-batch time.
    b = step.breakdown
    per_microbatch = (b.compute_s + b.tp_comm_s + b.cp_comm_s + b.ep_comm_s) / layout.microbatches
    assert b.bubble_s == pytest.approx(15 * per_microbatch)
    # 8 layers per stage beat 9 (pp 14, an even split) per micro-batch.
    even = train_step(M405, dataclasses.replace(layout, pp=14), system, check_memory=False)
    assert b.compute_s < even.breakdown.compute_s
    assert memory_per_gpu(M405, layout).weights_gb > 0


@pytest.mark.parametrize(("layers", "pp", "vpp", "expected"), [
    (126, 16, 4, (7, 8, 7)),  # 64 chunks of 2 (62) or 1 (2, at the ends): the same stages as without interleaving
    (96, 8, 3, (12, 12, 12)), (100, 4, 3, (25, 25, 25)), (10, 4, 2, (2, 3, 2)),
])
def test_interleaved_chunks_split_unevenly_by_hand(layers: int, pp: int, vpp: int,
                                                   expected: tuple[int, int, int]) -> None:
    assert stage_layers(layers, pp, vpp) == expected
