"""Power protection, capping and the operator: racks trip when their supply cannot carry the load, and are reset.

A capping controller, after its response time, caps the GPUs to fit the healthy PSUs, a user cap, and a hall's
row feeders and UPS. A tripped rack stays off until an operator resets it, `reset_delay_s` after the trip, or
later, when a feed is energized again (or its BBUs hold charge): its chips come back idle. It reads and changes
the engine's state (engine/state.py) and stops the job through the callable it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import simpy

from racksim._types import BoolArray, FloatArray
from racksim.engine.state import Engine
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import Activity, OperatingPoint, evaluate
from racksim.physics.plant import PlantState
from racksim.physics.rows import highest_fitting, row_caps_w

RESET_TOLERANCE_S = 1e-9
"""A reset due within this of now is due (its timeout may land an ulp early), s."""


def size_gpu_caps_w(arrays: RackArrays, plant: PlantState) -> tuple[FloatArray, BoolArray]:
    """Highest GPU cap per rack that keeps full load within the healthy PSUs, the user cap and a hall's rows, W.

    Bisection on the cap (the feed is monotone in it), per rack, then per row and for the UPS
    (racksim.physics.rows.row_caps_w), over full load with no chip throttled on `plant` as it is; returns the caps
    and the racks that stay short even at the lowest allowed cap (design.power.capping.min_gpu_cap_fraction).
    """
    capping, chips = arrays.design.power.capping, arrays.chips
    assert capping is not None
    full = Activity(1.0, 1.0, 1.0)
    unthrottled = np.zeros(chips.is_gpu.size, dtype=bool)

    def at_cap(cap_w: FloatArray) -> OperatingPoint:
        return evaluate(arrays, full, unthrottled, replace(plant, gpu_cap_w=cap_w))

    def fits(cap_w: FloatArray) -> np.ndarray:
        point = at_cap(cap_w)
        ok = point.shelf_output_w <= point.shelf_capacity_w
        return ok if capping.rack_cap_w is None else ok & (point.feed_w <= capping.rack_cap_w)

    racks, hall = arrays.n_racks, arrays.hall
    tdp_w = float(chips.tdp_w[chips.is_gpu].max())
    uncapped = fits(np.full(racks, np.inf))
    low = np.full(racks, capping.min_gpu_cap_fraction * tdp_w)
    high = np.full(racks, tdp_w)
    infeasible = ~uncapped & ~fits(low)
    caps_w = np.where(uncapped, np.inf, highest_fitting(fits, low, high))
    if not hall.has_row_limits:
        return caps_w, infeasible
    caps_w, row_infeasible = row_caps_w(lambda cap_w: at_cap(cap_w).feed_w, caps_w, hall.rack_row,
                                        hall.row_capacity_w, hall.ups_capacity_w, float(low[0]), float(high[0]))
    return caps_w, infeasible | row_infeasible


def user_caps_w(arrays: RackArrays, plant: PlantState) -> FloatArray:
    """The GPU caps in force before the job starts, W: sized to a user's rack cap if the design sets one, else none."""
    capping = arrays.design.power.capping
    if capping is not None and capping.rack_cap_w is not None:
        return size_gpu_caps_w(arrays, plant)[0]
    return plant.gpu_cap_w


