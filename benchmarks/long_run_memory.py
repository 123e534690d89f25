"""Memory of long runs: 1 h, 24 h and 30 d with a row per event and at a time-series resolution, each run in a fresh
process; the figure is the process's peak resident memory. Not a test: run it by hand.

By default each run is a whole `run_one` (simulation, metrics, files) of the standard suite's reliability-month
scenario on gb200-nvl72, failures included. With `--racks N` it is the standard training scenario as one job over
N racks, the Simulation run directly (periodic cycles skipped), as in benchmarks/scaling.py.

    .venv/bin/python benchmarks/long_run_memory.py                    # rows per event, per 60 s and per 600 s
    .venv/bin/python benchmarks/long_run_memory.py --resolution-s 300 --durations-s 3600 86400
    .venv/bin/python benchmarks/long_run_memory.py --racks 1389 --resolution-s 600   # 100,008 GPUs
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

ROOT = Path(__file__).resolve().parent.parent
DESIGN_FILE = ROOT / "designs" / "gb200-nvl72.yaml"
DURATIONS_S = (3600.0, 86400.0, 30 * 86400.0)


def run_month_scenario(duration_s: float, resolution_s: float | None) -> dict[str, Any]:
    """One reliability-month run of `duration_s` through `run_one`, rows at `resolution_s` (None: per event)."""

    from racksim.design.suite import load_suite
    from racksim.run.pipeline import RunRequest, run_one
    from racksim.run.timeseries import read_timeseries

    scenario = load_suite("standard").scenario("reliability-month").model_copy(update={"timeseries_resolution_s": None})
    request = RunRequest(DESIGN_FILE, scenario, duration_s=duration_s, timeseries_resolution_s=resolution_s)
    with tempfile.TemporaryDirectory() as out:
        run_dir = run_one(request, Path(out))
        rows = int(read_timeseries(run_dir)["time_s"].size)
        metrics = json.loads((run_dir / "metrics.json").read_text())
    power = metrics["power"]
    return {"events": metrics["engine"]["event_count"], "series_rows": rows, "peak_w": power["input_power_w_peak"],
            "p99_w": power["input_power_w_p99"], "max_ramp_w_per_s": power["max_ramp_w_per_s"]}


def run_training_hall(racks: int, duration_s: float, resolution_s: float | None) -> dict[str, Any]:
    """One standard training job over `racks` racks for `duration_s`, the Simulation run directly."""
    from racksim.design.suite import load_suite
    from racksim.engine import Simulation
    from racksim.physics.arrays import build
    from racksim.run.loading import load_design
    from racksim.workload import schedule_for

    design = load_design(DESIGN_FILE).design
    schedule = schedule_for(load_suite("standard").scenario("training").workload, design, n_racks=racks)
    result = Simulation(build(design, racks), schedule.phases, duration_s, network_rate=schedule.network_rate,
                        timeseries_resolution_s=resolution_s).run()
    return {"events": result.event_count, "series_rows": int(result.series["time_s"].size),
            "peak_w": result.feed.peak_w, "p99_w": result.feed.percentile_w(99.0),
            "max_ramp_w_per_s": result.feed.max_ramp_w_per_s}


def measure_one(duration_s: float, resolution_s: float | None, racks: int | None) -> dict[str, Any]:
    """In this process: one run (see the module docstring) and the process's peak memory."""
    import racksim.run.pipeline  # noqa: F401 - imports before the baseline

    baseline_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.process_time()
    figures = run_month_scenario(duration_s, resolution_s) if racks is None else \
        run_training_hall(racks, duration_s, resolution_s)
    return {**figures, "cpu_s": time.process_time() - started, "baseline_rss_bytes": baseline_bytes,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    """Measure each duration per event and at each resolution, each in its own process; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution-s", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--durations-s", type=float, nargs="+", default=list(DURATIONS_S))
    parser.add_argument("--racks", type=int, help="a training job over this many racks instead of the month")
    parser.add_argument("--one", type=float, nargs=2, metavar=("DURATION_S", "RESOLUTION_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        duration_s, resolution_s = args.one
        print(json.dumps(measure_one(duration_s, resolution_s if resolution_s > 0 else None, args.racks)))
        return
    print("| simulated | time series | events | rows | CPU, s | peak memory | above imports | peak, p99, max ramp |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    racks = [] if args.racks is None else ["--racks", str(args.racks)]
    for duration_s in args.durations_s:
        for resolution_s in (0.0, *args.resolution_s):
            output = subprocess.run([sys.executable, __file__, "--one", str(duration_s), str(resolution_s), *racks],
                                    check=True, capture_output=True, text=True).stdout
            row = json.loads(output.splitlines()[-1])
            rows = f"per {resolution_s:g} s" if resolution_s else "per event"
            simulated = f"{duration_s / 86400:g} d" if duration_s >= 86400 else f"{duration_s / 3600:g} h"
            figures = (f"{row['peak_w'] / 1e3:,.2f} kW, {row['p99_w'] / 1e3:,.2f} kW, "
                       f"{row['max_ramp_w_per_s'] / 1e3:,.1f} kW/s")
            print(f"| {simulated} | {rows} | {row['events']:,} | {row['series_rows']:,} | {row['cpu_s']:.1f} | "
                  f"{row['peak_rss_bytes'] / 2**20:,.0f} MiB | "
                  f"{(row['peak_rss_bytes'] - row['baseline_rss_bytes']) / 2**20:,.0f} MiB | {figures} |", flush=True)


if __name__ == "__main__":
    main()
