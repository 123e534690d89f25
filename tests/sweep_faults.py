"""A sweep run that fails on purpose on a dask worker (tests/test_sweep_recovery.py); imported by the workers,
so it imports little."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from racksim.run.loading import LoadedDesign
from racksim.run.request import RunRequest
from racksim.sweep import execute as sweep_execute


def failing_run_output(request: RunRequest, loaded: LoadedDesign, *, dies: str, raises: str, log: str) -> Any:
    """On a worker: the `dies` point's run kills its worker process the first time, the `raises` point's run
    raises every time; each such attempt is a line in `log`."""
    if dies in request.overrides or raises in request.overrides:
        with Path(log).open("a") as attempts:
            attempts.write(f"{request.overrides[-1]}\n")
        if raises in request.overrides:
            raise RuntimeError("disk on fire")
        if Path(log).read_text().count(dies) == 1:
            os._exit(1)
    return sweep_execute.run_output(request, loaded)
