"""Media physics and selection: pure functions, vectorized over links (and over candidate media by broadcasting).

Units: lengths m, frequencies GHz, losses dB, lane rates Gb/s, energies pJ/bit, powers W, costs USD.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from racksim._types import FloatArray, IndexArray

ArrayLike = npt.ArrayLike


def nyquist_frequency_ghz(lane_rate_gbps: ArrayLike, bits_per_symbol: ArrayLike) -> FloatArray:
    """Nyquist frequency of a lane: f_N = rate / (2 · bits per symbol), GHz (rate in Gb/s; PAM4: rate / 4)."""
    return np.asarray(lane_rate_gbps, dtype=float) / (2.0 * np.asarray(bits_per_symbol, dtype=float))


def insertion_loss_db_per_m(frequency_ghz: ArrayLike, skin_db_per_m_sqrt_ghz: ArrayLike,
                            dielectric_db_per_m_ghz: ArrayLike) -> FloatArray:
    """Cable loss per metre at frequency f: IL(f) = a·√f + b·f, dB/m (skin effect a, dielectric b; f in GHz)."""
    f = np.asarray(frequency_ghz, dtype=float)
    return np.asarray(skin_db_per_m_sqrt_ghz, dtype=float) * np.sqrt(f) + np.asarray(dielectric_db_per_m_ghz) * f


def channel_loss_db(length_m: ArrayLike, loss_db_per_m: ArrayLike, connector_loss_db: ArrayLike) -> FloatArray:
    """Insertion loss between the SerDes' connectors: IL·L + 2·connector loss, dB."""
    return np.asarray(loss_db_per_m, dtype=float) * np.asarray(length_m) + 2.0 * np.asarray(connector_loss_db)


def reach_m(loss_budget_db: ArrayLike, equalization_gain_db: ArrayLike, connector_loss_db: ArrayLike,
            loss_db_per_m: ArrayLike, max_length_m: ArrayLike) -> FloatArray:
    """Longest cable that meets the budget: min(L_max, (budget + gain − 2·connector) / IL), m.

    The loss-limited reach is where `channel_loss_db` equals budget + gain; a lossless medium (fibre) is limited
    by `max_length_m` alone, and a medium whose connectors alone exceed the budget reaches nothing (0 m).
    """
    margin_db = (np.asarray(loss_budget_db, dtype=float) + np.asarray(equalization_gain_db)
                 - 2.0 * np.asarray(connector_loss_db))
    loss = np.asarray(loss_db_per_m, dtype=float)
    with np.errstate(divide="ignore"):
        loss_limited = np.where(loss > 0, margin_db / np.where(loss > 0, loss, 1.0), np.inf)
    return np.where(margin_db >= 0, np.minimum(loss_limited, max_length_m), 0.0)


def link_cost_usd(length_m: ArrayLike, lanes: ArrayLike, cost_usd_per_lane_end: ArrayLike,
                  cost_usd_per_lane_m: ArrayLike) -> FloatArray:
    """Cost of one link: lanes · (2 · cost per lane-end + cost per lane-metre · L), USD."""
    return np.asarray(lanes) * (2.0 * np.asarray(cost_usd_per_lane_end, dtype=float)
                                + np.asarray(cost_usd_per_lane_m) * np.asarray(length_m))


def end_power_w(lanes: ArrayLike, lane_rate_gbps: ArrayLike, end_energy_pj_per_bit: ArrayLike) -> FloatArray:
    """Power drawn at one end of a link: e · lanes · rate, W (pJ/bit × Gb/s = mW)."""
    return np.asarray(end_energy_pj_per_bit, dtype=float) * np.asarray(lanes) * np.asarray(lane_rate_gbps) * 1e-3


def select_media(length_m: FloatArray, reach: FloatArray, cost_usd: FloatArray) -> IndexArray:
    """Index of the cheapest candidate whose reach covers each link, −1 where none does.

    `length_m` has shape (links,), `reach` (candidates,) or (links, candidates), `cost_usd` (links, candidates).
    A link exactly at a medium's reach may use it; ties in cost go to the earlier candidate.
    """
    feasible = length_m[:, None] <= np.broadcast_to(reach, cost_usd.shape)
    choice = np.argmin(np.where(feasible, cost_usd, np.inf), axis=1)
    return np.where(feasible.any(axis=1), choice, -1)
