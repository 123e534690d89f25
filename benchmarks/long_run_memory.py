"""Memory of long runs: the standard suite's reliability-month scenario for 1 h, 24 h and 30 d, with a row per event
and at a time-series resolution. Each run is a whole `run_one` (simulation, metrics, files) in a fresh process; the
figure is the process's peak resident memory. Not a test: run it by hand.

    .venv/bin/python benchmarks/long_run_memory.py                    # rows per event, per 60 s and per 600 s
    .venv/bin/python benchmarks/long_run_memory.py --resolution-s 300 --durations-s 3600 86400
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

ROOT = Path(__file__).resolve().parent.parent
DESIGN_FILE = ROOT / "designs" / "gb200-nvl72.yaml"
DURATIONS_S = (3600.0, 86400.0, 30 * 86400.0)


def measure_one(duration_s: float, resolution_s: float | None) -> dict[str, float | None]:
    """In this process: one reliability-month run of `duration_s`, rows at `resolution_s` (None: per event)."""
    import numpy as np

    from racksim.runner import RunRequest, run_one
    from racksim.suite import load_suite

    baseline_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    scenario = load_suite("standard").scenario("reliability-month").model_copy(update={"timeseries_resolution_s": None})
    request = RunRequest(DESIGN_FILE, scenario, duration_s=duration_s, timeseries_resolution_s=resolution_s)
    started = time.process_time()
    with tempfile.TemporaryDirectory() as out:
        run_dir = run_one(request, Path(out))
        with np.load(run_dir / "timeseries.npz") as series:
            rows = int(series["time_s"].size)
        metrics = json.loads((run_dir / "metrics.json").read_text())
    return {"duration_s": duration_s, "resolution_s": resolution_s, "cpu_s": time.process_time() - started,
            "events": metrics["engine"]["event_count"], "series_rows": rows, "baseline_rss_bytes": baseline_bytes,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "peak_w": metrics["power"]["input_power_w_peak"], "p99_w": metrics["power"]["input_power_w_p99"],
            "max_ramp_w_per_s": metrics["power"]["max_ramp_w_per_s"]}


def main() -> None:
    """Measure each duration per event and at each resolution, each in its own process; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution-s", type=float, nargs="+", default=[60.0, 600.0])
    parser.add_argument("--durations-s", type=float, nargs="+", default=list(DURATIONS_S))
    parser.add_argument("--one", type=float, nargs=2, metavar=("DURATION_S", "RESOLUTION_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        duration_s, resolution_s = args.one
        print(json.dumps(measure_one(duration_s, resolution_s if resolution_s > 0 else None)))
        return
    print("| simulated | time series | events | rows | CPU, s | peak memory | above imports | peak, p99, max ramp |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for duration_s in args.durations_s:
        for resolution_s in (0.0, *args.resolution_s):
            output = subprocess.run([sys.executable, __file__, "--one", str(duration_s), str(resolution_s)],
                                    check=True, capture_output=True, text=True).stdout
            row = json.loads(output.splitlines()[-1])
            rows = f"per {resolution_s:g} s" if resolution_s else "per event"
            simulated = f"{duration_s / 86400:g} d" if duration_s >= 86400 else f"{duration_s / 3600:g} h"
            figures = (f"{row['peak_w'] / 1e3:.2f} kW, {row['p99_w'] / 1e3:.2f} kW, "
                       f"{row['max_ramp_w_per_s'] / 1e3:.1f} kW/s")
            print(f"| {simulated} | {rows} | {row['events']:,} | {row['series_rows']:,} | {row['cpu_s']:.1f} | "
                  f"{row['peak_rss_bytes'] / 2**20:,.0f} MiB | "
                  f"{(row['peak_rss_bytes'] - row['baseline_rss_bytes']) / 2**20:,.0f} MiB | {figures} |", flush=True)


if __name__ == "__main__":
    main()
