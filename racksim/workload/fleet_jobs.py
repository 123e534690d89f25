"""A hall's job mix compiled for the fleet engine: each job's racks, work, timing, and the rack power of each state.

A job runs on whole racks of one design group and on every GPU of them. A job naming its design runs on that group;
else on any group that holds it, the scheduler choosing when it starts (racksim.workload.scheduler), so it is
compiled for each of them (`JobCompiler.compile`: one `JobSpec` per group; its racks from the design's GPUs per
rack). A training job's step (time, phases, tokens per step) is predicted by racksim.perf for the design and rack
count (`compile_training`, the layout searched), cached per (design, model, racks, batch, seq_len, precision): a
trace's many jobs of one size share one prediction. An inference service runs its racks at the serving model's
operating point scaled to its demand.

Rack states (`RackProfile`): a rack's feed power, IT power, losses by stage, heat split, cooling power and die
temperatures in one state, from the operating point machinery (`racksim.physics.operating_point.PointCache` on one
rack of the design). A training job's state is the **cycle mean** over its checkpoint cycle, K steps of the
predicted phases and one checkpoint, time-weighted: the energy of whole cycles is exact. Die temperatures are the
steady-state temperatures of the phases in use (max over phases; the p99 from the phases' GPU temperatures weighted
by time). Every group has an idle state (also spares and jobs restarting) and an off state (a rack down for repair
or tripped draws nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from racksim._types import FloatArray
from racksim.design.jobs_schema import InferenceService, JobTrace, TrainingJob
from racksim.design.workload_schema import InferenceWorkload, TrainingWorkload
from racksim.errors import InputError
from racksim.perf.hardware import gpus_per_rack
from racksim.perf.predict import resolve_model
from racksim.physics.arrays import RackArrays, build
from racksim.physics.operating_point import Activity, PointCache
from racksim.physics.plant import PlantState
from racksim.workload.inference import InferenceSchedule
from racksim.workload.job_trace import TraceJob, read_trace
from racksim.workload.training import TrainingSchedule
from racksim.workload.training_model import compile_training

if TYPE_CHECKING:
    from racksim.design.schema import Design

IDLE = Activity(0.0, 0.0, 0.0)
SERVICE_INPUT_TOKENS = 1024
"""Prompt tokens per request of an inference service (A: a chat-like mix)."""
SERVICE_OUTPUT_TOKENS = 256
"""Generated tokens per request of an inference service (A)."""


@dataclass(frozen=True)
class RackProfile:
    """One rack's draw in one state (a cycle mean for a training job), W, and its die temperatures, °C."""

    label: str
    feed_w: float
    it_w: float
    loss_w_by_stage: dict[str, float]
    heat_to_liquid_w: float
    heat_to_air_w: float
    fan_w: float
    pump_w: float
    gpu_temp_c_max: float
    coolant_return_temp_c_max: float
    gpu_temps_c: FloatArray = field(repr=False)
    """Every GPU's steady die temperature in every phase of the state, flattened."""
    gpu_temp_weights: FloatArray = field(repr=False)
    """Each entry's share of the state's GPU-time (sums to 1)."""


