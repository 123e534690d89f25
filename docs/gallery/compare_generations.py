"""Compare two rack generations.

GB200 and GB300 NVL72-class racks run the same two minutes of Llama 3 70B training (the quick suite's `training`
scenario, shortened). The left panel is the power each rack draws at its facility feed: the training step's compute
and communication phases and its checkpoints show as the swings; the GB300's GPU power floor keeps its swings
shallower. The right panel sets what the racks deliver against what they cost in energy: tokens trained per kWh at
the feed. `racksim compare designs/gb200-nvl72.yaml designs/gb300-nvl72.yaml --out results/cmp` runs the whole quick
suite and writes the full report.
"""

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from racksim import RunRequest, load_suite, run_many
from racksim.run.timeseries import read_timeseries

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = [ROOT / "designs" / "gb200-nvl72.yaml", ROOT / "designs" / "gb300-nvl72.yaml"]
DURATION_S = 120.0  # the quick suite runs 300 s; a few minutes show the same cycle


def main(out_dir: Path) -> Path:
    """Run both designs, draw the figure, return its path."""
    scenario = load_suite("quick").scenario("training")
    with tempfile.TemporaryDirectory() as results:
        run_dirs = run_many([RunRequest(path, scenario, duration_s=DURATION_S) for path in DESIGNS], Path(results),
                            jobs=1)
        series = {run_dir.parent.name: read_timeseries(run_dir) for run_dir in run_dirs}
        metrics = {run_dir.parent.name: json.loads((run_dir / "metrics.json").read_text()) for run_dir in run_dirs}
    fig, (power, tokens) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[2.2, 1])
    for design, columns in series.items():
        power.step(columns["time_s"], columns["feed_power_w"] / 1e3, where="post", label=design)
    power.set(xlabel="time, s", ylabel="feed power, kW", title="Power at the facility feed", ylim=(0, None))
    power.legend(loc="lower center", ncols=2)
    names = list(metrics)
    tokens.bar(names, [metrics[name]["performance"]["tokens_per_kwh"] / 1e6 for name in names],
               color=["C0", "C1"])
    tokens.set(ylabel="million tokens per kWh", title="Tokens per kWh at the feed")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "compare_generations.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/gallery")))
