"""Benchmark suites: named scenarios (workload, duration, seed, design overrides) in YAML.

A suite file is validated like a design file: pydantic models with `extra="forbid"` and one-line errors.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from racksim.design.base import Model, NonNegativeFloat, PositiveFloat, PositiveInt, rule_error
from racksim.design.grid_schema import Grid
from racksim.design.jobs_schema import FLEET_FIELDS, Job, JobTrace, RepairCrew, Scheduler, check_fleet_fields
from racksim.design.loader import load_model, validate
from racksim.design.workload_schema import TraceWorkload, Workload
from racksim.errors import InputError
from racksim.kpis import DIRECTIONS, NEUTRAL, kpi_spec

SUITES_DIR = Path(str(resources.files("racksim") / "suites"))


FeedName = Literal["a", "b"]


SELECTORS = ("racks", "rows", "random_racks", "fraction")
"""A fault's rack selectors (at most one; none: every rack, a link failure rack 0)."""


class Fault(Model):
    """A scheduled fault, optionally repaired after a while, on the racks a selector picks (default: every rack)."""

    kind: Literal["psu_failure", "pump_failure", "fan_failure", "cdu_failure", "facility_water_excursion",
                  "feed_loss", "link_failure", "row_cdu_failure"]
    """psu_failure, pump_failure and fan_failure lose `count` units; cdu_failure stops heat rejection
    (pumps keep running); facility_water_excursion raises the facility supply by `delta_temp_c`;
    feed_loss de-energizes the `feeds` named (a utility outage when all are); link_failure takes `count`
    scale-up links down, link k of GPU k (each on a different GPU of rack 0); row_cdu_failure stops the heat
    rejection of one in-row CDU of a hall (`row`, `cdu`), for every rack it serves. Selectors (`racks`, `rows`,
    `random_racks`, `fraction`; at most one) pick the racks every kind but row_cdu_failure hits; without one a
    fault hits every rack and a link failure rack 0."""
    at_s: NonNegativeFloat
    """When the fault starts, s from the start of the run."""
    duration_s: PositiveFloat | None = None
    """How long until repair, s; absent: not repaired within the run."""
    count: PositiveInt = 1
    """PSUs, pumps, fans or scale-up links lost (psu_failure, pump_failure, fan_failure, link_failure)."""
    delta_temp_c: float = Field(default=0.0, ge=-50, le=50)
    """Facility supply change (facility_water_excursion), K."""
    feeds: list[FeedName] = Field(default_factory=lambda: list[FeedName](["a", "b"]), min_length=1)
    """Feeds lost (feed_loss); a design with a single feed has only feed a."""
    row: Annotated[int, Field(ge=0)] = 0
    """Row of the failed CDU, from 0 (row_cdu_failure)."""
    cdu: Annotated[int, Field(ge=0)] = 0
    """The failed CDU's place in its row, from 0 (row_cdu_failure)."""
    racks: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    """Hall-wide indices of the racks hit, from 0."""
    rows: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)] | None = None
    """Every rack of these rows is hit (rows from 0)."""
    random_racks: PositiveInt | None = None
    """This many racks drawn at random (the run's seed and the fault's place in the list drive the draw)."""
    fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    """This share of the racks, drawn at random (rounded to the nearest rack, at least one)."""
    gpu: Annotated[int, Field(ge=0)] | None = None
    """link_failure: the GPU (index within its rack) whose `count` links fail on each rack hit; absent: link k of
    GPU k, k < count."""

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> Fault:
        chosen = [name for name in SELECTORS if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ValueError(f"give one rack selector, not {' and '.join(chosen)}")
        if chosen and self.kind == "row_cdu_failure":
            raise ValueError(f"{chosen[0]} does not apply to row_cdu_failure (its row and cdu place it)")
        if self.gpu is not None and self.kind != "link_failure":
            raise ValueError(f"gpu applies to link_failure, not {self.kind}")
        if self.kind == "facility_water_excursion" and self.delta_temp_c == 0:
            raise ValueError("a facility_water_excursion needs a non-zero delta_temp_c")
        if self.kind != "facility_water_excursion" and self.delta_temp_c != 0:
            raise ValueError(f"delta_temp_c applies to facility_water_excursion, not {self.kind}")
        if self.kind != "feed_loss" and "feeds" in self.model_fields_set:
            raise ValueError(f"feeds applies to feed_loss, not {self.kind}")
        placed = {"row", "cdu"} & self.model_fields_set
        if self.kind != "row_cdu_failure" and placed:
            raise ValueError(f"{' and '.join(sorted(placed))} applies to row_cdu_failure, not {self.kind}")
        return self


class Scenario(Model):
    """One benchmark scenario run against every design."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    """Names the scenario's run directories (OUT/<design>/<name>) and `--scenario`."""
    description: str = ""
    """What happens, shown in the report."""
    duration_s: PositiveFloat
    """Simulated time, s."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Seed of the run's random streams (`--seed` overrides it)."""
    workload: Workload | None = None
    """One job over every rack of the run (or give `jobs` or `job_trace`: a hall's job mix)."""
    faults: list[Fault] = Field(default_factory=list)
    """Scheduled faults and repairs."""
    stochastic_failures: bool = False
    """Also sample failures from each design's `reliability` section (the run's seed drives them)."""
    design_overrides: dict[str, Any] = Field(default_factory=dict)
    """Dotted design paths set for this scenario (e.g. cooling.facility_supply_temp_c: 40)."""
    timeseries_resolution_s: PositiveFloat | None = None
    """Record the time series at one row per this interval (time-weighted means, extremes, last values), so a long
    run's memory stays bounded; the metrics stay exact. Absent: one row per event."""
    grid: Grid | None = None
    """The hall's feed power as the grid sees it: window, limits, mitigations (grid.parquet, metrics' grid)."""
    jobs: list[Job] | None = None
    """A hall's job mix: training jobs and inference services placed on whole racks (racksim.engine.fleet)."""
    job_trace: JobTrace | None = None
    """A hall's job mix read from an SWF or CSV trace (or give `jobs`)."""
    scheduler: Scheduler | None = None
    """How a job mix gets racks (absent: the defaults)."""
    repair: RepairCrew | None = None
    """Who repairs a job mix's failed racks, with which parts (absent: the defaults)."""
    trip_reset_delay_s: PositiveFloat | None = None
    """Time until an operator resets a tripped rack, s: this long after the trip, or when a feed (or charged BBUs)
    can carry the rack again if that is later, in a rack run and a job mix's alike; absent:
    racksim.design.jobs_schema.TRIP_RESET_DELAY_S."""

    @model_validator(mode="after")
    def _one_kind_of_work(self) -> Scenario:
        check_fleet_fields(self.jobs, self.job_trace, self.workload is not None,
                           {name for name in FLEET_FIELDS if getattr(self, name) is not None})
        return self

    @property
    def is_fleet(self) -> bool:
        """Whether the scenario is a hall's job mix (run by racksim.engine.fleet)."""
        return self.jobs is not None or self.job_trace is not None


class Weight(Model):
    """How much one KPI counts in the report's weighted score, and which way is better."""

    weight: PositiveFloat
    """Relative weight; the score divides by the sum of the weights."""
    better: Literal["higher", "lower"] | None = None
    """Required for a KPI racksim knows no direction for; otherwise overrides the built-in one."""
    aggregate: Literal["mean", "worst"] = "mean"
    """How a design's values over the scenarios combine: their mean, or the worst of them."""
    scenarios: list[str] | None = None
    """Only these scenarios of the suite count (default: every scenario the KPI appears in)."""

    @model_validator(mode="before")
    @classmethod
    def _number_is_a_weight(cls, data: Any) -> Any:  # noqa: ANN401 - raw YAML
        return {"weight": data} if isinstance(data, int | float) and not isinstance(data, bool) else data

    @property
    def direction(self) -> int:
        """+1 if higher is better, -1 if lower, 0 if unset."""
        return DIRECTIONS[self.better] if self.better else NEUTRAL


KpiName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")]


class Suite(Model):
    """A named set of scenarios, and the weights of the report's scorecard."""

    name: str
    """The suite's name, recorded with the results (suite.json)."""
    description: str = ""
    """What the suite is for."""
    scenarios: list[Scenario] = Field(min_length=1)
    weights: dict[KpiName, Weight] = Field(default_factory=dict)
    """Weighted score of the report: metrics.json name (e.g. performance.work_per_kwh) -> weight, or
    {weight, better, aggregate, scenarios}. Empty: the report's default weights."""

    @model_validator(mode="after")
    def _weights_are_usable(self) -> Suite:
        names = {s.name for s in self.scenarios}
        for kpi, weight in self.weights.items():
            if weight.better is None and kpi_spec(kpi).better == NEUTRAL:
                raise rule_error(f"weights.{kpi}.better", f"racksim knows no better direction for {kpi}; "
                                 "give better: higher or better: lower")
            unknown = sorted(set(weight.scenarios or ()) - names)
            if unknown:
                raise rule_error(f"weights.{kpi}.scenarios", f"no scenario named {', '.join(unknown)} in this suite")
        return self

    @field_validator("scenarios")
    @classmethod
    def _unique_names(cls, scenarios: list[Scenario]) -> list[Scenario]:
        names = [s.name for s in scenarios]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"scenario names must be unique: {', '.join(repeated)}")
        return scenarios

    def scenario(self, name: str) -> Scenario:
        """The scenario called `name`."""
        for scenario in self.scenarios:
            if scenario.name == name:
                return scenario
        raise InputError(self.name, "scenarios", f"no scenario named {name!r} "
                         f"(have: {', '.join(s.name for s in self.scenarios)})")


