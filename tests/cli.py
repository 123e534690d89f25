"""Run the `racksim` command line in this process, the way the console script runs it, or in a real subprocess.

`racksim(...)` goes through `racksim.cli.main`, the function the console script's `entry_point` calls and whose
return value it exits with: the one-line `racksim: error: ...` and the exit code come from the same code a user's
shell sees, without paying an interpreter start and the imports for every call. typer's (click's) CliRunner
isolates stdin, stdout and stderr and captures the last two apart; the working directory is the repository root
and sys.argv is what a shell would pass (compare records the command line). `racksim_subprocess(...)` is kept for
the few smoke tests that need a real process: the console script itself, `--debug` tracebacks, signals.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Done:
    """What a finished command left: exit code, stdout and stderr (as subprocess.CompletedProcess names them)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def racksim(*args: str, cwd: Path = ROOT) -> Done:
    """`racksim ARGS` run in this process from `cwd` (the repository root): exit code, stdout, stderr."""
    from racksim.cli import main

    runner = CliRunner()
    with runner.isolation() as (stdout, stderr, _), chdir(cwd), mock.patch.object(sys, "argv", ["racksim", *args]):
        code = main(list(args))
        sys.stdout.flush()
        sys.stderr.flush()
        return Done(list(args), code, stdout.getvalue().decode(), stderr.getvalue().decode())


def racksim_subprocess(*args: str, cwd: Path = ROOT, timeout: float = 300,
                       env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m racksim ARGS` in a new interpreter: the real process, exit path and signal handling included."""
    return subprocess.run([sys.executable, "-m", "racksim", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, check=False, env={**os.environ, **(env or {})})
