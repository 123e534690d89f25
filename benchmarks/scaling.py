"""Hall scale: wall time and peak memory of 1 to 1,000 GB200 NVL72-class racks running training, per phase.

Each size runs in a fresh process (so its peak resident memory is its own): build(design, n_racks), then a
Simulation of the standard suite's training workload (every compute and communication phase an event) for
the simulated period. The hall sizes run event by event (`skip_cycles=False`: every phase simulated); one
rack's day runs both ways, event by event and with periodic cycle skipping (racksim/engine/cycles.py).
Writes benchmarks/results/scaling.md (table, against the issue's targets) and scaling.png (log-log).
Speeds are taken on the process's CPU time (user + system), which a busy shared machine inflates far less
than wall time; the table gives both. Not a test: run it by hand.

    .venv/bin/python benchmarks/scaling.py                      # 1, 10, 100, 140, 1000 racks, 1 h; 1 rack 24 h
    .venv/bin/python benchmarks/scaling.py --racks 140 --skip-cycles   # with cycle skipping
    .venv/bin/python benchmarks/scaling.py --racks 1 10 --simulated-s 600
    .venv/bin/python benchmarks/scaling.py --profile 1000 --simulated-s 600   # cProfile: hot functions
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DESIGN_FILE = ROOT / "designs" / "gb200-nvl72.yaml"
TARGETS = {1: ("24 h in < 5 s", 86400 / 5.0), 140: ("≥ 1,000× real time", 1000.0),
           1000: ("≥ 250× real time, < 4 GiB", 250.0)}
"""Racks → (the issue's target, the real-time factor it needs)."""
MEMORY_TARGET_BYTES = 4 * 2**30


def simulation_for(racks: int, simulated_s: float, skip_cycles: bool = False) -> object:
    """A Simulation of one training job spanning `racks` racks for `simulated_s` (built, not run)."""
    from racksim.design.suite import load_suite
    from racksim.engine import Simulation
    from racksim.physics.arrays import build
    from racksim.run.loading import load_design
    from racksim.workload import schedule_for

    design = load_design(DESIGN_FILE).design
    schedule = schedule_for(load_suite("standard").scenario("training").workload, design, n_racks=racks)
    return Simulation(build(design, racks), schedule.phases, simulated_s, network_rate=schedule.network_rate,
                      skip_cycles=skip_cycles)


def measure_one(racks: int, simulated_s: float, skip_cycles: bool) -> dict[str, float]:
    """In this process: build, run, and the peak resident memory (whole process, imports included)."""
    import racksim.engine  # noqa: F401 - imports before the baseline

    baseline_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    simulation = simulation_for(racks, simulated_s, skip_cycles)
    built, cpu_built = time.perf_counter(), time.process_time()
    result = simulation.run()  # type: ignore[attr-defined]
    finished, cpu_finished = time.perf_counter(), time.process_time()
    return {"racks": racks, "gpus": int(simulation.arrays.chips.is_gpu.sum()),  # type: ignore[attr-defined]
            "simulated_s": simulated_s, "build_s": built - started, "run_wall_s": finished - built,
            "run_s": cpu_finished - cpu_built,
            "events": result.event_count, "cycles_skipped": result.cycles_skipped,
            "series_rows": int(result.series["time_s"].size),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "baseline_rss_bytes": baseline_bytes}


def measure(racks: int, simulated_s: float, skip_cycles: bool) -> dict[str, float]:
    """`measure_one` in a fresh interpreter."""
    command = [sys.executable, __file__, "--one", str(racks), "--simulated-s", str(simulated_s)]
    output = subprocess.run(command + (["--skip-cycles"] if skip_cycles else []),
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])


