"""Feed breakers, BBU ride-through and recharge, smoothing storage, and 800 V versus 50 V distribution."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import Fault
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity
from racksim.physics.piecewise import max_ramp_w_per_s
from racksim.physics.power import chain_losses_at_it_load
from racksim.physics.supply import breaker_trip_time_s, feed_current_a, storage_energy_out_j, storage_limit_time_s
from racksim.run.loading import load_design
from racksim.workload import Phase, TrainingSchedule
from racksim.workload.faults import fault_actions

ROOT = Path(__file__).resolve().parent.parent
GB200, GB300, VR = (ROOT / "designs" / f"{name}.yaml" for name in ("gb200-nvl72", "gb300-nvl72", "vr-800vdc"))
FULL = Activity(1.0, 1.0, 1.0)


def steady(activity: Activity = FULL) -> Iterator[Phase]:
    """One phase that never ends: a constant load."""
    yield Phase("steady", activity, math.inf)


def simulate(path: Path, duration_s: float, faults: list[Fault], overrides: tuple[str, ...] = (),
             phases: Iterator[Phase] | None = None) -> Simulation:
    arrays = build(load_design(path, overrides).design)
    simulation = Simulation(arrays, phases or steady(), duration_s, faults=fault_actions(faults, arrays))
    simulation.result = simulation.run()  # type: ignore[attr-defined]
    return simulation


# ---------------------------------------------------------------------- pure functions against hand calculations


def test_feed_current_by_hand() -> None:
    # 150 kW on 415 V three-phase at PF 0.99: 150000 / (1.7320508 × 415 × 0.99) = 210.79 A; 800 V DC: 187.5 A.
    assert float(feed_current_a(150e3, 415.0, "ac_3phase", 0.99)) == pytest.approx(210.79, abs=0.01)
    assert float(feed_current_a(150e3, 800.0, "dc")) == 187.5


def test_breaker_follows_the_iec_curves() -> None:
    # Very inverse, TMS 0.5, at twice the pickup: 0.5 × 13.5 / (2 − 1) = 6.75 s.
    assert float(breaker_trip_time_s(500.0, 250.0, "very_inverse", 0.5, 10.0)) == pytest.approx(6.75)
    # Standard inverse, TMS 1, at 10 × pickup (below a 20 × instantaneous): 0.14 / (10^0.02 − 1) = 2.971 s.
    assert float(breaker_trip_time_s(2500.0, 250.0, "standard_inverse", 1.0, 20.0)) == pytest.approx(2.9706, abs=1e-3)
    # Extremely inverse, TMS 1, at 3 × pickup: 80 / (9 − 1) = 10 s.
    assert float(breaker_trip_time_s(750.0, 250.0, "extremely_inverse", 1.0, 10.0)) == pytest.approx(10.0)
    times = breaker_trip_time_s(np.array([100.0, 250.0, 2500.0, 3000.0]), 250.0, "very_inverse", 0.5, 10.0)
    assert list(times) == [math.inf, math.inf, 0.0, 0.0]  # never at or below pickup; at once from 10 × pickup
    # More current never trips later.
    currents = np.linspace(260.0, 2400.0, 50)
    assert np.all(np.diff(breaker_trip_time_s(currents, 250.0, "very_inverse", 0.5, 10.0)) < 0)


def test_storage_times_and_energies_by_hand() -> None:
    # Constant 100 kW out of 1 MJ at 97 %: 1e6 × 0.97 / 1e5 = 9.7 s.
    assert float(storage_limit_time_s(1e5, 0.0, 1e6, 0.97)) == pytest.approx(9.7)
    # Charging at 10 kW into 50 kJ of room at 95 %: 50e3 / (0.95 × 1e4) = 5.263 s.
    assert float(storage_limit_time_s(-1e4, 0.0, 5e4, 0.95)) == pytest.approx(5.2632, abs=1e-4)
    # A 40 kW gap closing at 20 kW/s, 30 kJ of charge, ideal: 40e3·t − 10e3·t² = 30e3 → t = 1 s.
    assert float(storage_limit_time_s(4e4, -2e4, 3e4, 1.0)) == pytest.approx(1.0)
    # The same gap needs 40 kJ in all (area of the triangle); with 50 kJ the ramp finishes first.
    assert float(storage_limit_time_s(4e4, -2e4, 5e4, 1.0)) == math.inf
    # A subnormal recovery power (2.2e-311 W, found by the conservation property) takes forever, without a warning.
    assert float(storage_limit_time_s(-2.2e-311, 0.0, 1e3, 0.9)) == math.inf
    assert float(storage_energy_out_j(4e4, -2e4, 2.0, 1.0)) == pytest.approx(4e4)
    assert float(storage_energy_out_j(-4e4, 2e4, 2.0, 0.9)) == pytest.approx(-4e4 * 0.9)


# ---------------------------------------------------------------------- the engine


def test_bbu_ride_through_equals_stored_energy_over_load() -> None:
    # Lossless discharge, steady full load, every feed lost at 10 s and never back: the BBUs carry the
    # busbar's load D for E / D seconds, then the rack trips.
    simulation = simulate(GB200, 400.0, [Fault(kind="feed_loss", at_s=10.0)], ("power.bbu.discharge_efficiency=1",))
    load_w = float(simulation.state.supply.demand_w[0]) if simulation.state.plant.tripped[0] else math.nan
    trip_s = next(e.time_s for e in simulation.result.events if e.kind == "trip")
    energy_j = load_design(GB200).design.power.bbu.energy_j
    assert load_w == 0.0  # tripped: no load left
    busbar_load_w = simulate(GB200, 5.0, []).state.point.shelf_output_w[0]  # what the BBUs carry: full load
    assert trip_s - 10.0 == pytest.approx(energy_j / busbar_load_w, rel=0.01)
    assert simulation.result.integrals.battery_rack_s == pytest.approx(trip_s - 10.0)
    assert simulation.result.integrals.storage_net_energy_j == pytest.approx(energy_j, rel=1e-9)


def test_a_short_sag_rides_through_and_recharge_adds_feed_load() -> None:
    simulation = simulate(GB200, 200.0, [Fault(kind="feed_loss", at_s=10.0, duration_s=20.0)])
    result = simulation.result
    assert result.trips == 0
    series = result.series
    before = series["feed_power_w"][series["time_s"] < 10.0][-1]
    after = series["feed_power_w"][(series["time_s"] >= 30.0) & (series["time_s"] < 40.0)][0]
    # 20 kW of recharge at the busbar, through PSUs at ~95 %: about 21 kW more at the feed.
    assert after - before == pytest.approx(20e3 / 0.95, rel=0.05)
    assert series["feed_power_w"][(series["time_s"] > 10.0) & (series["time_s"] < 30.0)].max() == 0.0
    # The BBUs are full again by the end, so all they gave is back, plus their conversion losses.
    assert simulation.state.supply.bbu_energy_j[0] == pytest.approx(load_design(GB200).design.power.bbu.energy_j)
    assert result.integrals.storage_net_energy_j == pytest.approx(0.0, abs=1.0)
    assert result.integrals.loss_energy_j["bbu"] > 0


def test_breaker_on_the_remaining_feed_trips_along_its_curve() -> None:
    # Feed A lost at 10 s: feed B carries the whole rack. With a 100 A pickup (very inverse, TMS 0.5) it
    # trips after 0.5 × 13.5 / (I/100 − 1) s, then the BBUs carry the rack.
    overrides = ("power.feed.breaker.rating_a=100",)
    simulation = simulate(GB200, 60.0, [Fault(kind="feed_loss", at_s=10.0, feeds=["a"])], overrides)
    events = simulation.result.events
    breaker_s = next(e.time_s for e in events if e.kind == "breaker")
    feed_w = simulation.result.series["feed_power_w"][simulation.result.series["time_s"] >= 10.0][0]
    current_a = float(feed_current_a(feed_w, 415.0, "ac_3phase", 0.99))
    assert current_a > 100.0
    assert breaker_s - 10.0 == pytest.approx(0.5 * 13.5 / (current_a / 100.0 - 1.0), rel=1e-6)
    assert simulation.result.breaker_trips == 1
    assert not simulation.state.plant.feed_up[0].any()
    assert simulation.result.integrals.battery_rack_s > 0


def test_a_single_feed_design_trips_without_storage_when_its_feed_is_lost() -> None:
    simulation = simulate(VR, 60.0, [Fault(kind="feed_loss", at_s=10.0, duration_s=5.0, feeds=["a"])])
    assert simulation.result.trips == 1
    assert next(e.time_s for e in simulation.result.events if e.kind == "trip") == 10.0


def test_smoothing_storage_limits_the_feed_ramp() -> None:
    schedule = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=3, checkpoint_s=20.0)
    smoothed = simulate(GB300, 300.0, [], phases=schedule.phases())
    series = smoothed.result.series
    time_s, start_w, end_w = series["time_s"], series["feed_power_w"], series["feed_power_end_w"]
    slopes = (end_w[:-1] - start_w[:-1]) / np.diff(time_s)
    ramped = np.diff(time_s) > 0
    assert np.abs(slopes[ramped]).max() <= 20e3 * 1.05  # the PSUs' own loss curve bends the 20 kW/s a little
    with_storage = max_ramp_w_per_s(time_s, start_w, end_power_w=end_w)
    without = max_ramp_w_per_s(time_s, series["feed_power_unsmoothed_w"])
    assert with_storage < 0.75 * without
    no_storage = simulate(GB300, 300.0, [], ("power.smoothing.storage_energy_j=0",), phases=schedule.phases())
    assert max_ramp_w_per_s(no_storage.result.series["time_s"], no_storage.result.series["feed_power_w"]) \
        == pytest.approx(without, rel=0.01)  # the same swings; only fan speeds differ a little


# ---------------------------------------------------------------------- 800 V DC versus 50 V


def distribution_losses_w(path: Path, it_load_w: float) -> dict[str, float]:
    """Losses by stage of a design's chain when its trays draw `it_load_w` in all, shared equally, W."""
    arrays = build(load_design(path).design)
    trays = arrays.compute_tray_rack.size + arrays.switch_tray_rack.size
    losses = chain_losses_at_it_load(arrays.chain, trays, it_load_w, float(arrays.shelf_units[0]))
    return {name: float(loss[0]) for name, loss in losses.items()}


