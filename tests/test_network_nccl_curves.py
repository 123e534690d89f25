"""Modelled all-reduce busbw against published nccl-tests curves, per size within 10 %, and physical sanity.

Each row: (design, ranks, size in bytes, measured busbw GB/s, source, role). Role "calibrates" marks the points
that set a design constant (see the design file's comments) or a network constant (`NVLS_TREE_INTRA_SHARE`);
"checks" marks points the model never saw. Ranks beyond one scale-up domain span whole nodes or racks on the fabric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from racksim.design.schema import Design
from racksim.network import design_table
from racksim.network.pipeline import pipelined
from racksim.network.protocols import Cost, time_s
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent
DESIGNS = {"gb200": ROOT / "designs" / "gb200-nvl72.yaml",
           "hgx": ROOT / "designs" / "reference" / "hgx-h100-8gpu.yaml",
           "a100": ROOT / "designs" / "reference" / "dgx-a100.yaml"}
NVL72 = "coreweave/nccl-tests PR 43 (2025-02-20), 72 x GB200 NVL72, MNNVL"
H20 = "deepseek-ai/DeepEP issue 303, 8 x H20 HGX (NVLink 4 + NVSwitch), time 16.38 / 16.69 us"
H100X2 = ("public multi-node nccl-tests guide, 2 x 8 H100 80GB HBM3, 8 HCAs per node (8 x 400G IB assumed), NCCL "
          "version not stated; NVLS-tree")
A100X2 = ("oracle-quickstart/oci-hpc-oke docs/running-nccl-rccl-tests-from-slurm-operator.md (61d210a), "
          "2 x BM.GPU.B4.8 (8 x A100-SXM4-40GB, 16 x 100G RoCE = 200 Gb/s per GPU), NCCL 2.29.3")
GB200X2 = "coreweave/nccl-tests README (bee97e7, 2025-05-05), 2 x GB200 NVL72 racks (144 GPUs), NCCL 2.26.2"
# 20 racks: NCCL's Tree (chain through each rack's 72 GPUs, double binary trees across racks on the design's
# network.scale_out.collective_nics = 10 NICs per rack, calibrated on 8 GiB); NVLS-tree is not offered beyond two racks.
GB200X20 = "coreweave/nccl-tests README (bee97e7, 2025-05-05), 20 x GB200 NVL72 racks (1,440 GPUs), NCCL 2.26.2"
CURVES = [
    ("gb200", 72, 2**29, 586.06, NVL72, "calibrates"),
    ("gb200", 72, 2**30, 681.17, NVL72, "checks"),
    ("gb200", 72, 2**31, 757.78, NVL72, "checks"),
    ("gb200", 72, 2**32, 839.16, NVL72, "calibrates"),
    ("gb200", 72, 2**33, 834.57, NVL72, "checks"),
    ("hgx", 8, 2**10, 1024 / 16.38e-6 * 1.75 / 1e9, H20, "checks"),
    ("hgx", 8, 2**12, 4096 / 16.69e-6 * 1.75 / 1e9, H20, "checks"),
    ("hgx", 8, 2**32, 476.0, "NVIDIA/nccl-tests issue 290 (2025-03), 8 x H100 NVLS", "checks"),
    ("hgx", 8, 2**33, 480.0, "NVIDIA/nccl-tests issue 212 (2024-05, sjeaugey), 8 x H100 NVLS peak", "calibrates"),
    ("hgx", 16, 2**28, 389.61, H100X2, "checks"),
    ("hgx", 16, 2**29, 423.79, H100X2, "checks"),
    ("hgx", 16, 2**30, 448.31, H100X2, "checks"),
    ("hgx", 16, 2**31, 460.32, H100X2, "checks"),
    ("hgx", 16, 2**32, 465.05, H100X2, "checks"),
    ("hgx", 16, 2**33, 467.97, H100X2, "calibrates"),
    ("a100", 16, 2**30, 184.92, A100X2, "checks"),
    ("a100", 16, 2**31, 187.18, A100X2, "checks"),
    ("a100", 16, 2**32, 188.39, A100X2, "checks"),
    ("a100", 16, 2**33, 189.60, A100X2, "checks"),
    ("gb200", 144, 2**29, 493.94, GB200X2, "checks"),
    ("gb200", 144, 2**30, 596.10, GB200X2, "checks"),
    ("gb200", 144, 2**31, 680.30, GB200X2, "checks"),
    ("gb200", 144, 2**32, 743.09, GB200X2, "checks"),
    ("gb200", 144, 2**33, 793.06, GB200X2, "checks"),
    ("gb200", 144, 2**34, 810.41, GB200X2, "checks"),
    ("gb200", 1440, 2**29, 150.95, GB200X20, "checks"),
    ("gb200", 1440, 2**30, 218.85, GB200X20, "checks"),
    ("gb200", 1440, 2**31, 286.52, GB200X20, "checks"),
    ("gb200", 1440, 2**32, 346.38, GB200X20, "checks"),
    ("gb200", 1440, 2**33, 381.48, GB200X20, "calibrates"),
    ("gb200", 1440, 2**34, 405.74, GB200X20, "checks"),
]


@pytest.fixture(scope="module")
def designs() -> dict[str, Design]:
    return {key: load_design(path).design for key, path in DESIGNS.items()}


@pytest.mark.parametrize(("key", "ranks", "size", "measured", "source", "role"), CURVES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CURVES])
def test_busbw_within_10_percent_of_published(designs: dict[str, Design], key: str, ranks: int, size: int,
                                              measured: float, source: str, role: str) -> None:
    modelled = design_table(designs[key], "all-reduce", np.array([float(size)]), ranks).busbw_gbyte_s[0]
    assert modelled == pytest.approx(measured, rel=0.10), f"{source} ({role})"


@pytest.mark.parametrize("key", ["gb200", "hgx"])
@pytest.mark.parametrize("op", ["all-reduce", "all-gather", "reduce-scatter", "all-to-all"])
def test_time_rises_and_busbw_stays_below_the_links(designs: dict[str, Design], key: str, op: str) -> None:
    design = designs[key]
    sizes = 2.0 ** np.arange(3, 35)
    table = design_table(design, op, sizes)
    assert np.all(np.diff(table.time_s) >= 0)
    line_gbyte_s = design.network.scale_up.links_per_gpu * design.network.scale_up.link_bandwidth_gbyte_s
    # busbw counts ring traffic; in-switch reduction halves the wire bytes, so it may reach up to 2x the line rate.
    assert np.all(table.busbw_gbyte_s <= (2.0 if op == "all-reduce" else 1.0) * line_gbyte_s)


def test_channel_ramp_and_fill_by_hand() -> None:
    # 4 channels of 1 kB each: 0.5 kB runs on one channel (4x the bytes term), 2 kB on two, 8 kB on all four.
    cost = Cost(1e-6, 1e-9, "ring", "ll", channels=4, channel_bytes=1000.0, fill_s=2e-6, fill_bytes=4000.0)
    assert time_s(cost, 500.0) == pytest.approx(1e-6 + 500 * 1e-9 * 4 + 2e-6 * 500 / 4000)
    assert time_s(cost, 2000.0) == pytest.approx(1e-6 + 2000 * 1e-9 * 2 + 2e-6 * 0.5)
    assert time_s(cost, 8000.0) == pytest.approx(1e-6 + 8000 * 1e-9 + 2e-6)


def test_pipelined_phases_by_hand() -> None:
    # Two phases at 1 and 3 ns/byte, 2 us each with one 1 us launch, chunks of 1 kB: the slow phase paces, the
    # fast one costs its first chunk (fill); below one chunk the phases add.
    fast, slow = Cost(2e-6, 1e-9, "chain", "simple"), Cost(2e-6, 3e-9, "tree", "simple")
    cost = pipelined([fast, slow], 1000.0, 1e-6, "tree")
    assert time_s(cost, 1e6) == pytest.approx(3e-6 + 3e-9 * 1e6 + 1e-9 * 1000)
    assert time_s(cost, 500.0) == pytest.approx(3e-6 + 4e-9 * 500)
    # A chain of 4 GPUs (6 hops up and down) before a tree of 2 hops: the first chunk crosses all 8 hops, then the
    # slow stage paces: fill (6·1 + 2·3 − 3) ns/byte · 1 kB.
    chained = pipelined([fast, slow], 1000.0, 1e-6, "tree", hops=(6, 2))
    assert time_s(chained, 1e6) == pytest.approx(3e-6 + 3e-9 * 1e6 + 9e-9 * 1000)


@pytest.mark.parametrize(("key", "ranks"), [("hgx", 16), ("a100", 16), ("gb200", 144)])
def test_multi_node_all_reduce_is_no_faster_than_one_node(designs: dict[str, Design], key: str, ranks: int) -> None:
    # Overlapped phases take at least their slowest phase, so an all-reduce over several nodes never beats the same
    # message inside one node, and its time never falls with size (it may stay flat where NCCL doubles its channels:
    # the ring LL at 512 KiB on 8 channels takes as long as 1 MiB on 16).
    sizes = 2.0 ** np.arange(10, 35)
    table = design_table(designs[key], "all-reduce", sizes, ranks)
    assert np.all(np.diff(table.time_s) >= 0)
    assert np.all(table.time_s >= design_table(designs[key], "all-reduce", sizes).time_s)

