"""Max-min fair sharing of links by flows: vectorized progressive filling (water-filling)."""

from __future__ import annotations

import numpy as np

from racksim._types import FloatArray, IndexArray

RELATIVE_TOLERANCE = 1e-9
"""A resource with headroom below this share of its capacity counts as saturated."""


def max_min_rates(flow: IndexArray, resource: IndexArray, capacity: FloatArray, n_flows: int) -> FloatArray:
    """Max-min fair rate of every flow over shared resources (link directions), in the capacity's unit.

    Entry i says that flow `flow[i]` crosses resource `resource[i]`. Progressive filling: all unfrozen flows
    rise together by Δ = min_r h_r / n_r (h_r headroom, n_r unfrozen flows on r); resources left without
    headroom saturate and freeze every flow on them. At most one round per resource; the result has no
    resource over capacity and every flow meets a saturated resource where no other flow gets more.
    A flow that crosses no resource is unbounded (inf); one that crosses a zero-capacity resource gets 0.
    """
    flow, resource = np.asarray(flow, dtype=np.intp), np.asarray(resource, dtype=np.intp)
    capacity = np.asarray(capacity, dtype=np.float64)
    headroom = capacity.copy()
    tolerance = RELATIVE_TOLERANCE * capacity
    rate = np.zeros(n_flows)
    frozen = np.bincount(flow, minlength=n_flows) == 0
    rate[frozen] = np.inf
    while not frozen.all():
        active = ~frozen[flow]
        on_resource = np.bincount(resource[active], minlength=capacity.size)
        used = on_resource > 0
        delta = float(np.min(np.maximum(headroom[used], 0.0) / on_resource[used]))
        rate[~frozen] += delta
        headroom -= delta * on_resource
        saturated = used & (headroom <= tolerance)
        frozen[flow[active & saturated[resource]]] = True
    return rate


def demand_rates(subflow_demand: IndexArray, subflow_rate: FloatArray, n_demands: int) -> FloatArray:
    """Rate of each demand (a GPU-to-GPU transfer) as the sum of its sub-flows' rates (one per path)."""
    return np.bincount(subflow_demand, weights=subflow_rate, minlength=n_demands).astype(np.float64)
