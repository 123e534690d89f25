"""Compile a design's networks to struct-of-arrays link tables, for one rack or N racks on the fabric.

Nodes are numbered GPUs first (rack-major), then scale-up switch chips, NICs, leaves and spines. Each link joins
two nodes and is full duplex: `bandwidth_gbyte_s` is per direction. Parallel links between the same two nodes
(HGX: 5 NVLinks from a GPU to one NVSwitch chip) stay separate rows, so one of them can fail alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from racksim._types import BoolArray, FloatArray, IndexArray

if TYPE_CHECKING:
    from racksim.design.schema import Design



SCALE_UP, NIC, UPLINK = 0, 1, 2
"""Link kinds: GPU–switch chip, NIC–leaf, leaf–spine."""


@dataclass(frozen=True)
class Topology:
    """Every link of the run: endpoints, bandwidth per direction, one-way latency, up/down state."""

    n_racks: int
    gpus_per_rack: int
    switches_per_rack: int
    n_nodes: int
    node_latency_s: FloatArray
    """Latency through each node when a path crosses it (switch chips, leaves, spines; 0 for GPUs, NICs), s."""
    gpu_nic: IndexArray
    """NIC node of each GPU (GPUs of a tray share its NICs in order)."""
    nic_leaf: IndexArray
    """Leaf node of each NIC (indexed by NIC number, not node)."""
    first_nic_node: int
    leaf_nodes: IndexArray
    spine_nodes: IndexArray
    link_src: IndexArray
    link_dst: IndexArray
    link_kind: NDArray[np.int8]
    link_bandwidth_gbyte_s: FloatArray
    link_latency_s: FloatArray
    link_up: BoolArray

    @property
    def n_gpus(self) -> int:
        """GPUs of all racks."""
        return self.n_racks * self.gpus_per_rack

    @property
    def n_links(self) -> int:
        """Links of all kinds."""
        return int(self.link_src.size)

    def with_links_down(self, links: IndexArray | list[int]) -> Topology:
        """The same topology with `links` failed."""
        up = self.link_up.copy()
        up[np.asarray(links, dtype=np.intp)] = False
        return replace(self, link_up=up)

    @cached_property
    def gpu_switch_bandwidth_gbyte_s(self) -> FloatArray:
        """Working scale-up bandwidth from each GPU to each switch chip of its rack, (racks, gpus, chips), GB/s.

        B[r, g, c] = Σ bandwidth of the up links between GPU g and chip c of rack r.
        """
        rows = np.flatnonzero((self.link_kind == SCALE_UP) & self.link_up)
        gpu = self.link_src[rows]
        chip = self.link_dst[rows] - self.n_gpus
        rack = gpu // self.gpus_per_rack
        out = np.zeros((self.n_racks, self.gpus_per_rack, self.switches_per_rack))
        np.add.at(out, (rack, gpu % self.gpus_per_rack, chip % self.switches_per_rack),
                  self.link_bandwidth_gbyte_s[rows])
        return out


def compile_topology(design: Design, n_racks: int = 1) -> Topology:
    """The design's scale-up domain per rack and, for several racks, the NICs and the leaf/spine fabric."""
    tray, up, out = design.compute_tray, design.network.scale_up, design.network.scale_out
    trays = design.slot_count("compute")
    gpus_per_rack = trays * tray.gpus.count
    chips_per_rack = design.slot_count("switch") * design.switch_tray.switch_chips
    n_gpus = n_racks * gpus_per_rack
    n_chips = n_racks * chips_per_rack
    nics_per_rack = trays * tray.nics.count
    n_nics = n_racks * nics_per_rack if n_racks > 1 else 0
    fabric = out.fabric
    n_leaves, n_spines = (fabric.rails, fabric.spines) if n_nics else (0, 0)
    first_nic = n_gpus + n_chips
    first_leaf = first_nic + n_nics
    first_spine = first_leaf + n_leaves
    n_nodes = first_spine + n_spines

    node_latency_s = np.zeros(n_nodes)
    node_latency_s[n_gpus:first_nic] = up.switch_latency_s
    node_latency_s[first_leaf:] = fabric.switch_latency_s

    # Scale-up: link k of GPU g to chip k mod chips of its rack.
    gpu = np.repeat(np.arange(n_gpus), up.links_per_gpu)
    chip_in_rack = np.tile(np.arange(up.links_per_gpu) % chips_per_rack, n_gpus)
    src = [gpu]
    dst = [n_gpus + (gpu // gpus_per_rack) * chips_per_rack + chip_in_rack]
    kind = [np.full(gpu.size, SCALE_UP)]
    bandwidth = [np.full(gpu.size, up.link_bandwidth_gbyte_s)]
    latency = [np.full(gpu.size, up.link_latency_s)]

    gpu_tray = np.arange(n_gpus) // tray.gpus.count
    gpu_nic = np.full(n_gpus, -1)
    nic_leaf = np.zeros(0, dtype=np.intp)
    if n_nics:
        # GPU j of a tray uses NIC ⌊j · nics / gpus⌋ of its tray; NIC k of a tray is on rail k mod rails.
        local = (np.arange(n_gpus) % tray.gpus.count) * tray.nics.count // tray.gpus.count
        gpu_nic = first_nic + gpu_tray * tray.nics.count + local
        nic = np.arange(n_nics)
        nic_leaf = first_leaf + (nic % tray.nics.count) % fabric.rails
        nic_gbyte_s = tray.nics.bandwidth_gbps / 8
        src.append(first_nic + nic)
        dst.append(nic_leaf)
        kind.append(np.full(n_nics, NIC))
        bandwidth.append(np.full(n_nics, nic_gbyte_s))
        latency.append(np.full(n_nics, out.nic_latency_s))
        # Uplinks: leaf downlink bandwidth / oversubscription, spread over the spines.
        downlink_gbyte_s = np.bincount(nic_leaf - first_leaf, minlength=n_leaves) * nic_gbyte_s
        leaf = np.repeat(np.arange(n_leaves), n_spines)
        src.append(first_leaf + leaf)
        dst.append(first_spine + np.tile(np.arange(n_spines), n_leaves))
        kind.append(np.full(leaf.size, UPLINK))
        bandwidth.append(downlink_gbyte_s[leaf] / fabric.oversubscription / n_spines)
        latency.append(np.full(leaf.size, fabric.link_latency_s))

    link_src = np.concatenate(src).astype(np.intp)
    return Topology(
        n_racks=n_racks, gpus_per_rack=gpus_per_rack, switches_per_rack=chips_per_rack, n_nodes=n_nodes,
        node_latency_s=node_latency_s, gpu_nic=gpu_nic.astype(np.intp), nic_leaf=nic_leaf.astype(np.intp),
        first_nic_node=first_nic,
        leaf_nodes=np.arange(first_leaf, first_spine), spine_nodes=np.arange(first_spine, n_nodes),
        link_src=link_src, link_dst=np.concatenate(dst).astype(np.intp),
        link_kind=np.concatenate(kind).astype(np.int8), link_bandwidth_gbyte_s=np.concatenate(bandwidth),
        link_latency_s=np.concatenate(latency), link_up=np.ones(link_src.size, dtype=bool),
    )
