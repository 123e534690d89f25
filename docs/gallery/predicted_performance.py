r"""Predicted training performance.

Before any simulation, racksim's performance model predicts a training step from the model's Hugging Face config,
the parallel layout and the design's GPU (peaks per precision, HBM, sourced efficiency curves) and network. Without
layout options it searches the fastest layout that fits each design's HBM. Here: Llama 3 70B, FP8, 144 sequences of
8,192 tokens per step on the 72 GPUs of each bundled rack; the bars are where a step's time goes (the parts add up
to the step time; parts no layout has are left out), with the MFU and tokens/s per GPU above. A scenario's
`training` workload uses exactly this prediction for its phases.
On the command line:

    racksim perf train designs/gb200-nvl72.yaml --model llama3-70b --gpus 72 --global-batch 144 --seq-len 8192 \
        --precision fp8
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from racksim.perf import predict_training

ROOT = Path(__file__).resolve().parents[2]
DESIGNS = ["gb200-nvl72", "gb300-nvl72", "vr-800vdc"]
PARTS = {"compute_s": "compute", "tp_comm_s": "tensor-parallel comm.", "cp_comm_s": "context-parallel comm.",
         "ep_comm_s": "expert-parallel comm.", "pp_comm_s": "pipeline comm.",
         "dp_comm_s": "data-parallel comm. (exposed)", "bubble_s": "pipeline bubble", "optimizer_s": "optimizer"}
"""The fields of racksim.perf.StepBreakdown, which add up to the step time."""


def main(out_dir: Path) -> Path:
    """Predict the steps, draw the figure, return its path."""
    predictions = [predict_training(ROOT / "designs" / f"{name}.yaml", "llama3-70b", gpus=72, global_batch=144,
                                    seq_len=8192, precision="fp8") for name in DESIGNS]
    fig, axes = plt.subplots(figsize=(8, 4))
    bottom = [0.0] * len(DESIGNS)
    for field, label in PARTS.items():
        values = [getattr(p.step.breakdown, field) for p in predictions]
        if not any(values):
            continue  # a part no design's layout has (no pipeline: no bubble)
        axes.bar(DESIGNS, values, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for index, p in enumerate(predictions):
        axes.annotate(f"MFU {100 * p.step.mfu:.0f} %\n{p.step.tokens_per_s_per_gpu:,.0f} tok/s/GPU",
                      (index, p.step.step_time_s), ha="center", va="bottom", fontsize=8)
    axes.set(ylabel="predicted step time, s", title="Llama 3 70B, FP8, 72 GPUs: one training step",
             ylim=(0, 1.25 * max(p.step.step_time_s for p in predictions)))
    axes.legend(fontsize=8)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "predicted_performance.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/gallery")))
