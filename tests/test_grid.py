"""The hall's feed power as the grid sees it (racksim.physics.grid): waveforms, swing metrics and storage by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from racksim.physics.grid import (
    JobWaveform,
    Store,
    band_energy_share,
    hall_feed_power_w,
    max_ramp_w_per_s,
    overhead_j,
    power_spectrum,
    ramp_limited_storage,
    swing,
    with_facility_battery,
    with_rack_storage,
    within_limits,
)
from racksim.physics.hall_power import HallPowerChain, hall_input_w

STEP_S = 0.01
T_S = np.arange(0.0, 20.0, STEP_S)
HIGH_W, LOW_W = 120e3, 40e3


def square_job(racks: int, row: int = 0, offset_s: float = 0.0) -> JobWaveform:
    """A job of `racks` racks in `row` alternating 0.5 s at HIGH_W and 0.5 s at LOW_W per rack (1 Hz)."""
    return JobWaveform(rack_row=np.full(racks, row, dtype=np.intp), phase_duration_s=np.array([0.5, 0.5]),
                       rack_feed_power_w=np.array([HIGH_W, LOW_W]), offset_s=offset_s)


def test_waveform_phases_and_offsets() -> None:
    """The phase in force at (t + offset) mod cycle; the cycle mean is time-weighted."""
    job = JobWaveform(np.zeros(1, dtype=np.intp), np.array([1.0, 3.0]), np.array([10.0, 2.0]), offset_s=0.5)
    assert job.rack_power_w(np.array([0.0, 0.49, 0.5, 3.49, 3.5, 4.0])).tolist() == [10.0, 10.0, 2.0, 2.0, 10.0,
                                                                                      10.0]
    assert job.mean_rack_power_w() == pytest.approx((10.0 + 6.0) / 4.0)


def test_one_job_aligned_and_two_jobs_in_antiphase() -> None:
    """A job's racks draw together (n × the rack); two like jobs half a cycle apart leave the feed flat."""
    chain = HallPowerChain.lossless(2)
    idle = np.array([0.0, 5e3])
    one = hall_feed_power_w(T_S, [square_job(3)], idle, chain)
    assert set(np.unique(one)) == {3 * HIGH_W + 5e3, 3 * LOW_W + 5e3}
    two = hall_feed_power_w(T_S, [square_job(3), square_job(3, row=1, offset_s=0.5)], idle, chain)
    assert np.ptp(two) == pytest.approx(0.0, abs=1e-6)
    assert two[0] == pytest.approx(3 * (HIGH_W + LOW_W) + 5e3)


def test_feed_goes_through_the_row_feeders_and_ups() -> None:
    """The hall's feed is the rows' load plus the chain's losses, sample by sample."""
    chain = HallPowerChain(n_rows=1, feeder_resistance_ohm=np.full(1, 1e-3), feeder_voltage_v=415.0,
                           ups_capacity_w=1e6, ups_load_fraction=np.array([0.1, 1.0]),
                           ups_efficiency=np.array([0.9, 0.97]))
    feed = hall_feed_power_w(T_S[:100], [square_job(4)], np.zeros(1), chain)
    assert feed[0] == pytest.approx(float(hall_input_w(chain, np.array([4 * HIGH_W]))))
    assert feed[60] == pytest.approx(float(hall_input_w(chain, np.array([4 * LOW_W]))))


