"""Speed of the fleet engine (issue 20, item 5): a hall of N GB200 racks running a job mix for D days, with or
without stochastic failures per component per rack, each run in a fresh process. Not a test: run it by hand.

Each run is a whole `simulate_fleet` (jobs compiled and predicted per size, failures sampled, the fleet simulated,
metrics and the per-job table computed; nothing written). The job mix is a seeded synthetic trace (CSV): Poisson
arrivals sized for ~90 % of the racks busy, job sizes 1-128 racks (more small jobs than large), lognormal run
times with a 6 h median (longer for larger jobs), the trace's default models by size (Llama 3 8B, 70B, 405B).
Rows of 14 racks with the 1,000-rack hall's feeder rating and a UPS, so the hall's losses are integrated too.

Columns: wall time of the whole run, of its inputs (hall loaded, jobs predicted per size, failures sampled) and of
the engine alone (SimPy, the hall arrays), state-change events, SimPy
events, µs per state-change event (engine), peak resident memory, and the ratio of the engine's time per event to a
plain numpy advance of the same arrays (per event: move a few racks between states in `count[row, state]`,
integrate `rack_seconds += count · dt`, feed power `count @ P`).

    .venv/bin/python benchmarks/bench_fleet.py                          # the scaling table
    .venv/bin/python benchmarks/bench_fleet.py --racks 1400 --days 30   # the month of 100,800 GPUs only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DESIGN_FILE = ROOT / "designs" / "gb200-nvl72.yaml"
RACK_SIZES = np.array([1, 2, 4, 8, 16, 32, 64, 128])
SIZE_WEIGHTS = np.array([30, 20, 15, 12, 9, 7, 4, 3], dtype=float)
TARGET_LOAD = 0.9


def write_inputs(directory: Path, racks: int, days: float, seed: int = 0) -> tuple[Path, Path]:
    """A hall file of `racks` racks (rows of 14) and a CSV job trace filling it for `days` days."""
    rows = max(1, racks // 14)
    hall = directory / "hall.yaml"
    hall.write_text(f"name: bench-hall-{racks}\ndesign: {DESIGN_FILE}\nracks: {racks}\nrows: {rows}\n"
                    f"row_power: {{feeder_capacity_w: 2100000, on_overload: cap, ups_capacity_w: {racks * 150000}}}\n")
    rng = np.random.default_rng(seed)
    sizes = RACK_SIZES[racks // 2 >= RACK_SIZES]
    weights = SIZE_WEIGHTS[: sizes.size] / SIZE_WEIGHTS[: sizes.size].sum()
    median_s = 6 * 3600.0 * np.sqrt(sizes)  # bigger jobs run longer
    mean_rack_s = float(np.sum(weights * sizes * median_s * np.exp(0.5)))  # lognormal σ = 1: mean = median·e^½
    rate_per_s = TARGET_LOAD * racks / mean_rack_s
    duration_s = days * 86400.0
    initial = int(TARGET_LOAD * racks / float(np.sum(weights * sizes)))  # the hall starts full
    count = int(rng.poisson(rate_per_s * duration_s)) + initial
    submit_s = np.sort(rng.uniform(0, duration_s, count))
    submit_s[:initial] = 0.0
    picks = rng.choice(sizes.size, size=count, p=weights)
    run_s = median_s[picks] * rng.lognormal(0.0, 1.0, count)
    trace = directory / "jobs.csv"
    lines = ["submit_s,gpus,duration_s"] + [f"{s:.0f},{72 * sizes[p]},{r:.0f}"
                                            for s, p, r in zip(submit_s, picks, run_s, strict=True)]
    trace.write_text("\n".join(lines) + "\n")
    return hall, trace


def plain_numpy_us_per_event(racks: int, states: int, events: int = 20000, seed: int = 0) -> float:
    """µs per event of the bare array work the fleet does per state change (module docstring)."""
    rng = np.random.default_rng(seed)
    rows = max(1, racks // 14)
    rack_row = np.arange(racks) % rows
    profile = rng.integers(0, states, racks)
    count = np.zeros((rows, states), dtype=np.int64)
    np.add.at(count, (rack_row, profile), 1)
    seconds = np.zeros((rows, states))
    feed_w = rng.uniform(1e3, 1.4e5, states)
    moves = rng.integers(0, racks, (events, 4))
    new = rng.integers(0, states, (events, 4))
    started = time.perf_counter()
    for k in range(events):
        racks_k = moves[k]
        seconds += count * 1.0
        np.add.at(count, (rack_row[racks_k], profile[racks_k]), -1)
        np.add.at(count, (rack_row[racks_k], new[k]), 1)
        profile[racks_k] = new[k]
        float((count @ feed_w).sum())
    return (time.perf_counter() - started) / events * 1e6


def measure_one(racks: int, days: float, failures: bool) -> dict[str, Any]:
    """In this process: one fleet run and its figures."""
    from racksim.design.suite import Scenario
    from racksim.engine.fleet import Fleet
    from racksim.run.fleet import fleet_inputs
    from racksim.run.fleet_metrics import fleet_output
    from racksim.run.loading_hall import load_hall
    from racksim.run.request import RunRequest

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with tempfile.TemporaryDirectory() as scratch:
        hall_file, trace = write_inputs(Path(scratch), racks, days)
        scenario = Scenario.model_validate({
            "name": "bench", "duration_s": days * 86400.0, "seed": 1, "stochastic_failures": failures,
            "job_trace": {"path": str(trace), "checkpoint_every_s": 1800, "checkpoint_time_s": 60},
            "scheduler": {"hot_spare_racks": max(1, racks // 100)}, "repair": {"technicians": max(2, racks // 100)}})
        started = time.perf_counter()
        loaded = load_hall(hall_file)
        request = RunRequest(hall_file, scenario)
        inputs, compiler = fleet_inputs(scenario, loaded, scenario.duration_s, 1)
        compiled = time.perf_counter()
        fleet = Fleet(inputs)
        result = fleet.run()
        engine_s = time.perf_counter() - compiled
        output = fleet_output(request, loaded, inputs, compiler.table, result)
        wall_s = time.perf_counter() - started
    metrics = output.metrics
    events = result.hall.events
    return {"racks": racks, "days": days, "failures": int(result.failures), "jobs": len(inputs.jobs),
            "states": len(compiler.table.profiles), "events": events,
            "simpy_events": next(fleet.env._eid),  # SimPy's private event counter: the events it scheduled
            "wall_s": wall_s, "inputs_s": compiled - started, "engine_s": engine_s,
            "us_per_event": engine_s / max(events, 1) * 1e6,
            "plain_us_per_event": plain_numpy_us_per_event(racks, len(compiler.table.profiles)),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "baseline_rss_bytes": baseline,
            "utilization": metrics["hall"]["utilization"], "ettr_mean": metrics["hall"]["ettr_mean"],
            "interruptions": metrics["reliability"]["interruptions"]}


def main() -> None:
    """Each configuration in its own process; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--racks", type=int, nargs="+", default=[140, 700, 1400])
    parser.add_argument("--days", type=float, nargs="+", default=[1.0, 7.0, 30.0])
    parser.add_argument("--failures", choices=["on", "off", "both"], default="both")
    parser.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure_one(int(args.one[0]), float(args.one[1]), args.one[2] == "on")))
        return
    print("| racks | GPUs | days | failures | jobs | states | events | SimPy events | interruptions | wall, s | "
          "inputs, s | engine, s | µs/event | plain numpy µs/event | ratio | peak memory | utilization | ETTR |")
    print("| ---: " * 18 + "|")
    modes = ["off", "on"] if args.failures == "both" else [args.failures]
    for racks in args.racks:
        for days in args.days:
            for mode in modes:
                output = subprocess.run([sys.executable, __file__, "--one", str(racks), str(days), mode],
                                        check=True, capture_output=True, text=True).stdout
                r = json.loads(output.splitlines()[-1])
                print(f"| {racks:,} | {72 * racks:,} | {days:g} | {r['failures']:,} | {r['jobs']:,} | {r['states']} | "
                      f"{r['events']:,} | {r['simpy_events']:,} | {r['interruptions']:,} | {r['wall_s']:.1f} | "
                      f"{r['inputs_s']:.1f} | {r['engine_s']:.2f} | {r['us_per_event']:.0f} | "
                      f"{r['plain_us_per_event']:.0f} | {r['us_per_event'] / r['plain_us_per_event']:.1f} | "
                      f"{r['peak_rss_bytes'] / 2**20:,.0f} MiB | {r['utilization']:.2f} | {r['ettr_mean']:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
