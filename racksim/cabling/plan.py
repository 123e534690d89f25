"""The cabling plan of a design: every link and power cord of one rack, its route, length, medium and cost.

Built once per design with numpy repeat/tile (no loop over links); the physics is in `geometry` and `media`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

import racksim.cabling.geometry as geometry
from racksim._types import FloatArray, IndexArray
from racksim.cabling.media import (
    end_power_w,
    insertion_loss_db_per_m,
    link_cost_usd,
    nyquist_frequency_ghz,
    reach_m,
    select_media,
)
from racksim.design.cabling_schema import POWER_CORD, LinkGroup
from racksim.errors import InputError

if TYPE_CHECKING:
    from racksim.design.schema import Design

GROUPS = ("scale_up", "scale_out", "power")
"""Cable groups, indexed by `CablingPlan.group`."""
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CablingPlan:
    """Every cable run of one rack as struct-of-arrays: a row per signal link or power cord."""

    medium_names: tuple[str, ...]
    """Names indexed by `medium`: the catalog's media in order, then the power cords."""
    medium_kinds: tuple[str, ...]
    """Kind of each medium ('power' for the cords)."""
    group: IndexArray
    """Index into GROUPS."""
    medium: IndexArray
    source_unit: IndexArray
    """Index of the source unit among its kind (compute trays, or network and other units), bottom up."""
    source_z_mm: FloatArray
    dest_z_mm: FloatArray
    """Height of the far end: a switch tray port, the top of the rack, or the busbar tap, mm."""
    length_m: FloatArray
    """Length of the row's cables (each of them), m."""
    cables: IntArray
    """Cables per row (2 · lanes for loose pairs, 1 for an assembly or a cord)."""
    power_w: FloatArray
    """Power of the ends in this rack (drawn from its busbar), W."""
    remote_power_w: FloatArray
    """Power of the ends outside the rack (the leaf switch's transceivers), W."""
    cost_usd: FloatArray
    mass_kg: FloatArray
    failure_rate_fit: FloatArray
    """Failure rate of the row's link or cord, FIT."""
    reach_m: dict[str, dict[str, float]]
    """Reach of each candidate medium at each signal group's lane rate, m."""

    @property
    def rack_power_w(self) -> float:
        """Power of all active media and transceiver ends in this rack, W."""
        return float(self.power_w.sum())


@dataclass(frozen=True)
class _Rows:
    """The per-row columns of one group (see CablingPlan)."""

    medium: IndexArray
    cables: IntArray
    power_w: FloatArray
    remote_power_w: FloatArray
    cost_usd: FloatArray
    mass_kg: FloatArray
    failure_rate_fit: FloatArray


def _signal_rows(design: Design, name: str, group: LinkGroup, length_m: FloatArray,
                 ends_in_rack: int) -> tuple[_Rows, dict[str, float]]:
    """One signal group's links on the cheapest medium that reaches each, and each candidate's reach (m)."""
    cabling = design.cabling
    names = list(cabling.media)
    media = [cabling.media[m] for m in group.media]

    def column(attribute: str) -> FloatArray:
        return np.array([getattr(medium, attribute) for medium in media], dtype=float)

    lanes, rate = group.lanes_per_link, group.lane_rate_gbps
    loss = insertion_loss_db_per_m(nyquist_frequency_ghz(rate, group.bits_per_symbol),
                                   column("skin_loss_db_per_m_sqrt_ghz"), column("dielectric_loss_db_per_m_ghz"))
    reach = reach_m(group.loss_budget_db, column("equalization_gain_db"), group.connector_loss_db, loss,
                    column("max_length_m"))
    cost = link_cost_usd(length_m[:, None], lanes, column("cost_usd_per_lane_end"), column("cost_usd_per_lane_m"))
    pick = select_media(length_m, reach, cost)
    if (pick < 0).any():
        raise InputError(design.name, f"cabling.{name}.media", f"{int((pick < 0).sum())} links of up to "
                         f"{length_m[pick < 0].max():.2f} m reach no listed medium (longest reach at {rate:g} Gb/s "
                         f"per lane: {reach.max():.2f} m)")
    end_w = end_power_w(lanes, rate, column("end_energy_pj_per_bit")[pick])
    rows = _Rows(
        medium=np.array([names.index(m) for m in group.media], dtype=np.intp)[pick],
        cables=np.full(length_m.size, 2 * lanes if group.cable_unit == "pair" else 1, dtype=np.int64),
        power_w=end_w * ends_in_rack,
        remote_power_w=end_w * (2 - ends_in_rack),
        cost_usd=cost[np.arange(length_m.size), pick],
        mass_kg=column("mass_kg_per_lane_m")[pick] * lanes * length_m,
        failure_rate_fit=column("failure_rate_fit_per_lane_end")[pick] * lanes * 2,
    )
    return rows, dict(zip(group.media, reach.tolist(), strict=True))


