"""Oracles for the engine's closed forms: slow, plain references that the tests check the exact solutions against."""

from __future__ import annotations

import math

import numpy as np
import simpy

from racksim._types import FloatArray
from racksim.engine import Simulation
from racksim.engine.job import PhaseSource
from racksim.physics.arrays import RackArrays
from racksim.workload.faults import FaultAction

LOOKAHEAD_STEPS = 1000
"""Steps the oracle's thermal watcher looks ahead for a threshold before it wakes to look again."""


def euler_die_path_c(
    temp0_c: FloatArray, power_w: FloatArray, resistance_k_per_w: FloatArray, capacity_j_per_k: FloatArray,
    coolant0_c: FloatArray, coolant_ramp_c_per_s: FloatArray, step_s: float, steps: int,
) -> FloatArray:
    """Fixed-step explicit Euler of C·dT/dt = P − (T − T_cool(t))/R with T_cool(t) = T_cool0 + ramp·t.

    `steps` steps of `step_s` from `temp0_c`: the temperatures after each, °C, a row per step (row 0: `temp0_c`).
    """
    path_c = np.empty((steps + 1, temp0_c.size))
    path_c[0] = temp0_c
    coolant_c = coolant0_c + coolant_ramp_c_per_s * np.arange(steps)[:, np.newaxis] * step_s
    for index in range(steps):
        temp_c = path_c[index]
        path_c[index + 1] = temp_c + step_s * (power_w - (temp_c - coolant_c[index]) / resistance_k_per_w) \
            / capacity_j_per_k
    return path_c


def euler_die_temperatures_c(
    temp0_c: FloatArray, power_w: FloatArray, resistance_k_per_w: FloatArray, capacity_j_per_k: FloatArray,
    coolant0_c: FloatArray, coolant_ramp_c_per_s: FloatArray, elapsed_s: float, max_step_s: float,
) -> tuple[FloatArray, FloatArray]:
    """`euler_die_path_c` in steps of at most `max_step_s` evenly over `elapsed_s`.

    Returns the end temperature and the mean over the interval (trapezoid over the steps), °C.
    """
    steps = max(1, math.ceil(elapsed_s / max_step_s - 1e-9))
    path_c = euler_die_path_c(temp0_c, power_w, resistance_k_per_w, capacity_j_per_k, coolant0_c,
                              coolant_ramp_c_per_s, elapsed_s / steps, steps)
    return path_c[-1], 0.5 * (path_c[:-1] + path_c[1:]).sum(axis=0) / steps


class EulerSimulation(Simulation):
    """The engine with fixed-step Euler for the dies instead of the exact exponentials, and no threshold solving.

    Die temperatures step by at most `step_s` within each interval (`euler_die_temperatures_c`); the thresholds
    (throttle, release, shutdown) are checked at every `step_s` step of the Euler path from the last event in place
    of the closed-form crossing times: the thermal watcher steps ahead (at most LOOKAHEAD_STEPS), wakes at the first
    step that crosses one, and toggles the chips there. No cycle skipping, no plot points inside intervals.
    Everything else (events, supply, integrals) is the engine's.
    """

    def __init__(self, arrays: RackArrays, phases: PhaseSource, duration_s: float, *, step_s: float,
                 faults: list[FaultAction] | None = None, trip_reset_delay_s: float | None = None) -> None:
        """A run like `Simulation(arrays, phases, duration_s, faults=faults, ...)` stepped at `step_s`."""
        super().__init__(arrays, phases, duration_s, faults=faults, skip_cycles=False,
                         trip_reset_delay_s=trip_reset_delay_s)
        self.step_s = step_s

    def _die_inputs(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """The Euler inputs after the state's temperatures: power, R, C, coolant now, coolant ramp."""
        state = self.state
        point = state.point
        return (point.chip_power_w, point.chip_resistance_k_per_w, self.arrays.chips.heat_capacity_j_per_k,
                point.chip_coolant_temp_c + state.coolant_drift_c(), point.chip_coolant_ramp_c_per_s)

    def _advance_dies(self, elapsed_s: float) -> tuple[FloatArray, FloatArray]:
        return euler_die_temperatures_c(self.state.temp_c, *self._die_inputs(), elapsed_s, self.step_s)

    def _next_check_s(self) -> float:
        """Time from now to the first step of the Euler path at which a chip crosses a threshold, s.

        At most LOOKAHEAD_STEPS steps ahead: the watcher then wakes without a crossing and looks again from there.
        """
        state = self.state
        path_c = euler_die_path_c(state.temp_c, *self._die_inputs(), self.step_s, LOOKAHEAD_STEPS)
        engage, release, shutdown = self._threshold_masks(path_c)
        crossing = np.flatnonzero((engage | release | shutdown).any(axis=1))
        steps = int(crossing[0]) if crossing.size else LOOKAHEAD_STEPS
        return max(0.0, state.time_s + steps * self.step_s - self.env.now)

    def _thermal_events(self) -> simpy.events.ProcessGenerator:
        while True:
            changed = self.changed
            yield self.env.timeout(self._next_check_s()) | changed
            if changed.processed:
                continue
            self.advance_to(self.env.now)
            if self._toggle_chips():
                self.state_changed()
