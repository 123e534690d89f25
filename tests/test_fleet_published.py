"""Published reliability facts reproduced by the fleet engine with the GB200 design's failure processes.

Sources (racksim/engine/FLEET.md cites them):
- Llama 3 (Dubey et al. 2024, arXiv 2407.21783, Table 5): 419 unexpected interruptions in 54 days of a 16,384-GPU
  job, 353 of them hardware (GPU 268, host 43, NIC 7, network switch and cable 35): a hardware job MTTF of
  54 × 24 / 353 = 3.67 h. It **calibrates**: gb200-nvl72.yaml's reliability section derives its per-component rates
  from these counts. The test checks the chain (per-component processes → per-rack failures → a job interrupted by
  any failure on its racks) gives that MTTF back for a job of 228 racks (16,416 GPUs), within 20 %.
- Kokolis et al. 2024/2025 (Meta RSC-1/RSC-2, "Revisiting Reliability in Large-Scale Machine Learning Research
  Clusters", HPCA 2025, arXiv 2410.21680): job MTTF falls inversely with job size (their failure model treats a job's
  nodes as in series, MTTF = 1 / (nodes × per-node failure rate)). **Check only**: the simulated MTTF of jobs of 1 to
  228 racks has a log-log slope of −1 within 0.1.
- Llama 3: more than 90 % effective training time at 16k GPUs with restarts in minutes. **Check only**: a 228-rack
  job checkpointing every 10 min (20 s writes) and back within 3 min of a failure (hot spare) keeps an ETTR above
  0.9; one checkpointing every 2 h and back in 30 min falls well below; both within 0.02 of the renewal model
  E[T] = (M + R)(e^((τ + C)/M) − 1) per kept segment τ (racksim.reliability.checkpoint.expected_goodput).
"""

from __future__ import annotations

import numpy as np
import pytest

from racksim.design.schema import Design
from racksim.engine.fleet import Fleet, FleetResult
from racksim.engine.fleet_state import Crew, FleetInputs
from racksim.reliability.checkpoint import expected_goodput
from racksim.run.fleet import sample_fleet_failures
from racksim.run.loading import load_design
from racksim.workload.fleet_jobs import JobSpec
from tests.cli import ROOT

pytestmark = pytest.mark.slow

LLAMA3_HARDWARE_MTTF_H = 54 * 24 / 353
SPARES = 16
FAST_REPAIRS = 0.05
"""Repairs at 5 % of the design's MTTR, a large crew and spares: the job never waits for racks, so its MTTF and ETTR
are its own (the crew's effect is tested elsewhere)."""


@pytest.fixture(scope="module")
def design() -> Design:
    return load_design(ROOT / "designs" / "gb200-nvl72.yaml").design


def run_job(design: Design, racks: int, duration_s: float, every_steps: int = 60, checkpoint_s: float = 20.0,
            restart_s: float = 120.0, swap_s: float = 60.0, seed: int = 5) -> FleetResult:
    """One job of `racks` racks (10 s steps) alone on a hall of racks + SPARES for `duration_s`."""
    hall = racks + SPARES
    spec = JobSpec("j", "training", "m", 0, racks, 0.0, 2, steps=10**12, step_s=10.0, tokens_per_step=1.0,
                   checkpoint_every_steps=every_steps, checkpoint_s=checkpoint_s, restart_s=restart_s)
    failures = sample_fleet_failures([design], [hall], duration_s, seed, FAST_REPAIRS)
    inputs = FleetInputs(duration_s=duration_s, rack_group=np.zeros(hall, dtype=np.intp),
                         rack_row=np.zeros(hall, dtype=np.intp), profiles_feed_w=np.array([1.0, 0.0, 2.0]),
                         idle_profile=np.array([0]), off_profile=np.array([1]), jobs=[(spec,)], failures=failures,
                         outages=[], crew=Crew(50, 86400.0, 0, 3600.0, swap_s), hot_spares=SPARES)
    return Fleet(inputs).run()


@pytest.fixture(scope="module")
def mttf_h_by_racks(design: Design) -> dict[int, float]:
    """Simulated job MTTF (time holding racks / interruptions) over ~250 expected interruptions per size."""
    mttf = {}
    for racks in (1, 8, 32, 228):
        duration_s = 250 * LLAMA3_HARDWARE_MTTF_H * 3600.0 * 228 / racks
        result = run_job(design, racks, duration_s)
        mttf[racks] = duration_s / 3600.0 / result.jobs[0].interruptions
    return mttf


def test_job_mttf_at_16k_gpus_matches_llama3(mttf_h_by_racks: dict[int, float]) -> None:
    assert mttf_h_by_racks[228] == pytest.approx(LLAMA3_HARDWARE_MTTF_H, rel=0.2)


def test_job_mttf_falls_inversely_with_job_size(mttf_h_by_racks: dict[int, float]) -> None:
    racks = np.array(list(mttf_h_by_racks))
    slope = np.polyfit(np.log(racks), np.log(list(mttf_h_by_racks.values())), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    assert mttf_h_by_racks[1] > 100 * mttf_h_by_racks[228]


@pytest.mark.parametrize(("every_steps", "restart_s", "above_90"), [(60, 120.0, True), (720, 1740.0, False)])
def test_ettr_needs_minutes_scale_checkpoint_and_restart(design: Design, every_steps: int, restart_s: float,
                                                          above_90: bool) -> None:
    # 228 racks for 60 days (~390 interruptions). R = swap (60 s) + restart; τ = every_steps × 10 s; C = 20 s.
    result = run_job(design, 228, 60 * 86400.0, every_steps=every_steps, restart_s=restart_s)
    record = result.jobs[0]
    _, done = record.progress_steps(60 * 86400.0)
    ettr = done * 10.0 / (60 * 86400.0)
    mttf_s = 60 * 86400.0 / record.interruptions
    model = float(expected_goodput(every_steps * 10.0, 20.0, 60.0 + restart_s, mttf_s))
    assert ettr == pytest.approx(model, abs=0.02)
    assert (ettr > 0.9) is above_90
