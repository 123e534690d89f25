"""Scheduled faults as changes to the plant state: a start action and, if repaired, an end action."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from racksim._types import IndexArray
from racksim.design.suite import Fault
from racksim.errors import InputError
from racksim.physics.arrays import RackArrays
from racksim.physics.plant import PlantState

PlantChange = Callable[[PlantState], None]
"""Mutates the plant state in place."""


@dataclass(frozen=True)
class FaultAction:
    """One dated change of the plant: a fault starting or being repaired."""

    time_s: float
    label: str
    change: PlantChange
    interrupts: bool = False
    """True when the fault stops the synchronous job (it restarts from its last checkpoint)."""


def _lose_pumps(count: int, arrays: RackArrays) -> PlantChange:
    def change(plant: PlantState) -> None:
        plant.healthy_pumps = np.clip(plant.healthy_pumps - count, 0, arrays.cooling.pumps_installed)
    return change


def _lose_psus(count: int, arrays: RackArrays) -> PlantChange:
    def change(plant: PlantState) -> None:
        plant.psus_lost = np.clip(plant.psus_lost + count, 0, arrays.shelf_units)
    return change


def _lose_fans(count: int, arrays: RackArrays) -> PlantChange:
    def change(plant: PlantState) -> None:
        plant.healthy_fans = np.clip(plant.healthy_fans - count, 0, arrays.cooling.fans_installed)
    return change


def failures_held(attribute: str, indices: np.ndarray, step: int) -> PlantChange:
    """Add `step` to the failure counts (`chip_failures` or `link_failures`) holding `indices` down."""
    def change(plant: PlantState) -> None:
        failures = getattr(plant, attribute).copy()
        failures[indices] += step
        setattr(plant, attribute, failures)
    return change


def _links_of_fault(count: int, arrays: RackArrays) -> np.ndarray:
    """Link k of GPU k for k < count: each on its own GPU (scale-up links numbered GPU by GPU)."""
    per_gpu = arrays.design.network.scale_up.links_per_gpu
    return np.arange(count) * (per_gpu + 1) % (int(arrays.chips.is_gpu.sum()) * per_gpu)


def _set_feeds(feeds: Sequence[str], energized: bool) -> PlantChange:
    columns = sorted({"ab".index(name) for name in feeds})

    def change(plant: PlantState) -> None:
        present = [c for c in columns if c < plant.feed_up.shape[1]]
        feed_up = plant.feed_up.copy()
        feed_up[:, present] = energized
        plant.feed_up = feed_up
    return change


def _cdu_rejecting(rejecting: bool, racks: IndexArray | None = None) -> PlantChange:
    """Every rack's CDU (racks None), or the given racks', starts or stops rejecting heat."""
    def change(plant: PlantState) -> None:
        if racks is None:
            plant.cdu_rejecting = np.full_like(plant.cdu_rejecting, rejecting)
            return
        cdu_rejecting = plant.cdu_rejecting.copy()
        cdu_rejecting[racks] = rejecting
        plant.cdu_rejecting = cdu_rejecting
    return change


def _row_cdu_racks(fault: Fault, arrays: RackArrays, source: str, index: int) -> IndexArray:
    """The racks of the fault's CDU; an InputError naming the fault if the hall has no such CDU."""
    racks = arrays.hall.cdu_racks(fault.row, fault.cdu)
    if racks is None:
        raise InputError(source, f"faults.{index}", f"no CDU {fault.cdu} in row {fault.row}: the hall has "
                         f"{arrays.hall.n_rows} row(s) and {int(arrays.hall.rack_cdu.max()) + 1} CDU(s)")
    return racks


def _facility_offset(delta_c: float) -> PlantChange:
    def change(plant: PlantState) -> None:
        plant.facility_offset_c = plant.facility_offset_c + delta_c
    return change


def fault_actions(faults: list[Fault], arrays: RackArrays, source: str = "scenario") -> list[FaultAction]:
    """Start and repair actions of every fault, in time order (stable for equal times); `source` names errors."""
    actions = []
    for index, fault in enumerate(faults):
        if fault.kind == "psu_failure":
            start, end = _lose_psus(fault.count, arrays), _lose_psus(-fault.count, arrays)
            what = f"{fault.count} PSU(s)"
        elif fault.kind == "pump_failure":
            start, end = _lose_pumps(fault.count, arrays), _lose_pumps(-fault.count, arrays)
            what = f"{fault.count} pump(s)"
        elif fault.kind == "fan_failure":
            start, end = _lose_fans(fault.count, arrays), _lose_fans(-fault.count, arrays)
            what = f"{fault.count} fan(s)"
        elif fault.kind == "cdu_failure":
            start, end = _cdu_rejecting(False), _cdu_rejecting(True)
            what = "CDU heat rejection"
        elif fault.kind == "row_cdu_failure":
            racks = _row_cdu_racks(fault, arrays, source, index)
            start, end = _cdu_rejecting(False, racks), _cdu_rejecting(True, racks)
            what = f"row {fault.row} CDU {fault.cdu}: racks {racks[0]}-{racks[-1]}"
        elif fault.kind == "link_failure":
            links = _links_of_fault(fault.count, arrays)
            start, end = failures_held("link_failures", links, 1), failures_held("link_failures", links, -1)
            what = f"{fault.count} scale-up link(s)"
        elif fault.kind == "feed_loss":
            start, end = _set_feeds(fault.feeds, False), _set_feeds(fault.feeds, True)
            what = "feed " + " and ".join(fault.feeds)
        else:
            start, end = _facility_offset(fault.delta_temp_c), _facility_offset(-fault.delta_temp_c)
            what = f"facility water {fault.delta_temp_c:+g} K"
        actions.append(FaultAction(fault.at_s, f"{fault.kind} ({what})", start))
        if fault.duration_s is not None:
            actions.append(FaultAction(fault.at_s + fault.duration_s, f"repair: {fault.kind}", end))
    return sorted(actions, key=lambda action: action.time_s)
