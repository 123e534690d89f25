"""One event's advance of a whole hall, as the issue writes it: a prototype to measure, not used by `Simulation`.

Issue 9 ("Beyond brute force") prices the per-event work of a hall at phase resolution: the phase's chip power,
the coolant rise along each cold-plate loop in flow order, the exact RC step of every die and its interval
mean, the energies, and each rack's PSU loss from the efficiency curve. `advance_event` does exactly that with
racksim's physics functions, in float64, allocating its results (the straightforward way);
benchmarks/test_beyond_brute_force.py measures it against float32, in-place and grouped variants, and
tests/test_grouping.py checks that grouped racks (GroupedHall below, engine/grouping.py) give the same
temperatures bit for bit and the same integrals to 1e-12.

Every rack's arithmetic reads only its own entries, so identical racks get identical bits wherever they sit in
the arrays. `plate_inlet_temp_c` (thermal.py) does not quite: its cumulative sum runs over the whole hall, so
with non-integer powers identical racks differ by ~1e-11 K; `loop_inlet_temp_c` below sums loop by loop.
What the prototype leaves to the engine: caps, throttling and shutdown, the supply's storage and breakers,
coolant ramps (CDU failures), tray conversion stages and the busbar (held in `other_load_w`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from racksim._types import FloatArray, IndexArray
from racksim.engine.grouping import Groups, find_groups, rack_rows, weighted_total
from racksim.physics.arrays import RackArrays
from racksim.physics.operating_point import OperatingPoint
from racksim.physics.plant import PlantState
from racksim.physics.power import PowerChain, shelf_input_w, sum_by_group, utilization_power_w
from racksim.physics.thermal import rc_mean_temperature_c, rc_temperature_c, steady_state_temp_c


def loop_inlet_temp_c(supply_temp_c: FloatArray, plate_power_w: FloatArray,
                      loop_capacity_rate_w_per_k: FloatArray) -> FloatArray:
    """Coolant reaching each plate of equal-length series loops, summed loop by loop; °C.

    T_in,k = T_supply + Σ_{j upstream of k} P_j / (ṁ·c_p)_loop, as `plate_inlet_temp_c`, with plates ordered
    loop by loop in flow order, every loop holding the same number of plates, loops rack-major
    (supply_temp_c: per rack). Each loop's sum starts at its own first plate, so a loop's result depends
    on its plates only.
    """
    loops = loop_capacity_rate_w_per_k.size
    power = plate_power_w.reshape(loops, -1)
    upstream_w = np.cumsum(power, axis=1) - power
    supply_c = np.repeat(supply_temp_c, loops // supply_temp_c.size)
    return (supply_c[:, None] + upstream_w / loop_capacity_rate_w_per_k[:, None]).reshape(-1)


@dataclass(frozen=True)
class HallInputs:
    """What an event's advance reads besides the phase: per chip (rack-major, loops in flow order), per loop, per rack.

    Held constant between faults; the phase (utilizations) and the interval change every event.
    """

    idle_w: FloatArray
    tdp_w: FloatArray
    is_gpu: NDArray[np.bool_]
    up: NDArray[np.bool_]
    """Chips drawing power (not failed, shut down or in a tripped rack)."""
    resistance_k_per_w: FloatArray
    """Junction-to-coolant resistance at the rack's coolant flow, K/W."""
    tau_s: FloatArray
    """Die time constant R·C, s."""
    heat_capacity_j_per_k: FloatArray
    loop_capacity_rate_w_per_k: FloatArray
    """ṁ·c_p of each loop at its rack's flow, W/K."""
    supply_temp_c: FloatArray
    """Secondary coolant supply of each rack, °C."""
    other_load_w: FloatArray
    """What each rack's shelves deliver besides chip power (boards, NICs, switches, fans, pumps, tray conversion
    and busbar losses), held at its value at the operating point the inputs were taken from, W."""
    healthy_psus: FloatArray
    chain: PowerChain

    ARRAYS = ("idle_w", "tdp_w", "is_gpu", "up", "resistance_k_per_w", "tau_s", "heat_capacity_j_per_k",
              "loop_capacity_rate_w_per_k", "supply_temp_c", "other_load_w", "healthy_psus")
    """The rack-major arrays (all but the chain, which every rack shares)."""

    @property
    def n_racks(self) -> int:
        """Racks (or representatives) the arrays cover."""
        return self.supply_temp_c.size

    @cached_property
    def chip_rack(self) -> IndexArray:
        """Rack index of every chip (0 … n_racks − 1)."""
        return np.repeat(np.arange(self.n_racks), self.idle_w.size // self.n_racks)

    @classmethod
    def at(cls, arrays: RackArrays, point: OperatingPoint, plant: PlantState) -> HallInputs:
        """The inputs of `arrays` at an operating point of the engine (flows, supply, loads) and its plant."""
        chips = arrays.chips
        plates = np.diff(np.append(arrays.loop_start, chips.loop.size))
        if np.any(plates != plates[0]):
            raise ValueError(f"{arrays.design.name}: cold-plate loops of unequal length {sorted(set(plates))}: "
                             "loop_inlet_temp_c needs one plate count")
        chip_w = sum_by_group(point.chip_power_w, chips.rack, arrays.n_racks)
        return cls(
            idle_w=chips.idle_w, tdp_w=chips.tdp_w, is_gpu=chips.is_gpu,
            up=~plant.chip_down & ~plant.tripped[chips.rack],
            resistance_k_per_w=point.chip_resistance_k_per_w, tau_s=point.chip_tau_s,
            heat_capacity_j_per_k=chips.heat_capacity_j_per_k,
            loop_capacity_rate_w_per_k=arrays.loop_capacity_rate_w_per_k * point.flow_fraction[arrays.loop_rack],
            supply_temp_c=point.supply_temp_c, other_load_w=point.shelf_output_w - chip_w,
            healthy_psus=plant.healthy_psus, chain=arrays.chain,
        )

    def per_rack(self) -> tuple[NDArray[np.generic], ...]:
        """Every array, rack-major (the grouping key's input part)."""
        return tuple(getattr(self, name) for name in self.ARRAYS)

    def racks(self, index: IndexArray) -> HallInputs:
        """The inputs of the given racks, in that order (representatives of groups, say)."""
        return replace(self, **{name: rack_rows(getattr(self, name), index, self.n_racks) for name in self.ARRAYS})


@dataclass(frozen=True)
class HallState:
    """Die temperatures and running integrals: per chip, then per rack."""

    temp_c: FloatArray
    temp_max_c: FloatArray
    """Hottest each die has been, °C."""
    temp_time_c_s: FloatArray
    """∫T dt of each die (its mean temperature over the run once divided by the time), °C·s."""
    chip_energy_j: FloatArray
    heat_to_liquid_j: FloatArray
    """Cold-plate heat: chip energy less the heat stored in the dies, J."""
    feed_energy_j: FloatArray
    psu_loss_energy_j: FloatArray

    CHIP_FIELDS = ("temp_c", "temp_max_c", "temp_time_c_s")
    RACK_FIELDS = ("chip_energy_j", "heat_to_liquid_j", "feed_energy_j", "psu_loss_energy_j")
    ARRAYS = CHIP_FIELDS + RACK_FIELDS

    @classmethod
    def settled(cls, temp_c: FloatArray, n_racks: int) -> HallState:
        """Dies at `temp_c`, every integral at zero."""
        zeros = np.zeros(n_racks)
        return cls(temp_c.copy(), temp_c.copy(), np.zeros_like(temp_c), zeros, zeros.copy(), zeros.copy(),
                   zeros.copy())

    @property
    def n_racks(self) -> int:
        """Racks (or representatives) the arrays cover."""
        return self.feed_energy_j.size

    def per_rack(self) -> tuple[FloatArray, ...]:
        """Every array, rack-major (the grouping key's state part)."""
        return tuple(getattr(self, name) for name in self.ARRAYS)

    def racks(self, index: IndexArray) -> HallState:
        """The state of the given racks, in that order: representatives, or every rack from representatives."""
        return HallState(*(rack_rows(getattr(self, name), index, self.n_racks) for name in self.ARRAYS))


def advance_event(inputs: HallInputs, state: HallState, gpu_utilization: float, cpu_utilization: float,
                  elapsed_s: float) -> HallState:
    """The state `elapsed_s` later, every chip at its phase utilization throughout.

    P = P_idle + u·(P_max − P_idle) for chips that are up; coolant along each loop (loop_inlet_temp_c);
    T_ss = T_in + P·R; T1 = T_ss + (T0 − T_ss)·e^(−Δt/τ) and its interval mean; per rack, chip energy P·Δt,
    cold-plate heat P·Δt − C·(T1 − T0), and the feed P_in = P_out / η(P_out / (n_psu · P_rated)) for
    P_out = Σ P_chip + other load, whose excess over P_out is the PSU loss.
    """
    utilization = np.where(inputs.is_gpu, gpu_utilization, cpu_utilization)
    power_w = utilization_power_w(utilization, inputs.idle_w, inputs.tdp_w) * inputs.up
    coolant_c = loop_inlet_temp_c(inputs.supply_temp_c, power_w, inputs.loop_capacity_rate_w_per_k)
    temp_ss_c = steady_state_temp_c(coolant_c, power_w, inputs.resistance_k_per_w)
    temp1_c = rc_temperature_c(state.temp_c, temp_ss_c, inputs.tau_s, elapsed_s)
    temp_mean_c = rc_mean_temperature_c(state.temp_c, temp_ss_c, inputs.tau_s, elapsed_s)
    chip_w = sum_by_group(power_w, inputs.chip_rack, inputs.n_racks)
    stored_j = sum_by_group(inputs.heat_capacity_j_per_k * (temp1_c - state.temp_c), inputs.chip_rack,
                            inputs.n_racks)
    shelf_output_w = chip_w + inputs.other_load_w
    feed_w = shelf_input_w(inputs.chain, shelf_output_w, inputs.healthy_psus)
    return HallState(
        temp_c=temp1_c,
        temp_max_c=np.maximum(state.temp_max_c, temp1_c),  # an exponential peaks at an end of its interval
        temp_time_c_s=state.temp_time_c_s + temp_mean_c * elapsed_s,
        chip_energy_j=state.chip_energy_j + chip_w * elapsed_s,
        heat_to_liquid_j=state.heat_to_liquid_j + (chip_w * elapsed_s - stored_j),
        feed_energy_j=state.feed_energy_j + feed_w * elapsed_s,
        psu_loss_energy_j=state.psu_loss_energy_j + (feed_w - shelf_output_w) * elapsed_s,
    )


class GroupedHall:
    """`advance_event` on one representative rack per group of identical racks, carried with its multiplicity.

    Racks group on their inputs and die temperatures, the only state the advance reads: each representative
    gets the very bits every rack of its group would get in the whole-hall advance (each rack's arithmetic
    reads only its own entries). The running integrals are not part of the key: each rack keeps those it had
    at the last regroup (`base`), and its group adds what it gathered since (the maxima: the larger). So a
    rack that a fault split off rejoins its group once its dies are back to the same bits (after a repair the
    difference decays as e^(−t/τ) and rounds away, some 100 phases later): regroup after every change and
    now and then. Temperatures and maxima stay bit for bit those of the whole-hall advance; sums differ by
    rounding (base + since instead of one running sum).
    """

    def __init__(self, inputs: HallInputs, state: HallState) -> None:
        """Group the racks of `inputs` and `state` (whole hall)."""
        self.inputs = inputs
        self.regroup(state)

    def regroup(self, state: HallState | None = None) -> None:
        """Group the racks afresh (of `state`, or of the state reached), keeping every rack's integrals so far."""
        self.base = self.state() if state is None else state
        self.groups: Groups = find_groups(self.inputs.n_racks, *self.inputs.per_rack(), self.base.temp_c)
        self.group_inputs = self.inputs.racks(self.groups.representative)
        self.group_state = HallState.settled(rack_rows(self.base.temp_c, self.groups.representative,
                                                       self.inputs.n_racks), self.groups.n_groups)

    def advance(self, gpu_utilization: float, cpu_utilization: float, elapsed_s: float) -> None:
        """`advance_event` over the representatives."""
        self.group_state = advance_event(self.group_inputs, self.group_state, gpu_utilization, cpu_utilization,
                                         elapsed_s)

    def change(self, inputs: HallInputs) -> None:
        """New inputs for the whole hall (a fault, a repair, a throttle): regroup under them."""
        state = self.state()
        self.inputs = inputs
        self.regroup(state)

    def state(self) -> HallState:
        """The whole hall's state: every rack's integrals at the last regroup plus its group's since."""
        since = self.group_state.racks(self.groups.group_of_rack)
        base = self.base
        return HallState(
            since.temp_c, np.maximum(base.temp_max_c, since.temp_max_c),
            *(getattr(base, name) + getattr(since, name) for name in ("temp_time_c_s", *HallState.RACK_FIELDS)))

    def total(self, name: str) -> float:
        """Σ over every rack of a per-rack integral of HallState (feed_energy_j, say), J."""
        return float(getattr(self.base, name).sum()) + weighted_total(getattr(self.group_state, name), self.groups)
