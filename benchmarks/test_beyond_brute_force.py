"""Beyond brute force (issue 9): one event's advance of 1,000 racks (72,000 GPUs) done four ways, side by side.

The event is the issue's: the phase's chip power, the coolant rise along each cold-plate loop in flow order,
the exact RC step and its interval mean, the energies, each rack's PSU loss from the efficiency curve
(racksim/engine/event_advance.py). Every call advances one phase, alternating the standard suite's compute
and communication phases of the training job, on the real built arrays of designs/gb200-nvl72.yaml at the
engine's operating point:
  a. `advance_event`: float64, racksim's physics functions, a new array for every intermediate;
  b. the same arithmetic on float32 chip arrays (per-rack sums and the PSU stay float64); b+c: (c) in float32;
  c. float64 in preallocated buffers with `out=`: no temporaries, the same bits as (a) (checked before timing);
     c+memo: also the decay factors e^(−Δt/τ) and mean weights memoized per interval length (phases repeat);
  d. grouped: the racks in identical state advanced as one representative rack with a multiplicity
     (engine/grouping.py), the same temperatures bit for bit as (a) (tests/test_grouping.py); d+c+memo:
     (c+memo) on the representative;
  and the price of a regroup after a fault on one rack.
`test_float32_day_error` runs a simulated day of alternating phases in float64 and float32 and records the
largest differences in `extra_info` (10 racks: each rack's arithmetic is its own, so 1,000 give the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from itertools import cycle, islice
from pathlib import Path

import numpy as np
import pytest

from racksim.design.suite import load_suite
from racksim.engine import Simulation
from racksim.engine.event_advance import GroupedHall, HallInputs, HallState, advance_event
from racksim.physics.arrays import build
from racksim.physics.power import shelf_input_w, sum_by_group
from racksim.run.loading import load_design
from racksim.workload import TrainingSchedule

ROOT = Path(__file__).resolve().parent.parent
DESIGN = load_design(ROOT / "designs" / "gb200-nvl72.yaml").design
SCHEDULE = TrainingSchedule.for_design(load_suite("standard").scenario("training").workload, DESIGN)
PHASES = tuple((float(p.activity.gpu_utilization), p.activity.cpu_utilization, p.nominal_s)
               for p in islice(SCHEDULE.phases(), 2))
"""(GPU utilization, CPU utilization, duration s) of a compute and a communication phase."""
RACKS = 1000
DAY_RACKS = 10
CHIP_FLOATS = ("idle_w", "tdp_w", "resistance_k_per_w", "tau_s", "heat_capacity_j_per_k",
               "loop_capacity_rate_w_per_k", "supply_temp_c")
"""Inputs read per chip (or per loop), which the float32 variants hold in float32."""


def hall(racks: int) -> tuple[HallInputs, HallState]:
    """Inputs at the engine's compute-phase operating point of `racks` racks, dies settled at idle."""
    simulation = Simulation(build(DESIGN, racks), SCHEDULE.phases, 3600.0)
    simulation.activity = next(SCHEDULE.phases()).activity
    point = simulation._evaluate()
    return HallInputs.at(simulation.arrays, point, simulation.plant), HallState.settled(simulation.temp_c, racks)


