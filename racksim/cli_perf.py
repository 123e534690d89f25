"""`racksim perf train`, `serve` and `validate`: the model's predictions for a design and its validation (lazily).

Importing this module loads typer and racksim.errors only; each command imports the model when it runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from racksim.errors import InputError

if TYPE_CHECKING:
    from racksim.design.schema import Design
    from racksim.perf.predict import ServingPrediction, TrainingPrediction

T = TypeVar("T")
BUNDLED = ", ".join(sorted(p.stem for p in (Path(__file__).parent / "models").glob("*.json")))
"""Bundled model names, read from the package's file names (no import)."""
PROGRESS_AFTER_S = 1.0
"""A search that takes longer than this shows a spinner on stderr."""

perf_app = typer.Typer(no_args_is_help=True, help="Performance model: predicted training steps and serving "
                       "throughput of a model on a design (roofline, layouts, the design's network).")

DesignArg = Annotated[Path, typer.Argument(help="Design file (YAML).", show_default=False)]
ModelOpt = Annotated[str, typer.Option("--model", help=f"Model: a config.json/YAML path or a bundled name "
                                       f"({BUNDLED}).", show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a design field: dotted.path=value.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
Degree = Annotated[int | None, typer.Option(min=1, help="Pin this degree (default: searched).", show_default=False)]


@contextmanager
def _spinner_if_slow(message: str) -> Iterator[None]:
    """Show a stderr spinner only once the block has run for PROGRESS_AFTER_S."""
    from rich.console import Console

    status = Console(stderr=True).status(message)
    timer = threading.Timer(PROGRESS_AFTER_S, status.start)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        status.stop()


def _predict(message: str, run: Callable[[], T]) -> T:
    with _spinner_if_slow(message):
        return run()


def _design(path: Path, overrides: list[str] | None) -> Design:
    from racksim.run.loading import load_design

    return load_design(path, overrides or ()).design


def train(
    design: DesignArg,
    model: ModelOpt,
    gpus: Annotated[int, typer.Option(min=1, help="GPUs of the job; beyond one rack, racks joined by the fabric.")],
    global_batch: Annotated[int, typer.Option(min=1, help="Sequences per step.")],
    seq_len: Annotated[int, typer.Option(min=1, help="Tokens per sequence.")],
    tp: Degree = None, pp: Degree = None, vpp: Degree = None, dp: Degree = None, cp: Degree = None,
    ep: Degree = None, micro_batch: Degree = None,
    recompute: Annotated[Literal["none", "selective", "full"] | None, typer.Option(
        help="Activation recompute (default: the least that fits).", show_default=False)] = None,
    sequence_parallel: Annotated[bool | None, typer.Option(
        "--sequence-parallel/--no-sequence-parallel", help="Megatron sequence parallelism (default: with tp > 1).",
        show_default=False)] = None,
    zero: Annotated[int | None, typer.Option(min=0, max=3, help="ZeRO stage 0-3 (default: 1, or 3 to fit).",
                                             show_default=False)] = None,
    precision: Annotated[Literal["bf16", "fp8", "fp4"], typer.Option(help="Matmul precision.")] = "bf16",
    pp_schedule: Annotated[Literal["1f1b", "dualpipe"], typer.Option(
        help="Pipeline schedule: 1f1b (interleaved with --vpp) or dualpipe (DeepSeek-V3's; not searched).")] = "1f1b",
    as_json: JsonOpt = False,
    set_: SetOpt = None,
) -> None:
    """Predict a training step: step time, MFU, tokens/s per GPU, memory per GPU (layout searched unless pinned)."""
    from racksim.perf.predict import predict_training

    loaded = _design(design, set_)
    prediction = _predict("searching layouts", lambda: predict_training(
        loaded, model, gpus, global_batch, seq_len, precision=precision, tp=tp, pp=pp, vpp=vpp, dp=dp, cp=cp, ep=ep,
        micro_batch=micro_batch, recompute=recompute, sequence_parallel=sequence_parallel, zero=zero,
        pp_schedule=pp_schedule, source=str(design)))
    if as_json:
        print(json.dumps(prediction.to_dict(), indent=2))
        return
    _print_training(prediction)


def serve(
    design: DesignArg,
    model: ModelOpt,
    input_len: Annotated[int, typer.Option(min=1, help="Prompt tokens per request.")],
    output_len: Annotated[int, typer.Option(min=1, help="Output tokens per request.")],
    tp: Degree = None,
    ep: Annotated[int, typer.Option(min=1, help="Expert parallelism of an MoE model: t·ep GPUs per replica, "
                                    "attention data-parallel over ep.")] = 1,
    pp: Annotated[int, typer.Option(min=1, help="Pipeline stages per replica.")] = 1,
    concurrency: Annotated[int | None, typer.Option(
        min=1, help="Clients in the closed loop, simulated iteration by iteration as a benchmark runs it (default: "
        "searched on the analytic curve).", show_default=False)] = None,
    tpot_ms: Annotated[float | None, typer.Option(help="SLO: time per output token at most this, ms.",
                                                  show_default=False)] = None,
    precision: Annotated[Literal["bf16", "fp8", "fp4"] | None, typer.Option(
        help="Weights and matmuls (default: fp8 where the GPU has it, else bf16).", show_default=False)] = None,
    as_json: JsonOpt = False,
    set_: SetOpt = None,
) -> None:
    """Predict serving: TTFT, TPOT and tokens/s per GPU at the best tp and concurrency meeting the SLO."""
    from racksim.perf.predict import predict_serving

    if tpot_ms is not None and not tpot_ms > 0:
        raise InputError("--tpot-ms", str(tpot_ms), "must be a positive number of milliseconds")
    loaded = _design(design, set_)
    prediction = _predict("searching serving layouts", lambda: predict_serving(
        loaded, model, input_len, output_len, precision=precision, tp=tp, concurrency=concurrency,
        max_tpot_s=None if tpot_ms is None else tpot_ms / 1e3, ep=ep, pp=pp, source=str(design)))
    if as_json:
        print(json.dumps(prediction.to_dict(), indent=2))
        return
    _print_serving(prediction)


def _print_training(p: TrainingPrediction) -> None:
    from rich.console import Console
    from rich.table import Table

    from racksim.perf.search import describe, memory_parts

    s = p.step
    view = Table(title=f"{p.design}: {p.model} on {p.gpus} × {p.gpu_name} ({p.racks} rack{'s' * (p.racks > 1)})",
                 show_header=False)
    view.add_column("quantity", no_wrap=True)
    view.add_column("value")
    view.add_row("layout", describe(p.layout) + f" · {p.layout.precision}")
    view.add_row("step time", f"{s.step_time_s:,.3f} s")
    view.add_row("MFU / HFU", f"{s.mfu:.1%} / {s.hfu:.1%}")
    view.add_row("tokens/s per GPU", f"{s.tokens_per_s_per_gpu:,.0f}")
    parts = ", ".join(f"{name} {gb:.1f}" for name, gb in memory_parts(s.memory).items())
    view.add_row("memory per GPU", f"{s.memory.total_gb:.1f} of {p.hbm_gb:.0f} GB ({parts})")
    view.add_row("step breakdown", ", ".join(f"{name.removesuffix('_s').replace('_', ' ')} {value:.3f}"
                                             for name, value in s.breakdown.__dict__.items() if value) + " s")
    view.add_row("searched", f"{p.choice.candidates} layouts, {p.choice.fitting} memory options that fit "
                             f"(ZeRO stage × recompute), {len(p.choice.ranked)} timed on the network model")
    console = Console()
    console.print(view)
    if len(p.choice.ranked) > 1:
        ranked = Table(title="fastest layouts that fit")
        for heading in ("layout", "step (s)", "MFU", "memory (GB)"):
            ranked.add_column(heading, justify="left" if heading == "layout" else "right")
        for layout, step in p.choice.ranked:
            ranked.add_row(describe(layout), f"{step.step_time_s:,.3f}", f"{step.mfu:.1%}",
                           f"{step.memory.total_gb:.1f}")
        console.print(ranked)


def _print_serving(p: ServingPrediction) -> None:
    from rich.console import Console
    from rich.table import Table

    q, r = p.point, p.choice.replica
    slo = "" if p.max_tpot_s is None else f", TPOT ≤ {p.max_tpot_s * 1e3:g} ms"
    view = Table(title=f"{p.design}: {p.model} on {p.gpu_name}, {p.input_len}/{p.output_len} tokens{slo}",
                 show_header=False)
    view.add_column("quantity", no_wrap=True)
    view.add_column("value")
    degrees = f"tp {r.tp}" + (f" · ep {r.ep}" if r.ep > 1 else "") + (f" · pp {r.pp}" if r.pp > 1 else "")
    view.add_row("replica", f"{degrees} · {r.precision} weights · {r.kv_precision} KV cache")
    view.add_row("concurrency", f"{q.concurrency} (batch {q.batch}, KV-cache limit {q.max_batch})")
    view.add_row("model", p.method)
    spread = p.percentiles()
    for name, key, digits in (("TTFT", "ttft", 1), ("TPOT", "tpot", 2)):
        value = f"{getattr(q, f'{key}_s') * 1e3:,.{digits}f} ms"
        if f"{key}_p50_s" in spread:
            value += "".join(f" · {pct} {spread[f'{key}_{pct}_s'] * 1e3:,.{digits}f}" for pct in ("p50", "p99"))
        view.add_row(name + (" (mean)" if spread else ""), value)
    view.add_row("tokens/s per GPU", f"{q.tokens_per_s_per_gpu:,.0f}")
    view.add_row("tokens/s per user", f"{q.tokens_per_s_per_user:,.1f}")
    console = Console()
    console.print(view)
    if len(p.choice.by_tp) > 1:
        per_tp = Table(title="best point per tensor-parallel degree")
        for heading in ("tp", "concurrency", "TTFT (ms)", "TPOT (ms)", "tokens/s per GPU"):
            per_tp.add_column(heading, justify="right")
        for t, point in p.choice.by_tp.items():
            if point is None:
                per_tp.add_row(str(t), "-", "-", "-", "misses the SLO")
                continue
            per_tp.add_row(str(t), str(point.concurrency), f"{point.ttft_s * 1e3:,.1f}", f"{point.tpot_s * 1e3:,.2f}",
                           f"{point.tokens_per_s_per_gpu:,.0f}")
        console.print(per_tp)


def validate(
    as_json: JsonOpt = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown tables (racksim/perf/VALIDATION.md's form).")]
    = False,
    failing: Annotated[bool, typer.Option("--failing", help="Only the cases outside 15 % (summaries over all).")]
    = False,
) -> None:
    """Print the model's validation against published training and serving measurements, with a summary per table.

    A report, not a gate: the exit code is 0 whatever the errors.
    """
    from racksim.report.validation_tables import tables, to_json

    full = _predict("predicting the published cases", tables)
    shown = [table.failing() if failing else table for table in full]
    if as_json:
        print(json.dumps(to_json(shown, {table.name: table for table in full}), indent=2))
        return
    if markdown:
        print("\n\n".join(f"**{table.title}**: {whole.summary()}.\n\n{table.markdown()}"
                           for table, whole in zip(shown, full, strict=True)))
        return
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    for table, whole in zip(shown, full, strict=True):
        view = RichTable(title=f"{table.title}: {whole.summary()}")
        for column in table.columns:
            numeric = column in ("measured", "predicted", "error")
            view.add_column(column, justify="right" if numeric else "left", no_wrap=numeric or column == "role")
        for row in table.rows:  # the settings' details (which ones are assumed) are in --markdown and --json
            cells = row.cells() | {"settings": row.settings.split(" (")[0]}
            cells["error"] = cells["error"] if row.within else f"[red]{cells['error']}[/red]"
            view.add_row(*(cells[column] for column in table.columns))
        console.print(view)


perf_app.command()(train)
perf_app.command()(serve)
perf_app.command()(validate)
