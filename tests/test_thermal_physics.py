"""Thermal physics checked against hand-computed numbers (arithmetic in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from racksim.physics import thermal

# --- coolant -------------------------------------------------------------------------------------------


def test_heat_capacity_rate_water() -> None:
    got = thermal.heat_capacity_rate_w_per_k(10.0, "water")
    # 10 L/min = 10 / 60000 m³/s = 1.6667e-4 m³/s; ṁ = 1.6667e-4 · 995.7 = 0.16595 kg/s
    # ṁ·c_p = 0.16595 · 4178 = 995.7 · 4178 / 6000 = 4160034.6 / 6000 = 693.3391 W/K
    assert got == pytest.approx(693.3391, rel=1e-9)


def test_heat_capacity_rate_pg25() -> None:
    got = thermal.heat_capacity_rate_w_per_k(np.array([10.0, 0.0, 60.0]), "pg25")
    expected = [
        668.1,  # 10/60000 · 1020 · 3930 = 4008600 / 6000 = 668.1 W/K
        0.0,  # no flow
        4008.6,  # 60/60000 · 1020 · 3930 = 0.001 · 4008600 = 4008.6 W/K
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_heat_capacity_rate_unknown_fluid() -> None:
    with pytest.raises(KeyError):
        thermal.heat_capacity_rate_w_per_k(10.0, "mercury")


def test_flow_scaled_resistance_at_reference_flow() -> None:
    # (2 / 2)^-0.8 = 1 → R0
    assert thermal.flow_scaled_resistance_k_per_w(0.02, 2.0, 2.0, 0.8) == pytest.approx(0.02, rel=1e-15)


def test_flow_scaled_resistance_double_and_half_flow() -> None:
    got = thermal.flow_scaled_resistance_k_per_w(0.02, np.array([4.0, 1.0]), 2.0, 0.8)
    expected = [
        0.0114869835,  # 0.02 · 2^-0.8 = 0.02 · 0.574349177 = 0.0114869835 K/W
        0.0348220225,  # 0.02 · 0.5^-0.8 = 0.02 · 1.741101127 = 0.0348220225 K/W
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-8)


def test_flow_scaled_resistance_zero_flow_is_inf_without_warning() -> None:
    # pytest turns warnings into errors, so a divide-by-zero RuntimeWarning would fail this test
    got = thermal.flow_scaled_resistance_k_per_w(np.array([0.02, 0.02]), np.array([0.0, 2.0]), 2.0, 0.8)
    assert np.isposinf(got[0])
    assert got[1] == pytest.approx(0.02, rel=1e-15)


def test_plate_inlet_two_loops_of_three() -> None:
    powers = np.array([1000.0, 2000.0, 1500.0, 700.0, 700.0, 1400.0])
    loop_start = np.array([0, 3], dtype=np.intp)
    loop_of_plate = np.array([0, 0, 0, 1, 1, 1], dtype=np.intp)
    capacity = np.array([500.0, 350.0])
    got = thermal.plate_inlet_temp_c(30.0, powers, loop_start, loop_of_plate, capacity)
    expected = [
        30.0,  # loop 0, plate 1: supply
        32.0,  # 30 + 1000 / 500 = 30 + 2 = 32 °C
        36.0,  # 30 + (1000 + 2000) / 500 = 30 + 6 = 36 °C
        30.0,  # loop 1, plate 1: supply (loop 0's 4500 W must not leak in)
        32.0,  # 30 + 700 / 350 = 30 + 2 = 32 °C
        34.0,  # 30 + (700 + 700) / 350 = 30 + 4 = 34 °C
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_plate_inlet_unequal_loops_and_per_plate_supply() -> None:
    powers = np.array([600.0, 400.0, 900.0, 300.0, 300.0, 300.0])
    loop_start = np.array([0, 2, 3], dtype=np.intp)  # loops of 2, 1 and 3 plates
    loop_of_plate = np.array([0, 0, 1, 2, 2, 2], dtype=np.intp)
    capacity = np.array([200.0, 100.0, 600.0])
    supply = np.array([25.0, 25.0, 40.0, 30.0, 30.0, 30.0])
    got = thermal.plate_inlet_temp_c(supply, powers, loop_start, loop_of_plate, capacity)
    expected = [
        25.0,  # supply
        28.0,  # 25 + 600 / 200 = 28 °C
        40.0,  # single-plate loop: supply
        30.0,  # supply
        30.5,  # 30 + 300 / 600 = 30.5 °C
        31.0,  # 30 + 600 / 600 = 31 °C
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --- die node ------------------------------------------------------------------------------------------


def test_steady_state_temperature() -> None:
    got = thermal.steady_state_temp_c(np.array([30.0, 45.0]), np.array([1000.0, 0.0]), 0.06)
    # 30 + 1000 · 0.06 = 30 + 60 = 90 °C; no power → coolant 45 °C
    np.testing.assert_allclose(got, [90.0, 45.0], rtol=1e-15)


def test_rc_temperature_start_tau_and_long_time() -> None:
    assert thermal.rc_temperature_c(40.0, 90.0, 14.0, 0.0) == pytest.approx(40.0, rel=1e-15)  # e^0 = 1 → T0
    # t = τ: 90 + (40 − 90) / e = 90 − 50 / 2.7182818 = 90 − 18.3939721 = 71.6060279 °C
    assert thermal.rc_temperature_c(40.0, 90.0, 14.0, 14.0) == pytest.approx(71.6060279, rel=1e-9)
    # t = 50τ: 50 · e^-50 ≈ 1e-20 → 90 °C
    assert thermal.rc_temperature_c(40.0, 90.0, 14.0, 700.0) == pytest.approx(90.0, rel=1e-15)


def test_rc_temperature_cooling_and_broadcast() -> None:
    temp0, temp_ss, tau = np.array([90.0, 40.0]), np.array([40.0, 90.0]), np.array([10.0, 14.0])
    got = thermal.rc_temperature_c(temp0, temp_ss, tau, 10.0)
    expected = [
        58.3939721,  # cooling, t = τ: 40 + (90 − 40) / e = 40 + 18.3939721 = 58.3939721 °C
        65.5229170,  # heating, t = 10, τ = 14: e^(−10/14) = 0.489541660; 90 − 50 · 0.48954166 = 65.522917
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_rc_mean_temperature_hand_value() -> None:
    got = thermal.rc_mean_temperature_c(40.0, 90.0, 14.0, 20.0)
    # e^(−20/14) = e^(−1.4285714) = 0.2396510; τ/t = 14/20 = 0.7
    # 90 + (40 − 90) · 0.7 · (1 − 0.2396510) = 90 − 50 · 0.7 · 0.7603490 = 90 − 26.6122137 = 63.3877863 °C
    assert got == pytest.approx(63.3877863, rel=1e-9)


def test_rc_mean_temperature_matches_numerical_average() -> None:
    t = np.linspace(0.0, 20.0, 100_001)
    samples = thermal.rc_temperature_c(40.0, 90.0, 14.0, t)  # type: ignore[arg-type]
    numerical = np.trapezoid(samples, t) / 20.0
    assert thermal.rc_mean_temperature_c(40.0, 90.0, 14.0, 20.0) == pytest.approx(numerical, rel=1e-6)


def test_rc_mean_temperature_limits() -> None:
    # t = 0: the average over an empty interval is T0
    np.testing.assert_allclose(thermal.rc_mean_temperature_c([40.0, 70.0], 90.0, 14.0, 0.0), [40.0, 70.0])
    # t ≪ τ: average ≈ T0; t ≫ τ: average → T_ss + (T0 − T_ss)·τ/t = 90 − 50 · 14 / 14000 = 89.95 °C
    assert thermal.rc_mean_temperature_c(40.0, 90.0, 14.0, 1e-9) == pytest.approx(40.0, rel=1e-9)
    assert thermal.rc_mean_temperature_c(40.0, 90.0, 14.0, 14_000.0) == pytest.approx(89.95, rel=1e-12)


def test_rc_crossing_time_heating() -> None:
    got = thermal.rc_crossing_time_s(40.0, 90.0, 14.0, 87.0)
    # t = 14 · ln((40 − 90) / (87 − 90)) = 14 · ln(50 / 3) = 14 · 2.8134107 = 39.3877500 s
    assert got == pytest.approx(39.38775, rel=1e-7)
    assert thermal.rc_temperature_c(40.0, 90.0, 14.0, float(got)) == pytest.approx(87.0, abs=1e-9)


def test_rc_crossing_time_cooling() -> None:
    got = thermal.rc_crossing_time_s(90.0, 40.0, 10.0, 50.0)
    # t = 10 · ln((90 − 40) / (50 − 40)) = 10 · ln 5 = 10 · 1.6094379 = 16.094379 s
    assert got == pytest.approx(16.094379, rel=1e-7)
    assert thermal.rc_temperature_c(90.0, 40.0, 10.0, float(got)) == pytest.approx(50.0, abs=1e-9)


def test_rc_crossing_time_unreachable_thresholds() -> None:
    # heating 40 → 90: threshold 95 is beyond T_ss, threshold 90 is only approached asymptotically,
    # threshold 35 was already passed (the temperature moves away from it)
    got = thermal.rc_crossing_time_s(40.0, 90.0, 14.0, np.array([95.0, 90.0, 35.0]))
    assert np.isposinf(got).all()
    # cooling 90 → 40: threshold 30 is beyond T_ss, threshold 95 already passed
    got = thermal.rc_crossing_time_s(90.0, 40.0, 10.0, np.array([30.0, 95.0]))
    assert np.isposinf(got).all()
    # already at steady state: never moves
    assert np.isposinf(thermal.rc_crossing_time_s(60.0, 60.0, 10.0, 70.0))


def test_rc_crossing_time_at_threshold_is_zero() -> None:
    # T0 = threshold while heading toward T_ss: ln(50 / 50) = 0 s
    assert thermal.rc_crossing_time_s(40.0, 90.0, 14.0, 40.0) == 0.0


def test_rc_crossing_time_arrays_mixing_cases() -> None:
    temp0 = np.array([40.0, 90.0, 40.0, 40.0, 90.0, 40.0])
    temp_ss = np.array([90.0, 40.0, 90.0, 90.0, 40.0, 90.0])
    tau = np.array([14.0, 10.0, 14.0, 14.0, 10.0, 20.0])
    threshold = np.array([87.0, 50.0, 95.0, 35.0, 95.0, 65.0])
    got = thermal.rc_crossing_time_s(temp0, temp_ss, tau, threshold)
    expected = [
        39.38775,  # 14 · ln(50 / 3)
        16.094379,  # 10 · ln(50 / 10)
        math.inf,  # beyond T_ss
        math.inf,  # already past (heating away from 35)
        math.inf,  # already past (cooling away from 95)
        13.862944,  # 20 · ln((40 − 90) / (65 − 90)) = 20 · ln 2 = 20 · 0.6931472 = 13.862944 s
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-7)