@dataclass(frozen=True)
class JobSpec:
    """One job as the fleet engine runs it."""

    name: str
    kind: str
    model: str
    group: int
    """Design group of the hall whose racks it runs on."""
    racks: int
    submit_s: float
    profile: int
    """Index of its running state in the profile table."""
    steps: int = 0
    """Optimizer steps to train (training)."""
    step_s: float = 0.0
    tokens_per_step: float = 0.0
    checkpoint_every_steps: int = 1
    checkpoint_s: float = 0.0
    restart_s: float = 0.0
    serve_s: float = math.inf
    """How long an inference service serves, s."""
    tokens_per_s: float = 0.0
    """Tokens an inference service generates per second while serving."""

    @property
    def cycle_s(self) -> float:
        """K steps and one checkpoint, s."""
        return self.checkpoint_every_steps * self.step_s + self.checkpoint_s

    def time_for_steps_s(self, steps: float) -> float:
        """Wall time to train `steps` steps from a checkpoint, with a checkpoint after every K, s."""
        cycles = math.floor(steps / self.checkpoint_every_steps)
        return cycles * self.cycle_s + (steps - cycles * self.checkpoint_every_steps) * self.step_s

    def steps_in_s(self, time_s: float) -> float:
        """Steps trained in `time_s` of uninterrupted running from a checkpoint, checkpoints included.

        The job's own length is not applied (the work it would have done at nominal, had it kept going).
        """
        cycles = math.floor(time_s / self.cycle_s)
        return cycles * self.checkpoint_every_steps + min((time_s - cycles * self.cycle_s) / self.step_s,
                                                          self.checkpoint_every_steps)


@dataclass
class ProfileTable:
    """Every rack state of a run: per group its idle and off states, then one per distinct running job shape."""

    profiles: list[RackProfile] = field(default_factory=list)
    idle: list[int] = field(default_factory=list)
    """Idle state of each group."""
    off: list[int] = field(default_factory=list)
    """Off state (down or tripped) of each group."""

    def add(self, profile: RackProfile) -> int:
        """Append a state; its index."""
        self.profiles.append(profile)
        return len(self.profiles) - 1

    def column(self, name: str) -> FloatArray:
        """One scalar field of every state, as an array over states."""
        return np.array([getattr(p, name) for p in self.profiles], dtype=float)

    def losses_w(self) -> tuple[list[str], FloatArray]:
        """(stage names, losses W of shape (states, stages)) over the union of every state's stages."""
        stages = list(dict.fromkeys(s for p in self.profiles for s in p.loss_w_by_stage))
        return stages, np.array([[p.loss_w_by_stage.get(s, 0.0) for s in stages] for p in self.profiles]).reshape(
            len(self.profiles), len(stages))


class RackPower:
    """Operating points of one rack of a design, evaluated once per distinct activity."""

    def __init__(self, design: Design) -> None:
        """One rack of `design` with every component healthy."""
        self.arrays = build(design)
        self.cache = PointCache(self.arrays, size=64)
        self.plant = PlantState.nominal(self.arrays)
        self.throttled = np.zeros(self.arrays.chips.is_gpu.size, dtype=bool)

    def profile(self, label: str, phases: list[tuple[Activity, float]]) -> RackProfile:
        """The time-weighted mean over `phases` (activity, seconds per cycle); the off state for no phases."""
        if not phases:
            return RackProfile(label, 0.0, 0.0, {}, 0.0, 0.0, 0.0, 0.0, -math.inf, -math.inf, np.zeros(0), np.zeros(0))
        weights = np.array([s for _, s in phases], dtype=float)
        weights = weights / weights.sum()
        points = [self.cache(activity, self.throttled, self.plant) for activity, _ in phases]
        gpu = self.arrays.chips.is_gpu

        def mean(values: list[float]) -> float:
            return float(np.dot(weights, values))

        stages = list(dict.fromkeys(s for p in points for s in p.loss_w_by_stage))
        temps = np.concatenate([p.chip_temp_ss_c[gpu] for p in points])
        per_gpu = np.repeat(weights / gpu.sum(), gpu.sum())
        return RackProfile(
            label, mean([float(p.feed_w.sum()) for p in points]), mean([float(p.it_w.sum()) for p in points]),
            {s: mean([float(p.loss_w_by_stage[s].sum()) if s in p.loss_w_by_stage else 0.0 for p in points])
             for s in stages},
            mean([float(p.chip_power_w.sum() + p.liquid_noncold_plate_w.sum()) for p in points]),
            mean([float(p.air_w.sum()) for p in points]), mean([float(p.fan_power_w.sum()) for p in points]),
            mean([float(p.pump_power_w.sum()) for p in points]), float(temps.max()),
            max(float(p.coolant_return_temp_c.max()) for p in points), temps, per_gpu)