def plan_cabling(design: Design) -> CablingPlan:
    """Route, measure and choose the medium of every link and cord of one rack of `design`."""
    cabling, pitch = design.cabling, design.rack.u_pitch_mm
    compute_z = geometry.unit_centres_z_mm(design, ("compute",))
    switch_z = geometry.unit_centres_z_mm(design, ("switch",))
    gpus, links_per_gpu = design.compute_tray.gpus.count, design.network.scale_up.links_per_gpu

    up = cabling.scale_up
    tray, tray_port, switch, switch_port = geometry.scale_up_ports(compute_z.size, gpus, links_per_gpu, switch_z.size)
    up_x = geometry.connector_x_mm(tray_port, gpus * links_per_gpu, up.port_x_mm)
    up_dest_x = geometry.connector_x_mm(switch_port, design.switch_tray.ports, up.switch_port_x_mm)
    up_length = geometry.route_length_m(up_x, compute_z[tray], up_dest_x, switch_z[switch],
                                        geometry.nearest_column_x_mm(up_x, up.riser.x_mm), up.riser.depth_mm,
                                        up.riser.depth_mm, up.service_slack_m)

    out, nics = cabling.scale_out, design.compute_tray.nics.count
    nic_tray = np.repeat(np.arange(compute_z.size), nics)
    out_x = geometry.connector_x_mm(np.tile(np.arange(nics), compute_z.size), max(nics, 1), out.port_x_mm)
    out_column = geometry.nearest_column_x_mm(out_x, out.riser.x_mm)
    top_z = np.full(nic_tray.size, design.rack.height_u * pitch)
    out_length = geometry.route_length_m(out_x, compute_z[nic_tray], out_column, top_z, out_column,
                                         out.riser.depth_mm, 0.0, out.service_slack_m + out.beyond_rack_m)

    cords = cabling.power
    corded_z = geometry.unit_centres_z_mm(design, ("network", "other"))
    cord_unit = np.repeat(np.arange(corded_z.size), cords.cables_per_unit)
    cord_z = corded_z[cord_unit]
    cord_x = np.full(cord_unit.size, cords.port_x_mm)
    busbar_x = geometry.nearest_column_x_mm(cord_x, cords.busbar.x_mm)
    cord_length = geometry.route_length_m(cord_x, cord_z, busbar_x, cord_z, busbar_x, cords.busbar.depth_mm, 0.0,
                                          cords.service_slack_m)

    up_rows, up_reach = _signal_rows(design, "scale_up", up, up_length, 2)
    out_rows, out_reach = _signal_rows(design, "scale_out", out, out_length, 1)
    zeros = np.zeros(cord_unit.size)
    cord_rows = _Rows(
        medium=np.full(cord_unit.size, len(cabling.media), dtype=np.intp),
        cables=np.ones(cord_unit.size, dtype=np.int64),
        power_w=zeros,
        remote_power_w=zeros,
        cost_usd=cords.cost_usd_per_cable + cords.cost_usd_per_m * cord_length,
        mass_kg=cords.mass_kg_per_m * cord_length,
        failure_rate_fit=np.full(cord_unit.size, cords.failure_rate_fit_per_cable),
    )

    def joined(column: str) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(rows, column) for rows in (up_rows, out_rows, cord_rows)])

    return CablingPlan(
        medium_names=(*cabling.media, POWER_CORD),
        medium_kinds=(*(m.kind for m in cabling.media.values()), "power"),
        group=np.repeat(np.arange(len(GROUPS)), [up_length.size, out_length.size, cord_length.size]),
        medium=joined("medium").astype(np.intp),
        source_unit=np.concatenate([tray, nic_tray, cord_unit]),
        source_z_mm=np.concatenate([compute_z[tray], compute_z[nic_tray], cord_z]),
        dest_z_mm=np.concatenate([switch_z[switch], top_z, cord_z]),
        length_m=np.concatenate([up_length, out_length, cord_length]),
        cables=joined("cables").astype(np.int64),
        power_w=joined("power_w").astype(float),
        remote_power_w=joined("remote_power_w").astype(float),
        cost_usd=joined("cost_usd").astype(float),
        mass_kg=joined("mass_kg").astype(float),
        failure_rate_fit=joined("failure_rate_fit").astype(float),
        reach_m={"scale_up": up_reach, "scale_out": out_reach},
    )
