"""Plain runs never leave half-written results: `racksim run` and `compare` stage each run directory in a hidden
sibling and rename it into place (racksim.run.results.staged, the sweep's writer too), so a run that fails or is
interrupted midway leaves the previous results of that design and scenario byte-identical, and bad input writes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from racksim.design.suite import load_suite
from racksim.run import plan, results, simulate
from racksim.run.pipeline import RunRequest, run_many
from racksim.run.results import metrics_files, partial_dirs
from tests.cli import racksim
from tests.conftest import ROOT

SMALL = ROOT / "tests" / "data" / "good_designs" / "small-cabling.yaml"
BAD = ROOT / "tests" / "data" / "bad_designs" / "negative_power.yaml"
TRAINING = load_suite("quick").scenario("training")
DURATION_S = 20.0


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below `root` (hidden ones too) by relative path, with its bytes."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def visible(root: Path) -> list[str]:
    """Every file below `root` outside hidden folders, as `ls -R` shows them."""
    return sorted(str(path.relative_to(root)) for path in root.rglob("*")
                  if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts))


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A results directory holding one finished run (seed 1), and its files."""
    out = tmp_path / "out"
    [run_dir] = run_many([RunRequest(SMALL, TRAINING, seed=1, duration_s=DURATION_S)], out, jobs=1)
    assert (run_dir / "metrics.json").is_file()
    return out, snapshot(out)


def fail_while_writing(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """The results writer raises `error` after the time series, before the components and metrics."""
    def components(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(results, "write_components", components)


def fail_while_simulating(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """The simulation raises `error` once it has simulated a few seconds."""
    original = simulate.simulate

    def interrupted(request: RunRequest, loaded: Any = None, progress: Any = None, *args: Any) -> Any:
        def report(simulated_s: float) -> None:
            if simulated_s > 2.0:
                raise error
        return original(request, loaded, report, *args)

    monkeypatch.setattr(simulate, "simulate", interrupted)


@pytest.mark.parametrize("where", [fail_while_writing, fail_while_simulating], ids=["writing", "simulating"])
@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_run_failing_midway_leaves_the_previous_results_byte_identical(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch,
        where: Callable[[pytest.MonkeyPatch, BaseException], None], error: BaseException) -> None:
    out, before = previous
    where(monkeypatch, error)
    with pytest.raises(type(error)):
        run_many([RunRequest(SMALL, TRAINING, seed=2, duration_s=DURATION_S)], out, jobs=1)
    assert snapshot(out) == before  # nothing left beside it either, not even a hidden staging folder


def test_replicas_failing_before_they_finish_leave_the_previous_results(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = previous

    def aggregate(*args: object) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(plan, "aggregate", aggregate)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_many([RunRequest(SMALL, TRAINING, seed=2, duration_s=DURATION_S, replicas=2)], out, jobs=1)
    assert snapshot(out) == before


def test_replicas_replace_the_previous_results_whole(previous: tuple[Path, dict[str, bytes]]) -> None:
    out, before = previous
    request = RunRequest(SMALL, TRAINING, seed=2, duration_s=DURATION_S, replicas=2)
    [run_dir] = run_many([request], out, jobs=1)
    assert request.is_done(out, request.load())
    assert (run_dir / "replicas.json").is_file()
    assert snapshot(out).keys() == before.keys() | {str((run_dir / "replicas.json").relative_to(out))}


def test_a_killed_run_leaves_only_a_hidden_folder_removed_by_the_next_run(
        previous: tuple[Path, dict[str, bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    out, before = previous
    [run_dir] = (path.parent for path in metrics_files(out))
    with monkeypatch.context() as killed:  # a killed process cleans nothing up: the staging folder stays
        killed.setattr(results.shutil, "rmtree", lambda *args, **kwargs: None)
        fail_while_writing(killed, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            run_many([RunRequest(SMALL, TRAINING, seed=2, duration_s=DURATION_S)], out, jobs=1)
    [half] = partial_dirs(run_dir)
    assert half.name.startswith(".")
    assert (half / "timeseries.parquet").is_file()
    assert not (half / "metrics.json").exists()
    assert visible(out) == sorted(before)  # what `ls -R` shows: the previous run only, byte-identical
    assert {name: data for name, data in snapshot(out).items() if name in before} == before
    assert metrics_files(out) == [run_dir / "metrics.json"]
    run_many([RunRequest(SMALL, TRAINING, seed=2, duration_s=DURATION_S)], out, jobs=1)
    assert partial_dirs(run_dir) == []


@pytest.mark.parametrize("arguments", [[str(SMALL), str(BAD), "--scenario", "training"],
                                       [str(SMALL), "--scenario", "no-such-scenario"]], ids=["design", "scenario"])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(previous: tuple[Path, dict[str, bytes]],
                                                         arguments: list[str]) -> None:
    out, before = previous
    done = racksim("run", *arguments, "--suite", "quick", "--duration", "20", "-j", "1", "--out", str(out))
    assert done.returncode == 2
    assert done.stderr.startswith("racksim: error:"), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert snapshot(out) == before
    fresh = out.parent / "fresh"
    assert racksim("run", *arguments, "--suite", "quick", "--out", str(fresh)).returncode == 2
    assert not fresh.exists()
