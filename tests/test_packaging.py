"""The package as users get it: a wheel that runs the bundled suites from any directory, and a light import face."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _racksim_modules_loaded(statement: str) -> list[str]:
    """The racksim modules a fresh interpreter has loaded after `statement`."""
    listing = "print(json.dumps(sorted(m for m in sys.modules if m.startswith('racksim'))))"
    code = f"{statement}\nimport json, sys\n{listing}"
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return list(json.loads(output))


def test_importing_the_errors_loads_almost_nothing() -> None:
    loaded = _racksim_modules_loaded("import racksim.errors")
    assert len(loaded) < 10, loaded
    assert "racksim.run.pipeline" not in loaded
    assert "racksim.results" not in loaded  # nor pandas


def test_the_command_line_loads_a_command_s_code_only_when_it_runs() -> None:
    loaded = _racksim_modules_loaded("import racksim.cli")
    assert loaded == ["racksim", "racksim._version", "racksim.cli", "racksim.cli_collectives", "racksim.cli_perf",
                      "racksim.errors"]


def test_public_names_load_on_first_use() -> None:
    import racksim

    assert racksim.load_design.__module__ == "racksim.run.loading"
    assert "run_one" in dir(racksim)
    assert racksim.results.open.__module__ == "racksim.results"  # a public module, imported on first use too
    assert racksim.Results is racksim.results.Results
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = racksim.nothing  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_wheel_install_runs_the_quick_suite_from_any_directory(tmp_path: Path) -> None:
    """`pip install .` (not editable): the bundled suites and traces come with the package, found by importlib."""
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True,
                   capture_output=True)
    (wheel,) = wheels.glob("racksim-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-c", "import racksim; print(racksim.__file__)"], cwd=elsewhere, env=env,
                           check=True, capture_output=True, text=True).stdout
    assert Path(where.strip()).is_relative_to(site)
    design = ROOT / "designs" / "gb200-nvl72.yaml"
    # The trace scenario reads its CSV from the installed package's data.
    command = [sys.executable, "-m", "racksim", "run", str(design), "--suite", "quick", "--scenario", "training",
               "--scenario", "trace-replay", "--duration", "60s", "--out", "out", "--jobs", "1"]
    subprocess.run(command, cwd=elsewhere, env=env, check=True, capture_output=True)
    for scenario in ("training", "trace-replay"):
        metrics = json.loads((elsewhere / "out" / "gb200-nvl72" / scenario / "metrics.json").read_text())
        assert metrics["performance"]["work_units"] > 0
