"""Power physics checked against hand-computed numbers (arithmetic in the comments) and conservation laws."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from racksim.physics import power
from racksim.physics.power import ConverterStage, PowerChain

# A three-point converter curve used by the efficiency and converter tests.
CURVE_LOAD = np.array([0.2, 0.5, 1.0])
CURVE_EFF = np.array([0.90, 0.95, 0.97])


def flat_stage(name: str, efficiency: float, rating_w: float = 5000.0) -> ConverterStage:
    return ConverterStage(name=name, unit_rating_w=rating_w, curve_load=np.array([0.1, 1.0]),
                          curve_efficiency=np.array([efficiency, efficiency]))


# --- utilization_power_w -------------------------------------------------------------------------------


def test_utilization_power_idle_full_mid() -> None:
    got = power.utilization_power_w([0.0, 1.0, 0.5, 0.25], 100.0, 700.0)
    expected = [
        100.0,  # u = 0 → idle 100 W
        700.0,  # u = 1 → max 700 W
        400.0,  # 100 + 0.5 · (700 − 100) = 100 + 300 = 400 W
        250.0,  # 100 + 0.25 · 600 = 100 + 150 = 250 W
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_utilization_power_clips_utilization() -> None:
    got = power.utilization_power_w([-0.3, 1.7, -np.inf, np.inf], 100.0, 700.0)
    # u < 0 clips to 0 → 100 W; u > 1 clips to 1 → 700 W
    np.testing.assert_array_equal(got, [100.0, 700.0, 100.0, 700.0])


def test_utilization_power_broadcasts() -> None:
    u = np.array([[0.0], [0.5], [1.0]])  # shape (3, 1)
    idle = np.array([100.0, 50.0])  # shape (2,)
    peak = np.array([700.0, 1050.0])
    got = power.utilization_power_w(u, idle, peak)
    assert got.shape == (3, 2)
    expected = [
        [100.0, 50.0],  # idle
        [400.0, 550.0],  # 100 + 0.5·600 = 400;  50 + 0.5·1000 = 550
        [700.0, 1050.0],  # max
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert got.dtype == np.float64


# --- capped_power_w / throughput_fraction --------------------------------------------------------------


def test_capped_power() -> None:
    got = power.capped_power_w([500.0, 1200.0, 700.0], 700.0)
    # min(500, 700) = 500; min(1200, 700) = 700; min(700, 700) = 700
    np.testing.assert_array_equal(got, [500.0, 700.0, 700.0])
    per_chip_caps = power.capped_power_w(1000.0, [800.0, 1500.0])
    np.testing.assert_array_equal(per_chip_caps, [800.0, 1000.0])


def test_throughput_fraction_cube_root_example() -> None:
    got = power.throughput_fraction(1200.0, 700.0, 200.0, 1.0 / 3.0)
    # ((700 − 200) / (1200 − 200))^(1/3) = (500 / 1000)^(1/3) = 0.5^(1/3) = 0.793700526
    assert got == pytest.approx(0.793700526, rel=1e-9)


def test_throughput_fraction_linear_exponent() -> None:
    # k = 1: (500 / 1000)^1 = 0.5
    assert power.throughput_fraction(1200.0, 700.0, 200.0, 1.0) == pytest.approx(0.5, rel=1e-15)


def test_throughput_fraction_uncapped_and_idle_cases() -> None:
    demand = np.array([1200.0, 1200.0, 200.0, 200.0, 1200.0])
    allowed = np.array([1500.0, 1200.0, 150.0, 700.0, 100.0])
    got = power.throughput_fraction(demand, allowed, 200.0, 1.0 / 3.0)
    expected = [
        1.0,  # allowed 1500 ≥ demand 1200: no cap → 1
        1.0,  # allowed = demand: (1000/1000)^(1/3) = 1
        1.0,  # demand at idle: no dynamic power to lose → 1
        1.0,  # demand at idle, allowed above → 1
        0.0,  # allowed 100 < idle 200: ratio (−100/1000) clips to 0 → 0
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0.0)


# --- interpolated_efficiency ---------------------------------------------------------------------------


def test_efficiency_on_curve_points() -> None:
    got = power.interpolated_efficiency([0.2, 0.5, 1.0], CURVE_LOAD, CURVE_EFF)
    np.testing.assert_allclose(got, [0.90, 0.95, 0.97], rtol=1e-15)


def test_efficiency_midway_between_points() -> None:
    got = power.interpolated_efficiency([0.35, 0.75, 0.275], CURVE_LOAD, CURVE_EFF)
    expected = [
        0.925,  # midway 0.2..0.5: (0.90 + 0.95) / 2 = 0.925
        0.96,  # midway 0.5..1.0: (0.95 + 0.97) / 2 = 0.96
        0.9125,  # a quarter of 0.2..0.5: 0.90 + 0.25 · 0.05 = 0.9125
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_efficiency_clamped_outside_curve() -> None:
    got = power.interpolated_efficiency([0.0, 0.05, 1.5, np.inf], CURVE_LOAD, CURVE_EFF)
    # below 0.2 → first point 0.90; above 1.0 → last point 0.97
    np.testing.assert_allclose(got, [0.90, 0.90, 0.97, 0.97], rtol=1e-15)


# --- converter_input_w ---------------------------------------------------------------------------------


def test_converter_single_unit() -> None:
    got = power.converter_input_w([1500.0, 2250.0], 1, 3000.0, CURVE_LOAD, CURVE_EFF)
    expected = [
        1578.947368,  # x = 1500 / 3000 = 0.5 → η = 0.95; 1500 / 0.95 = 1578.947 W
        2343.75,  # x = 2250 / 3000 = 0.75 → η = 0.96; 2250 / 0.96 = 2343.75 W
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_converter_units_sharing_lands_on_curve_point() -> None:
    got = power.converter_input_w([6000.0, 6000.0, 6000.0], [4, 2, 10], 3000.0, CURVE_LOAD, CURVE_EFF)
    expected = [
        6315.789474,  # x = 6000 / (4 · 3000) = 0.5 → η 0.95; 6000 / 0.95 = 6315.789 W
        6185.567010,  # x = 6000 / (2 · 3000) = 1.0 → η 0.97; 6000 / 0.97 = 6185.567 W
        6666.666667,  # x = 6000 / (10 · 3000) = 0.2 → η 0.90; 6000 / 0.90 = 6666.667 W
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_converter_zero_output_is_zero() -> None:
    got = power.converter_input_w([0.0, 0.0], [4, 0], 3000.0, CURVE_LOAD, CURVE_EFF)
    np.testing.assert_array_equal(got, [0.0, 0.0])  # no load → no input, with or without healthy units


def test_converter_no_healthy_unit_with_load_is_infinite() -> None:
    got = power.converter_input_w([6000.0], [0], 3000.0, CURVE_LOAD, CURVE_EFF)
    # docstring: "A group with no healthy unit (n = 0) and a positive load has infinite input"
    assert np.isposinf(got).all()


# --- busbar --------------------------------------------------------------------------------------------


def test_busbar_hand_example() -> None:
    current = power.busbar_current_a(10_000.0, 50.0, 1e-3)
    # disc = 50² − 4 · 1e-3 · 10000 = 2500 − 40 = 2460; √2460 = 49.598387070549
    # I = (50 − 49.598387070549) / (2 · 1e-3) = 0.401612929451 / 0.002 = 200.8064647 A
    assert current == pytest.approx(200.8064647, rel=1e-9)
    loss = power.busbar_loss_w(current, 1e-3)
    # I²R = 200.8064647² · 1e-3 = 40323.236 · 1e-3 = 40.323236 W
    assert loss == pytest.approx(40.323236, rel=1e-7)
    # V·I − I²R = 50 · 200.8064647 − 40.323236 = 10040.323 − 40.323 = 10000 W delivered
    assert 50.0 * current - loss == pytest.approx(10_000.0, rel=1e-12)


def test_busbar_zero_power_zero_current() -> None:
    assert power.busbar_current_a(0.0, 50.0, 1e-3) == 0.0


def test_busbar_beyond_max_power_transfer_is_nan() -> None:
    # P_max = V² / (4R) = 2500 / 0.004 = 625000 W
    got = power.busbar_current_a([625_001.0, 1e7, 10_000.0], 50.0, 1e-3)
    assert np.isnan(got[0])
    assert np.isnan(got[1])
    assert got[2] == pytest.approx(200.8064647, rel=1e-9)


def test_busbar_at_max_power_transfer() -> None:
    # disc = 2500 − 4 · 1e-3 · 625000 = 0 → I = V / (2R) = 50 / 0.002 = 25000 A
    assert power.busbar_current_a(625_000.0, 50.0, 1e-3) == pytest.approx(25_000.0, rel=1e-12)


def test_busbar_tiny_resistance_has_no_cancellation() -> None:
    # With x = R·P / V², I = (P/V) · (1 + x + 2x² + …). The naive (V − √disc)/(2R) subtracts two numbers
    # equal to ~8 digits here and would be off by ~1e-7 relative.
    current = power.busbar_current_a([1_000.0, 10_000.0], 50.0, 1e-9)
    # P = 1 kW: x = 1e-9 · 1000 / 2500 = 4e-10 → I = 1000 / 50 = 20 A within 1e-9 relative
    assert current[0] == pytest.approx(20.0, rel=1e-9)
    # P = 10 kW: x = 1e-9 · 10000 / 2500 = 4e-9 → I = 200 · (1 + 4e-9) = 200.0000008 A (2x² ≈ 3e-17 ignored)
    assert current[1] == pytest.approx(200.0000008, rel=1e-12)
    assert 50.0 * current[1] - power.busbar_loss_w(current[1], 1e-9) == pytest.approx(10_000.0, rel=1e-12)


def test_busbar_broadcasts_and_balances() -> None:
    delivered = np.array([[1_000.0, 5_000.0], [20_000.0, 100_000.0]])
    current = power.busbar_current_a(delivered, 48.0, 2e-4)
    assert current.shape == (2, 2)
    np.testing.assert_allclose(48.0 * current - power.busbar_loss_w(current, 2e-4), delivered, rtol=1e-12)


# --- solve_chain ---------------------------------------------------------------------------------------


def hand_chain(with_shelf: bool = True) -> PowerChain:
    """Tray stage flat 0.95, busbar 50 V / 1 mΩ, shelves flat 0.96."""
    return PowerChain(
        tray_stages=(flat_stage("tray_dcdc", 0.95),),
        busbar_voltage_v=50.0,
        busbar_resistance_ohm=1e-3,
        shelf_stage=flat_stage("shelf", 0.96, rating_w=5500.0) if with_shelf else None,
    )


# Two racks, three trays: rack 0 has trays of 1900 W and 2375 W and 490 W on the busbar;
# rack 1 has one 4750 W tray and 2477.5 W on the busbar.
TRAY_LOAD = np.array([1900.0, 2375.0, 4750.0])
TRAY_RACK = np.array([0, 0, 1], dtype=np.intp)
BUS_LOAD = np.array([490.0, 2477.5])
HEALTHY = np.array([6.0, 6.0])


def test_solve_chain_hand_computed() -> None:
    flow = power.solve_chain(hand_chain(), TRAY_LOAD, TRAY_RACK, BUS_LOAD, HEALTHY)
    # Rack 0: trays 1900 / 0.95 = 2000 W and 2375 / 0.95 = 2500 W → tray loss 100 + 125 = 225 W
    #   delivered = 2000 + 2500 + 490 = 4990 W
    #   I = (50 − √(2500 − 4·1e-3·4990)) / 0.002 = (50 − √2480.04) / 0.002 = (50 − 49.8) / 0.002 = 100 A
    #   busbar loss = 100² · 1e-3 = 10 W; source = 4990 + 10 = 5000 W
    #   feed = 5000 / 0.96 = 5208.3333 W; shelf loss = 208.3333 W; IT = 1900 + 2375 + 490 = 4765 W
    # Rack 1: tray 4750 / 0.95 = 5000 W → tray loss 250 W; delivered = 5000 + 2477.5 = 7477.5 W
    #   I = (50 − √(2500 − 4·1e-3·7477.5)) / 0.002 = (50 − √2470.09) / 0.002 = (50 − 49.7) / 0.002 = 150 A
    #   busbar loss = 150² · 1e-3 = 22.5 W; source = 7500 W
    #   feed = 7500 / 0.96 = 7812.5 W; shelf loss = 312.5 W; IT = 4750 + 2477.5 = 7227.5 W
    np.testing.assert_allclose(flow.it_w, [4765.0, 7227.5], rtol=1e-12)
    np.testing.assert_allclose(flow.busbar_current_a, [100.0, 150.0], rtol=1e-9)
    np.testing.assert_allclose(flow.loss_w_by_stage["tray_dcdc"], [225.0, 250.0], rtol=1e-9)
    np.testing.assert_allclose(flow.loss_w_by_stage["busbar"], [10.0, 22.5], rtol=1e-9)
    np.testing.assert_allclose(flow.loss_w_by_stage["shelf"], [208.333333333, 312.5], rtol=1e-9)
    np.testing.assert_allclose(flow.feed_w, [5208.333333333, 7812.5], rtol=1e-9)
    # per tray: 2000 − 1900 = 100, 2500 − 2375 = 125, 5000 − 4750 = 250 W
    np.testing.assert_allclose(flow.tray_conversion_loss_w, [100.0, 125.0, 250.0], rtol=1e-9)
    # 4765 + 225 + 10 + 208.333 = 5208.333;  7227.5 + 250 + 22.5 + 312.5 = 7812.5
    total = flow.it_w + sum(flow.loss_w_by_stage.values())
    np.testing.assert_allclose(total, flow.feed_w, rtol=1e-12)


def test_solve_chain_loss_keys_in_feed_to_chip_order() -> None:
    chain = PowerChain(
        tray_stages=(flat_stage("tray_48_12", 0.96), flat_stage("vrm", 0.98)),  # busbar side first
        busbar_voltage_v=50.0,
        busbar_resistance_ohm=1e-3,
        shelf_stage=flat_stage("shelf", 0.96, rating_w=5500.0),
    )
    assert chain.stage_names == ("shelf", "busbar", "tray_48_12", "vrm")
    flow = power.solve_chain(chain, np.array([980.0]), np.array([0], dtype=np.intp), np.array([0.0]),
                             np.array([2.0]))
    assert tuple(flow.loss_w_by_stage) == chain.stage_names
    # VRM: 980 / 0.98 = 1000 W (loss 20 W); 48→12: 1000 / 0.96 = 1041.6667 W (loss 41.6667 W)
    np.testing.assert_allclose(flow.loss_w_by_stage["vrm"], [20.0], rtol=1e-9)
    np.testing.assert_allclose(flow.loss_w_by_stage["tray_48_12"], [41.6666667], rtol=1e-8)
    # all tray stages of the tray: 1041.6667 − 980 = 61.6667 W
    np.testing.assert_allclose(flow.tray_conversion_loss_w, [61.6666667], rtol=1e-8)
    np.testing.assert_allclose(flow.it_w + sum(flow.loss_w_by_stage.values()), flow.feed_w, rtol=1e-12)


def test_solve_chain_without_shelves() -> None:
    chain = hand_chain(with_shelf=False)
    assert chain.stage_names == ("busbar", "tray_dcdc")
    flow = power.solve_chain(chain, TRAY_LOAD, TRAY_RACK, BUS_LOAD, HEALTHY)
    assert tuple(flow.loss_w_by_stage) == ("busbar", "tray_dcdc")
    # feed = busbar source = delivered + I²R: 4990 + 10 = 5000 W; 7477.5 + 22.5 = 7500 W
    np.testing.assert_allclose(flow.feed_w, [5000.0, 7500.0], rtol=1e-9)
    np.testing.assert_allclose(flow.it_w + sum(flow.loss_w_by_stage.values()), flow.feed_w, rtol=1e-12)


def test_solve_chain_rack_without_trays() -> None:
    # rack 1 has no trays: only its 2477.5 W bus load crosses the busbar
    flow = power.solve_chain(hand_chain(), TRAY_LOAD[:2], TRAY_RACK[:2], BUS_LOAD, HEALTHY)
    assert flow.loss_w_by_stage["tray_dcdc"][1] == 0.0
    # I = (50 − √(2500 − 4·1e-3·2477.5)) / 0.002 = (50 − √2490.09) / 0.002 = (50 − 49.9008016) / 0.002
    #   = 49.599202 A; loss = 49.599202² · 1e-3 = 2.460081 W; feed = (2477.5 + 2.460081) / 0.96 = 2583.29175 W
    assert flow.busbar_current_a[1] == pytest.approx(49.599202, rel=1e-7)
    assert flow.loss_w_by_stage["busbar"][1] == pytest.approx(2.460081, rel=1e-6)
    assert flow.feed_w[1] == pytest.approx(2583.29175, rel=1e-8)
    np.testing.assert_allclose(flow.it_w + sum(flow.loss_w_by_stage.values()), flow.feed_w, rtol=1e-12)


# --- energy balance property ---------------------------------------------------------------------------

efficiency = st.floats(0.8, 0.99)


@st.composite
def converter_stages(draw: st.DrawFn, name: str) -> ConverterStage:
    rating = draw(st.floats(500.0, 30_000.0))
    if draw(st.booleans()):
        eta = draw(efficiency)
        return ConverterStage(name, rating, np.array([0.1, 1.0]), np.array([eta, eta]))
    etas = draw(st.lists(efficiency, min_size=4, max_size=4))
    return ConverterStage(name, rating, np.array([0.1, 0.3, 0.6, 1.0]), np.array(etas))


ChainCase = tuple[PowerChain, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@st.composite
def chain_cases(draw: st.DrawFn) -> ChainCase:
    n_stages = draw(st.integers(1, 2))
    chain = PowerChain(
        tray_stages=tuple(draw(converter_stages(f"tray{i}")) for i in range(n_stages)),
        busbar_voltage_v=50.0,
        busbar_resistance_ohm=draw(st.floats(1e-6, 1e-3)),
        shelf_stage=draw(converter_stages("shelf")) if draw(st.booleans()) else None,
    )
    n_racks = draw(st.integers(1, 3))
    n_trays = draw(st.integers(0, 8))
    tray_load = np.array(draw(st.lists(st.floats(0.0, 20_000.0), min_size=n_trays, max_size=n_trays)))
    tray_rack = np.array(draw(st.lists(st.integers(0, n_racks - 1), min_size=n_trays, max_size=n_trays)),
                         dtype=np.intp)
    bus_load = np.array(draw(st.lists(st.floats(0.0, 5_000.0), min_size=n_racks, max_size=n_racks)))
    healthy = np.array(draw(st.lists(st.integers(1, 48), min_size=n_racks, max_size=n_racks)), dtype=float)
    return chain, tray_load.astype(float), tray_rack, bus_load, healthy


@settings(max_examples=60, deadline=None)
@given(chain_cases())
def test_solve_chain_energy_balance(case: ChainCase) -> None:
    chain, tray_load, tray_rack, bus_load, healthy = case
    flow = power.solve_chain(chain, tray_load, tray_rack, bus_load, healthy)
    assert tuple(flow.loss_w_by_stage) == chain.stage_names
    assert np.isfinite(flow.feed_w).all()
    total = flow.it_w + sum(flow.loss_w_by_stage.values())
    np.testing.assert_allclose(total, flow.feed_w, rtol=1e-9, atol=0.0)
    for name, loss in flow.loss_w_by_stage.items():
        assert (loss >= 0.0).all(), name
    assert (flow.tray_conversion_loss_w >= 0.0).all()
    # IT is the chip-side tray load plus the bus loads of each rack
    it_expected = np.bincount(tray_rack, tray_load, len(bus_load)) + bus_load
    np.testing.assert_allclose(flow.it_w, it_expected, rtol=1e-12)
