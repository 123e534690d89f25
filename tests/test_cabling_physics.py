"""Cabling physics alone: loss, reach, selection at the reach boundary, cost and power, routes, port mapping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from racksim.cabling import geometry, media


def test_nyquist_frequency_by_hand() -> None:
    # PAM4 carries 2 bits per symbol: 200 Gb/s -> 100 GBd -> 50 GHz; NRZ 100 Gb/s -> 50 GHz as well.
    assert media.nyquist_frequency_ghz(200.0, 2) == pytest.approx(50.0)
    assert media.nyquist_frequency_ghz(100.0, 1) == pytest.approx(50.0)
    assert media.nyquist_frequency_ghz([100.0, 400.0], 2) == pytest.approx([25.0, 100.0])


def test_insertion_loss_by_hand() -> None:
    # IL = 0.55 · √25 + 0.04 · 25 = 2.75 + 1.0 = 3.75 dB/m; at 100 GHz 5.5 + 4.0 = 9.5 dB/m.
    assert media.insertion_loss_db_per_m([25.0, 100.0], 0.55, 0.04) == pytest.approx([3.75, 9.5])
    # Fibre: no electrical loss per metre.
    assert media.insertion_loss_db_per_m(50.0, 0.0, 0.0) == 0.0


def test_reach_by_hand() -> None:
    budget_db, connector_db, loss_db_per_m = 10.5, 1.5, 3.75
    # Passive: (10.5 − 2 · 1.5) / 3.75 = 2.0 m; with 7.5 dB of equalization: 15 / 3.75 = 4.0 m.
    reach = media.reach_m(budget_db, [0.0, 7.5], connector_db, loss_db_per_m, [3.0, 7.0])
    assert reach == pytest.approx([2.0, 4.0])
    # Capped by the product's length, unlimited for fibre, nothing when the connectors alone break the budget.
    assert media.reach_m(budget_db, 0.0, connector_db, loss_db_per_m, 1.5) == pytest.approx(1.5)
    assert media.reach_m(budget_db, 0.0, connector_db, 0.0, 500.0) == pytest.approx(500.0)
    assert media.reach_m(2.0, 0.0, connector_db, loss_db_per_m, 3.0) == 0.0


def test_channel_loss_at_reach_equals_the_budget() -> None:
    loss = media.insertion_loss_db_per_m(50.0, 0.55, 0.04)
    reach = media.reach_m(10.5, 2.0, 1.5, loss, 100.0)
    assert media.channel_loss_db(reach, loss, 1.5) == pytest.approx(10.5 + 2.0)


def test_selection_at_the_reach_boundary() -> None:
    # Candidates: passive copper (reach 1.2735 m, cheap), active copper (2.547 m), optics (500 m, dear).
    reach = np.array([1.2735, 2.547, 500.0])
    lengths = np.array([1.2735, np.nextafter(1.2735, np.inf), 2.547, np.nextafter(2.547, np.inf), 600.0])
    cost = media.link_cost_usd(lengths[:, None], 2, np.array([8.0, 30.0, 120.0]), np.array([3.0, 3.0, 1.0]))
    # Exactly at reach the link stays on the medium; a hair beyond, it moves to the next; beyond all: −1.
    assert media.select_media(lengths, reach, cost).tolist() == [0, 1, 1, 2, -1]


def test_selection_takes_the_cheapest_not_the_first_listed() -> None:
    reach = np.array([500.0, 2.0])  # optics listed first
    lengths = np.array([1.0, 3.0])
    cost = np.array([[1000.0, 50.0], [1000.0, 50.0]])
    assert media.select_media(lengths, reach, cost).tolist() == [1, 0]


@given(st.lists(st.tuples(st.floats(0.1, 20.0), st.floats(0.1, 20.0), st.floats(1.0, 1e3)), min_size=1, max_size=4),
       st.lists(st.floats(0.0, 25.0), min_size=1, max_size=30))
def test_selection_is_feasible_and_cheapest(candidates: list[tuple[float, float, float]], lengths: list[float]) -> None:
    reach = np.array([c[0] for c in candidates])
    length = np.array(lengths)
    cost = np.array([[c[2] + 0.1 * c[1] * x for c in candidates] for x in lengths])
    pick = media.select_media(length, reach, cost)
    for row, choice in enumerate(pick):
        feasible = length[row] <= reach
        if choice < 0:
            assert not feasible.any()
        else:
            assert feasible[choice]
            assert cost[row, choice] == cost[row][feasible].min()


def test_cost_and_power_by_hand() -> None:
    # 4 lanes · (2 · 120 USD + 1 USD/m · 10 m) = 1,000 USD.
    assert media.link_cost_usd(10.0, 4, 120.0, 1.0) == pytest.approx(1000.0)
    # 21.875 pJ/bit · 4 lanes · 100 Gb/s = 8.75 W per end (9 W NIC-side + 17 W / 2 switch-side over two ends).
    assert media.end_power_w(4, 100.0, 21.875) == pytest.approx(8.75)
    # 5.625 pJ/bit · 8 · 200 Gb/s = 9 W, the co-packaged 1.6T port.
    assert media.end_power_w(8, 200.0, 5.625) == pytest.approx(9.0)


def test_route_length_by_hand() -> None:
    # Source at x 100, z 408; far end x 300, z 456; column at 200; 50 mm to the riser at both ends; 0.1 m slack.
    # (100 + 50 + 48 + 100 + 50) mm + 0.1 m = 0.448 m.
    length = geometry.route_length_m(np.array([100.0]), np.array([408.0]), np.array([300.0]), np.array([456.0]),
                                     np.array([200.0]), 50.0, 50.0, 0.1)
    assert length == pytest.approx([0.448])


def test_nearest_column_and_connectors() -> None:
    assert geometry.nearest_column_x_mm(np.array([10.0, 250.0, 300.0]), [15.0, 522.0]).tolist() == [15.0, 15.0, 522.0]
    # 72 ports over 4 connectors: blocks of 18.
    columns = geometry.connector_x_mm(np.array([0, 17, 18, 71]), 72, [67.0, 201.0, 336.0, 470.0])
    assert columns.tolist() == [67.0, 67.0, 201.0, 470.0]


def test_nvl72_port_mapping() -> None:
    tray, tray_port, switch, switch_port = geometry.scale_up_ports(18, 4, 18, 9)
    assert tray.size == 1296
    # Each switch tray takes 144 links on distinct ports 0..143; each GPU sends 2 links to every switch tray.
    for s in range(9):
        assert sorted(switch_port[switch == s].tolist()) == list(range(144))
    gpu = tray * 4 + tray_port // 18
    assert np.all(np.bincount(gpu * 9 + switch) == 2)
    # The links of GPU j of every tray sit in switch connector column j (4 columns of 36 ports).
    assert np.array_equal(switch_port // 36, tray_port // 18)
