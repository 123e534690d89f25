"""The performance model's validation tables as rows, summaries and Markdown, and the generator of their copies.

Two tables: the training step model against published training measurements (racksim.perf.validation: the
papers' cases of racksim.perf.published and NVIDIA's of racksim.perf.published_nemo) and the
serving model against published serving measurements (racksim.perf.published_inference); each row has the case,
its source, the quantity and unit, measured, predicted, the error (predicted / measured − 1), the role
(calibrated or checked) and the settings (known, partly assumed or known). `racksim perf validate` prints them.

The same tables are copied, as Markdown, into racksim/perf/VALIDATION.md (its two case tables, between
`<!-- validation-table:NAME -->` markers) and README.md (a compact form with the summary lines), and as JSON into
racksim/perf/validation.json (package data), which the report's appendix reads (`shipped_tables`): the cases run on
the bundled reference designs only, so the tables are a property of the code, and computing them (about 7 s, most
of it the simulated benchmark runs) once per code version beats once per report. Running this module
(`python -m racksim.report.validation_tables`, `make validation-table`) rewrites all three from the current
predictions; tests/test_validation_tables.py fails when a copy disagrees with them.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from racksim.io import atomic_write_text
from racksim.perf.published_inference import serving_validation_table
from racksim.perf.validation import validation_table as training_validation_table

WITHIN = 0.15
"""A case agrees with its measurement when |error| ≤ this (issue 18's bar)."""
ROOT = Path(__file__).resolve().parents[2]
VALIDATION_MD = ROOT / "racksim" / "perf" / "VALIDATION.md"
README_MD = ROOT / "README.md"
VALIDATION_JSON = Path(__file__).resolve().parents[1] / "perf" / "validation.json"
"""The tables as computed by the generator, shipped with the package for the report."""
GENERATOR = "make validation-table"
"""What a developer runs to rewrite the copies (the Makefile target runs this module)."""

TRAINING_QUANTITY = {"s": ("iteration time, s", 2), "TFLOP/s": ("TFLOP/s per GPU", 2), "MFU": ("MFU", 3),
                     "tokens/s": ("tokens/s per GPU", 0)}
"""A training case's unit → the quantity as the tables name it, and the decimals its values print with."""
SERVING_DECIMALS = 1
"""Serving values (ms, tokens/s) print with one decimal."""
CELLS = ("case", "source", "quantity", "measured", "predicted", "error", "role", "settings")
"""A row's cells (`Row.cells`), in the training table's column order."""


@dataclass(frozen=True)
class Row:
    """One published case and the model's prediction of it, in the quantity's display unit."""

    case: str
    source: str
    quantity: str
    measured: float
    predicted: float
    error: float
    role: str
    settings: str
    decimals: int

    @property
    def within(self) -> bool:
        """Whether the prediction is within WITHIN of the measurement."""
        return abs(self.error) <= WITHIN

    @property
    def known(self) -> bool:
        """Whether the case's settings are all published ('known'), not partly assumed."""
        return self.settings == "known"

    def cells(self) -> dict[str, str]:
        """Every column as printed: values to `decimals`, the error in per cent with its sign."""
        return {"case": self.case, "source": self.source, "quantity": self.quantity,
                "measured": f"{self.measured:.{self.decimals}f}", "predicted": f"{self.predicted:.{self.decimals}f}",
                "error": f"{100 * self.error:+.1f} %", "role": self.role, "settings": self.settings}

    def to_dict(self) -> dict[str, object]:
        """The row for JSON: raw values and whether it is within WITHIN."""
        data: dict[str, object] = asdict(self)
        del data["decimals"]
        return data | {"within": self.within}


@dataclass(frozen=True)
class Table:
    """One validation table: its name, its title, the order of its Markdown columns, its rows."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[Row]

    def summary(self) -> str:
        """'21 of 25 within 15 %; known settings: 8 of 8' (known settings: the within count among them)."""
        known = [row for row in self.rows if row.known]
        counts = f"{sum(row.within for row in known)} of {len(known)}" if known else "none"
        within = f"{sum(row.within for row in self.rows)} of {len(self.rows)} within {WITHIN * 100:g} %"
        return f"{within}; known settings: {counts}"

    def failing(self) -> Table:
        """The same table with only the rows outside WITHIN."""
        return Table(self.name, self.title, self.columns, [row for row in self.rows if not row.within])

    def markdown(self) -> str:
        """The table in VALIDATION.md's format (header, alignment row, one line per case)."""
        right = {"measured", "predicted", "error"}
        lines = ["| " + " | ".join(self.columns) + " |",
                 "| " + " | ".join("---:" if c in right else "---" for c in self.columns) + " |"]
        lines += ["| " + " | ".join(cells[c] for c in self.columns) + " |" for cells in map(Row.cells, self.rows)]
        return "\n".join(lines)


def training_rows(table: Callable[[], list[dict[str, object]]] = training_validation_table) -> list[Row]:
    """The training table's rows (racksim.perf.validation.validation_table)."""
    return [_row(case, *TRAINING_QUANTITY[str(case["unit"])]) for case in table()]


def serving_rows(table: Callable[[], list[dict[str, object]]] = serving_validation_table) -> list[Row]:
    """The serving table's rows (racksim.perf.published_inference.serving_validation_table)."""
    return [_row(case, str(case["quantity"]), SERVING_DECIMALS) for case in table()]


def _row(case: Mapping[str, object], quantity: str, decimals: int) -> Row:
    """A validation case of either table as a Row, its quantity named and printed to `decimals`."""
    return Row(str(case["case"]), str(case["source"]), quantity, _float(case["measured"]),
               _float(case["predicted"]), _float(case["error"]), str(case["role"]), str(case["settings"]), decimals)


def _float(value: object) -> float:
    if not isinstance(value, int | float):
        raise TypeError(f"a validation table value is not a number: {value!r}")
    return float(value)


def tables() -> list[Table]:
    """Both tables, computed now from the model (seconds: most of it the simulated benchmark runs, module docstring)."""
    return [Table("training", "Training step model", CELLS, training_rows()),
            Table("serving", "Serving model", ("case", "source", "quantity", "settings", "measured", "predicted",
                                               "error", "role"), serving_rows())]


def shipped_tables() -> list[Table]:
    """Both tables as the generator last wrote them (VALIDATION_JSON), in the order of `tables()`; no prediction."""
    data = json.loads(VALIDATION_JSON.read_text(encoding="utf-8"))
    return [Table(name, part["title"], tuple(part["columns"]), [Row(**row) for row in part["rows"]])
            for name, part in data.items()]


def shipped_json(all_tables: Sequence[Table]) -> str:
    """VALIDATION_JSON's text for `all_tables`: per table its title, Markdown columns and rows (with decimals)."""
    data = {table.name: {"title": table.title, "columns": list(table.columns),
                         "rows": [asdict(row) for row in table.rows]} for table in all_tables}
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def to_json(chosen: Sequence[Table], full: Mapping[str, Table]) -> dict[str, object]:
    """`chosen` tables (maybe only failing rows) for JSON, each with the summary of the `full` table of its name."""
    return {table.name: {"title": table.title, "summary": full[table.name].summary(), "within": WITHIN,
                         "rows": [row.to_dict() for row in table.rows]} for table in chosen}


def readme_section(all_tables: Sequence[Table]) -> str:
    """README.md's compact form: a summary line per table, then each table folded in a <details> block.

    Columns: case, quantity, measured, predicted, error, and the role with the settings' first words.
    """
    parts = ["\n".join(f"- **{table.title}**: {table.summary()}." for table in all_tables)]
    for table in all_tables:
        lines = ["| case | quantity | measured | predicted | error | role, settings |",
                 "| --- | --- | ---: | ---: | ---: | --- |"]
        for row in table.rows:
            cells = row.cells()
            settings = "known" if row.known else cells["settings"].split(" (")[0]
            lines.append(f"| {row.case} | {row.quantity} | {cells['measured']} | {cells['predicted']} | "
                         f"{cells['error']} | {row.role}, settings {settings} |")
        parts.append(f"<details><summary>{table.title}: {len(table.rows)} published cases</summary>\n\n"
                     + "\n".join(lines) + "\n\n</details>")
    return "\n\n".join(parts)


def replace_between(text: str, name: str, body: str, where: str) -> str:
    """`text` with the lines between `<!-- validation-table:NAME -->` and its closing marker replaced by `body`.

    The closing marker is `<!-- /validation-table:NAME -->`; a ValueError names `where` if the pair is missing or
    repeated.
    """
    pattern = re.compile(rf"(<!-- validation-table:{name} -->\n).*?(<!-- /validation-table:{name} -->)", re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{where}: expected one pair of <!-- validation-table:{name} --> markers")
    return pattern.sub(lambda match: match.group(1) + body + "\n" + match.group(2), text)


def generated(all_tables: Sequence[Table], validation_md: str, readme: str) -> tuple[str, str]:
    """VALIDATION.md's and README.md's texts with their tables rewritten from `all_tables`."""
    for table in all_tables:
        validation_md = replace_between(validation_md, table.name, table.markdown(), str(VALIDATION_MD))
    return validation_md, replace_between(readme, "readme", readme_section(all_tables), str(README_MD))


def main() -> int:
    """Rewrite VALIDATION.md's, README.md's and validation.json's tables from the current predictions."""
    current = tables()
    paths = (VALIDATION_MD, README_MD, VALIDATION_JSON)
    before = tuple(path.read_text(encoding="utf-8") if path.exists() else "" for path in paths)
    after = (*generated(current, before[0], before[1]), shipped_json(current))
    for path, old, new in zip(paths, before, after, strict=True):
        if new != old:
            atomic_write_text(path, new)
        print(f"{path.relative_to(ROOT)}: {'rewritten' if new != old else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
