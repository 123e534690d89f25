"""Run many simulations (pending runs), in worker processes when there are several cores, under one progress bar.

Each worker simulates a whole run and writes its directory itself; progress (simulated seconds) comes back
through a queue the workers inherit. A run's results depend only on its inputs, so they are the same
whichever process runs it and in whichever order.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn

from racksim.run.loading import LoadedDesign
from racksim.run.request import RunRequest
from racksim.run.simulate import run_one
from racksim.workload import Schedule

POLL_S = 0.1
"""How often the parent drains progress messages and checks for finished runs."""
REPORT_EVERY_S = 0.2
"""A worker sends at most this often (wall time) how far its run has got."""


@dataclass(frozen=True)
class PendingRun:
    """One simulation to do (or, if `done`, one whose unchanged results are already there)."""

    request: RunRequest
    loaded: LoadedDesign
    out_root: Path
    done: bool = False
    schedule: Schedule | None = None
    """The workload compiled for the design (racksim.run.plan compiles it once, up front)."""
    note: str = ""
    """What sets this run apart from the one the user asked for (another seed, another supply temperature)."""

    @property
    def label(self) -> str:
        """'scenario · design' for the progress bar, with the note if any."""
        label = f"{self.request.scenario.name} · {self.loaded.design.name}"
        return f"{label} ({self.note})" if self.note else label


def default_jobs() -> int:
    """Worker processes by default: the CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_progress_queue: Any = None
"""The parent's progress queue, in a worker process."""


def _init_worker(progress_queue: Any) -> None:  # noqa: ANN401 - a multiprocessing queue
    global _progress_queue  # the one way to hand a worker an inherited queue
    _progress_queue = progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent decides


def _throttled(send: Callable[[float], None]) -> Callable[[float], None]:
    """`send` called at most every REPORT_EVERY_S of wall time."""
    last = [-float("inf")]

    def report(simulated_s: float) -> None:
        now = time.monotonic()
        if now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            send(simulated_s)

    return report


def _run_in_worker(index: int, run: PendingRun) -> Path:
    """Worker side: simulate and write one run, sending (index, simulated seconds) to the parent as it goes."""
    return run_one(run.request, run.out_root, run.loaded,
                   progress=_throttled(lambda simulated_s: _progress_queue.put((index, simulated_s))),
                   schedule=run.schedule)


def _progress_bar(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.completed:,.0f}/{task.total:,.0f} s simulated"), TimeRemainingColumn())
    return Progress(*columns, console=console, transient=False)


def execute(runs: Sequence[PendingRun], *, jobs: int | None = None, console: Console) -> None:
    """Run every simulation not already done, `jobs` at a time (default: one per core), with a progress bar."""
    workers = max(1, jobs if jobs is not None else default_jobs())
    pending = [index for index, run in enumerate(runs) if not run.done]
    with _progress_bar(console) as bar:
        tasks = []
        for run in runs:
            duration_s = run.request.run_duration_s
            label = f"{run.label} (unchanged, kept)" if run.done else run.label
            tasks.append(bar.add_task(label, total=duration_s))
            if run.done:
                bar.update(tasks[-1], completed=duration_s)
        if workers == 1 or len(pending) <= 1:
            for index in pending:
                run = runs[index]
                run_one(run.request, run.out_root, run.loaded, progress=partial(_advance, bar, tasks[index]),
                        schedule=run.schedule)
                bar.update(tasks[index], completed=run.request.run_duration_s)
            return
        _run_in_pool(runs, pending, min(workers, len(pending)), bar, tasks)


def _advance(bar: Progress, task: TaskID, simulated_s: float) -> None:
    bar.update(task, completed=simulated_s)


def _run_in_pool(runs: Sequence[PendingRun], pending: Sequence[int], workers: int, bar: Progress,
                 tasks: Sequence[TaskID]) -> None:
    """Run the pending simulations in `workers` processes; the first failure cancels what has not started."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["racksim.run.pool"])
    progress_queue = context.Queue()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(progress_queue,)) as pool:
        running: dict[Future[Path], int] = {pool.submit(_run_in_worker, i, runs[i]): i for i in pending}
        try:
            while running:
                finished, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                _drain(progress_queue, bar, tasks, set(running.values()))
                for future in finished:
                    index = running.pop(future)
                    future.result()
                    bar.update(tasks[index], completed=runs[index].request.run_duration_s)
        except BaseException:  # a failed run, Ctrl-C or SIGTERM: stop now; runs in flight are rerun next time
            workers_running = list((pool._processes or {}).values())  # shutdown() forgets them
            pool.shutdown(wait=False, cancel_futures=True)
            for process in workers_running:
                process.terminate()
            raise


def _drain(progress_queue: Any, bar: Progress, tasks: Sequence[TaskID],  # noqa: ANN401 - mp queue
           running: set[int]) -> None:
    """Apply the progress messages waiting in the queue (late ones of finished runs are dropped)."""
    while True:
        try:
            index, simulated_s = progress_queue.get_nowait()
        except queue.Empty:
            return
        if index in running:
            bar.update(tasks[index], completed=simulated_s)
