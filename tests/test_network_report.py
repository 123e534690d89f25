"""The report's networking figure."""

from __future__ import annotations

from pathlib import Path

import yaml

from racksim.report.network_figures import collectives_figure, read_design
from racksim.report.plotkit import design_colours
from racksim.run.loading import load_design

ROOT = Path(__file__).resolve().parent.parent


def test_figure_is_a_png_per_design_set(tmp_path: Path) -> None:
    loaded = load_design(ROOT / "designs" / "gb200-nvl72.yaml")
    (tmp_path / "design.resolved.yaml").write_text(yaml.safe_dump(loaded.resolved), encoding="utf-8")
    design = read_design(tmp_path)
    assert design == loaded.design
    png = collectives_figure({"a": design, "b": design}, design_colours(["a", "b"]))
    assert png.startswith(b"\x89PNG")
    assert png == collectives_figure({"a": design, "b": design}, design_colours(["a", "b"]))  # byte-stable


def test_unreadable_design_gives_no_figure_input(tmp_path: Path) -> None:
    assert read_design(tmp_path) is None
    (tmp_path / "design.resolved.yaml").write_text("name: [", encoding="utf-8")
    assert read_design(tmp_path) is None
