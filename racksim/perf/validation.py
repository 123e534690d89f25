"""Every published training case behind one table: the papers' (racksim.perf.published) and NeMo's (published_nemo).

`validation_table()` prints the rows of racksim/perf/VALIDATION.md's training tables; the report's appendix shows
them (racksim.report.perf_section).
"""

from __future__ import annotations

from racksim.perf.published import ALL_CASES, Case
from racksim.perf.published_nemo import NEMO_CASES

ALL_TRAINING_CASES: tuple[Case, ...] = (*ALL_CASES, *NEMO_CASES)
"""The papers' cases (A100, H100, H800), then Megatron-Bridge's (H100, GB200, GB300)."""


def validation_table() -> list[dict[str, object]]:
    """One row per case: name, source, unit, measured, predicted, error, calibrated-or-checked, settings."""
    rows = []
    for case in ALL_TRAINING_CASES:
        predicted = case.predict()
        rows.append({"case": case.name, "source": case.source, "unit": case.unit, "measured": case.measured,
                     "predicted": predicted, "error": predicted / case.measured - 1.0,
                     "role": "calibrated" if case.calibration else "checked",
                     "settings": "known" if case.settings_known else "partly assumed"})
    return rows