def test_chain_losses_at_an_it_load_by_hand() -> None:
    # vr-800vdc at 100 kW over 27 trays: each 800→12 V converter (12 kW rating) carries 3.704 kW, x = 0.3086,
    # η = 0.95 + (0.3086 − 0.2)/(0.5 − 0.2)·(0.975 − 0.95) = 0.95905; busbar: I from 800·I − I²·R = P_in.
    losses = distribution_losses_w(VR, 100e3)
    per_tray_w = 100e3 / 27
    efficiency = 0.95 + (per_tray_w / 12e3 - 0.2) / 0.3 * 0.025
    assert losses["dcdc_800v_to_12v"] == pytest.approx(27 * (per_tray_w / efficiency - per_tray_w), rel=1e-9)
    delivered_w = 100e3 + losses["dcdc_800v_to_12v"]
    current_a = (800 - math.sqrt(800**2 - 4 * 1.72e-4 * delivered_w)) / (2 * 1.72e-4)
    assert losses["busbar"] == pytest.approx(current_a**2 * 1.72e-4, rel=1e-9)


@pytest.mark.parametrize("it_load_w", [60e3, 100e3, 120e3])
def test_800v_dc_distributes_with_less_loss_than_50v_at_the_same_it_load(it_load_w: float) -> None:
    low_voltage, high_voltage = distribution_losses_w(GB200, it_load_w), distribution_losses_w(VR, it_load_w)
    # Busbar I²R: (P/V)²·R, so 50 V → 800 V cuts the current 16× and the loss ~256 × (R ratio 10 here) ≈ 25×.
    assert high_voltage["busbar"] < low_voltage["busbar"] / 20
    # Feed to the 12 V rails: AC PSUs + 50 V busbar + 50→12 V bricks against 800 V busbar + 800→12 V DC/DC.
    assert sum(high_voltage.values()) < sum(low_voltage.values())


def test_show_reports_feed_currents_and_ride_through_by_hand() -> None:
    loaded = load_design(GB200)
    figures = loaded.figures
    feed_w = figures["nameplate_feed_power_w"]
    one_feed_a = feed_w / (math.sqrt(3) * 415 * 0.99)
    assert figures["nameplate_current_on_one_feed_a"] == pytest.approx(one_feed_a)
    assert figures["nameplate_current_per_feed_a"] == pytest.approx(one_feed_a / 2)
    assert figures["breaker_trip_time_s_on_one_feed"] is None  # 181 A under the 250 A pickup: never
    bbu = loaded.design.power.bbu
    assert figures["bbu_ride_through_s_at_nameplate"] == pytest.approx(
        bbu.energy_j * bbu.discharge_efficiency / figures["psu_output_at_nameplate_w"], rel=1e-9)