def advance_float32(inputs: HallInputs, state: HallState, gpu_utilization: float, cpu_utilization: float,
                    elapsed_s: float) -> HallState:
    """(b) `advance_event`'s arithmetic on float32 chip inputs and temperatures; each integral keeps its dtype."""
    f32 = np.float32
    utilization = np.where(inputs.is_gpu, f32(gpu_utilization), f32(cpu_utilization))
    power_w = (inputs.idle_w + utilization * (inputs.tdp_w - inputs.idle_w)) * inputs.up
    loops = inputs.loop_capacity_rate_w_per_k.size
    by_loop = power_w.reshape(loops, -1)
    upstream_w = np.cumsum(by_loop, axis=1) - by_loop
    supply_c = np.repeat(inputs.supply_temp_c, loops // inputs.n_racks)
    coolant_c = (supply_c[:, None] + upstream_w / inputs.loop_capacity_rate_w_per_k[:, None]).reshape(-1)
    temp_ss_c = coolant_c + power_w * inputs.resistance_k_per_w
    exponent = f32(-elapsed_s) / inputs.tau_s
    temp1_c = temp_ss_c + (state.temp_c - temp_ss_c) * np.exp(exponent)
    temp_mean_c = temp_ss_c + (state.temp_c - temp_ss_c) * (inputs.tau_s / f32(elapsed_s) * -np.expm1(exponent))
    chip_w = sum_by_group(power_w, inputs.chip_rack, inputs.n_racks)  # bincount sums in float64
    stored_j = sum_by_group(inputs.heat_capacity_j_per_k * (temp1_c - state.temp_c), inputs.chip_rack,
                            inputs.n_racks)
    shelf_output_w = chip_w + inputs.other_load_w
    feed_w = shelf_input_w(inputs.chain, shelf_output_w, inputs.healthy_psus)
    elapsed = np.float64(elapsed_s)

    def add(total: np.ndarray, increment: np.ndarray) -> np.ndarray:
        return (total + increment).astype(total.dtype)

    return HallState(temp1_c, np.maximum(state.temp_max_c, temp1_c),
                     add(state.temp_time_c_s, temp_mean_c * elapsed),
                     add(state.chip_energy_j, chip_w * elapsed),
                     add(state.heat_to_liquid_j, chip_w * elapsed - stored_j),
                     add(state.feed_energy_j, feed_w * elapsed),
                     add(state.psu_loss_energy_j, (feed_w - shelf_output_w) * elapsed))


def in_float32(inputs: HallInputs, state: HallState, accumulators: type = np.float64) -> tuple[HallInputs, HallState]:
    """Chip inputs and temperatures in float32; the integrals in `accumulators`."""
    chip_inputs = replace(inputs, **{name: getattr(inputs, name).astype(np.float32) for name in CHIP_FLOATS})
    temps = {name: getattr(state, name).astype(np.float32) for name in ("temp_c", "temp_max_c")}
    totals = {name: getattr(state, name).astype(accumulators) for name in ("temp_time_c_s", *HallState.RACK_FIELDS)}
    return chip_inputs, HallState(**temps, **totals)


class FusedAdvance:
    """(c) `advance_event` in preallocated buffers, every numpy call writing `out=`: the same bits as (a).

    With `memo`, the decay factor and mean weight of each interval length are kept (τ is constant between
    faults, and phases repeat a few lengths): e^(−Δt/τ) and expm1, the costliest calls, run once per length.
    """

    def __init__(self, inputs: HallInputs, state: HallState, memo: bool = False, dtype: type = np.float64) -> None:
        self.inputs, self.memo, self.dtype = inputs, memo, dtype
        chips, loops = inputs.idle_w.size, inputs.loop_capacity_rate_w_per_k.size

        def own(values: np.ndarray) -> np.ndarray:
            return np.array(values, dtype=dtype)

        self.idle_w, self.span_w, self.up = own(inputs.idle_w), own(inputs.tdp_w - inputs.idle_w), own(inputs.up)
        gpu_by_rack = inputs.is_gpu.reshape(inputs.n_racks, -1)
        assert (gpu_by_rack == gpu_by_rack[0]).all(), "GPUs in the same slots of every rack"
        self.gpu_slots = np.flatnonzero(gpu_by_rack[0])
        self.resistance, self.tau, self.capacity = own(inputs.resistance_k_per_w), own(inputs.tau_s), \
            own(inputs.heat_capacity_j_per_k)
        plates = chips // loops  # per chip, not broadcast along loops of 3 plates (numpy's inner loop would be 3 long)
        self.rate = own(np.repeat(inputs.loop_capacity_rate_w_per_k, plates))
        self.supply = own(np.repeat(inputs.supply_temp_c, chips // inputs.n_racks))
        self.by_slot = np.empty((chips // inputs.n_racks, inputs.n_racks), dtype)
        """Chip values slot-major: summed over axis 0, numpy adds each rack's slots in order, as bincount does."""
        self.temp, self.temp1 = own(state.temp_c), np.empty(chips, dtype)
        self.temp_max, self.temp_time = own(state.temp_max_c), state.temp_time_c_s.copy()
        self.rack_totals = [getattr(state, name).copy() for name in HallState.RACK_FIELDS]
        self.utilization, self.power, self.steady, self.gap, self.mean, self.scratch, self.decay, self.weight = \
            (np.empty(chips, dtype) for _ in range(8))
        self.coolant = np.empty((loops, chips // loops), dtype)
        self.factors: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def _factors(self, elapsed_s: float) -> tuple[np.ndarray, np.ndarray]:
        """e^(−Δt/τ) and (τ/Δt)·(−expm1(−Δt/τ)), as rc_temperature_c and rc_mean_temperature_c compute them."""
        if self.memo and elapsed_s in self.factors:
            return self.factors[elapsed_s]
        decay, weight = (np.empty_like(self.tau), np.empty_like(self.tau)) if self.memo else (self.decay, self.weight)
        exponent = np.divide(self.dtype(-elapsed_s), self.tau, out=self.scratch)
        np.exp(exponent, out=decay)
        np.expm1(exponent, out=weight)
        np.negative(weight, out=weight)
        np.multiply(np.divide(self.tau, self.dtype(elapsed_s), out=self.scratch), weight, out=weight)
        if self.memo:
            self.factors[elapsed_s] = decay, weight
        return decay, weight

    def advance(self, gpu_utilization: float, cpu_utilization: float, elapsed_s: float) -> None:
        """One event, in place."""
        u, power, steady, gap = self.utilization, self.power, self.steady, self.gap
        u.fill(min(max(cpu_utilization, 0.0), 1.0))
        u.reshape(self.inputs.n_racks, -1)[:, self.gpu_slots] = min(max(gpu_utilization, 0.0), 1.0)
        np.add(self.idle_w, np.multiply(u, self.span_w, out=power), out=power)
        np.multiply(power, self.up, out=power)
        by_loop, coolant = power.reshape(self.coolant.shape), self.coolant
        coolant[:, 0] = by_loop[:, 0]  # cumsum along each loop, plate by plate: the same sequence of additions
        for plate in range(1, by_loop.shape[1]):
            np.add(coolant[:, plate - 1], by_loop[:, plate], out=coolant[:, plate])
        flat = coolant.reshape(-1)
        np.subtract(flat, power, out=flat)
        np.add(self.supply, np.divide(flat, self.rate, out=flat), out=flat)
        np.add(flat, np.multiply(power, self.resistance, out=steady), out=steady)
        decay, weight = self._factors(elapsed_s)
        np.subtract(self.temp, steady, out=gap)
        np.add(steady, np.multiply(gap, decay, out=self.temp1), out=self.temp1)
        np.add(steady, np.multiply(gap, weight, out=self.mean), out=self.mean)
        inputs = self.inputs
        chip_w = self._rack_sum(power)
        stored_j = self._rack_sum(np.multiply(self.capacity, np.subtract(self.temp1, self.temp, out=self.scratch),
                                              out=self.scratch))
        shelf_output_w = chip_w + inputs.other_load_w
        feed_w = shelf_input_w(inputs.chain, shelf_output_w, inputs.healthy_psus)
        chip_j, liquid_j, feed_j, psu_j = self.rack_totals
        chip_j += chip_w * elapsed_s
        liquid_j += chip_w * elapsed_s - stored_j
        feed_j += feed_w * elapsed_s
        psu_j += (feed_w - shelf_output_w) * elapsed_s
        np.maximum(self.temp_max, self.temp1, out=self.temp_max)
        np.add(self.temp_time, np.multiply(self.mean, elapsed_s, out=self.mean), out=self.temp_time)
        self.temp, self.temp1 = self.temp1, self.temp

    def _rack_sum(self, values: np.ndarray) -> np.ndarray:
        """Σ over each rack's chips in chip order, as sum_by_group (bincount) adds them, in float64."""
        np.copyto(self.by_slot, values.reshape(self.inputs.n_racks, -1).T)
        return np.add.reduce(self.by_slot, axis=0, dtype=np.float64)

    def state(self) -> HallState:
        """The state reached, as `advance_event` returns it."""
        return HallState(self.temp, self.temp_max, self.temp_time, *self.rack_totals)


def assert_same_bits(expected: HallState, got: HallState) -> None:
    """Every array of two states equal, bit for bit."""
    for name in HallState.ARRAYS:
        assert np.array_equal(getattr(expected, name), getattr(got, name)), name


def phase_stepper(advance: Callable[[float, float, float], None]) -> Callable[[], None]:
    """A call that advances one event, alternating compute and communication phases."""
    phases = cycle(PHASES)

    def step() -> None:
        advance(*next(phases))

    return step


class Functional:
    """A kernel that returns a new state, with the state it reached: (a) with `advance_event`, (b) with float32."""

    def __init__(self, inputs: HallInputs, state: HallState, kernel: Callable[..., HallState] = advance_event) -> None:
        self.inputs, self.state, self.kernel = inputs, state, kernel

    def advance(self, gpu_utilization: float, cpu_utilization: float, elapsed_s: float) -> None:
        self.state = self.kernel(self.inputs, self.state, gpu_utilization, cpu_utilization, elapsed_s)


GROUP = "beyond brute force: one event, 1,000 racks"


@pytest.mark.benchmark(group=GROUP)
def test_a_straightforward_float64(benchmark: pytest.FixtureRequest) -> None:
    inputs, state = hall(RACKS)
    benchmark.extra_info["gpus"] = int(inputs.is_gpu.sum())
    benchmark(phase_stepper(Functional(inputs, state).advance))


@pytest.mark.benchmark(group=GROUP)
def test_b_float32(benchmark: pytest.FixtureRequest) -> None:
    float32 = Functional(*in_float32(*hall(RACKS)), kernel=advance_float32)
    benchmark(phase_stepper(float32.advance))
    assert float32.state.temp_c.dtype == np.float32


@pytest.mark.parametrize("memo", [False, True], ids=["in_place", "in_place_memo"])
@pytest.mark.benchmark(group=GROUP)
def test_b_c_float32(benchmark: pytest.FixtureRequest, memo: bool) -> None:
    inputs, state = hall(RACKS)
    reference, fused = Functional(inputs, state), FusedAdvance(inputs, state, memo=memo, dtype=np.float32)
    steps = [phase_stepper(reference.advance), phase_stepper(fused.advance)]
    for _ in range(4):
        for step in steps:
            step()
    assert np.abs(fused.state().temp_c - reference.state.temp_c).max() < 1e-4
    benchmark(steps[1])


@pytest.mark.parametrize("memo", [False, True], ids=["in_place", "in_place_memo"])
@pytest.mark.benchmark(group=GROUP)
def test_c_float64(benchmark: pytest.FixtureRequest, memo: bool) -> None:
    inputs, state = hall(RACKS)
    reference, fused = Functional(inputs, state), FusedAdvance(inputs, state, memo=memo)
    steps = [phase_stepper(reference.advance), phase_stepper(fused.advance)]
    for _ in range(4):
        for step in steps:
            step()
    assert_same_bits(reference.state, fused.state())
    benchmark(steps[1])


@pytest.mark.parametrize("groups", [1, 10, 100])
@pytest.mark.benchmark(group=GROUP)
def test_d_grouped(benchmark: pytest.FixtureRequest, groups: int) -> None:
    inputs, state = hall(RACKS)
    supply_c = inputs.supply_temp_c.copy()
    supply_c[1:groups] += np.arange(1, groups) * 1e-9  # racks 1 … groups − 1 a nanokelvin apart: `groups` kinds
    grouped = GroupedHall(replace(inputs, supply_temp_c=supply_c), state)
    assert grouped.groups.n_groups == groups
    benchmark(phase_stepper(grouped.advance))


@pytest.mark.benchmark(group=GROUP)
def test_d_c_grouped_in_place_memo(benchmark: pytest.FixtureRequest) -> None:
    grouped = GroupedHall(*hall(RACKS))
    benchmark(phase_stepper(FusedAdvance(grouped.group_inputs, grouped.group_state, memo=True).advance))


@pytest.mark.benchmark(group="beyond brute force: regroup after a fault on one rack, 1,000 racks")
def test_regroup_after_fault(benchmark: pytest.FixtureRequest) -> None:
    inputs, state = hall(RACKS)
    grouped = GroupedHall(inputs, state)
    up = inputs.up.copy()
    up[np.flatnonzero(inputs.is_gpu)[RACKS // 2 * 72]] = False  # one GPU of the middle rack fails
    faulted = replace(inputs, up=up)
    benchmark(grouped.change, faulted)
    assert grouped.groups.multiplicity.tolist() == [RACKS - 1, 1]


def day_errors(racks: int = DAY_RACKS, day_s: float = 86_400.0) -> dict[str, float]:
    """Largest differences of float32 against float64 over a day of alternating phases."""
    inputs, state = hall(racks)
    float32_inputs, mixed = in_float32(inputs, state)
    _, single = in_float32(inputs, state, np.float32)
    temp_error_c, time_s = 0.0, 0.0
    for gpu_utilization, cpu_utilization, elapsed_s in cycle(PHASES):
        if time_s >= day_s:
            break
        state = advance_event(inputs, state, gpu_utilization, cpu_utilization, elapsed_s)
        mixed = advance_float32(float32_inputs, mixed, gpu_utilization, cpu_utilization, elapsed_s)
        single = advance_float32(float32_inputs, single, gpu_utilization, cpu_utilization, elapsed_s)
        temp_error_c = max(temp_error_c, float(np.abs(mixed.temp_c - state.temp_c).max()))
        time_s += elapsed_s

    def relative(name: str, other: HallState) -> float:
        exact = getattr(state, name)
        return float(np.abs(getattr(other, name) / exact - 1.0).max())

    errors = {"temp_c": temp_error_c, "temp_max_c": float(np.abs(mixed.temp_max_c - state.temp_max_c).max())}
    for name in ("temp_time_c_s", *HallState.RACK_FIELDS):
        errors[f"{name} relative, float64 integrals"] = relative(name, mixed)
        errors[f"{name} relative, float32 integrals"] = relative(name, single)
    return errors


@pytest.mark.benchmark(group="beyond brute force: float32 over a simulated day")
def test_float32_day_error(benchmark: pytest.FixtureRequest) -> None:
    errors = benchmark.pedantic(day_errors, rounds=1, iterations=1)
    benchmark.extra_info.update(errors)
    for name, value in errors.items():
        print(f"{name}: {value:.3g}")
