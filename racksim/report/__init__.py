"""The evaluation report: KPI tables, figures and verdicts comparing rack designs, as HTML and Markdown.

`write_report(results_dir)` reads every run below a results directory (``<design>/<scenario>/metrics.json``
with ``timeseries.npz`` and ``design.resolved.yaml`` beside it) and writes ``report.html`` (self-contained),
``report.md`` and ``figures/*.png`` there.
"""

from racksim.report.render import Run, load_runs, write_report

__all__ = ["Run", "load_runs", "write_report"]
