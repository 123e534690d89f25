"""The run's mutable plant state: what faults and controllers change between events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray
from racksim.physics.arrays import RackArrays


@dataclass
class PlantState:
    """Healthy pumps and fans, CDU and facility condition, controller outputs, chips switched off."""

    healthy_pumps: NDArray[np.int64]
    healthy_fans: NDArray[np.int64]
    facility_offset_c: FloatArray
    """Facility water above its design supply temperature, K."""
    cdu_rejecting: NDArray[np.bool_]
    loop_temp_c: FloatArray
    """Secondary supply temperature as last evaluated, carried forward while the loop's own coolant mass
    takes the heat (CDU failed, or no pump running), °C."""
    fan_speed: FloatArray
    """Fan controller output, share of full speed."""
    chip_off: NDArray[np.bool_]
    """Chips that shut themselves down."""
    chip_failures: NDArray[np.int64]
    """Failures in progress (not yet repaired) that hold each chip down: its own, its host's."""
    tray_in_job: NDArray[np.bool_]
    """Compute trays the job runs on; the others are hot spares, idle."""
    link_failures: NDArray[np.int64]
    """Failures in progress holding each scale-up link down (links in the network topology's order)."""
    psus_installed_by_feed: FloatArray
    """PSUs installed per rack (rows) on each feed (columns)."""
    psus_lost: FloatArray
    """PSUs failed per rack (taken from feed A's shelves first)."""
    feed_up: NDArray[np.bool_]
    """Feeds energized per rack (rows) and feed (columns: A, then B)."""
    gpu_cap_w: FloatArray
    """Power cap the capping controller set for every GPU of each rack (inf: none), W."""
    tripped: NDArray[np.bool_]
    """Racks whose supply tripped: no load until an operator resets them (engine/power_control.py)."""

    @property
    def psus_by_feed(self) -> FloatArray:
        """Healthy, energized PSUs per rack and feed: failures are taken from feed A first, then B."""
        installed, lost = self.psus_installed_by_feed, self.psus_lost[:, None]
        before = np.cumsum(installed, axis=1) - installed  # PSUs on the feeds ahead of this one
        return (installed - np.clip(lost - before, 0.0, installed)) * self.feed_up

    @property
    def healthy_psus(self) -> FloatArray:
        """Healthy, energized PSUs sharing each rack's load."""
        return self.psus_by_feed.sum(axis=1)

    @property
    def chip_down(self) -> NDArray[np.bool_]:
        """Chips drawing nothing: shut down by temperature or held down by a failure."""
        return self.chip_off | (self.chip_failures > 0)

    def supplied(self) -> NDArray[np.bool_]:
        """Racks with at least one energized feed and not tripped."""
        return self.feed_up.any(axis=1) & ~self.tripped

    @classmethod
    def nominal(cls, arrays: RackArrays) -> PlantState:
        """Everything healthy, the fans at their lowest speed, the loop at facility temperature."""
        cooling, racks = arrays.cooling, arrays.n_racks
        return cls(
            healthy_pumps=np.full(racks, cooling.pumps_installed),
            healthy_fans=np.full(racks, cooling.fans_installed),
            facility_offset_c=np.zeros(racks),
            cdu_rejecting=np.ones(racks, dtype=bool),
            loop_temp_c=np.full(racks, cooling.facility_supply_temp_c),
            fan_speed=np.full(racks, cooling.fan_min_speed),
            chip_off=np.zeros(arrays.chips.is_gpu.size, dtype=bool),
            chip_failures=np.zeros(arrays.chips.is_gpu.size, dtype=np.int64),
            tray_in_job=arrays.tray_in_job.copy(),
            link_failures=np.zeros(arrays.chips.is_gpu.sum() * arrays.design.network.scale_up.links_per_gpu,
                                   dtype=np.int64),
            psus_installed_by_feed=arrays.shelf_units_by_feed,
            psus_lost=np.zeros(racks),
            feed_up=np.ones((racks, arrays.design.power.feed.count), dtype=bool),
            gpu_cap_w=np.full(racks, np.inf),
            tripped=np.zeros(racks, dtype=bool),
        )
