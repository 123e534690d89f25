"""Row physics as pure vectorized functions: which rack is where, what the rows carry, caps that fit them.

Racks are indexed 0..N-1 in hall order, row by row; rows and CDUs are indexed the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray, IndexArray
from racksim.physics.power import sum_by_group

BISECTION_STEPS = 40
"""Halvings of the cap interval: 40 leave 2⁻⁴⁰ of it (sub-µW on a kW range)."""


def rack_rows(n_racks: int, n_rows: int) -> IndexArray:
    """Row of each rack, racks split evenly in order: row(i) = ⌊i·R / N⌋ (row sizes differ by one at most)."""
    return (np.arange(n_racks) * n_rows // n_racks).astype(np.intp)


def rack_cdus(rack_row: IndexArray, racks_per_cdu: int) -> IndexArray:
    """Hall-wide CDU of each rack: runs of `racks_per_cdu` neighbours within a row, numbered row by row.

    cdu(i) = first CDU of row(i) + ⌊(i − first rack of row(i)) / k⌋, k = racks_per_cdu.
    """
    n_rows = int(rack_row.max()) + 1
    row_size = np.bincount(rack_row, minlength=n_rows)
    first_rack = np.cumsum(row_size) - row_size
    first_cdu = np.cumsum(-(-row_size // racks_per_cdu)) - -(-row_size // racks_per_cdu)
    position = np.arange(rack_row.size) - first_rack[rack_row]
    return (first_cdu[rack_row] + position // racks_per_cdu).astype(np.intp)


def row_load_w(rack_feed_w: FloatArray, rack_row: IndexArray, n_rows: int) -> FloatArray:
    """Power each row feeder carries: P_row = Σ_{racks of the row} P_feed, W (feeder losses neglected)."""
    return sum_by_group(rack_feed_w, rack_row, n_rows)


def overloaded_racks(rack_feed_w: FloatArray, rack_row: IndexArray, row_capacity_w: FloatArray,
                     ups_capacity_w: float) -> NDArray[np.bool_]:
    """Racks fed by a row whose load exceeds its feeder rating, or by a UPS over its rating (all racks).

    Overloaded: P_row > C_row, or Σ P_feed > C_UPS (a relative tolerance of 1e-9 absorbs rounding).
    """
    over_row = row_load_w(rack_feed_w, rack_row, row_capacity_w.size) > row_capacity_w * (1 + 1e-9)
    over_ups = float(rack_feed_w.sum()) > ups_capacity_w * (1 + 1e-9)
    return over_row[rack_row] | over_ups


def ups_shares_w(ups_capacity_w: float, group_nameplate_w: FloatArray) -> FloatArray:
    """The UPS's critical load allocated to groups of racks in proportion to their nameplate feed power, W.

    C_g = C_UPS · P_g / Σ P, P_g = racks_g × the design's nameplate feed power (a static split, as a UPS's
    output is allocated to row PDUs); an unlimited UPS (inf) leaves every share unlimited.
    """
    if not np.isfinite(ups_capacity_w):
        return np.full(group_nameplate_w.size, np.inf)
    return ups_capacity_w * group_nameplate_w / group_nameplate_w.sum()


def cdu_approach_c_per_w(approach_temp_c: float, cdu_capacity_w: float, racks_per_cdu: int) -> float:
    """CDU approach per watt of one rack's heat, when k racks like it share a CDU, K/W.

    ΔT_approach = ΔT_a · Q_CDU / C_CDU with Q_CDU = k · Q_rack, so ΔT_approach / Q_rack = ΔT_a · k / C_CDU.
    Exact while the CDU's racks reject alike; a rack that rejects less (tripped, idle spare) is credited
    with its neighbours' load as if they were like it.
    """
    return approach_temp_c * racks_per_cdu / cdu_capacity_w


def highest_fitting(fits: Callable[[FloatArray], NDArray[np.bool_]], low: FloatArray,
                    high: FloatArray) -> FloatArray:
    """Highest value per element in [low, high] that `fits`, by bisection (fits must be monotone), same unit.

    Elements where even `low` does not fit come back as `low`; the caller tells them apart.
    """
    for _ in range(BISECTION_STEPS):
        middle = 0.5 * (low + high)
        ok = fits(middle)
        low, high = np.where(ok, middle, low), np.where(ok, high, middle)
    return low


def row_caps_w(feed_w_at: Callable[[FloatArray], FloatArray], rack_cap_w: FloatArray, rack_row: IndexArray,
               row_capacity_w: FloatArray, ups_capacity_w: float, low_w: float,
               high_w: float) -> tuple[FloatArray, NDArray[np.bool_]]:
    """GPU cap per rack that keeps each row within its feeder and the hall within its UPS, W.

    One cap per row (every rack of the row alike), then one for the hall, each the highest that fits by
    bisection on the monotone map cap → Σ P_feed; a rack's own cap `rack_cap_w` (inf: none) stays if lower.
    `feed_w_at(cap per rack)` gives each rack's feed power at full load under that cap. Returns the caps
    (inf: uncapped) and the racks whose row or UPS stays over even at `low_w`.
    """
    n_rows = row_capacity_w.size

    def rows_fit(row_cap_w: FloatArray) -> NDArray[np.bool_]:
        load_w = row_load_w(feed_w_at(np.minimum(rack_cap_w, row_cap_w[rack_row])), rack_row, n_rows)
        return load_w <= row_capacity_w

    uncapped = rows_fit(np.full(n_rows, np.inf))
    row_infeasible = ~uncapped & ~rows_fit(np.full(n_rows, low_w))
    row_cap_w = np.where(uncapped, np.inf,
                         highest_fitting(rows_fit, np.full(n_rows, low_w), np.full(n_rows, high_w)))
    caps_w = np.minimum(rack_cap_w, row_cap_w[rack_row])

    def hall_fits(hall_cap_w: FloatArray) -> NDArray[np.bool_]:
        return np.atleast_1d(feed_w_at(np.minimum(caps_w, hall_cap_w[0])).sum() <= ups_capacity_w)

    if not np.isfinite(ups_capacity_w) or hall_fits(np.full(1, np.inf))[0]:
        return caps_w, row_infeasible[rack_row]
    hall_infeasible = not hall_fits(np.full(1, low_w))[0]
    hall_cap_w = highest_fitting(hall_fits, np.full(1, low_w), np.full(1, high_w))
    return np.minimum(caps_w, hall_cap_w[0]), row_infeasible[rack_row] | hall_infeasible
