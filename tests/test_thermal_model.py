"""The cooling model end to end: coolant rise, faults, time to throttle, heat balance, reference ranges."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from racksim.design.suite import Fault
from racksim.engine import Simulation
from racksim.physics.arrays import build
from racksim.physics.operating_point import Activity, evaluate
from racksim.physics.plant import PlantState
from racksim.physics.thermal import AIR_CP_J_PER_KG_K, AIR_DENSITY_KG_PER_M3, COOLANT_PROPERTIES, rc_crossing_time_s
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule
from racksim.workload.faults import fault_actions
from tests.oracles import EulerSimulation

ROOT = Path(__file__).resolve().parent.parent
GB200, GB300, VR = (ROOT / "designs" / f"{name}.yaml" for name in ("gb200-nvl72", "gb300-nvl72", "vr-800vdc"))
DESIGNS = [GB200, GB300, VR]
FULL = Activity(1.0, 1.0, 1.0)
STEADY = TrainingSchedule(compute_s=1e6, communication_s=0.0, checkpoint_every_steps=1, checkpoint_s=0.0)
TRAINING = TrainingSchedule(compute_s=8.0, communication_s=2.0, checkpoint_every_steps=4, checkpoint_s=10.0)


def run(path: Path, duration_s: float, faults: list[Fault], schedule: TrainingSchedule = TRAINING,
        overrides: tuple[str, ...] = (), euler_step_s: float | None = None) -> Simulation:
    """The finished simulation of `path` (stepped: the Euler oracle)."""
    arrays = build(load_design(path, overrides).design)
    actions = fault_actions(faults, arrays)
    simulation = Simulation(arrays, schedule.phases(), duration_s, faults=actions) if euler_step_s is None else \
        EulerSimulation(arrays, schedule.phases(), duration_s, step_s=euler_step_s, faults=actions)
    simulation.result = simulation.run()
    return simulation


def test_coolant_rise_and_cdu_approach_by_hand() -> None:
    figures = load_design(GB200).figures
    # PG25: ṁ·c_p = 180 L/min / 60000 × 1020 kg/m³ × 3930 J/(kg·K) = 12 026.7 W/K.
    capacity_rate_w_per_k = 180 / 60000 * 1020 * 3930
    heat_w = figures["nameplate_heat_to_liquid_w"]
    # CDU: supply = 30 °C + 3 K × Q / 130 kW; return = supply + Q / (ṁ·c_p).
    supply_c = 30 + 3 * heat_w / 130_000
    assert figures["nameplate_coolant_supply_temp_c"] == pytest.approx(supply_c, abs=1e-9)
    assert figures["nameplate_coolant_return_temp_c"] == pytest.approx(supply_c + heat_w / capacity_rate_w_per_k,
                                                                       abs=1e-9)
    assert COOLANT_PROPERTIES["pg25"] == (1020.0, 3930.0)


def test_plates_in_series_warm_the_coolant_for_the_next_chip() -> None:
    arrays = build(load_design(GB200).design)
    point = evaluate(arrays, FULL, np.zeros(arrays.chips.is_gpu.size, dtype=bool), PlantState.nominal(arrays))
    # The manifold splits 180 L/min in the trays' design proportions: a compute tray gets
    # 180 × 9 / (18 × 9 + 9 × 1.5) = 9.2308 L/min, each of its 2 loops 4.6154 L/min.
    # Loop [cpu0, gpu0, gpu1] of PG25: ṁ·c_p = 4.6154/60000 × 1020 × 3930 = 308.37 W/K.
    rate = 180 * 9 / (18 * 9 + 9 * 1.5) / 2 / 60000 * 1020 * 3930
    cpu0, gpu0, gpu1 = point.chip_coolant_temp_c[:3]
    assert gpu0 - cpu0 == pytest.approx(420 / rate)          # CPU at 420 W upstream
    assert gpu1 - cpu0 == pytest.approx((420 + 1200) / rate)  # CPU + first GPU upstream


def test_pump_losses_follow_the_redundancy_rule() -> None:
    arrays = build(load_design(VR).design)  # 3 pumps, N+1: 2 needed for full flow
    plant = PlantState.nominal(arrays)
    idle = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
    flows = []
    for healthy in (3, 2, 1, 0):
        plant.healthy_pumps = np.array([healthy])
        flows.append(float(evaluate(arrays, FULL, idle, plant).flow_fraction[0]))
    assert flows == [1.0, 1.0, 0.5, 0.01]
    # Half flow: R = R_full · 0.5^-0.8 = 1.7411 R_full (Dittus–Boelter exponent).
    plant.healthy_pumps = np.array([3])
    full = evaluate(arrays, FULL, idle, plant)
    plant.healthy_pumps = np.array([1])
    half = evaluate(arrays, FULL, idle, plant)
    assert half.chip_resistance_k_per_w[1] / full.chip_resistance_k_per_w[1] == pytest.approx(2**0.8)


def test_time_to_throttle_after_a_pump_loss_is_analytical() -> None:
    fault_s = 300.0
    before = run(VR, fault_s, [], STEADY)
    # After losing 2 of 3 pumps the flow halves; every die relaxes toward its new steady temperature.
    arrays = before.arrays
    plant = PlantState.nominal(arrays)
    plant.healthy_pumps = np.array([1])
    after = evaluate(arrays, before.state.activity, before.state.throttled, plant)
    expected_s = float(np.min(rc_crossing_time_s(before.state.temp_c, after.chip_temp_ss_c, after.chip_tau_s,
                                                 arrays.chips.throttle_temp_c)))
    assert math.isfinite(expected_s)
    faulted = run(VR, fault_s + 600, [Fault(kind="pump_failure", at_s=fault_s, count=2)], STEADY)
    first = next(event for event in faulted.result.events if event.kind == "throttle")
    assert first.time_s - fault_s == pytest.approx(expected_s, rel=1e-9)
    # Hand check of the formula for the hottest die: T(t*) = T_th.
    hottest = int(np.argmin(rc_crossing_time_s(before.state.temp_c, after.chip_temp_ss_c, after.chip_tau_s,
                                               arrays.chips.throttle_temp_c)))
    t0, tss, tau = before.state.temp_c[hottest], after.chip_temp_ss_c[hottest], after.chip_tau_s[hottest]
    assert tau * math.log((t0 - tss) / (87.0 - tss)) == pytest.approx(expected_s)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "faults"),
    [
        (VR, [Fault(kind="pump_failure", at_s=40, count=2, duration_s=60)]),
        (GB300, [Fault(kind="pump_failure", at_s=30, count=2)]),
        (GB200, [Fault(kind="cdu_failure", at_s=20, duration_s=40)]),
        (GB300, [Fault(kind="facility_water_excursion", at_s=10, delta_temp_c=9, duration_s=80)]),
    ],
    ids=["partial-pump-loss", "all-pumps-lost", "cdu-failure", "hot-water"],
)
def test_closed_form_matches_fixed_step_through_faults(path: Path, faults: list[Fault]) -> None:
    closed = run(path, 120.0, faults)
    stepped = run(path, 120.0, faults, euler_step_s=0.002)
    assert np.max(np.abs(closed.state.temp_c - stepped.state.temp_c)) < 0.1
    assert closed.result.integrals.gpu_temp_c_max == pytest.approx(stepped.result.integrals.gpu_temp_c_max, abs=0.1)
    assert [e.kind for e in closed.result.events] == [e.kind for e in stepped.result.events]


def test_all_pumps_lost_shuts_gpus_down_and_loses_work_since_the_checkpoint() -> None:
    simulation = run(GB200, 200.0, [Fault(kind="pump_failure", at_s=105, count=2)])
    kinds = [event.kind for event in simulation.result.events]
    assert kinds.index("throttle") < kinds.index("shutdown") < kinds.index("job_halted")
    # Cycle: 4 steps of 10 s + a 10 s checkpoint = 50 s; by 105 s: 8 steps, checkpoint saved at 100 s.
    assert simulation.result.work_units == 8
    assert simulation.result.gpu_shutdowns > 0
    assert simulation.result.integrals.gpu_temp_c_max == pytest.approx(92.0, abs=1e-5)


def test_cdu_failure_heats_the_loop_at_q_over_its_heat_capacity() -> None:
    arrays = build(load_design(GB200).design)
    plant = PlantState.nominal(arrays)
    plant.cdu_rejecting = np.array([False])
    point = evaluate(arrays, FULL, np.zeros(arrays.chips.is_gpu.size, dtype=bool), plant)
    # 60 L of PG25: C = 0.060 m³ × 1020 × 3930 = 240 516 J/K; ramp = Q_liquid / C.
    heat_w = point.feed_w[0] - point.air_w[0]
    assert point.supply_ramp_c_per_s[0] == pytest.approx(heat_w / (0.060 * 1020 * 3930))


def test_fan_loss_speeds_up_the_rest_by_the_affinity_laws() -> None:
    arrays = build(load_design(GB200).design)
    plant = PlantState.nominal(arrays)
    idle_load = Activity(0.3, 0.3, 0.3)  # light load keeps both speeds inside the controller's range
    throttled = np.zeros(arrays.chips.is_gpu.size, dtype=bool)
    full = evaluate(arrays, idle_load, throttled, plant)
    plant.healthy_fans = np.array([45])
    fewer = evaluate(arrays, idle_load, throttled, plant)
    # Same air heat through 45 instead of 60 fans: speed × 60/45, power ∝ n·s³ → × (60/45)².
    assert 0.3 < fewer.fan_speed[0] < 1
    assert fewer.fan_speed[0] / full.fan_speed[0] == pytest.approx(60 / 45, rel=2e-3)
    assert fewer.fan_power_w[0] / full.fan_power_w[0] == pytest.approx((60 / 45) ** 2, rel=5e-3)


def test_repair_restores_the_plant() -> None:
    simulation = run(VR, 200.0, [Fault(kind="fan_failure", at_s=50, count=30, duration_s=50),
                                 Fault(kind="pump_failure", at_s=60, count=1, duration_s=20)])
    assert simulation.state.plant.healthy_fans[0] == 60
    assert simulation.state.plant.healthy_pumps[0] == 3
    assert [e.kind for e in simulation.result.events if e.kind in ("fault", "repair")] == [
        "fault", "fault", "repair", "repair"]


@pytest.mark.slow
@given(tdp_w=st.floats(300, 2000), supply_c=st.floats(15, 45), flow_lpm=st.floats(80, 400),
       liquid_share=st.floats(0, 1), fans=st.integers(10, 120), load=st.floats(0, 1))
def test_heat_removed_by_coolant_and_air_equals_heat_generated(
    tdp_w: float, supply_c: float, flow_lpm: float, liquid_share: float, fans: int, load: float,
) -> None:
    design = load_design(GB200, [
        f"compute_tray.gpus.tdp_w={tdp_w}", f"cooling.facility_supply_temp_c={supply_c}",
        f"cooling.cdu.pumps.flow_lpm={flow_lpm}", f"compute_tray.other_heat_to_liquid_fraction={liquid_share}",
        f"cooling.fans.count={fans}", "cooling.cdu.capacity_w=1e6", "power.feed.limit_w=1e6",
        "power.shelves.redundancy=N", "power.busbar.rating_a=1e5",
    ]).design
    arrays = build(design)
    point = evaluate(arrays, Activity(load, load, load), np.zeros(arrays.chips.is_gpu.size, dtype=bool),
                     PlantState.nominal(arrays))
    # At steady state the heat leaving is read off temperatures: ṁ·c_p·(T_ret − T_sup) + ρ·c_p·V̇·(T_exh − T_in).
    density, cp = COOLANT_PROPERTIES[design.cooling.fluid]
    liquid_w = flow_lpm / 60000 * density * cp * (point.coolant_return_temp_c[0] - point.supply_temp_c[0])
    airflow = max(fans * point.fan_speed[0], 0.02 * fans) * design.cooling.fans.max_airflow_m3_s_each
    air_w = AIR_DENSITY_KG_PER_M3 * AIR_CP_J_PER_KG_K * airflow * (point.exhaust_temp_c[0] - 25.0)
    assert liquid_w + air_w == pytest.approx(point.feed_w[0], rel=5e-3)


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_reference_designs_sit_in_the_published_ranges(path: Path) -> None:
    loaded = load_design(path)
    figures, cooling = loaded.figures, loaded.design.cooling
    throttle_c = loaded.design.compute_tray.gpus.thermal.throttle_temp_c
    assert figures["nameplate_gpu_temp_c_steady"] < throttle_c  # below throttle at nominal coolant
    heat_kw = figures["nameplate_heat_to_liquid_w"] / 1e3
    # S: 1.2–2.0 L/min per kW (OCP OAI guideline, Vertiv, nVent/Stulz via ProphetStor); D: over the liquid heat.
    assert 1.2 <= cooling.cdu.pumps.flow_lpm / heat_kw <= 2.2
    # S: coolant rise ≤ 10 K at 1.5 L/min/kW; S: secondary supply up to 45 °C (GB300 / Vera Rubin).
    assert figures["nameplate_coolant_return_temp_c"] - figures["nameplate_coolant_supply_temp_c"] <= 10
    assert figures["nameplate_coolant_supply_temp_c"] <= 45
    # S: liquid captures ~83–94 % of an NVL72-class rack's heat.
    assert 0.80 <= figures["nameplate_heat_to_liquid_w"] / figures["nameplate_feed_power_w"] <= 0.96
    # S: ASHRAE recommended inlet 18–27 °C.
    assert 18 <= cooling.air_inlet_temp_c <= 27


def test_rc_response_under_a_coolant_ramp_against_fine_integration() -> None:
    from racksim.physics.thermal import rc_mean_temperature_c, rc_temperature_c

    # C·dT/dt = P − (T − T_c(t))/R with T_c = 40 + 0.3·t, P·R = 30 K, τ = 12 s, T0 = 55 °C.
    tau, ramp, t_end = 12.0, 0.3, 50.0
    steps = 200_000
    dt = t_end / steps
    temp, samples = 55.0, [55.0]
    for index in range(steps):
        temp += dt * ((40 + ramp * index * dt + 30) - temp) / tau
        samples.append(temp)
    assert rc_temperature_c(55.0, 70.0, tau, t_end, ramp) == pytest.approx(temp, abs=1e-3)
    assert rc_mean_temperature_c(55.0, 70.0, tau, t_end, ramp) == pytest.approx(
        np.trapezoid(samples, dx=dt) / t_end, abs=1e-3)
    # Crossing 80 °C: the first sample at or above 80 gives the time to within dt.
    crossing = rc_crossing_time_s(55.0, 70.0, tau, 80.0, ramp)
    assert crossing == pytest.approx(np.argmax(np.array(samples) >= 80.0) * dt, abs=2 * dt)
    assert rc_temperature_c(55.0, 70.0, tau, float(crossing), ramp) == pytest.approx(80.0, abs=1e-9)


def test_rc_crossing_under_a_ramp_finds_the_dip_first() -> None:
    # Starts hot (90 °C) above a low steady path (50 °C) that rises 0.5 K/s: it dips, then climbs.
    first_down = rc_crossing_time_s(90.0, 50.0, 10.0, 70.0, 0.5)
    later_up = rc_crossing_time_s(90.0, 50.0, 10.0, 95.0, 0.5)
    never = rc_crossing_time_s(90.0, 50.0, 10.0, 20.0, 0.5)
    assert 0 < first_down < later_up < np.inf
    assert never == np.inf