class PowerControl:
    """Supply checks after every event, and the capping controller (design.power.capping) if the design has one."""

    def __init__(self, engine: Engine, stop_job: Callable[[str], None], reset_delay_s: float) -> None:
        """Watch `engine`'s supply; `stop_job(reason)` stops the synchronous job when a rack trips.

        An operator resets a tripped rack `reset_delay_s` after its trip, once a feed or its BBUs can carry it.
        """
        self.engine = engine
        self._stop_job = stop_job
        self.capping = engine.state.arrays.design.power.capping
        self._pending = False
        self._cap_basis = engine.state.plant.healthy_psus.copy()
        self.reset_delay_s = reset_delay_s
        self.reset_due_s = np.full(engine.state.arrays.n_racks, np.inf)
        """When the operator resets each tripped rack, s (inf: not tripped); one still unpowered then waits."""
        self.trips = 0
        """Rack trips so far (a rack tripped twice counts twice)."""

    @property
    def acting(self) -> bool:
        """True while the capping controller's response or an operator's reset is under way."""
        return self._pending or bool(np.isfinite(self.reset_due_s).any())

    def start(self) -> None:
        """Start the operator's SimPy process."""
        self.engine.env.process(self._operator())

    def check(self) -> bool:
        """Trip racks the healthy PSUs cannot carry; ask the capping controller to act. True if a rack tripped.

        Beyond the PSUs' overload limit, or short of supply with no controller, a rack trips at once;
        a shortfall within the limit is carried until the controller's response time has passed.
        """
        state = self.engine.state
        point, plant, arrays = state.point, state.plant, state.arrays
        unsupported = ~state.supply.can_carry(point, plant)
        if unsupported.any():
            self.trip(unsupported, "no energized feed, and no BBU charge or power to carry the load")
            return True
        shelves = arrays.design.power.shelves
        overload_limit = shelves.overload_limit_fraction if shelves is not None else 1.0
        supplied = plant.supplied()
        short = supplied & (point.shelf_output_w > point.shelf_capacity_w * (1 + 1e-9))
        severe = supplied & (point.shelf_output_w > point.shelf_capacity_w * overload_limit)
        trip = (severe | (short & (self.capping is None))) & ~plant.tripped
        if trip.any():
            self.trip(trip, "supply short of the load")
            return True
        row_over = arrays.hall.overloaded(point.feed_w) & ~plant.tripped  # a hall's row feeders and UPS
        if row_over.any() and arrays.hall.trip_on_overload:
            self.trip(row_over, "row feeder or UPS overloaded")
            return True
        supply_changed = not np.array_equal(plant.healthy_psus, self._cap_basis)
        if self.capping is not None and (short.any() or row_over.any() or supply_changed) \
                and not self._pending:
            self._pending = True
            self.engine.env.process(self._action(self.capping.response_time_s))
        return False

    def trip(self, racks: np.ndarray, reason: str) -> None:
        """Trip `racks` until the operator resets them; the synchronous job stops."""
        state = self.engine.state
        state.plant.tripped = state.plant.tripped | racks
        self.reset_due_s = np.where(racks, state.time_s + self.reset_delay_s, self.reset_due_s)
        self.trips += int(np.count_nonzero(racks))
        state.log("trip", f"rack(s) {_listed(racks)}: {reason}")
        self._stop_job("a rack tripped")

    def _operator(self) -> simpy.events.ProcessGenerator:
        """Reset tripped racks when due and powered; one due but unpowered is checked again at every change."""
        engine = self.engine
        while True:
            changed = engine.changed
            due = self.reset_due_s <= engine.env.now + RESET_TOLERANCE_S
            if due.any():
                engine.advance_to(engine.env.now)
                state = engine.state
                ready = due & (state.plant.feed_up.any(axis=1) | state.supply.bbu_charged())
                if ready.any():
                    state.plant.tripped = state.plant.tripped & ~ready
                    self.reset_due_s = np.where(ready, np.inf, self.reset_due_s)
                    state.log("reset", f"rack(s) {_listed(ready)}: re-energized by the operator, chips idle")
                    engine.state_changed()
                    continue
            wait_s = float(np.where(due, np.inf, self.reset_due_s).min()) - engine.env.now
            yield changed if not np.isfinite(wait_s) else engine.env.timeout(wait_s) | changed

    def _action(self, delay_s: float) -> simpy.events.ProcessGenerator:
        engine = self.engine
        yield engine.env.timeout(delay_s)
        engine.advance_to(engine.env.now)
        plant = engine.state.plant
        caps_w, infeasible = size_gpu_caps_w(engine.state.arrays, plant)
        on_supply = plant.supplied()  # racks on battery (or tripped) keep their cap
        caps_w, infeasible = np.where(on_supply, caps_w, plant.gpu_cap_w), infeasible & on_supply
        if not np.array_equal(caps_w, plant.gpu_cap_w):
            engine.state.log("cap", ", ".join("released" if not np.isfinite(cap_w) else f"{cap_w:.0f} W per GPU"
                                              for cap_w in caps_w))
        plant.gpu_cap_w = caps_w
        self._cap_basis = plant.healthy_psus.copy()
        self._pending = False
        if (infeasible & ~plant.tripped).any():
            self.trip(infeasible & ~plant.tripped, "no GPU cap within the controller's range fits the supply")
        engine.state_changed()


def _listed(racks: np.ndarray) -> str:
    """The racks of a mask, as a comma-separated list of indices."""
    return ", ".join(str(rack) for rack in np.flatnonzero(racks))
