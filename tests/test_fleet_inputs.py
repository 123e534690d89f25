"""A hall's job mix as input: the scenario schema (jobs, traces, scheduler, crew, fault selectors), SWF/CSV traces
and the scheduler's pure decisions (EASY backfill and row packing) on hand-worked cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from racksim.design.jobs_schema import JobTrace
from racksim.design.suite import SUITES_DIR, Fault, Scenario
from racksim.errors import InputError
from racksim.physics.arrays import RackArrays, build
from racksim.physics.layout import HallLayout
from racksim.physics.plant import PlantState
from racksim.run.loading import load_design
from racksim.workload.faults import fault_actions, fault_racks
from racksim.workload.job_trace import read_trace
from racksim.workload.scheduler import Queued, Running, place, reservation, starts
from tests.cli import ROOT, racksim

TRAINING = {"model": "llama3-8b", "gpus": 144, "global_batch_sequences": 64, "steps": 100,
            "checkpoint_every_steps": 10}


def scenario(**fields: Any) -> Scenario:
    return Scenario.model_validate({"name": "s", "duration_s": 3600, **fields})


def test_a_job_mix_scenario_validates_and_old_scenarios_stay_valid() -> None:
    mix = scenario(jobs=[TRAINING, {"kind": "inference", "model": "llama3-70b", "replicas": 2}],
                   scheduler={"hot_spare_racks": 1}, repair={"technicians": 2}, trip_reset_delay_s=300)
    assert mix.is_fleet
    assert mix.workload is None
    assert mix.jobs is not None
    assert mix.jobs[1].kind == "inference"
    old = scenario(workload={"model": "llama3-8b", "global_batch_sequences": 8, "seq_len": 2048,
                             "checkpoint_every_steps": 5, "checkpoint_time_s": 10})
    assert not old.is_fleet


@pytest.mark.parametrize(("fields", "fragment"), [
    ({}, "give a workload"),
    ({"jobs": [TRAINING], "job_trace": {"path": "x.swf"}}, "not both"),
    ({"jobs": [{**TRAINING, "tokens": 1e9}]}, "exactly one of tokens and steps"),
    ({"jobs": [TRAINING], "workload": {"kind": "trace", "path": "x.csv"}}, "not both"),
    ({"job_trace": {"path": "x.txt"}}, ".swf or .csv"),
    ({"workload": {"kind": "trace", "path": "x.csv"}, "scheduler": {}}, "apply to a job mix"),
    ({"jobs": [TRAINING], "faults": [{"kind": "psu_failure", "at_s": 0, "racks": [1], "rows": [0]}]},
     "one rack selector"),
    ({"jobs": [TRAINING], "faults": [{"kind": "psu_failure", "at_s": 0, "gpu": 3}]}, "gpu applies to link_failure"),
])
def test_bad_job_mix_is_one_rule(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        scenario(**fields)


def test_fault_selectors_pick_racks_reproducibly() -> None:
    rack_row = np.repeat(np.arange(4), 5)  # 4 rows of 5 racks

    def racks(seed: int = 0, index: int = 0, **fields: Any) -> list[int]:
        return fault_racks(Fault.model_validate({"kind": "psu_failure", "at_s": 0, **fields}), rack_row, seed,
                           index).tolist()

    assert racks() == list(range(20))
    assert racks(racks=[7, 3, 7]) == [3, 7]
    assert racks(rows=[1, 3]) == [5, 6, 7, 8, 9, 15, 16, 17, 18, 19]
    drawn = racks(random_racks=4)
    assert len(set(drawn)) == 4
    assert drawn == racks(random_racks=4)
    assert drawn != racks(seed=1, random_racks=4) or drawn != racks(index=1, random_racks=4)
    assert len(racks(fraction=0.25)) == 5
    link = Fault(kind="link_failure", at_s=0)
    assert fault_racks(link, rack_row, 0, 0).tolist() == [0]  # as before the selectors
    with pytest.raises(InputError, match=r"faults.2.racks: no rack 20"):
        racks(index=2, racks=[20])


def test_swf_reads_allocated_else_requested_processors_as_gpus() -> None:
    jobs = read_trace(JobTrace(path=SUITES_DIR / "traces" / "sample-jobs.swf"))
    assert len(jobs) == 36
    assert [job.gpus for job in jobs[:8]] == [72, 72, 144, 72, 216, 144, 288, 8]  # job 7: requested (field 8)
    assert all(job.duration_s and job.kind == "training" for job in jobs)
    assert jobs[11].model == "llama3-70b"
    assert jobs[0].model == "llama3-8b"


def _swf(tmp_path: Path, line: str) -> JobTrace:
    path = tmp_path / "t.swf"
    path.write_text("; header\n1 0 -1 3600 72 -1 -1 72 -1 -1 1 1 1 1 1 1 -1 -1\n" + line + "\n")
    return JobTrace(path=path)


@pytest.mark.parametrize(("line", "field"), [
    ("2 10 -1 3600 72 -1", "6 fields"),
    ("2 10 -1 x 72 -1 -1 72 -1 -1 1 1 1 1 1 1 -1 -1", "field 4 (run_time): not a number"),
    ("2 10 -1 -1 72 -1 -1 72 -1 -1 1 1 1 1 1 1 -1 -1", "field 4 (run_time): missing"),
    ("2 10 -1 60 -1 -1 -1 -1 -1 -1 1 1 1 1 1 1 -1 -1", "field 5 (allocated_processors): missing"),
])
def test_bad_swf_line_names_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    with pytest.raises(InputError, match=r"t\.swf:3") as error:
        read_trace(_swf(tmp_path, line))
    assert field in str(error.value)
    assert "\n" not in str(error.value)


def test_csv_trace_with_work_duration_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "jobs.csv"
    path.write_text("# a comment\nsubmit_s,gpus,duration_s,work,kind\n60,144,,500,training\n0,72,3600,,inference\n")
    jobs = read_trace(JobTrace(path=path))
    assert [(j.submit_s, j.gpus, j.duration_s, j.steps, j.kind) for j in jobs] == [
        (0.0, 72, 3600.0, None, "inference"), (60.0, 144, None, 500, "training")]
    path.write_text("submit_s,gpus,duration_s\n0,7.5,10\n")
    with pytest.raises(InputError, match=r"jobs\.csv:2: gpus"):
        read_trace(JobTrace(path=path))


def one_group(now_s: float, free: int, queue: list[Queued], running: list[Running], **options: Any) -> list[int]:
    """`starts` on a hall of one design group with `free` free racks in one row: the positions started."""
    return [start.position for start in starts(now_s, np.ones(free, dtype=bool), np.zeros(free, dtype=np.intp),
                                               np.zeros(free, dtype=np.intp), [[job] for job in queue], [running],
                                               **options)]


def test_fifo_starts_in_order_and_stops_at_the_first_that_does_not_fit() -> None:
    queue = [Queued(2, 10), Queued(5, 10), Queued(1, 10)]
    assert one_group(0, 4, queue, [], backfill=False) == [0]


def test_easy_backfill_that_must_happen() -> None:
    # 10 racks, A runs on 6 until t=100; 4 free. Head B needs 8: shadow 100, extra 10 - 8 = 2.
    # C (2 racks, 50 s) ends by the shadow: it backfills. D (2 racks, 500 s) does not end in time but uses no more
    # than the 2 extra racks: it backfills too.
    running = [Running(6, 100.0)]
    assert reservation(0.0, 4, 8, running) == (100.0, 2)
    assert one_group(0.0, 4, [Queued(8, 50), Queued(2, 50), Queued(2, 500)], running) == [1, 2]


def test_easy_backfill_that_must_not_happen() -> None:
    # Same hall; E needs 3 racks for 500 s: it fits now (4 free) but would still hold 3 racks at t=100, when the
    # head needs 8 of the 10 (only 2 extra): starting it would delay the head, so it waits.
    running = [Running(6, 100.0)]
    assert one_group(0.0, 4, [Queued(8, 50), Queued(3, 500)], running) == []
    assert one_group(0.0, 4, [Queued(8, 50), Queued(3, 500)], running, backfill=False) == []


def test_a_reservation_counts_racks_back_from_repair_and_refills_spares_first() -> None:
    # 1 rack free, a job on 2 racks until 300 s, racks back from repair at 100 and 200 s (one never): a head of 3
    # racks has its shadow at 200 s (1 + 1 + 1), none extra; one of 4 at 300 s, 1 extra. With one hot spare owed,
    # the rack back at 100 s refills it: the 3-rack head waits for 300 s (0 + 1 + 2), with 1 extra; nothing frees
    # 6 racks.
    running, back_s = [Running(2, 300.0)], np.array([200.0, np.inf, 100.0])
    assert reservation(0.0, 1, 3, running, back_s) == (200.0, 0)
    assert reservation(0.0, 1, 4, running, back_s) == (300.0, 1)
    assert reservation(0.0, 0, 3, running, back_s) == (300.0, 1)
    assert reservation(0.0, 1, 6, running, back_s) == (float("inf"), 0)
    # In the scheduler the 3-rack head reserves 200 s: a 1-rack job of 150 s backfills, one of 250 s waits (it would
    # backfill if the repairs were not counted: shadow 300 s); with the spare owed, the shadow is 300 s again.
    assert one_group(0.0, 1, [Queued(3, 10), Queued(1, 150)], running, returning=[back_s]) == [1]
    assert one_group(0.0, 1, [Queued(3, 10), Queued(1, 250)], running, returning=[back_s]) == []
    assert one_group(0.0, 1, [Queued(3, 10), Queued(1, 250)], running) == [1]
    assert one_group(0.0, 1, [Queued(3, 10), Queued(1, 250)], running, returning=[back_s], owed=[1]) == [1]


def test_a_bounded_queue_depth_sees_no_further() -> None:
    # The backfill that must happen above, with only the head considered per pass: nothing starts.
    running = [Running(6, 100.0)]
    assert one_group(0.0, 4, [Queued(8, 50), Queued(2, 50), Queued(2, 500)], running, depth=1) == []
    assert one_group(0.0, 4, [Queued(8, 50), Queued(2, 50), Queued(2, 500)], running, depth=2) == [1]


def test_an_unpinned_job_takes_the_group_packing_it_into_fewest_rows() -> None:
    # Group 0 (rows 0-1) has racks 1 and 2 free, one in each row; group 1 (rows 2-3) has racks 4 and 5, both in
    # row 2. A 2-rack job that may run on either starts on group 1 (one row, not two); a 1-rack one on group 0
    # (one row either way: the lower group). A job pinned to group 0 still takes group 0's two rows.
    rack_group, rack_row = np.repeat([0, 1], 4), np.repeat(np.arange(4), 2)
    free = np.isin(np.arange(8), [1, 2, 4, 5])

    def start(*options: Queued) -> tuple[int, list[int]]:
        [chosen] = starts(0.0, free, rack_group, rack_row, [options], [[], []])
        return chosen.option.group, chosen.racks.tolist()
    assert start(Queued(2, 10, 0), Queued(2, 10, 1)) == (1, [4, 5])
    assert start(Queued(1, 10, 0), Queued(1, 10, 1)) == (0, [1])
    assert start(Queued(2, 10, 0)) == (0, [1, 2])


def test_row_packing_best_fit_then_fullest_rows() -> None:
    rack_row = np.repeat(np.arange(3), 4)  # 3 rows of 4 racks
    free = np.zeros(12, dtype=bool)
    free[[0, 1, 2, 4, 5, 8, 9, 10, 11]] = True  # row 0: 3 free, row 1: 2, row 2: 4
    assert place(free, rack_row, 2).tolist() == [4, 5]  # best fit: the row with exactly 2
    assert place(free, rack_row, 3).tolist() == [0, 1, 2]
    assert place(free, rack_row, 4).tolist() == [8, 9, 10, 11]
    assert place(free, rack_row, 6).tolist() == [0, 1, 8, 9, 10, 11]  # row 2 (4) then row 0 (3)
    assert place(free, rack_row, 6, row_packing=False).tolist() == [0, 1, 2, 4, 5, 8]
    assert place(free, rack_row, 10) is None


def test_rack_engine_faults_hit_only_the_selected_racks(gb200_arrays_4: RackArrays) -> None:
    arrays = gb200_arrays_4
    faults = [Fault(kind="psu_failure", at_s=0, racks=[2]), Fault(kind="feed_loss", at_s=0, rows=[1]),
              Fault(kind="link_failure", at_s=0, racks=[3], gpu=1, count=2)]
    plant = PlantState.nominal(arrays)
    for action in fault_actions(faults, arrays, seed=0):
        action.change(plant)
    assert plant.psus_lost.tolist() == [0, 0, 1, 0]
    assert plant.feed_up.any(axis=1).tolist() == [True, True, False, False]  # row 1: racks 2-3 of 2 rows
    per_gpu = arrays.design.network.scale_up.links_per_gpu
    per_rack = int(arrays.chips.is_gpu.sum()) // 4 * per_gpu
    assert np.flatnonzero(plant.link_failures).tolist() == [3 * per_rack + per_gpu, 3 * per_rack + per_gpu + 1]


@pytest.fixture(scope="module")
def gb200_arrays_4() -> RackArrays:
    """Four GB200 racks in two rows of two."""
    design = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
    return build(design, hall=HallLayout(np.array([0, 0, 1, 1]), np.arange(4), np.full(2, np.inf), np.inf, False))


def test_an_input_error_crosses_a_process_boundary() -> None:
    # A job mix's jobs are compiled in the pool's worker; its one-line error must reach the parent intact (it
    # broke the pool when unpickling called InputError(message)).
    import pickle

    error = pickle.loads(pickle.dumps(InputError("scenario s", "jobs.0", "no layout fits")))
    assert (error.source, error.field_path, error.rule) == ("scenario s", "jobs.0", "no layout fits")
    assert str(error) == "scenario s: jobs.0: no layout fits"


@pytest.mark.parametrize(("job", "message"), [
    ('{model: llama9-1t, gpus: 72, global_batch_sequences: 72, steps: 10, checkpoint_every_steps: 5}',
     "scenario a: jobs.1.model: no bundled model"),
    ('{model: llama3-8b, gpus: 7200, global_batch_sequences: 72, steps: 10, checkpoint_every_steps: 5}',
     "scenario a: jobs.1: needs 100 racks; the largest group it may use has 10"),
    ('{model: llama3-8b, gpus: 72, global_batch_sequences: 72, steps: 10, checkpoint_every_steps: 5, design: x}',
     "scenario a: jobs.1.design: no group of design 'x'"),
])
def test_a_bad_job_mix_fails_before_anything_runs(tmp_path: Path, job: str, message: str) -> None:
    suite = tmp_path / "bad.yaml"
    good = "{model: llama3-8b, gpus: 72, global_batch_sequences: 72, steps: 10, checkpoint_every_steps: 5}"
    suite.write_text(f"name: bad\nscenarios:\n  - name: a\n    duration_s: 60\n    jobs: [{good}, {job}]\n")
    done = racksim("run", "designs/halls/gb200-hall-10.yaml", "--suite", str(suite), "--out", str(tmp_path / "out"))
    assert done.returncode == 2
    assert done.stderr.startswith(f"racksim: error: {message}")
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
