"""Rack geometry of the cables: unit heights, port positions, routes and their lengths.

Coordinates are in the rear plane of the rack: x (mm) across the equipment bay from its left edge, z (mm) up
from the bottom of U1. A cable leaves its connector on a tray face, runs level to the nearest column of its
riser (the spine, a side channel, the busbar), climbs or drops in it, and runs level to its far connector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from racksim._types import FloatArray, IndexArray

if TYPE_CHECKING:
    from racksim.design.schema import Design


def unit_centres_z_mm(design: Design, kinds: tuple[str, ...]) -> FloatArray:
    """Mid-height of every unit of the given slot kinds, bottom to top: z = (u − 1 + h/2) · pitch, mm."""
    pitch = design.rack.u_pitch_mm
    centres = [(slot.u - 1 + (i + 0.5) * design.slot_height_u(slot)) * pitch
               for slot in design.rack.slots if slot.kind in kinds
               for i in range(slot.count)]
    return np.sort(np.asarray(centres, dtype=float))


def connector_x_mm(port: IndexArray, ports_per_unit: int, connectors_x_mm: list[float]) -> FloatArray:
    """Lateral position of each port's connector: ports spread over the connectors in order, in equal blocks.

    connector = ⌊port · n_connectors / ports per unit⌋ (clipped to the last connector), mm.
    """
    columns = np.asarray(connectors_x_mm, dtype=float)
    return columns[np.minimum(port * columns.size // ports_per_unit, columns.size - 1)]


def nearest_column_x_mm(x_mm: FloatArray, columns_x_mm: list[float]) -> FloatArray:
    """Position of the riser column nearest each x (the first of equally near ones), mm."""
    columns = np.asarray(columns_x_mm, dtype=float)
    return columns[np.abs(x_mm[:, None] - columns[None, :]).argmin(axis=1)]


def route_length_m(source_x_mm: FloatArray, source_z_mm: FloatArray, dest_x_mm: FloatArray,
                   dest_z_mm: FloatArray, column_x_mm: FloatArray, source_depth_mm: float,
                   dest_depth_mm: float, slack_m: float) -> FloatArray:
    """Cable length over a riser column c: horizontal runs at both ends, the vertical run and the slack, m.

    L = (|x_s − c| + d_s + |z_s − z_d| + |x_d − c| + d_d) / 1000 + slack, where d are the level runs between
    the tray faces and the riser (0 at an end that is in the riser itself: the top exit, a busbar tap).
    """
    horizontal_mm = np.abs(source_x_mm - column_x_mm) + source_depth_mm + np.abs(dest_x_mm - column_x_mm) \
        + dest_depth_mm
    return (horizontal_mm + np.abs(source_z_mm - dest_z_mm)) / 1000.0 + slack_m


def scale_up_ports(trays: int, gpus_per_tray: int, links_per_gpu: int,
                   switch_trays: int) -> tuple[IndexArray, IndexArray, IndexArray, IndexArray]:
    """Every GPU link as (compute tray, port on it, switch tray, port on it), links in (tray, GPU, link) order.

    Link k of a GPU goes to switch tray s = k mod S; each GPU sends n_s = ⌈(links − s) / S⌉ links to tray s,
    and that tray's ports are numbered by (GPU place on its tray, compute tray, k div S), so the links of the
    same GPU place of every tray are adjacent (one cartridge column).
    """
    links = trays * gpus_per_tray * links_per_gpu
    tray = np.repeat(np.arange(trays), gpus_per_tray * links_per_gpu)
    gpu = np.tile(np.repeat(np.arange(gpus_per_tray), links_per_gpu), trays)
    link = np.tile(np.arange(links_per_gpu), trays * gpus_per_tray)
    switch = link % switch_trays
    per_switch = -(-(links_per_gpu - switch) // switch_trays)
    switch_port = (gpu * trays + tray) * per_switch + link // switch_trays
    tray_port = np.arange(links) % (gpus_per_tray * links_per_gpu)
    return tray, tray_port, switch, switch_port
