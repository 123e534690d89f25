"""What each sampled failure does to the run, and what its repair undoes.

A failure changes the plant (through the power and thermal models) and may interrupt the synchronous job.
"""

from __future__ import annotations

import numpy as np

from racksim.cabling import cabling_metrics
from racksim.physics.arrays import RackArrays
from racksim.physics.plant import PlantState
from racksim.reliability.processes import Failure
from racksim.workload.faults import FaultAction, PlantChange, failures_held

INTERRUPTING = frozenset({"gpu", "cpu", "host", "nic", "switch_tray", "link", "optic"})
"""Classes whose failure stops the synchronous job (a rank, its host or its links are gone)."""


def component_counts(arrays: RackArrays) -> dict[str, int]:
    """Components of each class over every rack of the run."""
    design, racks = arrays.design, arrays.n_racks
    trays = int(arrays.compute_tray_rack.size)
    shelves = design.power.shelves
    cabling = cabling_metrics(arrays.cabling)
    return {
        "gpu": int(arrays.chips.is_gpu.sum()),
        "cpu": int((~arrays.chips.is_gpu).sum()),
        "host": trays,
        "nic": trays * design.compute_tray.nics.count,
        "psu": int(arrays.shelf_units.sum()),
        "power_shelf": shelves.count * racks if shelves else 0,
        "fan": arrays.cooling.fans_installed * racks,
        "pump": arrays.cooling.pumps_installed * racks,
        "cdu": racks,
        "switch_tray": int(arrays.switch_tray_rack.size),
        "link": int(cabling["link_count"]) * racks,
        "optic": int(cabling["optical_link_count"]) * racks,
    }


def _per_rack(attribute: str, rack: int, step: float, low: float, high: float) -> PlantChange:
    def change(plant: PlantState) -> None:
        values = getattr(plant, attribute).copy()
        values[rack] = np.clip(values[rack] + step, low, high)
        setattr(plant, attribute, values)
    return change


def _cdu(rack: int, rejecting: bool) -> PlantChange:
    def change(plant: PlantState) -> None:
        values = plant.cdu_rejecting.copy()
        values[rack] = rejecting
        plant.cdu_rejecting = values
    return change


def _no_change(plant: PlantState) -> None:
    """Network failures change no power or heat; they interrupt the job."""


def _scale_up_links(failure: Failure, arrays: RackArrays) -> np.ndarray | None:
    """Scale-up links a `link` or `switch_tray` failure takes down (a link: one; a tray: all to its chips)."""
    design = arrays.design
    per_gpu = design.network.scale_up.links_per_gpu
    n_links = int(arrays.chips.is_gpu.sum()) * per_gpu
    if failure.component_class == "link":
        return np.array([failure.index % n_links])
    if failure.component_class != "switch_tray":
        return None
    # Links are ordered GPU by GPU, each GPU's links spread over the rack's switch chips in turn.
    chips_per_tray = design.switch_tray.switch_chips
    chips_per_rack = design.slot_count("switch") * chips_per_tray
    rack, tray = divmod(failure.index, design.slot_count("switch"))
    gpus_per_rack = n_links // per_gpu // arrays.n_racks
    chip = np.tile(np.arange(per_gpu) % chips_per_rack, gpus_per_rack)
    on_tray = np.flatnonzero(chip // chips_per_tray == tray)
    return rack * gpus_per_rack * per_gpu + on_tray


def _changes(failure: Failure, arrays: RackArrays) -> tuple[PlantChange, PlantChange]:
    """(fail, repair) plant changes of one failure."""
    chips, cooling, i = arrays.chips, arrays.cooling, failure.index
    kind = failure.component_class
    if kind == "gpu":
        target = np.flatnonzero(chips.is_gpu)[i:i + 1]
    elif kind in ("cpu", "host"):
        tray = chips.tray[np.flatnonzero(~chips.is_gpu)[i]] if kind == "cpu" else i
        target = np.flatnonzero(chips.tray == tray)
    else:
        target = None
    if target is not None:
        return failures_held("chip_failures", target, 1), failures_held("chip_failures", target, -1)
    links = _scale_up_links(failure, arrays)
    if links is not None:
        return failures_held("link_failures", links, 1), failures_held("link_failures", links, -1)
    units_per_rack = float(arrays.shelf_units[0])
    shelves = arrays.design.power.shelves
    if kind == "psu":
        attribute, rack, step, high = "psus_lost", int(i // units_per_rack), 1.0, units_per_rack
    elif kind == "power_shelf" and shelves is not None:
        attribute, rack, step, high = "psus_lost", i // shelves.count, float(shelves.units_per_shelf), units_per_rack
    elif kind == "fan":
        attribute, rack, step, high = "healthy_fans", i // cooling.fans_installed, -1.0, float(cooling.fans_installed)
    elif kind == "pump":
        pumps = cooling.pumps_installed
        attribute, rack, step, high = "healthy_pumps", i // pumps, -1.0, float(pumps)
    elif kind == "cdu":
        return _cdu(i, False), _cdu(i, True)
    else:
        return _no_change, _no_change
    return _per_rack(attribute, rack, step, 0.0, high), _per_rack(attribute, rack, -step, 0.0, high)


def failure_actions(failures: list[Failure], arrays: RackArrays) -> list[FaultAction]:
    """Fail and repair actions of every sampled failure, in time order."""
    actions = []
    for failure in failures:
        fail, repair = _changes(failure, arrays)
        label = f"{failure.component_class} {failure.index} failed"
        actions.append(FaultAction(failure.time_s, label, fail, failure.component_class in INTERRUPTING))
        actions.append(FaultAction(failure.repaired_s, f"repair: {failure.component_class} {failure.index}", repair))
    return sorted(actions, key=lambda action: action.time_s)
