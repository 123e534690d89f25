"""The `racksim` command line: a thin layer that turns every error into one line and an exit code.

Each command imports what it runs when it runs, so `racksim --help` and a bad option answer at once.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from racksim.cli_collectives import collectives as collectives_command
from racksim.cli_perf import perf_app
from racksim.errors import InputError, Interrupted, RacksimError

if TYPE_CHECKING:
    from racksim.design.suite import Scenario, Suite

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Co-design simulator for AI data-center racks.")
console = Console()
status_console = Console(stderr=True)
"""Spinners and progress go to stderr, so stdout carries only the paths written."""
DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|m|min|h|d)?\s*$")
UNIT_S = {None: 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}

DesignsArg = Annotated[list[Path], typer.Argument(help="Design files (YAML).", show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a design field: dotted.path=value.")]
JobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", min=1,
                                             help="Runs in parallel processes (default: one per CPU core).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Rerun even runs whose inputs are unchanged.")]
ReplicasOpt = Annotated[int, typer.Option("--replicas", min=1, max=1000,
                                          help="Monte Carlo: seeds per run (means and 95 % intervals).")]
SensitivityOpt = Annotated[bool, typer.Option(
    "--sensitivity", help="Also run the cost's coolant sensitivity: the design's cost.sensitivity.coolant_scenario "
    "twice more, at the facility supply ± its step (compare always does).")]
ResolutionOpt = Annotated[str | None, typer.Option(
    "--resolution", metavar="SECONDS", help="Keep the time series at a row per interval (60, 5m), not per event: "
    "bounded memory for long runs, exact metrics. Overrides the scenario's timeseries_resolution_s.")]

EveryEventOpt = Annotated[bool, typer.Option(
    "--every-event", help="Simulate every event: no periodic cycle skipping (the same results to rounding, slower).")]


def parse_duration_s(text: str, option: str = "--duration") -> float:
    """'90s', '15m', '24h', '2d' or plain seconds → seconds (`option` names the option in the error)."""
    match = DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise InputError(option, text, "expected a positive duration like 90s, 15m, 24h or 2d")
    return float(match.group(1)) * UNIT_S[match.group(2)]


def _resolution_s(text: str | None) -> float | None:
    return None if text is None else parse_duration_s(text, "--resolution")


ScenarioOpt = Annotated[list[str] | None, typer.Option(
    "--scenario", help="Only this scenario of the suite (repeatable; default: all).")]


def _scenarios(suite: str | None, scenarios: list[str] | None) -> tuple[Suite, list[Scenario]]:
    from racksim.design.suite import load_suite

    if suite is None and not scenarios:
        raise InputError("racksim run", "--suite/--scenario", "give a suite or a scenario")
    chosen = load_suite(suite or "standard")
    return chosen, [chosen.scenario(name) for name in scenarios] if scenarios else list(chosen.scenarios)


def _command_line() -> str:
    return shlex.join(["racksim", *sys.argv[1:]])


@app.command()
def validate(designs: DesignsArg, set_: SetOpt = None) -> None:
    """Check design (or hall) files; print one line per valid file, and one per warning (a risk it carries)."""
    from racksim.run.loading_hall import LoadedHall, load_target

    for path in designs:
        loaded = load_target(path, set_ or ())
        figures = loaded.figures
        if isinstance(loaded, LoadedHall):
            print(f"ok: {path} ({loaded.design.name}: {figures['racks']} racks, {figures['hall_gpu_count']} GPUs, "
                  f"nameplate {figures['hall_nameplate_feed_power_w'] / 1e6:.2f} MW at the feeds)")
        else:
            print(f"ok: {path} ({loaded.design.name}: {figures['gpu_count']} GPUs, nameplate "
                  f"{figures['nameplate_feed_power_w'] / 1e3:.1f} kW at the feed)")
        for warning in loaded.warnings:
            print(f"  warning: {warning}")


@app.command()
def show(design: Annotated[Path, typer.Argument(help="Design file.")], set_: SetOpt = None,
         as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Print the resolved design and its derived figures (nameplate power, GPU count, PSU capacity)."""
    import yaml
    from rich.table import Table

    from racksim.run.loading import load_design

    loaded = load_design(design, set_ or ())
    if as_json:
        print(json.dumps({"design": loaded.resolved, "derived": loaded.figures, "design_hash": loaded.design_hash},
                         indent=2))
        return
    print(yaml.safe_dump(loaded.resolved, sort_keys=False), end="")
    table = Table(title=f"{loaded.design.name}: derived figures")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in loaded.figures.items():
        table.add_row(name, "—" if value is None else f"{value:,.4g}" if isinstance(value, float) else f"{value:,}")
    console.print(table)


