"""Shared fixtures: the bundled designs and suites, the metrics contract of DESIGN.md, and expensive results
(a quick-suite compare, a dask cluster) computed once per test session."""

from __future__ import annotations

import fcntl
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from tests.cli import Done, racksim

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = sorted((ROOT / "designs").glob("*.yaml"))

# "ci" (the default, `make test`): few examples, fixed seed, no deadline on a loaded CI machine.
# "fuzz" (`make fuzz`, or pytest --hypothesis-profile=fuzz): many random examples, each within a second (issue 10).
settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("fuzz", max_examples=1000, deadline=timedelta(seconds=1))
settings.load_profile("ci")

REQUIRED_METRICS = """design scenario seed duration_s racksim_version
power.input_energy_j power.it_energy_j power.loss_energy_j_by_stage power.storage_net_energy_j
power.input_power_w_mean power.input_power_w_peak power.input_power_w_p99 power.chain_efficiency
power.max_ramp_w_per_s power.capped_fraction power.trips
thermal.gpu_temp_c_max thermal.gpu_temp_c_p99 thermal.gpu_throttle_fraction
thermal.coolant_return_temp_c_max thermal.heat_to_liquid_j thermal.heat_to_air_j thermal.cooling_energy_j
network.allreduce_busbw_gbyte_s network.collective_time_s_total
cabling.cable_count cabling.cable_length_m cabling.active_cable_count cabling.optical_link_count cabling.power_w
cabling.cost_usd cabling.mass_kg
performance.work_units performance.goodput_fraction performance.work_per_kwh
reliability.failures reliability.interruptions reliability.unavailable_fraction""".split()  # noqa: SIM905


def metric(metrics: dict[str, Any], dotted: str) -> Any:
    """metrics['a']['b'] for 'a.b'."""
    node: Any = metrics
    for part in dotted.split("."):
        node = node[part]
    return node


def contract_problems(metrics: dict[str, Any]) -> list[str]:
    """Every way `metrics` breaks the DESIGN.md contract: missing names, non-finite numbers, open balance."""
    problems = []
    for name in REQUIRED_METRICS:
        try:
            value = metric(metrics, name)
        except KeyError:
            problems.append(f"missing {name}")
            continue
        values = value.values() if isinstance(value, dict) else [value]
        problems += [f"{name} not finite" for v in values if isinstance(v, float) and not math.isfinite(v)]
    power = metrics["power"]
    supplied = power["input_energy_j"] + power["storage_net_energy_j"]
    used = power["it_energy_j"] + sum(power["loss_energy_j_by_stage"].values())
    if abs(supplied - used) > 1e-3 * supplied:
        problems.append(f"energy balance open: {supplied} J in, {used} J out")
    return problems


@pytest.fixture(scope="session")
def bundled_designs() -> list[Path]:
    """Paths of the designs in designs/."""
    return DESIGNS


# ------------------------------------------------------------------ expensive results shared by the whole session
#
# Computed once per test session and only read by the tests that use them; a test that changes one works on a copy
# (shutil.copytree into its tmp_path). Under pytest-xdist the workers of a session share one copy on disk: the first
# to need it computes it under a file lock, the others wait for it and read it (`make test` runs `--dist loadfile`,
# so a module's tests, and its module-scoped fixtures, stay on one worker).

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of this test session shared by its xdist workers (each has a basetemp below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created when missing): one xdist worker at a time."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Compared:
    """A `racksim compare` that ran: its results directory (runs, report, figures) and what the command printed."""

    out: Path
    done: Done


@pytest.fixture(scope="session")
def quick_compare(tmp_path_factory: pytest.TempPathFactory) -> Compared:
    """`racksim compare GB200 GB300 --suite quick --duration 120s`: every quick scenario of both and the report."""
    root = session_root(tmp_path_factory) / "quick-compare"
    root.mkdir(exist_ok=True)
    with locked(root / "lock"):
        recorded = root / "done.json"
        if not recorded.exists():
            done = racksim("compare", str(GB200), str(GB300), "--suite", "quick", "--out", str(root / "out"),
                           "--duration", "120s")
            recorded.write_text(json.dumps(asdict(done)))
        return Compared(root / "out", Done(**json.loads(recorded.read_text())))


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of one dask LocalCluster on loopback (2 worker processes, a thread each) for the sweep tests.

    No dashboard, and the scheduler's HTTP server on a free port: on its default 8787, taken by any other cluster on
    the machine, distributed warns (an error here) and moves it.
    """
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster:
        yield cluster.scheduler_address
