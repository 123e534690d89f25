"""The hall's power chain above the racks (racksim.physics.hall_power): busway I²R and UPS loss curve by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from racksim.design.hall_schema import UPS_DOUBLE_CONVERSION, UPS_ECO, Hall
from racksim.design.schema import Design
from racksim.engine import Simulation
from racksim.engine.recorder import Integrals
from racksim.physics.arrays import build
from racksim.physics.hall_power import (
    HallPowerChain,
    feeder_loss_w,
    hall_input_w,
    hall_losses_w,
    ups_loss_w,
)
from racksim.physics.layout import HallLayout
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule

CHAIN = HallPowerChain(n_rows=2, feeder_resistance_ohm=np.full(2, 0.01), feeder_voltage_v=100.0,
                       ups_capacity_w=10e3, ups_load_fraction=np.array([0.1, 1.0]),
                       ups_efficiency=np.array([0.9, 0.95]))


def test_losses_by_hand() -> None:
    """Rows at 1 and 2 kW on 10 mΩ at 100 V: 1 W + 4 W; the UPS at 3,005 W of 10 kW on its curve."""
    losses = hall_losses_w(CHAIN, np.array([1000.0, 2000.0]))
    assert losses["row_feeder"] == pytest.approx(1000.0**2 * 0.01 / 100**2 + 2000.0**2 * 0.01 / 100**2)
    assert losses["row_feeder"] == pytest.approx(5.0)
    efficiency = 0.9 + (0.3005 - 0.1) / 0.9 * 0.05
    assert losses["ups"] == pytest.approx(3005.0 / efficiency - 3005.0)
    assert hall_input_w(CHAIN, np.array([1000.0, 2000.0])) == pytest.approx(3005.0 / efficiency)


def test_vectorized_over_time_and_rows() -> None:
    """Row loads of shape (time, rows) give losses of shape (time,), each row the same as alone."""
    loads = np.array([[1000.0, 2000.0], [0.0, 0.0], [5000.0, 6000.0]])
    losses = hall_losses_w(CHAIN, loads)
    assert losses["row_feeder"].shape == losses["ups"].shape == (3,)
    for step, row_loads in enumerate(loads):
        single = hall_losses_w(CHAIN, row_loads)
        assert losses["ups"][step] == pytest.approx(float(single["ups"]))
    assert losses["ups"][1] == 0.0  # no output, no loss
    # The curve is clamped: above the rating the last point's efficiency holds.
    assert ups_loss_w(20e3, 10e3, [0.1, 1.0], [0.9, 0.95]) == pytest.approx(20e3 / 0.95 - 20e3)


def test_lossless_hall_has_no_stages() -> None:
    """A hall without row_power: no stage at all, its input is the racks' feed."""
    hall = Hall(name="h", design="rack.yaml", racks=4, rows=2)
    chain = HallPowerChain.of(hall)
    assert chain.stage_names == ()
    assert chain.n_rows == 2
    assert hall_losses_w(chain, np.array([1e5, 2e5])) == {}
    assert hall_input_w(chain, np.array([1e5, 2e5])) == pytest.approx(3e5)


def test_defaults_against_their_sources() -> None:
    """The sourced defaults: a 2.1 MW row on 30 m of 3,200 A copper busway at 415 V, a UPS at half load.

    Calibration: 0.47 mΩ/100 ft (Eaton Pow-R-Way III TD01701001E, Table 8); 97 % double conversion (Schneider
    Galaxy VS). Check: ECO mode's loss is about a third of double conversion's (Schneider Galaxy VX operation
    manual 990-5452: "reduce the electricity absorbed by the UPS by a factor three").
    """
    hall = Hall(name="h", design="rack.yaml", racks=140, rows=10,
                row_power={"feeder_capacity_w": 2.1e6, "ups_capacity_w": 42e6})
    chain = HallPowerChain.of(hall)
    assert chain.stage_names == ("row_feeder", "ups")
    resistance_ohm = 0.47e-3 / 30.48 * 30.0
    loads = np.full(10, 2.1e6)
    losses = hall_losses_w(chain, loads)
    per_row_w = 2.1e6**2 * resistance_ohm / 415.0**2
    assert losses["row_feeder"] == pytest.approx(10 * per_row_w)
    assert per_row_w / 2.1e6 == pytest.approx(0.0056, abs=0.0002)  # about half a percent of the row
    ups_out_w = 21e6 + 10 * per_row_w
    assert losses["ups"] == pytest.approx(ups_out_w * (1 / 0.97 - 1))
    double = ups_loss_w(21e6, 42e6, UPS_DOUBLE_CONVERSION.load_fraction, UPS_DOUBLE_CONVERSION.efficiency)
    eco = ups_loss_w(21e6, 42e6, UPS_ECO.load_fraction, UPS_ECO.efficiency)
    assert eco / double == pytest.approx(1 / 3, rel=0.05)


