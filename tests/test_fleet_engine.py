"""The fleet engine on hand-worked cases: a failure stops only the job on its rack, which loses the steps since
its checkpoint and restarts after the repair (or on a hot spare), repairs queue for the crew, tripped racks wait
for the operator, and the rack-seconds (hence every energy) add up exactly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from racksim.engine.fleet import Fleet, FleetResult
from racksim.engine.fleet_state import Crew, Failures, FleetInputs, ScheduledOutage
from racksim.run.fleet_metrics import job_rows, placement_rows
from racksim.workload.fleet_jobs import JobSpec

IDLE, OFF, RUN = 0, 1, 2
FEED_W = np.array([1000.0, 0.0, 5000.0])  # idle, off, running
CREW = Crew(technicians=1, shift_s=86400.0, parts=10, restock_s=3600.0, swap_s=10.0)


def job(name: str, racks: int = 2, steps: int = 100, submit_s: float = 0.0) -> JobSpec:
    """1 s steps, a 2 s checkpoint every 10 steps (12 s cycles), 5 s restart."""
    return JobSpec(name, "training", "m", 0, racks, submit_s, RUN, steps=steps, step_s=1.0, tokens_per_step=1.0,
                   checkpoint_every_steps=10, checkpoint_s=2.0, restart_s=5.0)


def run(jobs: list[JobSpec], racks: int = 4, failures: Failures | None = None,
        outages: tuple[ScheduledOutage, ...] = (), spares: int = 0, crew: Crew = CREW,
        duration_s: float = 1000.0, backfill: bool = True) -> FleetResult:
    inputs = FleetInputs(duration_s=duration_s, rack_group=np.zeros(racks, dtype=np.intp),
                         rack_row=np.repeat(np.arange(racks // 2), 2)[:racks] if racks % 2 == 0 else
                         np.zeros(racks, dtype=np.intp), profiles_feed_w=FEED_W,
                         idle_profile=np.array([IDLE]), off_profile=np.array([OFF]), jobs=[(j,) for j in jobs],
                         failures=failures or Failures.none(), outages=list(outages), crew=crew, hot_spares=spares,
                         trip_reset_s=30.0, backfill=backfill)
    return Fleet(inputs).run()


def job_placements(result: FleetResult, duration_s: float) -> list[tuple[str, float, float, list[int]]]:
    table = placement_rows(result, duration_s)
    return list(zip(table["job"], table["start_s"], table["end_s"], table["racks"], strict=True))


def failure(time_s: float, rack: int, repair_s: float = 50.0) -> Failures:
    return Failures(np.array([time_s]), np.array([rack]), ("gpu",), np.array([True]), np.array([repair_s]))


def test_uninterrupted_jobs_end_at_nominal_and_energy_adds_up() -> None:
    result = run([job("a"), job("b")])
    assert [r.end_s for r in result.jobs] == [120.0, 120.0]  # 10 cycles of 12 s
    assert [r.racks.size for r in result.jobs] == [0, 0]
    seconds = result.hall.rack_seconds.sum(axis=0)
    assert seconds.sum() == pytest.approx(4 * 1000.0)
    assert seconds[RUN] == pytest.approx(4 * 120.0)
    assert seconds @ FEED_W == pytest.approx(4 * 120 * 5000 + 4 * 880 * 1000)


def test_easy_backfill_in_the_fleet() -> None:
    # a holds 2 of 4 racks until 120 s; b (all 4 racks, submitted at 1 s) waits for it; c (2 racks, 30 steps: 36 s,
    # submitted at 2 s) ends before b's reservation at 120 s, so it backfills at once. FIFO makes c wait for b.
    mix = [job("a"), job("b", racks=4, submit_s=1.0), job("c", steps=30, submit_s=2.0)]
    _, b, c = run(mix).jobs
    assert (c.first_start_s, c.end_s, b.first_start_s) == (2.0, 38.0, 120.0)
    _, b, c = run(mix, backfill=False).jobs
    assert (b.first_start_s, c.first_start_s) == (120.0, 240.0)


def test_a_failure_stops_only_the_job_on_its_rack() -> None:
    # Job a holds racks 0-1 (row 0), b (1,000 steps) racks 2-3. Rack 1 fails at 100 s: a has run 8 cycles (96 s,
    # 80 steps saved) and 4 steps since, lost. No spare: a gives rack 0 back and waits first in line; the repair
    # (one technician, 50 s) ends at 150, a restarts (5 s) and trains its 20 steps left in 2 cycles: done at 179.
    # b is untouched: 100 cycles, done at 1,200 s.
    result = run([job("a"), job("b", steps=1000)], failures=failure(100.0, 1), duration_s=2000.0)
    a, b = result.jobs
    assert (a.interruptions, b.interruptions) == (1, 0)
    assert a.lost_steps == pytest.approx(4.0)
    assert a.end_s == pytest.approx(179.0)
    assert b.end_s == 1200.0
    assert result.repairs == 1
    assert result.hall.rack_seconds.sum(axis=0)[OFF] == pytest.approx(50.0)


def test_a_hot_spare_swaps_in_before_the_repair_ends() -> None:
    # Five racks, one (rack 0) held as a spare. Job a gets racks 1-2 and b 3-4. Rack 1 fails at 100 s: the spare
    # swaps in (10 s) and a restarts (5 s): running again at 115 s, 20 steps left: done at 139 s, before the 50 s
    # repair would end.
    result = run([job("a"), job("b", steps=1000)], racks=5, failures=failure(100.0, 1), spares=1)
    a, _ = result.jobs
    assert a.swaps == 1
    assert a.end_s == pytest.approx(139.0)
    placements = job_placements(result, 1000.0)
    assert [(start, end, racks) for name, start, end, racks in placements if name == "a"] == [
        (0.0, 100.0, [1, 2]), (100.0, pytest.approx(139.0), [0, 2])]  # the spare (rack 0) took rack 1's place


def test_repairs_queue_for_the_crew() -> None:
    # Two racks fail at once and each repair takes 100 s of hands-on time: one technician finishes them at 100 and
    # 200 s (mean 150 s, 50 s waiting), two technicians both at 100 s.
    two = Failures(np.array([10.0, 10.0]), np.array([0, 1]), ("gpu", "gpu"), np.array([True, True]),
                   np.array([100.0, 100.0]))
    alone = run([], failures=two)
    assert alone.repair_s / alone.repairs == pytest.approx(150.0)
    assert alone.repair_wait_s / alone.repairs == pytest.approx(50.0)
    pair = run([], failures=two, crew=Crew(2, 86400.0, 10, 3600.0, 10.0))
    assert pair.repair_s / pair.repairs == pytest.approx(100.0)


def test_repairs_wait_for_the_shift_and_for_parts() -> None:
    # An 8 h day shift: a failure at 9 h waits for the next day's shift (24 h). No part in stock left after the
    # first repair: the second waits for the restock (1 h after the first repair took its part).
    night = run([], failures=failure(9 * 3600.0, 0, 60.0), crew=Crew(1, 8 * 3600.0, 10, 3600.0, 10.0),
                duration_s=2 * 86400.0)
    assert night.repair_s == pytest.approx(15 * 3600.0 + 60.0)
    two = Failures(np.array([0.0, 0.0]), np.array([0, 1]), ("gpu", "gpu"), np.array([True, True]),
                   np.array([60.0, 60.0]))
    short = run([], failures=two, crew=Crew(2, 86400.0, 1, 3600.0, 10.0), duration_s=10000.0)
    assert short.repair_s == pytest.approx(60.0 + 3660.0)


@pytest.mark.parametrize(("feed_out_s", "back_s", "end_s"), [(20.0, 40.0, 165.0), (50.0, 60.0, 185.0)])
def test_a_tripped_rack_is_reset_after_the_delay_once_the_feed_is_back(feed_out_s: float, back_s: float,
                                                                        end_s: float) -> None:
    # Job a holds both racks. Rack 0's feed is lost at 10 s: it trips and a, 10 steps into its first cycle, loses
    # them (nothing saved yet). The operator resets rack 0 at max(10 + 30 s delay, feed back): 40 s after a 20 s
    # loss, 60 s after a 50 s one (as the rack-scale engine, tests/test_trip_reset.py). a restarts then (5 s) and
    # trains its 100 steps in 120 s: done at 165 or 185 s. Off rack-seconds: rack 0 from 10 s until its reset.
    outage = ScheduledOutage(10.0, np.array([0]), "feed_loss on rack 0", feed_out_s, True, True)
    result = run([job("a")], racks=2, outages=(outage,))
    assert result.hall.rack_seconds.sum(axis=0)[OFF] == pytest.approx(back_s - 10.0)
    assert result.jobs[0].interruptions == 1
    assert result.jobs[0].lost_steps == pytest.approx(10.0)
    assert result.jobs[0].end_s == pytest.approx(end_s)


def test_easy_reservation_counts_a_rack_back_from_repair() -> None:
    # big holds all 4 racks; rack 0 fails at 100 s: big has saved 80 steps (8 cycles), loses 4 and, with no spare,
    # gives racks 1-3 back and waits first in line. The technician starts at once: rack 0 is back at 150 s (its
    # 50 s repair), so big's reservation is at 150 s with no rack extra. At 110 s long (1 rack, 1,000 steps) fits
    # in the 3 free racks but would hold one past 150 s: it waits (without counting the repair the shadow is
    # infinite and long would start at once, holding big off until 1,310 s). short (1 rack, 20 steps: 24 s)
    # ends by 150 s: it backfills at 110 s. big restarts at 150 s (5 s) and trains its last 20 steps in 24 s: done
    # at 179 s, when long starts.
    result = run([job("big", racks=4), job("long", racks=1, steps=1000, submit_s=110.0),
                  job("short", racks=1, steps=20, submit_s=110.0)], failures=failure(100.0, 0), duration_s=2000.0)
    big, long, short = result.jobs
    assert (big.first_start_s, big.end_s) == (0.0, pytest.approx(179.0))
    assert (short.first_start_s, short.end_s) == (110.0, 134.0)
    assert long.first_start_s == pytest.approx(179.0)


def test_easy_reservation_expects_a_rack_awaiting_the_crew_an_mttr_from_now() -> None:
    # Five racks in one row; big holds racks 0-3. Idle rack 4 fails at 90 s (100 s repair: the one technician is
    # busy until 190 s); rack 0 fails at 100 s (50 s repair) and waits for him: big, with no spare, gives racks 1-3
    # back. Rack 0's own repair time is not known before it starts: it is expected back the MTTR (the sampled
    # repairs' mean, 75 s) from now, rack 4 at 190 s. At 110 s big's shadow is then 185 s, no rack extra: a
    # 1-rack job of 50 steps (60 s run, 65 s estimate with its restart) ends by then and backfills; one of 60 steps
    # (77 s estimate: 187 s) waits. Rack 4 is back at 190 s: big restarts there (racks 1-4), is done at 219 s
    # (5 s restart, 20 steps in 24 s), and the waiting job starts then. (It would have ended at 182 s, before rack
    # 4 came back: the estimate decides, not the outcome, as with EASY's user estimates.)
    two = Failures(np.array([90.0, 100.0]), np.array([4, 0]), ("gpu", "gpu"), np.array([True, True]),
                   np.array([100.0, 50.0]))
    result = run([job("big", racks=4), job("fits", racks=1, steps=50, submit_s=110.0),
                  job("late", racks=1, steps=60, submit_s=110.0)], racks=5, failures=two, duration_s=2000.0)
    big, fits, late = result.jobs
    assert (fits.first_start_s, fits.end_s) == (110.0, 170.0)
    assert big.end_s == pytest.approx(219.0)
    assert job_placements(result, 2000.0)[1] == ("big", 190.0, pytest.approx(219.0), [1, 2, 3, 4])
    assert late.first_start_s == pytest.approx(219.0)


def test_hall_stage_losses_integrate_over_the_rows_loads() -> None:
    # A UPS losing 10 % of the rows' load: its energy is 10 % of the racks' (exact between events).
    inputs = FleetInputs(duration_s=1000.0, rack_group=np.zeros(4, dtype=np.intp), rack_row=np.array([0, 0, 1, 1]),
                         profiles_feed_w=FEED_W, idle_profile=np.array([IDLE]), off_profile=np.array([OFF]),
                         jobs=[(job("a"),)], failures=Failures.none(), outages=[], crew=CREW,
                         hall_losses=lambda row_load_w: {"ups": 0.1 * float(row_load_w.sum())})
    result = Fleet(inputs).run()
    racks_j = float(result.hall.rack_seconds.sum(axis=0) @ FEED_W)
    assert result.hall.hall_loss_j["ups"] == pytest.approx(0.1 * racks_j)
    assert max(row[1] for row in result.hall.series) == pytest.approx(1.1 * (2 * 5000 + 2 * 1000))


def test_the_job_table_by_hand() -> None:
    # The failure case above: a trains 100 steps (1 s each) from 0 to 179 s, losing 4: ETTR 100 / 179, goodput
    # 100 / 104. b runs undisturbed, done at 1,200 s: ETTR 1,000 / 1,200 (its checkpoint writes are not training).
    result = run([job("a"), job("b", steps=1000)], failures=failure(100.0, 1), duration_s=2000.0)
    table = job_rows(result, 2000.0, ["d"], [72])
    assert table["run_s"] == [pytest.approx(179.0), 1200.0]
    assert table["ettr"] == [pytest.approx(100 / 179), pytest.approx(1000 / 1200)]
    assert table["goodput"] == [pytest.approx(100 / 104), 1.0]
    assert table["work_lost_tokens"] == [pytest.approx(4.0), 0.0]
    assert table["done"] == [True, True]
    assert table["rows"] == [1, 1]
    assert table["gpus"] == [144, 144]  # 2 racks of 72 GPUs each
    assert table["checkpoint_interval_s"] == [10.0, 10.0]  # 10 steps of 1 s


def two_groups(jobs: list[tuple[JobSpec, ...]], duration_s: float = 1000.0,
               failures: Failures | None = None) -> FleetResult:
    """A hall of two design groups of 4 racks (racks 0-3: group 0, rows 0-1; racks 4-7: group 1, rows 2-3)."""
    inputs = FleetInputs(duration_s=duration_s, rack_group=np.repeat([0, 1], 4), rack_row=np.repeat(np.arange(4), 2),
                         profiles_feed_w=FEED_W, idle_profile=np.array([IDLE, IDLE]), off_profile=np.array([OFF, OFF]),
                         jobs=jobs, failures=failures or Failures.none(), outages=[], crew=CREW)
    return Fleet(inputs).run()


def anywhere(spec: JobSpec, **on_group_1: float) -> tuple[JobSpec, ...]:
    """An unpinned job: its spec on group 0 and on group 1 (there with `on_group_1`'s fields changed)."""
    return spec, replace(spec, group=1, **on_group_1)


def test_an_unpinned_job_starts_at_once_on_the_free_group_and_a_pinned_one_waits() -> None:
    # a (pinned to group 0) holds all of group 0 until 120 s. b, unpinned, submitted at 1 s, starts at once on
    # group 1, where its design steps in 0.5 s: 10 cycles of 10 × 0.5 + 2 s = 70 s, done at 71 s,
    # best fit into row 2 (racks 4-5). c, pinned to group 0, waits for a although group 1 is free: 120 to 240 s.
    result = two_groups([(job("a", racks=4),), anywhere(job("b", submit_s=1.0), step_s=0.5),
                         (job("c", submit_s=1.0),)])
    _, b, c = result.jobs
    assert (b.first_start_s, b.end_s, b.spec.group) == (1.0, 71.0, 1)
    assert (c.first_start_s, c.end_s, c.spec.group) == (120.0, 240.0, 0)
    assert job_placements(result, 1000.0)[1] == ("b", 1.0, 71.0, [4, 5])
    assert job_rows(result, 1000.0, ["g0", "g1"], [72, 36])["design"] == ["g0", "g1", "g0"]


def test_easy_backfill_across_groups() -> None:
    # a holds 3 racks of group 0 until 120 s, b 3 racks of group 1 until 60 s: one rack free in each. The head h
    # (4 racks, unpinned, 1 s) can start earliest on group 1 (60 s < 120 s): its reservation is there, no extra
    # rack. s1 (1 rack, 360 s, at 2 s) starts at once on group 0, which holds no reservation; s2 (the same, at 3 s)
    # would hold group 1's free rack past 60 s, so it waits; s3 (1 rack, 24 s, at 4 s) ends by 60 s and
    # backfills there. h starts at 60 s on group 1 as reserved; s2 at 120 s on group 0 when a ends.
    long, short = {"steps": 300}, {"steps": 20}
    result = two_groups([(job("a", racks=3),), (replace(job("b", racks=3, steps=50), group=1),),
                         anywhere(job("h", racks=4, submit_s=1.0)), anywhere(job("s1", 1, submit_s=2.0, **long)),
                         anywhere(job("s2", 1, submit_s=3.0, **long)), anywhere(job("s3", 1, submit_s=4.0, **short))])
    starts = {r.spec.name: (r.first_start_s, r.spec.group) for r in result.jobs}
    assert starts == {"a": (0.0, 0), "b": (0.0, 1), "h": (60.0, 1), "s1": (2.0, 0), "s2": (120.0, 0),
                      "s3": (4.0, 1)}


def test_a_requeued_job_moves_to_the_other_group_with_its_work_in_tokens() -> None:
    # a (unpinned, 2 racks) starts at 0 on group 0 (racks 0-1: one row either way, the lower group); p (pinned)
    # holds racks 2-3. Rack 0 fails at 100 s: a has saved 80 steps (8 cycles of 12 s), lost 4, and no spare: it
    # gives its racks back; group 0 has one rack left, so it restarts at once on group 1, whose design trains
    # 2 tokens a step in 0.5 s (50 steps for its 100 tokens): the 80 saved tokens are 40 steps there, 10 left,
    # one 7 s cycle after a 5 s restart: done at 112 s; 100 tokens kept, 4 lost.
    result = two_groups([anywhere(job("a"), step_s=0.5, tokens_per_step=2.0, steps=50), (job("p", steps=1000),)],
                        failures=failure(100.0, 0))
    a = result.jobs[0]
    assert [(start, end, racks) for name, start, end, racks in job_placements(result, 1000.0) if name == "a"] == [
        (0.0, 100.0, [0, 1]), (100.0, 112.0, [4, 5])]
    assert a.end_s == pytest.approx(112.0)
    table = job_rows(result, 1000.0, ["g0", "g1"], [72, 72])
    assert (table["work_tokens"][0], table["work_lost_tokens"][0]) == (pytest.approx(100.0), pytest.approx(4.0))
    assert table["design"][0] == "g1"