@dataclass(frozen=True)
class JobRequest:
    """A job as asked for, from a scenario's list or a trace, before compilation."""

    name: str
    kind: str
    model: str
    submit_s: float
    gpus: int | None = None
    """GPUs asked for (training, traces): whole racks of the design it runs on; None: `racks`."""
    racks: int = 1
    """Racks asked for when `gpus` is None (an inference replica)."""
    design: str | None = None
    global_batch_sequences: int = 1
    batch_sequences_per_gpu: float | None = None
    """A trace's job: the global batch is this times its racks' GPUs (so it depends on the design); None: fixed."""
    seq_len: int = 8192
    precision: str = "bf16"
    steps: int | None = None
    tokens: float | None = None
    duration_s: float | None = None
    """Training: train as many steps as take this long at nominal; inference: serve this long (None: to the end)."""
    checkpoint_every_steps: int | None = None
    checkpoint_every_s: float | None = None
    checkpoint_s: float = 0.0
    restart_s: float | None = None
    demand: float = 1.0


Located = list[tuple["JobRequest", str]]
"""Requests with where each comes from (jobs.<index>, or the trace's file:line), for errors."""


def scenario_requests(jobs: list[TrainingJob | InferenceService]) -> Located:
    """The requests of a scenario's `jobs:` list."""
    requests: Located = []
    for index, job in enumerate(jobs):
        name, where = job.name or f"job{index}", f"jobs.{index}"
        if isinstance(job, TrainingJob):
            requests.append((JobRequest(
                name, "training", job.model, job.submit_s, gpus=job.gpus, design=job.design,
                global_batch_sequences=job.global_batch_sequences, seq_len=job.seq_len, precision=job.precision,
                steps=job.steps, tokens=job.tokens, checkpoint_every_steps=job.checkpoint_every_steps,
                checkpoint_every_s=job.checkpoint_every_s, checkpoint_s=job.checkpoint_time_s,
                restart_s=job.restart_time_s), where))
        else:
            requests += [(JobRequest(f"{name}.{replica}", "inference", job.model, job.submit_s,
                                     racks=job.racks_per_replica, design=job.design, duration_s=job.duration_s,
                                     demand=job.demand), where)
                         for replica in range(job.replicas)]
    return requests


def trace_requests(trace: JobTrace) -> Located:
    """The requests of a job trace (racksim.workload.job_trace), its defaults filling what the trace lacks.

    A job trains on every GPU of its whole racks, so its global batch is the model entry's sequences per GPU times
    those GPUs (on the design it runs on).
    """
    def request(index: int, job: TraceJob) -> JobRequest:
        return JobRequest(f"job{index}", job.kind, job.model, job.submit_s, gpus=job.gpus,
                          batch_sequences_per_gpu=job.batch_sequences_per_gpu, seq_len=trace.seq_len,
                          precision=trace.precision, steps=job.steps, duration_s=job.duration_s,
                          checkpoint_every_s=trace.checkpoint_every_s, checkpoint_s=trace.checkpoint_time_s)
    return [(request(index, job), f"{trace.path}:{job.line}") for index, job in enumerate(read_trace(trace))]


