r"""Sweep the facility water temperature.

How warm can the facility water feeding a GB200 NVL72-class rack's CDU be? This sweeps
`cooling.facility_supply_temp_c` from 30 to 50 °C and runs two minutes of the quick suite's training at each point,
the same way `racksim sweep` does on dask (each point an ordinary run with a `--set` override; here the five points
run one after the other in this process). The hottest GPU follows the water up almost degree for degree until it
reaches the throttle temperature (87 °C); from there the GPUs spend time throttled and the work done per kWh falls.
The command-line equivalent, with a Pareto front and a Parquet table of every point:

    racksim sweep designs/gb200-nvl72.yaml --scenario training --duration 2m --out results/supply \
        --param cooling.facility_supply_temp_c=30:50:5 --pareto performance.work_per_kwh,thermal.gpu_temp_c_max
"""

import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from racksim import RunRequest, load_suite, run_many

ROOT = Path(__file__).resolve().parents[2]
DESIGN = ROOT / "designs" / "gb200-nvl72.yaml"
SUPPLY_TEMPS_C = [30, 35, 40, 45, 50]
DURATION_S = 120.0


def main(out_dir: Path) -> Path:
    """Run the points, draw the figure, return its path."""
    scenario = load_suite("quick").scenario("training")
    metrics = []
    with tempfile.TemporaryDirectory() as results:
        for temp_c in SUPPLY_TEMPS_C:
            request = RunRequest(DESIGN, scenario, duration_s=DURATION_S,
                                 overrides=(f"cooling.facility_supply_temp_c={temp_c}",))
            (run_dir,) = run_many([request], Path(results) / f"supply-{temp_c}", jobs=1)
            metrics.append(json.loads((run_dir / "metrics.json").read_text()))
    fig, (temp, work) = plt.subplots(1, 2, figsize=(10, 3.6))
    temp.plot(SUPPLY_TEMPS_C, [m["thermal"]["gpu_temp_c_max"] for m in metrics], "o-", color="C3")
    temp.axhline(87, color="k", ls="--", lw=0.8)
    temp.annotate("GPU throttle temperature", (SUPPLY_TEMPS_C[0], 87), fontsize=8, va="bottom")
    temp.set(xlabel="facility supply temperature, °C", ylabel="hottest GPU, °C", title="Thermal headroom")
    work.plot(SUPPLY_TEMPS_C, [m["performance"]["work_per_kwh"] for m in metrics], "o-", color="C0")
    throttled = work.twinx()
    throttled.plot(SUPPLY_TEMPS_C, [100 * m["thermal"]["gpu_throttle_fraction"] for m in metrics], "s--",
                   color="C1")
    work.set(xlabel="facility supply temperature, °C", ylabel="training steps per kWh", title="Work and throttling")
    throttled.set_ylabel("GPU time throttled, %", color="C1")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "supply_temperature_sweep.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/gallery")))
