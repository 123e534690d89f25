"""mkdocs hook: the reference pages, generated from the code at build time (nothing is copied by hand).

- `reference/cli.md`: the typer app (`racksim.cli.app`), walked as click's command tree: usage, help, arguments
  and options of every command and sub-command.
- `reference/design-schema.md`, `hall-schema.md`, `suite-schema.md`: the pydantic models behind design, hall and
  suite files (`racksim.design`), one table per model: field, type and bounds, default, unit (from the field's
  name suffix) and the field's docstring (`use_attribute_docstrings`). A scalar field without a docstring is a
  warning, so `mkdocs build --strict` fails on it.
- `assets/scaling.png`: the hall-scale benchmark's figure, from benchmarks/results/ (not copied into docs/).
- `reference/metrics.md`: the KPI specification (`racksim.kpis.KPIS`, the one list the report reads), with the
  suffix rule that gives any other metrics.json name its unit.

The pages are virtual (`File.generated`): they exist in the built site, never in docs/.
"""

from __future__ import annotations

import enum
import inspect
import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]

log = logging.getLogger("mkdocs.plugins.racksim.reference")

UNITS = (  # name suffix -> unit, longest first; the conventions of DESIGN.md (units in every name)
    ("_k_per_w", "K/W"), ("_j_per_k", "J/K"), ("_w_per_s", "W/s"), ("_usd_per_kwh", "USD/kWh"),
    ("_usd_per_gpu_hour", "USD/GPU-h"), ("_usd_per_hour", "USD/h"), ("_gbyte_s", "GB/s"), ("_tbyte_s", "TB/s"),
    ("_gbps", "Gb/s"), ("_tflops", "TFLOP/s"), ("_lpm", "L/min"), ("_ohm", "Ω"), ("_kwh", "kWh"), ("_wh", "Wh"),
    ("_mm", "mm"), ("_db", "dB"), ("_ghz", "GHz"), ("_gb", "GB"), ("_kg", "kg"), ("_usd", "USD"), ("_fit", "FIT"),
    ("_h", "h"), ("_j", "J"), ("_w", "W"), ("_v", "V"), ("_a", "A"), ("_m", "m"), ("_s", "s"), ("_u", "U"),
    ("_l", "L"), ("_years", "years"), ("_hour", "h of the day"), ("fraction", "0–1"), ("efficiency", "0–1"),
)
BOUNDS = ((annotated_types.Gt, ">"), (annotated_types.Ge, "≥"), (annotated_types.Lt, "<"), (annotated_types.Le, "≤"))


def unit_of(name: str) -> str:
    """The unit a field's name carries (DESIGN.md: the unit in every name), or '' for counts and names."""
    if name.endswith("_c"):
        return "°C" if "temp" in name else "K"
    if name.endswith("_k"):
        return "K"
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "")


def _is_model(tp: Any) -> bool:  # noqa: ANN401 - any annotation
    from pydantic import BaseModel

    return isinstance(tp, type) and issubclass(tp, BaseModel)


def bounds_text(metadata: list[Any]) -> str:
    """'> 0, ≤ 64' from a field's (or an Annotated type's) constraints."""
    from pydantic.fields import FieldInfo

    parts = []
    for item in metadata:
        if isinstance(item, FieldInfo):  # Field(...) inside an Annotated type
            parts.append(bounds_text(item.metadata))
        for kind, symbol in BOUNDS:
            if isinstance(item, kind):
                parts.append(f"{symbol} {getattr(item, kind.__name__.lower())}")
        if isinstance(item, annotated_types.MinLen) and item.min_length:
            parts.append(f"at least {item.min_length}")
        if isinstance(item, annotated_types.MaxLen):
            parts.append(f"at most {item.max_length}")
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            parts.append(f"matches `{pattern}`")
    return ", ".join(part for part in parts if part)