def test_group_share_and_no_ups() -> None:
    """A group's rows with its share of the UPS; a row_power without ups_capacity_w has feeders only."""
    hall = Hall(name="h", design="rack.yaml", racks=4, rows=2, row_power={"feeder_capacity_w": 1e6})
    assert HallPowerChain.of(hall).stage_names == ("row_feeder",)
    share = HallPowerChain.of(hall, n_rows=1, ups_capacity_w=5e5)
    assert (share.n_rows, share.ups_capacity_w) == (1, 5e5)
    assert share.stage_names == ("row_feeder", "ups")
    assert math.isinf(HallPowerChain.lossless(3).ups_capacity_w)


def test_feeder_loss_elementwise() -> None:
    """P² R / V² per element."""
    assert feeder_loss_w([0.0, 415.0], 1.0, 415.0).tolist() == [0.0, pytest.approx(1.0)]


# --------------------------------------------------------------------------- in the hall's runs

DESIGNS = Path(__file__).resolve().parent.parent / "designs"
GB200 = DESIGNS / "gb200-nvl72.yaml"
SCHEDULE = TrainingSchedule(compute_s=3.0, communication_s=1.0, checkpoint_every_steps=2, checkpoint_s=2.0)


@pytest.fixture(scope="module")
def gb200() -> Design:
    """The GB200 rack design, loaded once."""
    return load_design(GB200).design


@pytest.fixture(scope="module")
def gb300() -> Design:
    """The GB300 rack design (power smoothing: its feed ramps), loaded once."""
    return load_design(DESIGNS / "gb300-nvl72.yaml").design


def _hall_integrals(design: Design, hall: Hall, duration_s: float) -> Integrals:
    arrays = build(design, hall=HallLayout.of(hall))
    return Simulation(arrays, SCHEDULE.phases(), duration_s).run().integrals


@settings(max_examples=6)
@given(racks=st.integers(1, 4), rows=st.integers(1, 3), ohm_per_m=st.floats(1e-6, 1e-3), length_m=st.floats(1, 200),
       voltage_v=st.floats(200, 1000), ups_w=st.none() | st.floats(1e5, 2e6),
       mode=st.sampled_from(["double_conversion", "eco"]), smoothing=st.booleans())
def test_hall_energy_balance_closes(gb200: Design, gb300: Design, racks: int, rows: int, ohm_per_m: float,
                                    length_m: float, voltage_v: float, ups_w: float | None, mode: str,
                                    smoothing: bool) -> None:
    """input + storage = IT + Σ losses (rack stages, row feeders, UPS) over random halls of GB200 racks or of
    GB300 racks whose storage ramps their feed; the hall stages add up."""
    assume(rows <= racks)
    hall = Hall(name="h", design="rack.yaml", racks=racks, rows=rows, row_power={
        "feeder_capacity_w": 1e9, "ups_capacity_w": ups_w, "busway_resistance_ohm_per_m": ohm_per_m,
        "busway_length_m": length_m, "busway_voltage_v": voltage_v, "ups_mode": mode})
    integrals = _hall_integrals(gb300 if smoothing else gb200, hall, 10.0)
    supplied = integrals.input_energy_j + integrals.storage_net_energy_j
    assert integrals.it_energy_j + sum(integrals.loss_energy_j.values()) == pytest.approx(supplied, rel=1e-9)
    assert integrals.loss_energy_j["row_feeder"] > 0
    assert ("ups" in integrals.loss_energy_j) == (ups_w is not None)
    hall_j = sum(integrals.loss_energy_j.get(name, 0.0) for name in ("row_feeder", "ups"))
    assert integrals.rack_input_energy_j.sum() + hall_j == pytest.approx(integrals.input_energy_j, rel=1e-12)


def test_a_hall_without_row_power_is_its_racks(gb200: Design) -> None:
    """No row_power: no hall stage, and the run is a plain run of its racks to the last bit."""
    hall = Hall(name="h", design="rack.yaml", racks=2, rows=1)
    integrals = _hall_integrals(gb200, hall, 10.0)
    plain = Simulation(build(gb200, n_racks=2), SCHEDULE.phases(), 10.0).run().integrals
    assert set(integrals.loss_energy_j) == set(plain.loss_energy_j) == set(gb200.power.stage_names)
    assert integrals.input_energy_j == plain.input_energy_j
    assert integrals.loss_energy_j == plain.loss_energy_j