def profile(racks: int, simulated_s: float, skip_cycles: bool, top: int = 30) -> str:
    """cProfile of one run: the functions with the most own time, and the share of the run each takes."""
    simulation = simulation_for(racks, simulated_s, skip_cycles)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    simulation.run()  # type: ignore[attr-defined]
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    total_s = stats.total_tt  # type: ignore[attr-defined]
    lines = [f"{racks} racks, {simulated_s:g} s simulated: {total_s:.2f} s of CPU time profiled", "",
             "| function | own time, s | own % | with callees, s | calls |", "| --- | ---: | ---: | ---: | ---: |"]
    rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, own_s, cumulative_s, _) in rows:
        where = f"{Path(file).name}:{line}({name})" if line else name
        lines.append(f"| {where} | {own_s:.3f} | {100 * own_s / total_s:.1f} | {cumulative_s:.3f} | {calls} |")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def table(rows: list[dict[str, float]]) -> str:
    """The results as Markdown, with the real-time factor against the issue's targets."""
    lines = ["| racks | GPUs | simulated | cycles skipped | events | build, s | run (wall), s | run (CPU), s | "
             "× real time | µs per event | peak memory | target | met |", "| ---: " * 11 + "| --- | --- |"]
    for row in rows:
        factor = row["simulated_s"] / row["run_s"]
        target, needed = TARGETS.get(int(row["racks"]), ("", 0.0))
        long_enough = row["racks"] != 1 or row["simulated_s"] >= 86400
        met = ""
        if target and long_enough:
            met = "yes" if factor >= needed and row["peak_rss_bytes"] < MEMORY_TARGET_BYTES else "no"
        skipped = f"{row['cycles_skipped']:,}" if row["skip_cycles"] else "off"
        lines.append(f"| {row['racks']:,} | {row['gpus']:,} | {_duration(row['simulated_s'])} | {skipped} | "
                     f"{row['events']:,} | "
                     f"{row['build_s']:.2f} | {row['run_wall_s']:.2f} | {row['run_s']:.2f} | {factor:,.0f} | "
                     f"{1e6 * row['run_s'] / max(row['events'], 1):,.0f} | {row['peak_rss_bytes'] / 2**20:,.0f} MiB | "
                     f"{target if long_enough else ''} | {met} |")
    return "\n".join(lines)


def figure(rows: list[dict[str, float]], path: Path) -> None:
    """Log-log wall time per simulated hour and peak memory against racks, with a linear reference."""
    from matplotlib.figure import Figure

    hourly = [row for row in rows if row["simulated_s"] == rows[0]["simulated_s"] and not row["skip_cycles"]]
    racks = [row["racks"] for row in hourly]
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    time_axes, memory_axes = figure.subplots(1, 2)
    seconds = [row["run_s"] * 3600 / row["simulated_s"] for row in hourly]
    time_axes.loglog(racks, seconds, "o-", label="racksim, training per phase")
    time_axes.loglog(racks, [seconds[0] * r / racks[0] for r in racks], ":", color="grey", label="linear in racks")
    for count, (_, needed) in TARGETS.items():
        if count > 1:
            time_axes.plot([count], [3600 / needed], "rv")
    time_axes.plot([], [], "rv", label="target (issue 9)")
    time_axes.set_xlabel("racks (72 GPUs each)")
    time_axes.set_ylabel("CPU time per simulated hour (s)")
    time_axes.legend(fontsize=8)
    memory = [row["peak_rss_bytes"] / 2**20 for row in hourly]
    added = [(row["peak_rss_bytes"] - row["baseline_rss_bytes"]) / 2**20 for row in hourly]
    memory_axes.loglog(racks, memory, "o-", label="peak resident memory")
    memory_axes.loglog(racks, added, "s--", label="above the interpreter with racksim imported")
    memory_axes.axhline(MEMORY_TARGET_BYTES / 2**20, color="r", linestyle=":", label="4 GiB target at 1,000 racks")
    memory_axes.set_xlabel("racks (72 GPUs each)")
    memory_axes.set_ylabel("memory (MiB)")
    memory_axes.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    path.write_bytes(buffer.getvalue())


def main() -> None:
    """Measure each size in its own process, then write the table and the figure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--racks", type=int, nargs="+", default=[1, 10, 100, 140, 1000])
    parser.add_argument("--simulated-s", type=float, default=3600.0)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=int, metavar="RACKS", help="cProfile one run of RACKS racks")
    parser.add_argument("--skip-cycles", action="store_true", help="skip repeating cycles (default: every phase)")
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.simulated_s, args.skip_cycles) | {"skip_cycles": args.skip_cycles}))
        return
    if args.profile is not None:
        print(profile(args.profile, args.simulated_s, args.skip_cycles))
        return
    rows = []
    for racks in args.racks:
        rows.append(measure(racks, args.simulated_s, args.skip_cycles))
        print(json.dumps(rows[-1]), file=sys.stderr)
    if 1 in args.racks and args.simulated_s < 86400:
        rows.extend(measure(1, 86400.0, skip) for skip in (False, True))
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = (f"# Hall scale: GB200 NVL72-class racks, training per phase\n\n{table(rows)}\n\n"
            f"`{shlex.join(['python', 'benchmarks/scaling.py', *sys.argv[1:]])}`; speeds on CPU time; peak memory "
            "is the process's peak resident set (interpreter and imports included).\n")
    (RESULTS / "scaling.md").write_text(text, encoding="utf-8")
    figure(rows, RESULTS / "scaling.png")
    print(text)


if __name__ == "__main__":
    main()
