"""Engine speed with pytest-benchmark (`make bench`); not part of `make test`.

Figures to read as ratios: closed-form engine vs the fixed-step reference (tests/oracles.py) on the same scenario, and
24 h vs 1 h of simulated time (cost should follow events, not seconds).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from racksim.design.suite import load_suite
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule, schedule_for
from tests.oracles import EulerSimulation

ROOT = Path(__file__).resolve().parent.parent
TRAINING = load_suite("standard").scenario("training")
DESIGN = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
ARRAYS = build(DESIGN)
SCHEDULE = schedule_for(TRAINING.workload, DESIGN)


def _run(duration_s: float, euler_step_s: float | None = None) -> int:
    """Events of a training run; with `euler_step_s`, the tests' fixed-step oracle (tests/oracles.py)."""
    simulation = Simulation(ARRAYS, SCHEDULE.phases(), duration_s) if euler_step_s is None else \
        EulerSimulation(ARRAYS, SCHEDULE.phases(), duration_s, step_s=euler_step_s)
    return simulation.run().event_count


@pytest.mark.benchmark(group="closed-form vs fixed step, 10 min training")
def test_closed_form_10min(benchmark: pytest.FixtureRequest) -> None:
    benchmark(_run, 600.0)


@pytest.mark.benchmark(group="closed-form vs fixed step, 10 min training")
def test_fixed_step_1s_10min(benchmark: pytest.FixtureRequest) -> None:
    benchmark.pedantic(_run, args=(600.0, 1.0), rounds=3, iterations=1)


@pytest.mark.benchmark(group="simulated time: 1 h vs 24 h training")
def test_closed_form_1h(benchmark: pytest.FixtureRequest) -> None:
    benchmark.pedantic(_run, args=(3600.0,), rounds=3, iterations=1)


@pytest.mark.benchmark(group="simulated time: 1 h vs 24 h training")
def test_closed_form_24h(benchmark: pytest.FixtureRequest) -> None:
    benchmark.pedantic(_run, args=(86400.0,), rounds=1, iterations=1)


STEADY = TrainingSchedule(compute_s=1e9, communication_s=0.0, checkpoint_every_steps=1, checkpoint_s=0.0)


def _run_steady(duration_s: float) -> int:
    return Simulation(ARRAYS, STEADY.phases(), duration_s).run().event_count


@pytest.mark.benchmark(group="steady load: 1 h vs 24 h (cost follows events)")
def test_steady_1h(benchmark: pytest.FixtureRequest) -> None:
    benchmark(_run_steady, 3600.0)


@pytest.mark.benchmark(group="steady load: 1 h vs 24 h (cost follows events)")
def test_steady_24h(benchmark: pytest.FixtureRequest) -> None:
    benchmark(_run_steady, 86400.0)
