"""Thermal physics: pure, vectorized functions for cold-plate coolant and first-order die nodes.

Die model: C·dT/dt = P − (T − T_coolant)/R, with P and T_coolant constant between events, so
T(t) is an exact exponential toward T_ss = T_coolant + P·R with time constant τ = R·C.
Coolant along a loop is quasi-static (transit time ≪ τ): each plate sees the loop inlet warmed by
the power of the plates upstream, ΔT = Q / (ṁ·c_p).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

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


def rc_temperature_c(temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, elapsed_s: float) -> FloatArray:
    """Exact first-order response after `elapsed_s`: T = T_ss + (T0 − T_ss)·e^(−t/τ); °C."""
    temp_ss = np.asarray(temp_ss_c, dtype=float)
    return temp_ss + (np.asarray(temp0_c, dtype=float) - temp_ss) * np.exp(-elapsed_s / np.asarray(tau_s))


def rc_mean_temperature_c(temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, elapsed_s: float) -> FloatArray:
    """Time average over [0, t] of the response above: T_ss + (T0 − T_ss)·(τ/t)·(1 − e^(−t/τ)); °C."""
    temp_ss = np.asarray(temp_ss_c, dtype=float)
    tau = np.asarray(tau_s, dtype=float)
    if elapsed_s <= 0:
        return np.asarray(temp0_c, dtype=float) + 0.0 * temp_ss
    weight = tau / elapsed_s * -np.expm1(-elapsed_s / tau)
    return temp_ss + (np.asarray(temp0_c, dtype=float) - temp_ss) * weight


def rc_crossing_time_s(
    temp0_c: ArrayLike, temp_ss_c: ArrayLike, tau_s: ArrayLike, threshold_c: ArrayLike
) -> FloatArray:
    """Time until T(t) reaches a threshold it is heading toward; inf if it never does.

    t* = τ · ln((T0 − T_ss) / (T_th − T_ss)), defined when T_th lies strictly between T0 and T_ss
    (or equals T0 while moving toward T_ss past it, giving 0); s.
    """
    temp0 = np.asarray(temp0_c, dtype=float)
    temp_ss = np.asarray(temp_ss_c, dtype=float)
    threshold = np.asarray(threshold_c, dtype=float)
    gap0 = temp0 - temp_ss
    gap_threshold = threshold - temp_ss
    reachable = (gap0 * gap_threshold > 0) & (np.abs(gap_threshold) <= np.abs(gap0))
    with np.errstate(divide="ignore", invalid="ignore"):
        time_s = np.asarray(tau_s) * np.log(gap0 / gap_threshold)
    return np.where(reachable, np.maximum(time_s, 0.0), np.inf)
