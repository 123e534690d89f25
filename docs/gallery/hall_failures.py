"""A hall through failures.

Ten GB200 NVL72-class racks (`designs/halls/gb200-hall-10.yaml`: 720 GPUs in two rows of five, each row on its own
750 kW feeder and its own in-row CDU) train Llama 3 70B as one synchronous job for six minutes, with a checkpoint
every 20 steps (the dips to 0.45 MW). At 2 minutes the in-row CDU of row 1 stops rejecting heat for 3 minutes (the
shaded band): the five racks it serves heat up on their loops' own coolant mass until their GPUs throttle (the
synchronous job then runs at the slowest GPU's pace), and then shut down. A GPU that shuts down stays off, so the
job halts, loses the steps since its last checkpoint, and the hall idles for the rest of the run, even after the CDU
is repaired. The dashed lines are the first throttle and the shutdown from the run's events.json. Stochastic failures
work the same way (`stochastic_failures: true`, the quick suite's `reliability-month`), but a simulated week of a
hall takes minutes of CPU time, too long for a page build.
"""

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from racksim import RunRequest, Scenario, run_many
from racksim.run.timeseries import read_timeseries

ROOT = Path(__file__).resolve().parents[2]
HALL = ROOT / "designs" / "halls" / "gb200-hall-10.yaml"
DURATION_S = 360.0
SCENARIO = Scenario.model_validate({
    "name": "hall-faults",
    "description": "Six minutes of training on the whole hall; an in-row CDU fails for three.",
    "duration_s": DURATION_S,
    "seed": 1,
    "workload": {"kind": "training", "model": "llama3-70b", "global_batch_sequences": 1440, "seq_len": 8192,
                 "precision": "fp8", "checkpoint_every_steps": 20, "checkpoint_time_s": 30.0},
    "faults": [{"kind": "row_cdu_failure", "at_s": 120, "duration_s": 180, "row": 1, "cdu": 0}],
})


def main(out_dir: Path) -> Path:
    """Run the hall, draw the figure, return its path."""
    with tempfile.TemporaryDirectory() as results:
        (run_dir,) = run_many([RunRequest(HALL, SCENARIO)], Path(results), jobs=1)
        columns = read_timeseries(run_dir)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        events = json.loads((run_dir / "events.json").read_text())
    minutes = columns["time_s"] / 60
    fig, (temp, power) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    temp.step(minutes, columns["gpu_temp_c_max"], where="post", color="C3", label="hottest GPU")
    temp.step(minutes, columns["gpu_temp_c_mean"], where="post", color="C1", label="mean GPU")
    temp.set(ylabel="GPU temperature, °C", title=f"gb200-hall-10: GPU time throttled "
             f"{100 * metrics['thermal']['gpu_throttle_fraction']:.1f} %, goodput "
             f"{100 * metrics['performance']['goodput_fraction']:.1f} %")
    temp.legend(loc="upper right")
    power.step(minutes, columns["feed_power_w"] / 1e6, where="post", color="C0")
    power.set(xlabel="time, min", ylabel="hall feed power, MW", ylim=(0, None))
    for fault in SCENARIO.faults:
        end_s = fault.at_s + fault.duration_s if fault.duration_s else DURATION_S
        for axes in (temp, power):
            axes.axvspan(fault.at_s / 60, end_s / 60, color="0.85", zorder=0)
        temp.annotate(fault.kind, (fault.at_s / 60, 0.03), xycoords=("data", "axes fraction"), fontsize=8)
    for kind in ("throttle", "shutdown"):
        first = next((event for event in events if event["kind"] == kind), None)
        if first is not None:
            for axes in (temp, power):
                axes.axvline(first["time_s"] / 60, color="k", ls="--", lw=0.8)
            temp.annotate(f" first {kind} ", (first["time_s"] / 60, 0.05), xycoords=("data", "axes fraction"),
                          fontsize=8, ha="right" if kind == "throttle" else "left")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "hall_failures.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/gallery")))