def type_text(tp: Any) -> str:  # noqa: ANN401 - any annotation
    """A field type as the page shows it: models link to their table, literals list their values."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        inner, bounds = type_text(args[0]), bounds_text(list(args[1:]))
        return f"{inner} ({bounds})" if bounds else inner
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_text(arg) for arg in args)
    if origin is typing.Literal:
        return " / ".join(f"`{arg}`" for arg in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"map of {type_text(args[0])} to {type_text(args[1])}"
    if origin is tuple:
        return f"tuple of {', '.join(type_text(arg) for arg in args)}"
    if tp is type(None):
        return "null"
    if tp is typing.Any:
        return "any"
    if _is_model(tp):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " / ".join(f"`{member.value}`" for member in tp)
    return f"`{getattr(tp, '__name__', str(tp))}`"


def default_text(field: Any) -> str:  # noqa: ANN401 - a pydantic FieldInfo
    """'required', or the default as YAML would write it."""
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if _is_model(type(value)):
        return "its defaults"
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict, str)) and not value:
        return "empty"
    return f"`{value}`"


def _models_of(tp: Any) -> list[type]:  # noqa: ANN401 - any annotation
    if _is_model(tp):
        return [tp]
    return [model for arg in typing.get_args(tp) for model in _models_of(arg)]


def collect(root: type) -> list[type]:
    """Every model reachable from `root`, depth first in field order (the order a file reads)."""
    seen: list[type] = []

    def visit(model: type) -> None:
        if model in seen:
            return
        seen.append(model)
        for field in model.model_fields.values():  # type: ignore[attr-defined]
            for sub in _models_of(field.annotation):
                visit(sub)

    visit(root)
    return seen


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def model_table(model: type, page: str) -> str:
    """One model's section: its docstring and a row per field."""
    doc = inspect.cleandoc(model.__doc__ or "")
    lines = [f"## {model.__name__}", "", doc, "", "| field | type | default | unit | description |",
             "| --- | --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():  # type: ignore[attr-defined]
        description = field.description
        if description is None:
            targets = _models_of(field.annotation)
            description = " ".join((target.__doc__ or "").strip().splitlines()[0] for target in targets[:1])
            if not targets or not description:
                log.warning("%s: %s.%s has no docstring", page, model.__name__, name)
        bounds = bounds_text(field.metadata)
        kind = type_text(field.annotation) + (f" ({bounds})" if bounds else "")
        lines.append(f"| `{name}` | {_cell(kind)} | {default_text(field)} | {unit_of(name)} | "
                     f"{_cell(description or '')} |")
    return "\n".join([*lines, ""])


def schema_page(title: str, intro: str, root: type, page: str) -> str:
    """A schema page: every model reachable from `root`, each a table."""
    models = collect(root)
    index = " · ".join(f"[{model.__name__}](#{model.__name__.lower()})" for model in models)
    body = "\n".join(model_table(model, page) for model in models)
    return f"# {title}\n\n{intro}\n\nModels on this page: {index}\n\n{body}"


def cli_page() -> str:
    """Every command of the typer app, from its (click-style) command tree: help, usage, parameters.

    Typer may carry its own copy of click, so the tree is walked by duck typing (`list_commands`, each
    parameter's `get_help_record`, as `--help` prints it) and contexts are made by the commands themselves.
    """
    import typer

    from racksim.cli import app

    root = typer.main.get_command(app)
    lines = ["# Command line", "",
             "Generated from the typer app `racksim.cli.app`. Every command also takes `--debug` (a traceback "
             "instead of the one-line error) and `--help`; `python -m racksim` works the same.", ""]

    def walk(command: Any, ctx: Any, depth: int) -> None:  # noqa: ANN401 - typer's click objects
        name = ctx.command_path
        if depth > 1:
            lines.extend([f"{'#' * min(depth, 4)} `{name}`", ""])
        lines.extend([inspect.cleandoc(command.help or ""), "", "```",
                      f"{name} {' '.join(command.collect_usage_pieces(ctx))}", "```", ""])
        rows = []
        for param in command.params:
            record = None if getattr(param, "hidden", False) else param.get_help_record(ctx)
            if record is not None:  # what `--help` prints: the names with the value's type, the help and bounds
                rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
        if rows:
            lines.extend(["| parameter | help |", "| --- | --- |", *rows, ""])
        if hasattr(command, "list_commands"):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is not None and not sub.hidden:
                    walk(sub, sub.make_context(sub_name, [], parent=ctx, resilient_parsing=True), depth + 1)

    walk(root, root.make_context("racksim", [], resilient_parsing=True), 1)
    return "\n".join(lines)


def metrics_page() -> str:
    """The KPI specification as a table per group, and the unit rule for names it does not list."""
    from racksim import kpis

    lines = ["# Metrics", "",
             "Generated from `racksim.kpis.KPIS`, the one list of the metrics the report, summary.json, the "
             "suites' weights and the sweeps' Pareto fronts read. Values in `metrics.json` are SI (the unit is in "
             "the name); the report shows them in the display unit below. *Better* is the direction the scorecard "
             "scores; *neutral* metrics are never marked best.", ""]
    groups: dict[str, list[Any]] = {}
    for kpi in kpis.KPIS:
        groups.setdefault(kpi.name.split(".")[0], []).append(kpi)
    for group in sorted(groups, key=lambda g: kpis.GROUP_ORDER.index(g) if g in kpis.GROUP_ORDER else 99):
        lines.extend([f"## {group}", "", "| metrics.json name | label | display unit | better | in the tables |",
                      "| --- | --- | --- | --- | --- |"])
        for kpi in groups[group]:
            better = kpi.better_name or "neutral"
            if kpi.absent_is_best:
                better += " (absent is best)"
            lines.append(f"| `{kpi.name}` | {_cell(kpi.label)} | {kpi.unit} | {better} | "
                         f"{'yes' if kpi.tabled else 'figures only'} |")
        lines.append("")
    headlines = ", ".join(f"`{name}`" for name in kpis.HEADLINES)
    suffixes = ", ".join(f"`{suffix}` → {unit}" for suffix, unit in kpis._SUFFIX_UNITS)
    lines.extend(["## Other names", "",
                  f"Each scenario's verdict names the winner of {headlines}, in that order. A metrics.json name "
                  f"not listed above (a loss stage `{kpis.STAGES}.<stage>`, a `_by_` breakdown) is shown under its "
                  f"own name, its display unit read from its suffix: {suffixes}.", ""])
    return "\n".join(lines)


DESIGN_INTRO = (
    "Generated from the pydantic models of `racksim.design` (`racksim/design/schema.py` and the `*_schema.py` "
    "modules beside it): every model is frozen and forbids unknown keys, every field's description is its docstring. "
    "The unit column reads the unit from the field's name (the project's convention: the unit in every name). "
    "`racksim schema` prints the same schema as JSON Schema, for editors.")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Put this checkout first on sys.path, so the site documents (and the gallery runs) its racksim.

    Done here, not at import: mkdocs restores sys.path after loading a hook module. This hook is listed first in
    mkdocs.yml, so it runs before the gallery's hook imports anything.
    """
    sys.path[:] = [str(ROOT), *(entry for entry in sys.path if entry != str(ROOT))]
    loaded = sys.modules.get("racksim")
    if loaded is not None and Path(loaded.__file__ or "").parent != ROOT / "racksim":
        raise RuntimeError(f"racksim was imported from {loaded.__file__} before the docs hooks ran, not from {ROOT}")
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated reference pages."""
    import racksim
    from racksim.design.hall_schema import Hall
    from racksim.design.schema import Design
    from racksim.design.suite import Suite

    log.info("reference: racksim from %s", Path(racksim.__file__).parent)

    bundled = ", ".join(f"`{path.stem}`" for path in sorted((ROOT / "racksim" / "suites").glob("*.yaml")))
    pages = {
        "reference/cli.md": cli_page(),
        "reference/design-schema.md": schema_page("Design schema", DESIGN_INTRO, Design,
                                                  "reference/design-schema.md"),
        "reference/hall-schema.md": schema_page(
            "Hall schema", "Generated from `racksim.design.hall_schema.Hall`: a hall file puts racks of one or "
            "several rack designs in rows, with the power and cooling rows share.", Hall,
            "reference/hall-schema.md"),
        "reference/suite-schema.md": schema_page(
            "Suite schema", "Generated from `racksim.design.suite.Suite`: a suite file holds scenarios (a workload, "
            f"faults, a duration) and the scorecard's weights. Bundled suites (`racksim/suites/`): {bundled}.", Suite,
            "reference/suite-schema.md"),
        "reference/metrics.md": metrics_page(),
    }
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    # the benchmark figure committed with its table (benchmarks/results/), drawn on the Speed page
    scaling = ROOT / "benchmarks" / "results" / "scaling.png"
    files.append(File.generated(config, "assets/scaling.png", abs_src_path=str(scaling)))
    return files