@app.command()
def run(
    designs: DesignsArg,
    out: Annotated[Path, typer.Option("--out", help="Results directory.")],
    suite: Annotated[str | None, typer.Option(help="Suite name (bundled: quick, standard) or file.")] = None,
    scenario: ScenarioOpt = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenarios' seeds.", min=0)] = None,
    duration: Annotated[str | None, typer.Option(help="Override simulated time: 90s, 15m, 24h, 2d.")] = None,
    set_: SetOpt = None,
    jobs: JobsOpt = None,
    force: ForceOpt = False,
    replicas: ReplicasOpt = 1,
    resolution: ResolutionOpt = None,
    every_event: EveryEventOpt = False,
    sensitivity: SensitivityOpt = False,
    job_trace: Annotated[Path | None, typer.Option(
        "--job-trace", help="Run the scenarios on a hall with this job trace's jobs (.swf or .csv).")] = None,
) -> None:
    """Run designs through a suite or one scenario; one result directory per design × scenario.

    Runs whose inputs are unchanged since they last finished in --out are kept, not rerun (see --force).
    With --replicas N each run repeats over N seeds and metrics.json holds the means.
    """
    from racksim.design.suite import with_job_trace
    from racksim.run.pipeline import record_suite, requests_for, run_many

    chosen, scenarios = _scenarios(suite, scenario)
    if job_trace is not None:
        scenarios = [with_job_trace(s, job_trace.resolve()) for s in scenarios]
    requests = requests_for(designs, scenarios, seed=seed,
                            duration_s=parse_duration_s(duration) if duration else None, overrides=set_ or (),
                            timeseries_resolution_s=_resolution_s(resolution), skip_cycles=not every_event,
                            replicas=replicas, sensitivity=sensitivity)
    run_dirs = run_many(requests, out, jobs=jobs, force=force)
    record_suite(out, chosen, _command_line())
    for run_dir in run_dirs:
        print(run_dir)


@app.command()
def compare(
    designs: DesignsArg,
    out: Annotated[Path, typer.Option("--out", help="Results directory.")],
    suite: Annotated[str, typer.Option(help="Suite name (bundled: quick, standard) or file.")] = "quick",
    scenario: ScenarioOpt = None,
    baseline: Annotated[str | None, typer.Option(help="Design name the deltas are taken against.")] = None,
    duration: Annotated[str | None, typer.Option(help="Override simulated time: 90s, 15m, 24h, 2d.")] = None,
    set_: SetOpt = None,
    jobs: JobsOpt = None,
    force: ForceOpt = False,
    replicas: ReplicasOpt = 1,
    resolution: ResolutionOpt = None,
    every_event: EveryEventOpt = False,
) -> None:
    """Run designs through a suite (keeping unchanged finished runs) and write the comparison report.

    The runs include the cost's coolant sensitivity (as `racksim run --sensitivity`), which the report shows.
    """
    from racksim.report import write_report
    from racksim.run.pipeline import record_suite, requests_for, run_many

    chosen, scenarios = _scenarios(suite, scenario)
    requests = requests_for(designs, scenarios,
                            duration_s=parse_duration_s(duration) if duration else None, overrides=set_ or (),
                            timeseries_resolution_s=_resolution_s(resolution), skip_cycles=not every_event,
                            replicas=replicas, sensitivity=True)
    run_many(requests, out, jobs=jobs, force=force)
    record_suite(out, chosen, _command_line())
    with status_console.status(f"writing the report in {out}"):
        html, markdown = write_report(out, baseline=baseline, jobs=jobs)
    print(html)
    print(markdown)


@app.command()
def report(results: Annotated[Path, typer.Argument(help="Results directory.")],
           baseline: Annotated[str | None, typer.Option(help="Baseline design name.")] = None,
           suite: Annotated[str | None, typer.Option(help="Score with this suite's weights (default: the "
                                                           "suite the runs came from).")] = None,
           jobs: JobsOpt = None) -> None:
    """(Re)write the report of a results directory."""
    from racksim.design.suite import load_suite
    from racksim.report import write_report

    weights_from = load_suite(suite) if suite else None
    with status_console.status(f"writing the report in {results}"):
        html, markdown = write_report(results, baseline=baseline, suite=weights_from, jobs=jobs)
    print(html)
    print(markdown)