def test_square_wave_spectrum_has_its_fundamental_and_odd_harmonics() -> None:
    """A 1 Hz square wave of swing A: energy at 1, 3, 5 … Hz only, none at even harmonics.

    Sampled N = 100 times a period, harmonic k's share is sin⁻²(πk/N) / Σ_{odd j < N/2} sin⁻²(πj/N) exactly (the
    DFT of N/2 ones), which tends to the continuous square wave's 8/(π² k²). Parseval: the one-sided density sums
    to the variance (A/2)².
    """
    power = hall_feed_power_w(T_S, [square_job(1)], np.zeros(1), HallPowerChain.lossless(1))
    freq_hz, density = power_spectrum(power, STEP_S)
    delta_f = freq_hz[1]
    assert density.sum() * delta_f == pytest.approx(((HIGH_W - LOW_W) / 2) ** 2, rel=1e-12)
    share = density / density[1:].sum()
    at = {round(f, 6): s for f, s in zip(freq_hz, share, strict=True)}
    odd = np.arange(1, 50, 2)
    sampled = 1 / np.sin(np.pi * odd / 100) ** 2
    for k in (1, 3, 5, 7):
        assert at[float(k)] == pytest.approx(sampled[k // 2] / sampled.sum(), rel=1e-9)
        assert at[float(k)] == pytest.approx(8 / (math.pi**2 * k**2), rel=2e-2)  # 1.7 % off at k = 7
    for k in (2, 4, 6):
        assert at[float(k)] == pytest.approx(0.0, abs=1e-20)
    expected = sampled[odd < 20].sum() / sampled.sum()
    assert band_energy_share(freq_hz, density, (0.1, 20.0)) == pytest.approx(expected, rel=1e-9)
    assert band_energy_share(freq_hz, density, (0.5, 1.5)) == pytest.approx(8 / math.pi**2, rel=2e-3)


def test_swing_metrics_by_hand() -> None:
    """Peak-to-trough 80 kW; a step of 80 kW is 8 MW/s over one 10 ms sample, 0.8 MW/s over 0.1 s."""
    power = hall_feed_power_w(T_S, [square_job(1)], np.zeros(1), HallPowerChain.lossless(1))
    result = swing(power, STEP_S, STEP_S, (0.1, 20.0))
    assert result.peak_to_trough_w == HIGH_W - LOW_W
    assert result.max_ramp_w_per_s == pytest.approx((HIGH_W - LOW_W) / STEP_S)
    assert max_ramp_w_per_s(power, STEP_S, 0.1) == pytest.approx((HIGH_W - LOW_W) / 0.1)
    assert result.energy_j == pytest.approx(20.0 * (HIGH_W + LOW_W) / 2)
    assert within_limits(result, 1e6, 1e5, None) == {"ramp": False, "peak_to_trough": True}
    assert swing(np.full(50, 3.0), STEP_S, STEP_S, (0.1, 20.0)).band_energy_share == 0.0


def test_storage_honours_its_ramp_and_conserves_energy() -> None:
    """Source steps ≤ r Δt; Σ (source − load) Δt = Δ stored + loss, the loss (1/η − 1) out and (1 − η) in."""
    load = np.column_stack([np.where((T_S % 1.0) < 0.5, HIGH_W, LOW_W), np.full(T_S.size, 50e3)])
    store = Store(capacity_j=1e6, ramp_up_w_per_s=100e3, ramp_down_w_per_s=100e3, efficiency=0.95, recovery_w=1e3)
    stored = ramp_limited_storage(load, STEP_S, store)
    steps = np.diff(stored.source_w[:, 0])
    assert np.abs(steps).max() <= 100e3 * STEP_S * (1 + 1e-9)
    assert np.abs(steps).max() > 0.99 * 100e3 * STEP_S  # the ramp limit is what holds it
    drawn_j = (stored.source_w - load).sum(axis=0) * STEP_S
    np.testing.assert_allclose(drawn_j, stored.stored_change_j + stored.loss_j, rtol=1e-9, atol=1e-6)
    assert stored.loss_j[0] > 0
    assert stored.loss_j[1] == 0.0  # a steady load: nothing to cover
    assert stored.energy_j.min() >= -1e-6
    assert stored.energy_j.max() <= 1e6 + 1e-6


def test_an_empty_store_hands_the_load_back_to_the_source() -> None:
    """A tiny store cannot hold a ramp: once empty the source meets the load."""
    load = np.concatenate([np.full(10, LOW_W), np.full(200, HIGH_W)])[:, None]
    stored = ramp_limited_storage(load, STEP_S, Store(capacity_j=500.0, ramp_up_w_per_s=1e3, ramp_down_w_per_s=1e3))
    assert stored.energy_j[-1, 0] == pytest.approx(0.0, abs=1e-9)
    assert stored.source_w[-1, 0] == pytest.approx(HIGH_W)


def test_facility_battery_flattens_the_feed_at_its_round_trip_cost() -> None:
    """A battery ramping the feed at 10 kW/s over a 1 Hz, 80 kW swing: the feed swings less, the overhead is its
    loss (both ways at η = √0.85), positive and a few percent of what it moves."""
    power = hall_feed_power_w(T_S, [square_job(1)], np.zeros(1), HallPowerChain.lossless(1))
    eta = math.sqrt(0.85)
    store = Store(capacity_j=5e5, ramp_up_w_per_s=10e3, ramp_down_w_per_s=10e3, efficiency=eta, max_power_w=1e5,
                  recovery_w=1e3)
    feed, change_j = with_facility_battery(power, STEP_S, store)
    stored = ramp_limited_storage(power[:, None], STEP_S, store)
    assert overhead_j(power, feed, STEP_S, change_j) == pytest.approx(float(stored.loss_j[0]), rel=1e-9)
    assert np.ptp(feed) < 0.2 * np.ptp(power)
    assert max_ramp_w_per_s(feed, STEP_S, STEP_S) <= 10e3 * (1 + 1e-9)  # the grid sees the ramp limit
    moved_j = float(np.abs(power - feed).sum()) * STEP_S
    assert 0 < stored.loss_j[0] < 0.1 * moved_j


def test_rack_storage_and_power_floor_at_the_hall() -> None:
    """Per-rack stores smooth each job's racks alike; a floor raises the low phases and costs their energy."""
    chain, idle = HallPowerChain.lossless(2), np.array([0.0, 0.0])
    jobs = [square_job(3), square_job(2, row=1, offset_s=0.25)]
    base = hall_feed_power_w(T_S, jobs, idle, chain)
    store = Store(capacity_j=2e5, ramp_up_w_per_s=20e3, ramp_down_w_per_s=20e3, efficiency=0.98, recovery_w=500.0)
    smoothed, change_j = with_rack_storage(T_S, STEP_S, jobs, idle, chain, [store, store])
    assert np.ptp(smoothed) < 0.5 * np.ptp(base)
    one = ramp_limited_storage(np.column_stack([job.rack_power_w(T_S) for job in jobs]), STEP_S, store)
    assert overhead_j(base, smoothed, STEP_S, change_j) == pytest.approx(float(one.loss_j @ [3, 2]), rel=1e-9)
    unsmoothed, none_j = with_rack_storage(T_S, STEP_S, jobs, idle, chain, [None, None])
    np.testing.assert_array_equal(unsmoothed, base)
    assert none_j == 0.0
    floor_jobs = [replace(job, rack_feed_power_w=np.array([HIGH_W, 0.9 * HIGH_W])) for job in jobs]
    floored = hall_feed_power_w(T_S, floor_jobs, idle, chain)
    assert np.ptp(floored) == pytest.approx(5 * 0.1 * HIGH_W)
    assert overhead_j(base, floored, STEP_S) == pytest.approx(20.0 * 0.5 * 5 * (0.9 * HIGH_W - LOW_W), rel=1e-9)
