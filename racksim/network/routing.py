"""Route GPU-to-GPU transfers over a topology's links and share the links max-min fairly.

A transfer inside a rack is sprayed over every switch chip (one sub-flow per chip: GPU → chip → GPU); one
between racks goes GPU → NIC → leaf [→ spine layer → leaf] → NIC → GPU. Parallel links between the same two
nodes form one bundle whose capacity is the sum of its working links, per direction. ECMP spreads a leaf's
traffic evenly over its uplinks, so a leaf's working uplinks act as one resource per direction and the spine
layer as one non-blocking stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.network.contention import demand_rates, max_min_rates
from racksim.network.topology import UPLINK, Topology


@dataclass(frozen=True)
class Routed:
    """Concurrent transfers after water-filling: each one's rate and path latency."""

    rate_gbyte_s: FloatArray
    """Max-min fair rate of each transfer (sum over its sub-flows), GB/s."""
    latency_s: FloatArray
    """One-way latency of each transfer's path: links plus the switches it crosses, s."""
    cross_rack: np.ndarray
    """Whether each transfer leaves its rack (bool)."""


class Router:
    """The bundles of a topology and the routing of concurrent transfers over them."""

    def __init__(self, topology: Topology) -> None:
        """Group the topology's links into bundles (one per pair of nodes) with capacity and latency."""
        self.topology = topology
        keys = topology.link_src * topology.n_nodes + topology.link_dst
        self._keys, bundle = np.unique(keys, return_inverse=True)
        up_bandwidth = topology.link_bandwidth_gbyte_s * topology.link_up
        # One bundle more than there are node pairs: a zero-capacity stand-in for pairs with no link.
        self.capacity_gbyte_s = np.bincount(bundle, weights=up_bandwidth, minlength=self._keys.size + 1)
        self.latency_s = np.zeros(self._keys.size + 1)
        np.maximum.at(self.latency_s, bundle, topology.link_latency_s)
        uplink = topology.link_kind == UPLINK
        leaf = np.searchsorted(topology.leaf_nodes, topology.link_src[uplink])
        self.leaf_uplink_gbyte_s = np.bincount(leaf, weights=up_bandwidth[uplink],
                                               minlength=topology.leaf_nodes.size)
        self.uplink_latency_s = float(topology.link_latency_s[uplink].max(initial=0.0))

    @property
    def n_bundles(self) -> int:
        """Bundles: node pairs joined by at least one link, and the empty stand-in."""
        return int(self._keys.size + 1)

    def bundle(self, lower: IndexArray, upper: IndexArray) -> IndexArray:
        """Bundle index of each (lower node, upper node) pair: GPU–chip, NIC–leaf or leaf–spine.

        Pairs no link joins get the empty stand-in.
        """
        keys = np.asarray(lower, dtype=np.intp) * self.topology.n_nodes + np.asarray(upper, dtype=np.intp)
        index = np.minimum(np.searchsorted(self._keys, keys), self._keys.size - 1)
        return np.where(self._keys[index] == keys, index, self._keys.size)

    def route(self, src_gpu: IndexArray, dst_gpu: IndexArray) -> Routed:
        """Route concurrent transfers src → dst (GPU indices) and share the links max-min fairly."""
        top = self.topology
        src_gpu, dst_gpu = np.asarray(src_gpu, dtype=np.intp), np.asarray(dst_gpu, dtype=np.intp)
        n = src_gpu.size
        cross = src_gpu // top.gpus_per_rack != dst_gpu // top.gpus_per_rack
        up, down = 0, self.n_bundles  # resource offset of each direction
        demands: list[IndexArray] = []
        flows: list[IndexArray] = []
        resources: list[IndexArray] = []
        latency = np.zeros(n)
        next_flow = 0

        def add(demand: IndexArray, path: list[IndexArray], path_latency_s: FloatArray) -> None:
            nonlocal next_flow
            flow = next_flow + np.arange(demand.size)
            next_flow += demand.size
            demands.append(demand)
            for resource in path:
                flows.append(flow)
                resources.append(resource)
            np.maximum.at(latency, demand, path_latency_s)

        inside = np.flatnonzero(~cross)
        if inside.size:
            chips = top.switches_per_rack
            demand = np.repeat(inside, chips)
            rack = src_gpu[demand] // top.gpus_per_rack
            chip = top.n_gpus + rack * chips + np.tile(np.arange(chips), inside.size)
            first, second = self.bundle(src_gpu[demand], chip), self.bundle(dst_gpu[demand], chip)
            add(demand, [up + first, down + second],
                self.latency_s[first] + top.node_latency_s[chip] + self.latency_s[second])
        outside = np.flatnonzero(cross)
        if outside.size:
            nic_a, nic_b = top.gpu_nic[src_gpu[outside]], top.gpu_nic[dst_gpu[outside]]
            leaf_a = top.nic_leaf[nic_a - top.first_nic_node]
            leaf_b = top.nic_leaf[nic_b - top.first_nic_node]
            first, last = self.bundle(nic_a, leaf_a), self.bundle(nic_b, leaf_b)
            edge_s = self.latency_s[first] + self.latency_s[last] + top.node_latency_s[leaf_a]
            same = leaf_a == leaf_b
            add(outside[same], [up + first[same], down + last[same]], edge_s[same])
            far = ~same
            climb = 2 * self.n_bundles + leaf_a[far] - top.leaf_nodes[0]  # the leaf's uplinks, up
            descend = 2 * self.n_bundles + top.leaf_nodes.size + leaf_b[far] - top.leaf_nodes[0]  # and down
            spine_s = 2 * self.uplink_latency_s + float(top.node_latency_s[top.spine_nodes].max(initial=0.0))
            add(outside[far], [up + first[far], climb, descend, down + last[far]],
                edge_s[far] + spine_s + top.node_latency_s[leaf_b[far]])
        capacity = np.concatenate([self.capacity_gbyte_s, self.capacity_gbyte_s, self.leaf_uplink_gbyte_s,
                                   self.leaf_uplink_gbyte_s])
        subflow_rate = max_min_rates(np.concatenate(flows), np.concatenate(resources), capacity, next_flow)
        rate = demand_rates(np.concatenate(demands), subflow_rate, n)
        return Routed(rate, latency, cross)