@app.command()
def sweep(
    designs: DesignsArg,
    out: Annotated[Path, typer.Option("--out", help="Sweep directory (table, figure, one folder per point).")],
    param: Annotated[list[str], typer.Option("--param", help="Swept field: path=start:stop:step, path=start:stop "
                                             "(with --samples) or path=v1,v2,...", show_default=False)],
    suite: Annotated[str, typer.Option(help="Suite name (bundled: quick, standard) or file.")] = "quick",
    scenario: ScenarioOpt = None,
    samples: Annotated[int | None, typer.Option(help="Latin hypercube of N points instead of the grid.",
                                                min=1)] = None,
    sample_seed: Annotated[int, typer.Option(help="Seed of the Latin hypercube.", min=0)] = 0,
    pareto: Annotated[str | None, typer.Option(help="Two KPIs for the Pareto figure: a,b (each may end in "
                                                    ":higher or :lower).")] = None,
    scheduler: Annotated[str | None, typer.Option(help="Existing dask scheduler, tcp://HOST:PORT "
                                                       "(default: a local cluster).")] = None,
    workers: Annotated[int | None, typer.Option(help="Local cluster worker processes (default: one per core).",
                                                min=1)] = None,
    seed: Annotated[int | None, typer.Option(help="Override the scenarios' seeds.", min=0)] = None,
    duration: Annotated[str | None, typer.Option(help="Override simulated time: 90s, 15m, 24h, 2d.")] = None,
    set_: SetOpt = None,
    force: ForceOpt = False,
    resolution: ResolutionOpt = None,
    every_event: EveryEventOpt = False,
) -> None:
    """Sweep design fields over a grid or a Latin hypercube, every point on dask; a Parquet table and a Pareto figure.

    Points whose runs finished earlier with unchanged inputs are kept, not rerun (see --force).
    """
    from racksim.sweep import grid, latin_hypercube, parse_objectives, parse_params, plan, run_sweep

    params = parse_params(param)
    objectives = parse_objectives(pareto) if pareto else None
    points = grid(params) if samples is None else latin_hypercube(params, samples, sample_seed)
    _, scenarios = _scenarios(suite, scenario)
    runs = plan(points, designs, scenarios, out, seed=seed, overrides=set_ or (), force=force,
                duration_s=parse_duration_s(duration) if duration else None,
                timeseries_resolution_s=_resolution_s(resolution), skip_cycles=not every_event)
    result = run_sweep(runs, out, objectives=objectives, scheduler=scheduler, workers=workers)
    status_console.print(f"sweep: {len(points)} points, {result.ran} runs ran, {result.kept} kept, "
                         f"{result.failed} infeasible or failed")
    print(result.table_path)
    if result.figure_path is not None:
        print(result.figure_path)


@app.command()
def export(results: Annotated[Path, typer.Argument(help="Results directory (runs, a compare or a sweep).")],
           out: Annotated[Path, typer.Option("--out", help="Folder for the tables.")],
           format_: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet") -> None:
    """Write the runs of a results directory as tables for other tools: metrics, events, components, time series."""
    from racksim.results import export as export_tables
    from racksim.results import extension
    from racksim.results import open as open_results

    extension(format_)
    for path in export_tables(open_results(results), out, format_):
        print(path)


app.command(name="collectives")(collectives_command)
app.add_typer(perf_app, name="perf")


@app.command()
def schema() -> None:
    """Print the design JSON Schema (for editors and docs)."""
    from racksim.design import Design

    print(json.dumps(Design.model_json_schema(), indent=2))


def _interrupt(signal_number: int, _frame: object) -> None:
    raise Interrupted(signal_number)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and a non-zero exit for any racksim error (--debug: traceback).

    Ctrl-C and SIGTERM raise Interrupted (workers ignore them, racksim.run.pool stops them): one line, exit 130 or 143.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    previous = {number: signal.signal(number, _interrupt) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        app(args=args, prog_name="racksim")  # standalone: usage errors exit 2, ours propagate
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RacksimError as exc:
        if debug:
            raise
        sys.stderr.write(f"racksim: error: {exc}\n")
        return exc.exit_code
    except Interrupted as exc:
        sys.stderr.write("racksim: interrupted; finished runs are kept and the next run resumes\n")
        return exc.exit_code
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0


def entry_point() -> None:
    """Console-script entry: exit with main()'s code.

    After an interrupt the exit skips the interpreter's atexit hooks: concurrent.futures' hook would wake the
    stopped worker pool through a pipe already closed and print a spurious traceback (CPython 3.11).
    """
    code = main()
    if code in (128 + signal.SIGINT, 128 + signal.SIGTERM):  # Interrupted.exit_code
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