@dataclass(frozen=True)
class HallGroups:
    """The hall's design groups as jobs see them: which groups a job may run on, how many racks it gets on each."""

    designs: list[Design]
    group_racks: list[int]
    """Racks in each group (a job that fits none is an error)."""
    source: str = "scenario"
    spare_racks: int = 0
    """Hot-spare racks held back in each group (a job must fit in the rest)."""

    def racks_on(self, request: JobRequest, group: int) -> int:
        """Whole racks the job gets on `group`'s design (its GPUs over the design's GPUs per rack, rounded up)."""
        return request.racks if request.gpus is None else -(-request.gpus // gpus_per_rack(self.designs[group]))

    def groups_for(self, request: JobRequest, where: str) -> list[int]:
        """The groups a job may run on: the named design's, else every group holding its racks (spares aside)."""
        names = [d.name for d in self.designs]
        if request.design is not None and request.design not in names:
            raise InputError(self.source, f"{where}.design", f"no group of design {request.design!r} in the hall "
                             f"(has: {', '.join(names)})")
        allowed = [names.index(request.design)] if request.design is not None else range(len(names))
        groups = [g for g in allowed if self.racks_on(request, g) <= self.group_racks[g] - self.spare_racks]
        if groups:
            return groups
        if any(self.racks_on(request, g) <= self.group_racks[g] for g in allowed):
            raise InputError(self.source, "scheduler.hot_spare_racks", f"{self.spare_racks} spare racks leave too "
                             f"few for {where} ({request.name})")
        raise InputError(self.source, where, f"needs {min(self.racks_on(request, g) for g in allowed)} racks; the "
                         f"largest group it may use has {max(self.group_racks[g] for g in allowed)}")

    def check(self, requests: Located) -> None:
        """Raise the first request's one-line error that needs no prediction: no group holds it, unknown model."""
        models: set[str] = set()
        for request, where in requests:
            self.groups_for(request, where)
            if request.model not in models:
                models.add(request.model)
                try:
                    resolve_model(request.model)
                except InputError as error:
                    raise InputError(self.source, f"{where}.model", error.rule) from None


@dataclass
class JobCompiler:
    """Compiles jobs for a hall's design groups, caching predictions and rack states by job shape."""

    hall: HallGroups
    restart_s: list[float]
    """Each group's design's `reliability.restart_time_s` (the default restart time)."""
    table: ProfileTable = field(default_factory=ProfileTable)
    _power: list[RackPower] = field(default_factory=list)
    _training: dict[tuple[object, ...], TrainingSchedule] = field(default_factory=dict)
    _serving: dict[tuple[object, ...], InferenceSchedule] = field(default_factory=dict)
    _profiles: dict[tuple[object, ...], int] = field(default_factory=dict)
    schedules: dict[int, TrainingSchedule] = field(default_factory=dict)
    """The predicted step of each training job's running profile (the grid's waveforms)."""

    @property
    def designs(self) -> list[Design]:
        """Each group's rack design."""
        return self.hall.designs

    @property
    def source(self) -> str:
        """Names the scenario in errors."""
        return self.hall.source

    def __post_init__(self) -> None:
        """Each group's rack power, idle and off states."""
        for design in self.designs:
            power = RackPower(design)
            self._power.append(power)
            self.table.idle.append(self.table.add(power.profile(f"idle ({design.name})", [(IDLE, 1.0)])))
            self.table.off.append(self.table.add(power.profile(f"off ({design.name})", [])))

    def rack_arrays(self, group: int) -> RackArrays:
        """One rack of the group's design, compiled."""
        return self._power[group].arrays

    def compile(self, request: JobRequest, where: str) -> tuple[JobSpec, ...]:
        """The job as the engine runs it on each group it may run on: timing, work and running state per design.

        A group whose design cannot run it (the layout search finds no fit) is left out; if none can, the first
        group's error. Its work is the same in tokens everywhere: a trace job's steps (its run time at nominal
        speed) are counted on the first group it may use, the others train the same tokens.
        """
        specs, errors = [], []
        for group in self.hall.groups_for(request, where):
            try:
                specs.append((self._training_spec if request.kind == "training" else self._serving_spec)(
                    request, group, where))
            except InputError as error:
                errors.append(error)
        if not specs:
            raise errors[0]
        first = specs[0]
        return (first, *(replace(spec, steps=math.ceil(first.steps * first.tokens_per_step / spec.tokens_per_step))
                         if spec.tokens_per_step != first.tokens_per_step else spec for spec in specs[1:]))

    def _profile(self, key: tuple[object, ...], group: int, label: str, phases: list[tuple[Activity, float]]) -> int:
        if key not in self._profiles:
            self._profiles[key] = self.table.add(self._power[group].profile(label, phases))
        return self._profiles[key]

    def _training_spec(self, request: JobRequest, group: int, where: str) -> JobSpec:
        design, racks = self.designs[group], self.hall.racks_on(request, group)
        batch = request.global_batch_sequences if request.batch_sequences_per_gpu is None else max(
            1, round(request.batch_sequences_per_gpu * racks * gpus_per_rack(design)))
        r = replace(request, racks=racks, global_batch_sequences=batch)
        key = (group, r.model, r.racks, r.global_batch_sequences, r.seq_len, r.precision)
        if key not in self._training:
            workload = TrainingWorkload(model=r.model, global_batch_sequences=r.global_batch_sequences,
                                        seq_len=r.seq_len, precision=r.precision,
                                        checkpoint_every_steps=1, checkpoint_time_s=0.0)
            try:
                self._training[key] = compile_training(workload, design, r.racks, design.name)
            except InputError as error:
                raise InputError(self.source, where, f"{r.model} on {r.racks} rack(s) of {design.name}: "
                                 f"{error.rule}") from None
        schedule = self._training[key]
        step_s = schedule.step_s
        every = r.checkpoint_every_steps or max(1, round((r.checkpoint_every_s or step_s) / step_s))
        phases = [(p.activity, p.nominal_s * every) for p in schedule.step]
        if r.checkpoint_s > 0:
            phases.append((schedule.checkpoint, r.checkpoint_s))
        profile = self._profile((*key, every, r.checkpoint_s), group, f"{r.model} x{r.racks} ({design.name})",
                                phases)
        self.schedules[profile] = schedule
        if r.steps is not None:
            steps = r.steps
        elif r.tokens is not None:
            steps = math.ceil(r.tokens / schedule.tokens_per_work_unit)
        else:  # a trace's run time: the steps that take that long at nominal, checkpoints included
            steps = max(1, math.floor((r.duration_s or 0.0) / (step_s + r.checkpoint_s / every)))
        return JobSpec(r.name, "training", r.model, group, r.racks, r.submit_s, profile, steps=steps, step_s=step_s,
                       tokens_per_step=schedule.tokens_per_work_unit, checkpoint_every_steps=every,
                       checkpoint_s=r.checkpoint_s, restart_s=r.restart_s or self.restart_s[group])

    def _serving_spec(self, request: JobRequest, group: int, where: str) -> JobSpec:
        design, r = self.designs[group], replace(request, racks=self.hall.racks_on(request, group))
        key = (group, r.model, r.racks)
        if key not in self._serving:
            workload = InferenceWorkload(kind="inference", model=r.model, input_tokens=SERVICE_INPUT_TOKENS,
                                         output_tokens=SERVICE_OUTPUT_TOKENS, requests_per_s_mean=1.0)
            try:
                self._serving[key] = InferenceSchedule.for_design(workload, design, r.racks, source=design.name)
            except InputError as error:
                raise InputError(self.source, where, f"serving {r.model} on {r.racks} rack(s) of {design.name}: "
                                 f"{error.rule}") from None
        schedule = self._serving[key]
        rate = r.demand * schedule.prediction.point.requests_per_s
        _, _, gpu = schedule.curve.at(rate)
        activity = schedule.activity(r.demand, gpu)
        profile = self._profile((*key, r.demand), group, f"serve {r.model} x{r.racks} ({design.name})",
                                [(activity, 1.0)])
        tokens_per_s = r.demand * schedule.capacity_requests_per_s * SERVICE_OUTPUT_TOKENS
        return JobSpec(r.name, "inference", r.model, group, r.racks, r.submit_s, profile,
                       restart_s=r.restart_s or self.restart_s[group], serve_s=r.duration_s or math.inf,
                       tokens_per_s=tokens_per_s)
