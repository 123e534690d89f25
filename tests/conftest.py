"""Shared fixtures: the bundled designs and suites, and the metrics contract of DESIGN.md."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

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
