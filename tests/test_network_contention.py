"""Max-min fair water-filling: a hand-solved case and the defining properties over random networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from racksim.network.contention import RELATIVE_TOLERANCE, demand_rates, max_min_rates


def test_hand_solved_three_flows_two_links() -> None:
    # Link A (1 GB/s) carries flows 0 and 1, link B (2 GB/s) flows 1 and 2: A saturates first at 0.5 each,
    # then flow 2 takes the rest of B, 1.5.
    rates = max_min_rates(np.array([0, 1, 1, 2]), np.array([0, 0, 1, 1]), np.array([1.0, 2.0]), 3)
    assert rates == pytest.approx([0.5, 0.5, 1.5])


def test_zero_capacity_and_unconstrained_flows() -> None:
    rates = max_min_rates(np.array([0, 1]), np.array([0, 1]), np.array([0.0, 4.0]), 3)
    assert rates[0] == 0.0
    assert rates[1] == pytest.approx(4.0)
    assert rates[2] == np.inf


def test_demand_is_the_sum_of_its_subflows() -> None:
    assert demand_rates(np.array([0, 0, 1]), np.array([1.0, 2.0, 4.0]), 2) == pytest.approx([3.0, 4.0])


@st.composite
def networks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n_links = draw(st.integers(1, 8))
    n_flows = draw(st.integers(1, 12))
    capacity = np.array(draw(st.lists(st.floats(0.1, 100.0), min_size=n_links, max_size=n_links)))
    paths = [sorted(draw(st.sets(st.integers(0, n_links - 1), min_size=1, max_size=n_links)))
             for _ in range(n_flows)]
    flow = np.array([f for f, path in enumerate(paths) for _ in path])
    link = np.array([hop for path in paths for hop in path])
    return flow, link, capacity, n_flows


@given(networks())
def test_max_min_fairness_properties(network: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
    flow, link, capacity, n_flows = network
    rates = max_min_rates(flow, link, capacity, n_flows)
    load = np.bincount(link, weights=rates[flow], minlength=capacity.size)
    assert np.all(load <= capacity * (1 + 1e-9))  # no link over capacity
    saturated = load >= capacity * (1 - 10 * RELATIVE_TOLERANCE)
    for f in range(n_flows):
        on_path = link[flow == f]
        # Bottlenecked somewhere: a saturated link where no flow gets more than this one.
        assert any(saturated[hop] and rates[f] >= rates[flow[link == hop]].max() * (1 - 1e-9) for hop in on_path)
