"""The evaluation report: KPI tables, figures and verdicts comparing rack designs, as HTML and Markdown.

`write_report(results_dir)` reads every run below a results directory (``<design>/<scenario>/metrics.json``
with ``timeseries.parquet`` and ``design.resolved.yaml`` beside it) and writes ``report.html`` (self-contained),
``report.md``, ``summary.json`` and ``figures/*.png`` there.

The names below are imported on first use, so importing a light part (``racksim.report.scorecard``,
``racksim.report.events``) loads neither the renderer nor jinja2 and matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from racksim.report.render import Run, load_runs, write_report

__all__ = ["Run", "load_runs", "write_report"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 - whatever the module exports
    if name in __all__:
        from racksim.report import render

        return getattr(render, name)
    raise AttributeError(f"module 'racksim.report' has no attribute {name!r}")
