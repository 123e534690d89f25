"""Figure-level checks over every registered figure module: labelled axes with units, one colour per design."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from racksim.report import load_runs, plotkit, registry
from tests.test_report_thermal import fault_events, thermal_run

DESIGNS = ("alpha", "beta", "gamma")
UNIT = re.compile(r"\(.+\)")


def _colour(handle: Any) -> str:
    getter = getattr(handle, "get_color", None) or handle.get_facecolor
    return to_hex(getter())


def snapshot(figure: Figure) -> list[dict[str, Any]]:
    """What the checks need of each axes of a figure, taken before the figure is saved and cleared.

    An axes without y tick labels (a diagram such as a Sankey) has no scale to label, so "on" is False.
    """
    figure.canvas.draw()  # tick labels are set when drawn
    axes = []
    for ax in figure.axes:
        legend = ax.get_legend()
        entries = [(t.get_text(), _colour(h)) for t, h in zip(legend.get_texts(), legend.legend_handles,
                                                               strict=True)] if legend else []
        entries += [(line.get_label(), to_hex(line.get_color())) for line in ax.get_lines()]
        entries += [(t.get_text(), to_hex(t.get_color())) for t in ax.get_xticklabels()]
        scale = ax.yaxis.get_visible() and any(label.get_text() for label in ax.get_yticklabels())
        axes.append({"label": ax.get_label(), "on": ax.axison and scale, "x": ax.get_xlabel(), "y": ax.get_ylabel(),
                     "lines": sum(len(line.get_xdata()) > 1 for line in ax.get_lines()), "bars": len(ax.patches),
                     "entries": entries})
    return axes


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Every figure the registered modules draw for a three-design scenario, by key."""
    root = tmp_path_factory.mktemp("figures") / "results"
    for design, hot_c in zip(DESIGNS, (84.0, 88.0, 91.0), strict=True):
        thermal_run(root, design, hot_c=hot_c, events=fault_events(2))
    captured: list[list[dict[str, Any]]] = []
    original = Figure.savefig

    def save(self: Figure, *args: Any, **kwargs: Any) -> None:
        captured.append(snapshot(self))
        original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", save)
        made = registry.scenario_figures(load_runs(root), plotkit.design_colours(DESIGNS))
    assert len(captured) == len(made)
    return {key: axes for (key, _, _), axes in zip(made, captured, strict=True)}


@pytest.mark.slow
def test_the_core_figures_are_drawn(drawn: dict[str, list[dict[str, Any]]]) -> None:
    assert {"feed-power", "gpu-temperature", "energy", "heat", "rack-elevation", "cooling"} <= set(drawn)


@pytest.mark.slow
def test_every_plotted_axis_is_labelled_with_a_unit(drawn: dict[str, list[dict[str, Any]]]) -> None:
    for key, axes in drawn.items():
        plotted = [ax for ax in axes if ax["on"] and ax["label"] != "<colorbar>" and (ax["lines"] or ax["bars"])]
        for ax in plotted:
            assert UNIT.search(ax["y"]), f"{key}: y axis {ax['y']!r} has no unit"
        if any(ax["lines"] for ax in plotted):
            assert any(UNIT.search(ax["x"]) for ax in plotted), f"{key}: no labelled x axis with a unit"


@pytest.mark.slow
def test_one_colour_per_design_in_every_figure(drawn: dict[str, list[dict[str, Any]]]) -> None:
    expected = plotkit.design_colours(DESIGNS)
    assert len(set(expected.values())) == len(DESIGNS)
    seen: dict[str, set[str]] = {design: set() for design in DESIGNS}
    for key, axes in drawn.items():
        named = {(text, colour) for ax in axes for text, colour in ax["entries"] if text in expected}
        for design, colour in named:
            seen[design].add(colour)
            assert colour == expected[design], f"{key}: {design} drawn in {colour}, not {expected[design]}"
        shown = {design for design, _ in named}
        assert shown in (set(), set(DESIGNS)), f"{key}: names only {sorted(shown)}"
    assert seen == {design: {expected[design]} for design in DESIGNS}


def extra_figures(runs: Any, context: plotkit.FigureContext) -> list[tuple[str, str, bytes | None]]:
    """A figure module as another subsystem would register it: one PNG, one figure without data."""
    return [("extra", f"{len(runs)} designs in {len(context.colours)} colours", b"png"), ("empty", "none", None)]


def test_a_module_registered_by_name_is_drawn_and_keys_must_be_unique(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for design in DESIGNS[:2]:
        thermal_run(root, design, hot_c=85.0, events=None)
    runs, colours = load_runs(root), plotkit.design_colours(DESIGNS[:2])
    extra = "tests.test_report_figures:extra_figures"
    assert registry.scenario_figures(runs, colours, (extra,)) == [("extra", "2 designs in 2 colours", b"png")]
    with pytest.raises(ValueError, match="already used"):
        registry.scenario_figures(runs, colours, (extra, extra))
