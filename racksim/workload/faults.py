"""Scheduled faults as changes to the plant state: a start action and, if repaired, an end action.

A fault's selector (`racks`, `rows`, `random_racks`, `fraction`) picks the racks it hits (`fault_racks`); without
one it hits every rack (a link failure: rack 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from racksim._types import FloatArray, IndexArray
from racksim.design.suite import Fault, Scenario
from racksim.design.workload_schema import Workload
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


def single_workload(scenario: Scenario) -> Workload:
    """The scenario's one workload over every rack; a job mix's scenario is an InputError (run as a fleet)."""
    if scenario.workload is None:
        raise InputError(f"scenario {scenario.name}", "workload", "a job mix (jobs or job_trace) runs on a hall "
                         "through racksim.run.fleet, not as one workload")
    return scenario.workload


FAULT_STREAM = 0x5E1EC7
"""Mixed into the run's seed for the random selectors' draws, apart from every other stream of the run."""


def fault_racks(fault: Fault, rack_row: IndexArray, seed: int, index: int, source: str = "scenario") -> IndexArray:
    """Hall-wide indices of the racks `fault` (the `index`-th of its scenario) hits, sorted.

    No selector: every rack (a link_failure: rack 0). `random_racks` k and `fraction` f (round(f·n), at least one)
    draw without replacement from their own stream, SeedSequence((seed, FAULT_STREAM, index)), so a run is a
    function of its seed and adding a fault never moves another's racks. An out-of-range rack, row or count is a
    one-line InputError naming faults.<index>.
    """
    n_racks, n_rows = rack_row.size, int(rack_row.max()) + 1
    where = f"faults.{index}"
    if fault.racks is not None:
        bad = [r for r in fault.racks if r >= n_racks]
        if bad:
            raise InputError(source, f"{where}.racks", f"no rack {bad[0]}: the hall has {n_racks} (from 0)")
        return np.unique(np.asarray(fault.racks, dtype=np.intp))
    if fault.rows is not None:
        bad = [r for r in fault.rows if r >= n_rows]
        if bad:
            raise InputError(source, f"{where}.rows", f"no row {bad[0]}: the hall has {n_rows} (from 0)")
        return np.flatnonzero(np.isin(rack_row, fault.rows))
    count = fault.random_racks
    if fault.fraction is not None:
        count = max(1, round(fault.fraction * n_racks))
    if count is not None:
        if count > n_racks:
            raise InputError(source, f"{where}.random_racks", f"{count} racks, but the hall has {n_racks}")
        rng = np.random.default_rng(np.random.SeedSequence((seed, FAULT_STREAM, index)))
        return np.sort(rng.choice(n_racks, size=count, replace=False)).astype(np.intp)
    return np.zeros(1, dtype=np.intp) if fault.kind == "link_failure" else np.arange(n_racks, dtype=np.intp)


def _add_at(attribute: str, racks: IndexArray, step: float, high: IndexArray | FloatArray | int) -> PlantChange:
    """Add `step` to a per-rack plant count on `racks`, kept within [0, high]."""
    def change(plant: PlantState) -> None:
        values = getattr(plant, attribute).copy()
        values[racks] = np.clip(values[racks] + step, 0, high if np.ndim(high) == 0 else np.asarray(high)[racks])
        setattr(plant, attribute, values)
    return change


def failures_held(attribute: str, indices: np.ndarray, step: int) -> PlantChange:
    """Add `step` to the failure counts (`chip_failures` or `link_failures`) holding `indices` down."""
    def change(plant: PlantState) -> None:
        failures = getattr(plant, attribute).copy()
        failures[indices] += step
        setattr(plant, attribute, failures)
    return change


def _links_of_fault(fault: Fault, racks: IndexArray, arrays: RackArrays) -> np.ndarray:
    """The fault's scale-up links on each of `racks` (links numbered GPU by GPU over the run).

    Without `gpu`: link k of GPU k for k < count, each on its own GPU; with it: `count` links of that GPU.
    """
    per_gpu = arrays.design.network.scale_up.links_per_gpu
    per_rack = int(arrays.chips.is_gpu.sum()) // arrays.n_racks * per_gpu
    if fault.gpu is None:
        local = np.arange(fault.count) * (per_gpu + 1) % per_rack
    else:
        local = fault.gpu * per_gpu + np.arange(min(fault.count, per_gpu))
    return (racks[:, None] * per_rack + local[None, :]).ravel()


def _set_feeds(feeds: Sequence[str], energized: bool, racks: IndexArray) -> PlantChange:
    columns = sorted({"ab".index(name) for name in feeds})

    def change(plant: PlantState) -> None:
        present = np.array([c for c in columns if c < plant.feed_up.shape[1]], dtype=np.intp)
        feed_up = plant.feed_up.copy()
        feed_up[np.ix_(racks, present)] = energized
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


def _facility_offset(delta_c: float, racks: IndexArray) -> PlantChange:
    def change(plant: PlantState) -> None:
        offset_c = plant.facility_offset_c.copy()
        offset_c[racks] += delta_c
        plant.facility_offset_c = offset_c
    return change


def _racks_label(racks: IndexArray, n_racks: int) -> str:
    if racks.size == n_racks:
        return ""
    shown = ", ".join(str(r) for r in racks[:8]) + (", ..." if racks.size > 8 else "")
    return f" on rack{'s' if racks.size > 1 else ''} {shown}"


def fault_actions(faults: list[Fault], arrays: RackArrays, source: str = "scenario",
                  seed: int = 0) -> list[FaultAction]:
    """Start and repair actions of every fault, in time order (stable for equal times); `source` names errors.

    `seed` (the run's) drives the random selectors (`fault_racks`).
    """
    actions = []
    for index, fault in enumerate(faults):
        racks = fault_racks(fault, arrays.hall.rack_row, seed, index, source)
        if fault.kind == "psu_failure":
            start = _add_at("psus_lost", racks, fault.count, arrays.shelf_units)
            end = _add_at("psus_lost", racks, -fault.count, arrays.shelf_units)
            what = f"{fault.count} PSU(s)"
        elif fault.kind == "pump_failure":
            start = _add_at("healthy_pumps", racks, -fault.count, arrays.cooling.pumps_installed)
            end = _add_at("healthy_pumps", racks, fault.count, arrays.cooling.pumps_installed)
            what = f"{fault.count} pump(s)"
        elif fault.kind == "fan_failure":
            start = _add_at("healthy_fans", racks, -fault.count, arrays.cooling.fans_installed)
            end = _add_at("healthy_fans", racks, fault.count, arrays.cooling.fans_installed)
            what = f"{fault.count} fan(s)"
        elif fault.kind == "cdu_failure":
            start, end = _cdu_rejecting(False, racks), _cdu_rejecting(True, racks)
            what = "CDU heat rejection"
        elif fault.kind == "row_cdu_failure":
            racks = _row_cdu_racks(fault, arrays, source, index)
            start, end = _cdu_rejecting(False, racks), _cdu_rejecting(True, racks)
            what = f"row {fault.row} CDU {fault.cdu}: racks {racks[0]}-{racks[-1]}"
        elif fault.kind == "link_failure":
            links = _links_of_fault(fault, racks, arrays)
            start, end = failures_held("link_failures", links, 1), failures_held("link_failures", links, -1)
            what = f"{fault.count} scale-up link(s)"
        elif fault.kind == "feed_loss":
            start, end = _set_feeds(fault.feeds, False, racks), _set_feeds(fault.feeds, True, racks)
            what = "feed " + " and ".join(fault.feeds)
        else:
            start, end = _facility_offset(fault.delta_temp_c, racks), _facility_offset(-fault.delta_temp_c, racks)
            what = f"facility water {fault.delta_temp_c:+g} K"
        if fault.kind != "row_cdu_failure":
            what += _racks_label(racks, arrays.n_racks)
        actions.append(FaultAction(fault.at_s, f"{fault.kind} ({what})", start))
        if fault.duration_s is not None:
            actions.append(FaultAction(fault.at_s + fault.duration_s, f"repair: {fault.kind}", end))
    return sorted(actions, key=lambda action: action.time_s)
