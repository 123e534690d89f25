"""A collective table: all-reduce bus bandwidth against message size.

racksim's network model times NCCL's algorithms (ring, double binary tree, in-switch reduction NVLS) and protocols
(LL, LL128, Simple) on each design's actual links and keeps the fastest at each size, as nccl-tests would measure
it. Here: an all-reduce over the 72 GPUs of one GB200 NVL72-class rack, the same after one GPU loses a scale-up
link, and over the 8 GPUs of an HGX H100 node (`designs/reference/hgx-h100-8gpu.yaml`). Small messages are
latency-bound; large ones approach the links' bandwidth. The same table on the command line:

    racksim collectives designs/gb200-nvl72.yaml --op all-reduce --min-bytes 8 --max-bytes 8G
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from racksim import load_design
from racksim.network import compile_topology
from racksim.network.collectives import CollectiveModel, collective_table

ROOT = Path(__file__).resolve().parents[2]
SIZES_BYTES = 2.0 ** np.arange(10, 34)  # 1 KiB to 8 GiB


def table(path: Path, links_down: list[int] | None = None) -> np.ndarray:
    """All-reduce busbw over a design's scale-up domain, GB/s per size."""
    design = load_design(path).design
    topology = compile_topology(design)
    if links_down:
        topology = topology.with_links_down(links_down)
    gpus = design.slot_count("compute") * design.compute_tray.gpus.count
    return collective_table(CollectiveModel(design, topology), "all-reduce", gpus, SIZES_BYTES).busbw_gbyte_s


def main(out_dir: Path) -> Path:
    """Compute the tables, draw the figure, return its path."""
    curves = {
        "GB200 NVL72, 72 GPUs": table(ROOT / "designs" / "gb200-nvl72.yaml"),
        "same, GPU 3 lost one of its 18 links": table(ROOT / "designs" / "gb200-nvl72.yaml", [3 * 18 + 5]),
        "HGX H100, 8 GPUs": table(ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml"),
    }
    fig, axes = plt.subplots(figsize=(8, 4))
    for (label, busbw), style in zip(curves.items(), ("-", "--", "-"), strict=True):
        axes.semilogx(SIZES_BYTES, busbw, style, label=label, base=2)
    ticks = 2.0 ** np.arange(10, 34, 4)
    axes.set_xticks(ticks, [f"{t / 2**20:g} MiB" if t >= 2**20 else f"{t / 2**10:g} KiB" for t in ticks])
    axes.set(xlabel="message size", ylabel="all-reduce bus bandwidth, GB/s", title="All-reduce busbw (nccl-tests)")
    axes.legend()
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    figure = out_dir / "collective_table.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    return figure


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/gallery")))
