"""Memory of long runs: the standard suite's 30-day reliability month against one hour, with and without a
time-series resolution. Each run is a whole `run_one` (simulation, metrics, files) in a fresh process; the
figure is the process's peak resident memory. Not a test: run it by hand.

    .venv/bin/python benchmarks/long_run_memory.py                    # 1 h and 30 d, events and 60 s rows
    .venv/bin/python benchmarks/long_run_memory.py --resolution-s 300

The Simulation does not take a resolution yet, so this script hands one to its TimeSeries.
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DESIGN_FILE = ROOT / "designs" / "gb200-nvl72.yaml"


def measure_one(duration_s: float, resolution_s: float | None) -> dict[str, float | None]:
    """In this process: one reliability-month run of `duration_s`, rows at `resolution_s` (None: per event)."""
    import numpy as np

    from racksim.engine import recorder, simulation
    from racksim.runner import RunRequest, run_one
    from racksim.suite import load_suite

    simulation.TimeSeries = functools.partial(recorder.TimeSeries, resolution_s=resolution_s)  # type: ignore[misc]
    baseline_bytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    request = RunRequest(DESIGN_FILE, load_suite("standard").scenario("reliability-month"), duration_s=duration_s)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        run_dir = run_one(request, Path(out))
        with np.load(run_dir / "timeseries.npz") as series:
            rows = int(series["time_s"].size)
        events = json.loads((run_dir / "metrics.json").read_text())["engine"]["event_count"]
    return {"duration_s": duration_s, "resolution_s": resolution_s, "wall_s": time.perf_counter() - started,
            "events": events, "series_rows": rows, "baseline_rss_bytes": baseline_bytes,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    """Measure 1 h and 30 d, per event and at the resolution, each in its own process; print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution-s", type=float, default=60.0)
    parser.add_argument("--one", type=float, nargs=2, metavar=("DURATION_S", "RESOLUTION_S"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        duration_s, resolution_s = args.one
        print(json.dumps(measure_one(duration_s, resolution_s if resolution_s > 0 else None)))
        return
    print("| simulated | time series | events | rows | wall, s | peak memory | above imports |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for duration_s in (3600.0, 30 * 86400.0):
        for resolution_s in (0.0, args.resolution_s):
            output = subprocess.run([sys.executable, __file__, "--one", str(duration_s), str(resolution_s)],
                                    check=True, capture_output=True, text=True).stdout
            row = json.loads(output.splitlines()[-1])
            rows = f"per {resolution_s:g} s" if resolution_s else "per event"
            simulated = f"{duration_s / 86400:g} d" if duration_s >= 86400 else f"{duration_s / 3600:g} h"
            print(f"| {simulated} | {rows} | {row['events']:,} | {row['series_rows']:,} | "
                  f"{row['wall_s']:.1f} | {row['peak_rss_bytes'] / 2**20:,.0f} MiB | "
                  f"{(row['peak_rss_bytes'] - row['baseline_rss_bytes']) / 2**20:,.0f} MiB |", flush=True)


if __name__ == "__main__":
    main()
