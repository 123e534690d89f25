"""Power protection and capping: racks trip when their supply cannot carry the load.

A capping controller, after its response time, caps the GPUs to fit the healthy PSUs, a user cap, and a hall's
row feeders and UPS.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import simpy

from racksim._types import FloatArray
from racksim.physics.operating_point import Activity, OperatingPoint, evaluate
from racksim.physics.rows import highest_fitting, row_caps_w

if TYPE_CHECKING:
    from racksim.engine.simulation import Simulation


class PowerControl:
    """Supply checks after every event, and the capping controller (design.power.capping) if the design has one."""

    def __init__(self, simulation: Simulation) -> None:
        """Size a user's rack cap before the job starts."""
        self.sim = simulation
        self.capping = simulation.arrays.design.power.capping
        self._pending = False
        self._cap_basis = simulation.plant.healthy_psus.copy()
        if self.capping is not None and self.capping.rack_cap_w is not None:
            simulation.plant.gpu_cap_w, _ = self.size_caps()  # a user cap is in force before the job starts

    @property
    def acting(self) -> bool:
        """True while the capping controller's response is under way."""
        return self._pending

    def check(self) -> bool:
        """Trip racks the healthy PSUs cannot carry; ask the capping controller to act. True if a rack tripped.

        Beyond the PSUs' overload limit, or short of supply with no controller, a rack trips at once;
        a shortfall within the limit is carried until the controller's response time has passed.
        """
        point, plant = self.sim.point, self.sim.plant
        unsupported = ~self.sim.supply.can_carry(point, plant)
        if unsupported.any():
            self.trip(unsupported, "no energized feed, and no BBU charge or power to carry the load")
            return True
        shelves = self.sim.arrays.design.power.shelves
        overload_limit = shelves.overload_limit_fraction if shelves is not None else 1.0
        supplied = plant.supplied()
        short = supplied & (point.shelf_output_w > point.shelf_capacity_w * (1 + 1e-9))
        severe = supplied & (point.shelf_output_w > point.shelf_capacity_w * overload_limit)
        trip = (severe | (short & (self.capping is None))) & ~plant.tripped
        if trip.any():
            self.trip(trip, "supply short of the load")
            return True
        row_over = self.sim.arrays.hall.overloaded(point.feed_w) & ~plant.tripped  # a hall's row feeders and UPS
        if row_over.any() and self.sim.arrays.hall.trip_on_overload:
            self.trip(row_over, "row feeder or UPS overloaded")
            return True
        supply_changed = not np.array_equal(plant.healthy_psus, self._cap_basis)
        if self.capping is not None and (short.any() or row_over.any() or supply_changed) \
                and not self._pending:
            self._pending = True
            self.sim.env.process(self._action(self.capping.response_time_s))
        return False

    def trip(self, racks: np.ndarray, reason: str) -> None:
        """Trip `racks` for good; the synchronous job halts."""
        self.sim.plant.tripped = self.sim.plant.tripped | racks
        self.sim.log("trip", f"rack(s) {', '.join(str(r) for r in np.flatnonzero(racks))}: {reason}")
        self.sim.job.halt("a rack tripped")

    def size_caps(self) -> tuple[FloatArray, np.ndarray]:
        """Highest GPU cap per rack that keeps full load within the healthy PSUs, the user cap and a hall's rows, W.

        Bisection on the cap (the feed is monotone in it), per rack, then per row and for the UPS
        (racksim.physics.rows.row_caps_w); returns the caps and the racks that stay short even at the lowest
        allowed cap.
        """
        capping, chips = self.capping, self.sim.arrays.chips
        assert capping is not None
        full = Activity(1.0, 1.0, 1.0)
        unthrottled = np.zeros_like(self.sim.throttled)

        def at_cap(cap_w: FloatArray) -> OperatingPoint:
            return evaluate(self.sim.arrays, full, unthrottled, replace(self.sim.plant, gpu_cap_w=cap_w))

        def fits(cap_w: FloatArray) -> np.ndarray:
            point = at_cap(cap_w)
            ok = point.shelf_output_w <= point.shelf_capacity_w
            return ok if capping.rack_cap_w is None else ok & (point.feed_w <= capping.rack_cap_w)

        racks, hall = self.sim.arrays.n_racks, self.sim.arrays.hall
        uncapped = fits(np.full(racks, np.inf))
        low = np.full(racks, capping.min_gpu_cap_fraction * float(chips.tdp_w[chips.is_gpu].max()))
        high = np.full(racks, float(chips.tdp_w[chips.is_gpu].max()))
        infeasible = ~uncapped & ~fits(low)
        caps_w = np.where(uncapped, np.inf, highest_fitting(fits, low, high))
        if not hall.has_row_limits:
            return caps_w, infeasible
        caps_w, row_infeasible = row_caps_w(lambda cap_w: at_cap(cap_w).feed_w, caps_w, hall.rack_row,
                                            hall.row_capacity_w, hall.ups_capacity_w, float(low[0]), float(high[0]))
        return caps_w, infeasible | row_infeasible

    def _action(self, delay_s: float) -> simpy.events.ProcessGenerator:
        yield self.sim.env.timeout(delay_s)
        self.sim.advance_to(self.sim.env.now)
        caps, infeasible = self.size_caps()
        on_supply = self.sim.plant.supplied()  # racks on battery (or tripped) keep their cap
        caps, infeasible = np.where(on_supply, caps, self.sim.plant.gpu_cap_w), infeasible & on_supply
        if not np.array_equal(caps, self.sim.plant.gpu_cap_w):
            self.sim.log("cap", ", ".join("released" if not np.isfinite(c) else f"{c:.0f} W per GPU" for c in caps))
        self.sim.plant.gpu_cap_w = caps
        self._cap_basis = self.sim.plant.healthy_psus.copy()
        self._pending = False
        if (infeasible & ~self.sim.plant.tripped).any():
            self.trip(infeasible & ~self.sim.plant.tripped, "no GPU cap within the controller's range fits the supply")
        self.sim.state_changed()
