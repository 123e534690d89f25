"""Design-file models of the `network` section: the scale-up domain, scale-out NICs and fabric, protocols.

`racksim.design.schema` imports this module for `Design.network`, so it builds on `racksim.design.base` (as
`racksim.design.cabling_schema` does). NIC count and line rate live on the compute tray (`compute_tray.nics`) and
switch chips on the switch tray (`switch_tray.switch_chips`); this section does not repeat them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from racksim.design.base import Model

PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(gt=0)]
Efficiency = Annotated[float, Field(gt=0, le=1)]


class ScaleUp(Model):
    """Scale-up (NVLink-class) domain: every GPU of the rack links to the switch chips of its switch trays.

    Link k of a GPU goes to switch chip k mod (switch trays × chips per tray), so with 18 links and 4 chips a
    GPU has 5, 5, 4 and 4 links to the chips (HGX H100), with 18 links and 18 chips one to each (NVL72).
    """

    links_per_gpu: PositiveInt
    """Scale-up links from each GPU, one to a switch port each."""
    link_bandwidth_gbyte_s: PositiveFloat
    """Bandwidth of one link in one direction, GB/s (bytes)."""
    link_latency_s: PositiveFloat
    """One-way latency of one link (SerDes, FEC, wire) between a GPU and a switch chip, s."""
    switch_latency_s: PositiveFloat
    """Latency through one switch chip (port to port), s."""
    p2p_efficiency: Efficiency
    """Share of the links' line rate that point-to-point collectives (ring, tree, all-to-all) achieve with
    NCCL's Simple protocol: the rest is protocol and synchronization overhead."""
    in_switch_efficiency: Efficiency | None = None
    """Share of the line rate in-switch reduction (NVLS, NVLink SHARP) achieves, counted on its traffic
    S·(1 + 1/n) per GPU and direction; absent: the switches do not reduce."""
    channels: PositiveInt = 16
    """Channels (CUDA blocks, each a ring or tree) of point-to-point collectives at full size; NCCL runs fewer
    below channels · threads · threshold bytes (src/enqueue.cc topoGetAlgoInfo)."""
    in_switch_channels: PositiveInt = 16
    """Channels of in-switch reduction (NCCL src/transport/nvls.cc: 16 on Hopper, 24 on a Blackwell NVLink
    domain); its chunks reach full size from 64 · channels · 128 KiB."""
    in_switch_fill_rounds: NonNegativeFloat = 0.0
    """Pipeline fill of in-switch reduction once its chunks are full, in rounds of channels × 128 KiB moved at
    the in-switch rate: the intercept of the measured large-message time (calibrated per design)."""


class Fabric(Model):
    """A rail-optimized two-tier leaf/spine fabric joining the scale-up domains (racks).

    NIC k of every compute tray of every rack connects to the leaf of rail k mod `rails`; each leaf's
    uplinks (its downlink bandwidth / `oversubscription`) spread evenly over the spines.
    """

    rails: PositiveInt
    """Leaf switches, one per rail."""
    spines: PositiveInt
    """Spine switches; every leaf has one uplink bundle to each."""
    oversubscription: Annotated[float, Field(ge=1)] = 1.0
    """Leaf downlink bandwidth over its uplink bandwidth (1: non-blocking)."""
    switch_latency_s: PositiveFloat
    """Latency through one leaf or spine switch, s."""
    link_latency_s: PositiveFloat
    """One-way latency of one leaf–spine link, s."""


class ScaleOut(Model):
    """Scale-out networking: the compute tray's NICs (`compute_tray.nics`) on a leaf/spine fabric."""

    nic_latency_s: PositiveFloat
    """One-way latency from a GPU through its NIC and cable to the leaf, s."""
    efficiency: Efficiency
    """Share of the NICs' line rate collectives achieve (RDMA headers, protocol overhead)."""
    collective_nics: PositiveInt | None = None
    """NICs of one scale-up domain that a collective spanning domains drives at once: the rails its trees and
    rings leave the domain on (NCCL's NVLS heads for NVLS-tree, one NIC per channel for ring and tree), each
    carrying an equal share. Absent: every NIC of the domain for the trees and one per channel for the ring.
    A design sets it where NCCL's graph search leaves NICs idle (calibrated per design, see its file)."""
    fabric: Fabric


class Protocol(Model):
    """A collective protocol (NCCL's LL, LL128, Simple): payload share and fixed costs."""

    bandwidth_fraction: Efficiency
    """Share of the achieved bandwidth that carries payload (LL: a 4-byte flag with every 4 bytes of data)."""
    base_latency_s: NonNegativeFloat
    """Fixed cost of one collective (launch, setup), s."""
    step_latency_s: NonNegativeFloat
    """Cost of one algorithm step (one ring or tree hop) on top of the path's wire and switch latency, s."""


# Sources: NCCL src/graph/tuning.cc (NVIDIA/nccl 2.2x): baseLat Ring {LL 6.6, LL128 14.0, Simple 8.4} µs, NVLink
# hwLat Ring {LL 0.6, LL128 1.9, Simple 3.4} µs; NVLS base latency 23 µs. LL carries 4 data bytes per 8-byte word,
# LL128 120 of 128 bytes (NCCL docs).
_LL = Protocol(bandwidth_fraction=0.5, base_latency_s=6.6e-6, step_latency_s=0.6e-6)
_LL128 = Protocol(bandwidth_fraction=120 / 128, base_latency_s=14.0e-6, step_latency_s=1.9e-6)
_SIMPLE = Protocol(bandwidth_fraction=1.0, base_latency_s=8.4e-6, step_latency_s=3.4e-6)


class Protocols(Model):
    """The protocols a collective may use; the fastest (algorithm, protocol) pair wins at each size."""

    ll: Protocol = _LL
    """Low-latency protocol: flag in every 8-byte word (NCCL LL)."""
    ll128: Protocol = _LL128
    """Flag in every 128-byte line (NCCL LL128)."""
    simple: Protocol = _SIMPLE
    """Bulk protocol with fences (NCCL Simple)."""
    in_switch_base_latency_s: NonNegativeFloat = 23e-6
    """Fixed cost of an in-switch (NVLS) collective, s (NCCL tuning.cc NVLS baseLat, 23 µs)."""


class Network(Model):
    """Networks of the rack."""

    scale_up: ScaleUp
    scale_out: ScaleOut
    protocols: Protocols = Protocols()
