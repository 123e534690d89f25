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


def euler_die_temperatures_c(
    temp0_c: FloatArray, power_w: FloatArray, resistance_k_per_w: FloatArray, capacity_j_per_k: FloatArray,
    coolant0_c: FloatArray, coolant_ramp_c_per_s: FloatArray, elapsed_s: float, max_step_s: float,
) -> tuple[FloatArray, FloatArray]:
    """Fixed-step explicit Euler of C·dT/dt = P − (T − T_cool(t))/R with T_cool(t) = T_cool0 + ramp·t.

    Steps of at most `max_step_s` evenly over `elapsed_s`; returns the end temperature and the mean over the
    interval (trapezoid over the steps), °C.
    """
    steps = max(1, math.ceil(elapsed_s / max_step_s - 1e-9))
    step_s = elapsed_s / steps
    temp_c = temp0_c.copy()
    total_c = np.zeros_like(temp_c)
    for index in range(steps):
        coolant_c = coolant0_c + coolant_ramp_c_per_s * index * step_s
        previous_c = temp_c
        temp_c = temp_c + step_s * (power_w - (temp_c - coolant_c) / resistance_k_per_w) / capacity_j_per_k
        total_c += 0.5 * (previous_c + temp_c)
    return temp_c, total_c / steps


class EulerSimulation(Simulation):
    """The engine with fixed-step Euler for the dies instead of the exact exponentials, and no threshold solving.

    Die temperatures step by at most `step_s` within each interval (`euler_die_temperatures_c`); a ticker every
    `step_s` checks the thresholds (throttle, release, shutdown) in place of the closed-form crossing times. No
    cycle skipping, no plot points inside intervals. Everything else (events, supply, integrals) is the engine's.
    """

    def __init__(self, arrays: RackArrays, phases: PhaseSource, duration_s: float, *, step_s: float,
                 faults: list[FaultAction] | None = None, trip_reset_delay_s: float | None = None) -> None:
        """A run like `Simulation(arrays, phases, duration_s, faults=faults, ...)` stepped at `step_s`."""
        super().__init__(arrays, phases, duration_s, faults=faults, skip_cycles=False,
                         trip_reset_delay_s=trip_reset_delay_s)
        self.step_s = step_s

    def _advance_dies(self, elapsed_s: float) -> tuple[FloatArray, FloatArray]:
        state = self.state
        point = state.point
        return euler_die_temperatures_c(
            state.temp_c, point.chip_power_w, point.chip_resistance_k_per_w, self.arrays.chips.heat_capacity_j_per_k,
            point.chip_coolant_temp_c + state.coolant_drift_c(), point.chip_coolant_ramp_c_per_s, elapsed_s,
            self.step_s)

    def _thermal_events(self) -> simpy.events.ProcessGenerator:
        while True:
            yield self.env.timeout(self.step_s)
            self.advance_to(self.env.now)
            if self._toggle_chips():
                self.state_changed()