def with_job_trace(scenario: Scenario, path: Path) -> Scenario:
    """The scenario running a job trace's jobs instead of its own workload or job list (`run --job-trace`).

    Its own `job_trace` settings (models by size, checkpointing) stay; any other scenario gets the defaults.
    """
    trace = scenario.job_trace.model_dump(exclude_unset=True) if scenario.job_trace else {}
    data = {**scenario.model_dump(exclude={"workload", "jobs", "job_trace"}, exclude_unset=True),
            "job_trace": {**trace, "path": path}}
    return validate(Scenario, data, f"--job-trace {path} (scenario {scenario.name})")


def suite_path(name_or_path: str) -> Path:
    """A suite file given by path, or by name from the bundled suites (racksim/suites, package data)."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.is_file():
        return candidate
    return SUITES_DIR / f"{name_or_path}.yaml"


def load_suite(name_or_path: str) -> Suite:
    """Load and validate a suite by name or path."""
    path = suite_path(name_or_path)
    if not path.is_file():
        known = sorted(p.stem for p in SUITES_DIR.glob("*.yaml"))
        raise InputError(str(path), "", f"no such suite (bundled: {', '.join(known)})")
    suite, _ = load_model(Suite, path)
    return _traces_beside(suite, path.parent)


def _traces_beside(suite: Suite, directory: Path) -> Suite:
    """The suite with relative trace and model-config paths resolved against the suite file's directory.

    A model given by a file name (.json, .yaml, .yml) is a path; a bare name is a bundled model.
    """
    def model_path(model: str) -> str:
        relative = Path(model).suffix in MODEL_SUFFIXES and not Path(model).is_absolute()
        return str(directory / model) if relative else model

    def beside(workload: Workload) -> Workload:
        if isinstance(workload, TraceWorkload) and not workload.path.is_absolute():
            return workload.model_copy(update={"path": directory / workload.path})
        model = getattr(workload, "model", None)
        return workload.model_copy(update={"model": model_path(model)}) if isinstance(model, str) else workload

    def moved(scenario: Scenario) -> Scenario:
        update: dict[str, Any] = {}
        if scenario.workload is not None:
            update["workload"] = beside(scenario.workload)
        if scenario.jobs is not None:
            update["jobs"] = [job.model_copy(update={"model": model_path(job.model)}) for job in scenario.jobs]
        trace = scenario.job_trace
        if trace is not None and not trace.path.is_absolute():
            update["job_trace"] = trace.model_copy(update={"path": directory / trace.path})
        return scenario.model_copy(update=update)

    return suite.model_copy(update={"scenarios": [moved(s) for s in suite.scenarios]})


MODEL_SUFFIXES = frozenset({".json", ".yaml", ".yml"})
"""File suffixes that make a workload's `model` a config file's path rather than a bundled name."""
