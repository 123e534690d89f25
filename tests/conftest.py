"""Shared fixtures: the bundled designs and suites, and the metrics contract of DESIGN.md."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
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
# Each is computed once per session (once per xdist worker under `pytest -n`); the tests that use it carry the
# xdist group of its name (pytest_collection_modifyitems below), so `--dist loadgroup` sends them all to one
# worker and it is computed once in all. Tests only read a shared result; one that changes it works on a copy
# (shutil.copytree into its tmp_path).

GB200 = ROOT / "designs" / "gb200-nvl72.yaml"
GB300 = ROOT / "designs" / "gb300-nvl72.yaml"
SHARED_RESULTS = ("quick_compare", "dask_scheduler")
"""Session fixtures whose users run in one xdist group each."""


@dataclass(frozen=True)
class Compared:
    """A `racksim compare` that ran: its results directory (runs, report, figures) and what the command printed."""

    out: Path
    done: Done


@pytest.fixture(scope="session")
def quick_compare(tmp_path_factory: pytest.TempPathFactory) -> Compared:
    """`racksim compare GB200 GB300 --suite quick --duration 120s`: every quick scenario of both and the report."""
    out = tmp_path_factory.mktemp("quick-compare") / "out"
    done = racksim("compare", str(GB200), str(GB300), "--suite", "quick", "--out", str(out), "--duration", "120s")
    return Compared(out, done)


@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """The address of one dask LocalCluster on loopback (2 worker processes, a thread each) for the sweep tests."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests using a shared session result run on one xdist worker (`--dist loadgroup`), which computes it once."""
    for item in items:
        for name in SHARED_RESULTS:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))
