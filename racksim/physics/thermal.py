"""Thermal physics: pure, vectorized functions for cold-plate coolant and first-order die nodes.

Die model: C·dT/dt = P − (T − T_coolant)/R, with P and T_coolant constant between events, so
T(t) is an exact exponential toward T_ss = T_coolant + P·R with time constant τ = R·C.
Coolant along a loop is quasi-static (transit time ≪ τ): each plate sees the loop inlet warmed by
the power of the plates upstream, ΔT = Q / (ṁ·c_p).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from racksim._types import FloatArray

# Secondary-coolant properties near 30 °C: density kg/m³, specific heat J/(kg·K).
# Water: 995.7 kg/m³, 4178 J/(kg·K) at 30 °C (IAPWS-95 tables).
# PG25 (25 % propylene glycol by volume): ~1020 kg/m³, ~3930 J/(kg·K) near 30 °C (ASHRAE Handbook
# Fundamentals, ch. 31, propylene glycol solution tables).
COOLANT_PROPERTIES: dict[str, tuple[float, float]] = {
    "water": (995.7, 4178.0),
    "pg25": (1020.0, 3930.0),
}


def heat_capacity_rate_w_per_k(flow_lpm: ArrayLike, fluid: str) -> FloatArray:
    """ṁ·c_p of a coolant stream: ṁ = ρ · V̇ with V̇ [L/min] / 60000 → m³/s; W/K."""
    density_kg_per_m3, cp_j_per_kg_k = COOLANT_PROPERTIES[fluid]
    return np.asarray(flow_lpm, dtype=float) / 60_000.0 * density_kg_per_m3 * cp_j_per_kg_k


def flow_scaled_resistance_k_per_w(
    r_reference_k_per_w: ArrayLike, flow_lpm: ArrayLike, reference_flow_lpm: ArrayLike, exponent: ArrayLike
) -> FloatArray:
    """Cold-plate resistance at another flow: R = R0 · (V̇ / V̇0)^(−n); K/W (infinite at zero flow)."""
    flow = np.asarray(flow_lpm, dtype=float)
    with np.errstate(divide="ignore"):
        return np.asarray(r_reference_k_per_w, dtype=float) * (flow / np.asarray(reference_flow_lpm)) ** (
            -np.asarray(exponent, dtype=float)
        )


def plate_inlet_temp_c(
    supply_temp_c: ArrayLike, plate_power_w: FloatArray, loop_start: NDArray[np.intp], loop_of_plate: NDArray[np.intp],
    loop_capacity_rate_w_per_k: FloatArray,
) -> FloatArray:
    """Coolant temperature reaching each plate of a series loop.

    Plates are ordered loop by loop in flow order. T_in,k = T_supply + Σ_{j upstream of k} P_j / (ṁ·c_p)_loop; °C.
    loop_start: index of each loop's first plate; loop_of_plate: loop index of each plate.
    """
    cumulative = np.cumsum(plate_power_w)
    upstream_w = cumulative - plate_power_w
    upstream_w -= upstream_w[loop_start][loop_of_plate]
    return np.asarray(supply_temp_c, dtype=float) + upstream_w / loop_capacity_rate_w_per_k[loop_of_plate]


def steady_state_temp_c(coolant_temp_c: ArrayLike, power_w: ArrayLike, resistance_k_per_w: ArrayLike) -> FloatArray:
    """T_ss = T_coolant + P·R; °C."""
    return np.asarray(coolant_temp_c) + np.asarray(power_w) * np.asarray(resistance_k_per_w)


def rc_temperature_c(
    temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, elapsed_s: float | FloatArray,
    ramp_c_per_s: ArrayLike = 0.0,
) -> FloatArray:
    """Exact first-order response after `elapsed_s`, with the coolant rising at a constant rate `a`.

    C·dT/dt = P − (T − T_cool(t))/R with T_cool(t) = T_cool(0) + a·t gives
    T(t) = T_ss + a·t − a·τ + (T0 − T_ss + a·τ)·e^(−t/τ), T_ss = T_cool(0) + P·R; °C (a = 0: plain RC).
    """
    temp_ss = np.asarray(temp_ss_c, dtype=float)
    tau = np.asarray(tau_s, dtype=float)
    ramp = np.asarray(ramp_c_per_s, dtype=float)
    if not ramp.any():  # constant coolant: the ramp terms below would only add exact zeros
        return temp_ss + (np.asarray(temp0_c, dtype=float) - temp_ss) * np.exp(-elapsed_s / tau)
    lag_c = ramp * tau
    drift_c = ramp * elapsed_s
    return temp_ss + drift_c - lag_c + (np.asarray(temp0_c, dtype=float) - temp_ss + lag_c) * np.exp(-elapsed_s / tau)


def rc_mean_temperature_c(
    temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, elapsed_s: float, ramp_c_per_s: ArrayLike = 0.0
) -> FloatArray:
    """Time average over [0, t] of the response above; °C.

    T̄ = T_ss − a·τ + a·t/2 + (T0 − T_ss + a·τ)·(τ/t)·(1 − e^(−t/τ)).
    """
    temp_ss = np.asarray(temp_ss_c, dtype=float)
    tau = np.asarray(tau_s, dtype=float)
    if elapsed_s <= 0:
        return np.asarray(temp0_c, dtype=float) + 0.0 * temp_ss
    ramp = np.asarray(ramp_c_per_s, dtype=float)
    weight = tau / elapsed_s * -np.expm1(-elapsed_s / tau)
    if not ramp.any():  # constant coolant: the ramp terms below would only add exact zeros
        return temp_ss + (np.asarray(temp0_c, dtype=float) - temp_ss) * weight
    offset = np.asarray(temp0_c, dtype=float) - temp_ss + ramp * tau
    return temp_ss - ramp * tau + ramp * elapsed_s / 2 + offset * weight


def rc_crossing_time_s(
    temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, threshold_c: ArrayLike,
    ramp_c_per_s: ArrayLike = 0.0,
) -> FloatArray:
    """Time until T(t) first reaches a threshold; inf if it never does; s.

    Constant coolant (a = 0): t* = τ · ln((T0 − T_ss) / (T_th − T_ss)), defined when T_th lies between
    T0 and T_ss (0 when T_th = T0). Rising coolant (a > 0): T(t) has at most one extremum, at
    t_e = τ·ln(B / (a·τ)) with B = T0 − T_ss + a·τ, so the first root is bracketed on [0, t_e] or beyond
    t_e and found by bisection to machine precision.
    """
    temp0, temp_ss, tau, threshold, ramp = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (temp0_c, temp_ss_c, tau_s, threshold_c, ramp_c_per_s)))
    gap0 = temp0 - temp_ss
    gap_threshold = threshold - temp_ss
    reachable = (gap0 * gap_threshold > 0) & (np.abs(gap_threshold) <= np.abs(gap0))
    result = np.full(gap0.shape, np.inf)
    if reachable.any():  # the logarithm only where the threshold lies ahead (few dies, or none, in a hall)
        result[reachable] = np.maximum(tau[reachable] * np.log(gap0[reachable] / gap_threshold[reachable]), 0.0)
    rising = ramp > 0
    if rising.any():
        result[rising] = _ramp_crossing_time_s(temp0[rising], temp_ss[rising], tau[rising], threshold[rising],
                                               ramp[rising])
    return result


def _ramp_crossing_time_s(
    temp0: FloatArray, temp_ss: FloatArray, tau: FloatArray, threshold: FloatArray, ramp: FloatArray
) -> FloatArray:
    """First root of f(t) = T(t) − T_th for a coolant ramp a > 0 (see rc_crossing_time_s)."""
    b = temp0 - temp_ss + ramp * tau

    def excess(t: FloatArray) -> FloatArray:
        return rc_temperature_c(temp0, temp_ss, tau, t, ramp) - threshold

    with np.errstate(divide="ignore", invalid="ignore"):
        t_extremum = np.where(b > ramp * tau, tau * np.log(b / (ramp * tau)), 0.0)
    start = temp0 - threshold
    at_extremum = excess(t_extremum)
    # Beyond the extremum T rises without bound: it has passed T_th by t_hi.
    t_high = t_extremum + np.maximum(threshold - (temp_ss - ramp * tau), 0.0) / ramp + np.abs(b) / ramp + tau
    dips_to_threshold = (start > 0) & (at_extremum <= 0)
    rises_to_threshold = start < 0
    low = np.where(dips_to_threshold, 0.0, t_extremum)
    high = np.where(dips_to_threshold, t_extremum, t_high)
    sign_low = np.sign(excess(low))
    for _ in range(80):
        middle = 0.5 * (low + high)
        same = np.sign(excess(middle)) == sign_low
        low = np.where(same, middle, low)
        high = np.where(same, high, middle)
    found = 0.5 * (low + high)
    return np.where(start == 0, 0.0, np.where(dips_to_threshold | rises_to_threshold, found, np.inf))


# --------------------------------------------------------------------------- pumps, CDU and fans

AIR_DENSITY_KG_PER_M3 = 1.184
"""Dry air at 25 °C and 101.325 kPa (engineering tables)."""
AIR_CP_J_PER_KG_K = 1007.0
"""Specific heat of dry air near 25 °C."""
MIN_FLOW_FRACTION = 0.01
"""Residual coolant flow with every pump stopped (natural circulation), share of design flow (A)."""
MIN_AIRFLOW_FRACTION = 0.02
"""Residual airflow with every fan stopped (stack effect), share of full airflow (A)."""


def pump_flow_fraction(healthy_pumps: ArrayLike, pumps_required: int) -> FloatArray:
    """Share of design flow the healthy pumps deliver: min(1, n_healthy / n_required), floored; dimensionless."""
    fraction = np.asarray(healthy_pumps, dtype=float) / pumps_required
    return np.clip(fraction, MIN_FLOW_FRACTION, 1.0)


def pump_power_w(full_flow_power_w: float, flow_fraction: ArrayLike) -> FloatArray:
    """Pumping power against a fixed system curve (ΔP ∝ V̇²): P = P_design · (V̇ / V̇_design)³; W.

    Shared among however many pumps run: hydraulic power ΔP·V̇ does not depend on the pump count.
    Below the natural-circulation floor no pump runs and the power is 0.
    """
    fraction = np.asarray(flow_fraction, dtype=float)
    return np.where(fraction > MIN_FLOW_FRACTION, full_flow_power_w * fraction**3, 0.0)


def cdu_supply_temp_c(facility_temp_c: ArrayLike, approach_c_per_w: float, rejected_w: ArrayLike) -> FloatArray:
    """Secondary supply of a CDU heat exchanger at fixed flows: T_s = T_fac + k·Q, k = ΔT_approach / Q_rated; °C."""
    return np.asarray(facility_temp_c, dtype=float) + approach_c_per_w * np.asarray(rejected_w, dtype=float)


def fan_speed_for_heat(
    heat_w: ArrayLike, fans: ArrayLike, max_airflow_m3_s: float, target_rise_c: float, min_speed: float
) -> FloatArray:
    """Fan controller: the speed that carries `heat_w` out at the target exhaust rise, clamped to [min, 1].

    Airflow ∝ speed: s = Q / (n · V̇_max · ρ · c_p · ΔT_target); dimensionless.
    """
    capacity_w = np.asarray(fans, dtype=float) * max_airflow_m3_s * AIR_DENSITY_KG_PER_M3 * AIR_CP_J_PER_KG_K
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.asarray(heat_w, dtype=float) / (capacity_w * target_rise_c)
    return np.clip(np.nan_to_num(speed, nan=1.0, posinf=1.0), min_speed, 1.0)


def fan_power_w(fans: ArrayLike, max_power_w_each: float, speed: ArrayLike) -> FloatArray:
    """Fan affinity law: P = n · P_max · s³; W."""
    return np.asarray(fans, dtype=float) * max_power_w_each * np.asarray(speed, dtype=float) ** 3


def exhaust_temp_c(
    inlet_temp_c: float, heat_w: ArrayLike, fans: ArrayLike, fans_installed: int, max_airflow_m3_s: float,
    speed: ArrayLike,
) -> FloatArray:
    """Rack exhaust air: T_out = T_in + Q / (ρ · c_p · V̇), V̇ = n · s · V̇_max (floored); °C."""
    airflow = np.maximum(np.asarray(fans, dtype=float) * np.asarray(speed, dtype=float),
                         MIN_AIRFLOW_FRACTION * fans_installed) * max_airflow_m3_s
    return inlet_temp_c + np.asarray(heat_w, dtype=float) / (AIR_DENSITY_KG_PER_M3 * AIR_CP_J_PER_KG_K * airflow)
