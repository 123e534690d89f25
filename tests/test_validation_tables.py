"""The validation tables as a command (`racksim perf validate`) and their copies in README.md and VALIDATION.md.

The copies must agree with the current predictions as printed: when the model changes, `make validation-table`
rewrites them (racksim.report.validation_tables), and the freshness test below says so.
"""

from __future__ import annotations

import json

import pytest

from racksim.perf.published_inference import ALL_SERVING_CASES, BLACKWELL_SERVING_CASES
from racksim.perf.validation import ALL_TRAINING_CASES
from racksim.report import validation_tables
from racksim.report.validation_tables import (
    README_MD,
    VALIDATION_JSON,
    VALIDATION_MD,
    Row,
    Table,
    generated,
    replace_between,
    shipped_json,
    shipped_tables,
)
from tests.cli import racksim


@pytest.fixture(scope="module")
def current() -> list[Table]:
    """Both tables computed once for the module (about 20 s: the serving table's simulated benchmark runs)."""
    return validation_tables.tables()


@pytest.fixture
def cached(monkeypatch: pytest.MonkeyPatch, current: list[Table]) -> list[Table]:
    """The command reuses the module's tables instead of predicting every case again."""
    monkeypatch.setattr(validation_tables, "tables", lambda: current)
    return current


def _row(case: str, error: float, settings: str = "known", role: str = "checked") -> Row:
    return Row(case, "a paper", "iteration time, s", 10.0, 10.0 * (1 + error), error, role, settings, 2)


def test_summary_counts_rows_within_15_percent_and_known_settings_by_hand() -> None:
    rows = [_row("a", 0.15), _row("b", -0.151), _row("c", 0.02, "partly assumed"), _row("d", 0.3, "partly assumed")]
    table = Table("training", "Training", ("case", "error"), rows)
    assert table.summary() == "2 of 4 within 15 %; known settings: 1 of 2"
    assert [row.case for row in table.failing().rows] == ["b", "d"]
    assert Table("serving", "Serving", ("case",), rows[2:]).summary() == "1 of 2 within 15 %; known settings: none"


def test_markdown_rows_round_as_printed() -> None:
    table = Table("training", "Training", ("case", "measured", "predicted", "error", "role", "settings"),
                  [_row("megatron-22b full", 0.00562, role="calibrated")])
    assert table.markdown().splitlines() == [
        "| case | measured | predicted | error | role | settings |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        "| megatron-22b full | 10.00 | 10.06 | +0.6 % | calibrated | known |"]


def test_replace_between_rewrites_only_the_marked_block() -> None:
    text = "before\n<!-- validation-table:x -->\nold\nrows\n<!-- /validation-table:x -->\nafter\n"
    assert replace_between(text, "x", "new", "f.md") == (
        "before\n<!-- validation-table:x -->\nnew\n<!-- /validation-table:x -->\nafter\n")
    with pytest.raises(ValueError, match=r"f\.md: expected one pair of <!-- validation-table:y --> markers"):
        replace_between(text, "y", "new", "f.md")


def test_readme_validation_md_and_the_shipped_json_agree_with_the_current_predictions(current: list[Table]) -> None:
    validation_md, readme = (path.read_text(encoding="utf-8") for path in (VALIDATION_MD, README_MD))
    fresh_validation_md, fresh_readme = generated(current, validation_md, readme)
    stale = [path.name for path, old, new in ((VALIDATION_MD, validation_md, fresh_validation_md),
                                              (README_MD, readme, fresh_readme)) if old != new]
    shipped = shipped_tables()  # as printed: the JSON's floats may differ in the last bits across machines
    if [[row.cells() for row in table.rows] for table in shipped] != [[row.cells() for row in table.rows]
                                                                      for table in current]:
        stale.append(VALIDATION_JSON.name)
    assert not stale, f"{', '.join(stale)}: the validation tables are stale; run `make validation-table`"


def test_every_case_appears_in_both_tables_and_the_readme(current: list[Table]) -> None:
    training, serving = current
    assert [row.case for row in training.rows] == [case.name for case in ALL_TRAINING_CASES]
    assert [row.case for row in serving.rows] == [case.name for case in ALL_SERVING_CASES + BLACKWELL_SERVING_CASES]
    readme = README_MD.read_text(encoding="utf-8")
    assert all(f"| {row.case} |" in readme for table in current for row in table.rows)
    assert [row.case for row in training.rows if row.role == "calibrated"] == ["megatron-175b selective"]


def test_validate_json_has_every_row_and_the_summaries(cached: list[Table]) -> None:
    done = racksim("perf", "validate", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    training, serving = cached
    assert data["training"]["summary"] == training.summary()
    assert data["serving"]["summary"] == serving.summary()
    assert [row["case"] for row in data["training"]["rows"]] == [row.case for row in training.rows]
    first = data["training"]["rows"][0]
    assert set(first) == {"case", "source", "quantity", "measured", "predicted", "error", "role", "settings", "within"}
    assert first["error"] == pytest.approx(first["predicted"] / first["measured"] - 1)


def test_validate_failing_keeps_only_misses_and_exits_zero(cached: list[Table]) -> None:
    done = racksim("perf", "validate", "--json", "--failing")
    assert done.returncode == 0  # a report, not a gate, even with misses
    data = json.loads(done.stdout)
    for table in cached:
        rows = data[table.name]["rows"]
        assert [row["case"] for row in rows] == [row.case for row in table.rows if abs(row.error) > 0.15]
        assert data[table.name]["summary"] == table.summary()  # the summary stays over every case


def test_validate_markdown_is_validation_md_s_table(cached: list[Table]) -> None:
    done = racksim("perf", "validate", "--markdown")
    assert done.returncode == 0
    text = VALIDATION_MD.read_text(encoding="utf-8")
    for table in cached:
        assert f"**{table.title}**: {table.summary()}." in done.stdout
        assert table.markdown() in done.stdout
        assert table.markdown() in text


def test_validate_prints_rich_tables_with_summaries(cached: list[Table]) -> None:
    done = racksim("perf", "validate")
    assert done.returncode == 0
    for table in cached:
        assert f"{table.title}: {table.summary()}" in " ".join(done.stdout.split())


def test_the_shipped_json_round_trips_its_tables() -> None:
    table = Table("training", "Training", ("case", "error"), [_row("a", 0.1), _row("b", -0.2, "partly assumed")])
    data = json.loads(shipped_json([table]))
    assert data["training"]["columns"] == ["case", "error"]
    assert [Row(**row) for row in data["training"]["rows"]] == table.rows
