"""``emobench profile`` and ``emobench annotate``: plain functions with typer
parameters, mounted by emobench.cli as ``app.command("profile")(profile_command)``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Optional

import typer

BACKEND_CHOICES = ("auto", "eager", "channels_last", "jit", "compile", "onnx", "bf16")


def _fail(message: str) -> None:
    from emobench.cli.common import EXIT_USAGE, echo_error

    echo_error(message)
    raise typer.Exit(EXIT_USAGE)


@contextlib.contextmanager
def _user_errors():
    """Name and option mistakes: one line and exit 2 (also when these commands are
    mounted on an app without emobench.cli's wrapper)."""
    from emobench.cli.common import CliError

    try:
        yield
    except CliError as exc:
        _fail(str(exc))


def _echo_table(rows: list[tuple[str, str]]) -> None:
    from tabulate import tabulate

    typer.echo(tabulate(rows, tablefmt="plain"))


def profile_command(
    models: list[str] = typer.Argument(..., help="Registered model names (see `emobench list`)."),
    batch: int = typer.Option(8, "--batch", "-b", min=1, help="Batch size for the throughput figure."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, help="torch threads (default: torch's)."),
    backend: str = typer.Option("auto", "--backend", help="auto | eager | channels_last | jit | compile | onnx | bf16."),
    iters: Optional[int] = typer.Option(None, "--iters", min=3, help="Timed calls (default: >=30 calls and >=1 s)."),
    store_url: Optional[str] = typer.Option(None, "--store", help="Results store URL to record the profile in."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the profile."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Latency (p50/p95/p99), FPS at batch 1 and N, FLOPs and roofline fraction of models."""
    from emobench.cli.common import check_name
    from emobench.plugins import registry  # quiet: plugin failures are list's and check's to report

    with _user_errors():
        check_name("backend", backend, BACKEND_CHOICES)
        reg = registry()
        for name in models:
            check_name("model", name, reg.models)
    from emobench.profiling import profile_model

    store = None
    if not no_store:
        from emobench.store import Store

        store = Store(store_url)
    results = []
    for name in models:
        try:
            fig = profile_model(name, batch=batch, threads=threads, backend=backend, iters=iters, store=store)
        except KeyError as exc:
            _fail(str(exc.args[0] if exc.args else exc))
        results.append(fig)
        if not as_json:
            typer.echo(f"{fig['model']}  [{fig['input']}]  backend={fig['backend']}  threads={fig['threads']}")
            _echo_table([
                ("latency p50 / p95 / p99", f"{fig['p50_ms']:.3f} / {fig['p95_ms']:.3f} / {fig['p99_ms']:.3f} ms"),
                ("FPS batch 1 / batch %d" % fig["batch"], f"{fig['fps_batch1']:.1f} / {fig['fps_batchN']:.1f}"),
                ("source video FPS", f"{fig['source_fps']:.1f}"),
                ("params", f"{fig['params']:,}"),
                ("GFLOP per item", f"{fig['gflops_per_item']:.4f}"),
                ("achieved GFLOP/s (batch N)", f"{fig['achieved_gflops']:.1f}"),
                ("fraction of matmul roofline", f"{100 * fig['roofline_fraction']:.1f} % "
                                                f"of {fig['roofline_gflops']:.0f} GFLOP/s"),
                ("peak memory growth", f"{fig['peak_mem_mb']:.1f} MB"),
            ])
            auto = fig.get("auto") or {}
            race = auto.get("batch1_p50_ms") or {}
            if race or auto.get("rejected"):
                typer.echo("backends (auto race, batch-1 p50):")
                rows = [(f"  {k}", f"{v:.3f} ms" + (f"  x{auto['x_eager'][k]:.2f} eager" if k in auto.get("x_eager", {})
                                                    else "") + ("  (not chosen: reduced precision)"
                                                                if k in auto.get("not_chosen", {}) else ""))
                        for k, v in race.items()]
                rows += [(f"  {k}", f"unavailable: {why[:160]}") for k, why in auto.get("rejected", {}).items()]
                _echo_table(rows)
    if as_json:
        typer.echo(json.dumps(results if len(results) > 1 else results[0], indent=1, default=str))


def annotate_command(
    video: Optional[Path] = typer.Argument(None, help="Video file to annotate (or use --camera)."),
    model: str = typer.Option(..., "--model", "-m", help="Model name, e.g. mini-xception-fer."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the records as JSON to this file."),
    every_second: bool = typer.Option(False, "--every-second", help="Keep only the per-second records."),
    jsonl: Optional[Path] = typer.Option(None, "--jsonl", help="Also write one JSON record per line (VTT format: "
                                         "per frame, or per second with --every-second)."),
    camera: Optional[int] = typer.Option(None, "--camera", help="Read from this camera index instead of a file."),
    weights: Optional[Path] = typer.Option(None, "--weights", help="State dict saved by the harness (torch.save)."),
    task: Optional[str] = typer.Option(None, "--task", help="'dataset:task' whose classes the model predicts."),
    au_extractor: Optional[str] = typer.Option(None, "--au-extractor", help="openface-csv | sidecar | a plugin's."),
    au_source: Optional[Path] = typer.Option(None, "--au-source", help="OpenFace CSV or stand-in AU sidecar (.npz)."),
    detect_every: int = typer.Option(5, "--detect-every", min=1, help="Run the face detector every N frames."),
    max_frames: Optional[int] = typer.Option(None, "--max-frames", min=1, help="Stop after N frames."),
    threads: Optional[int] = typer.Option(None, "--threads", "-t", min=1, help="torch threads."),
    backend: str = typer.Option("auto", "--backend", help="Streamer backend for models that support it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No live FPS line."),
) -> None:
    """Annotate a video (or camera) with a model: per-frame and per-second emotion records."""
    from emobench.realtime.annotate import STAGES, AnnotateError, annotate_video
    from emobench.media import MediaError

    from emobench.cli.common import CliError, check_name
    from emobench.plugins import registry

    with _user_errors():
        if (video is None) == (camera is None):
            raise CliError("give either VIDEO or --camera INDEX")
        reg = registry()
        check_name("model", model, reg.models)
        if task is not None and ":" in task:
            ds_name, task_name = task.split(":", 1)
            check_name("dataset", ds_name, reg.datasets)
            check_name("task", task_name, [t.name for t in reg.datasets[ds_name].tasks])
        elif task is not None:
            raise CliError(f"--task takes DATASET:TASK, got {task!r}")

    def live(state: dict) -> None:
        cur = state.get("current") or {}
        what = cur.get("class", cur.get("value", "-"))
        typer.echo(f"\rframe {state['frame']:6d}  {state['fps']:6.1f} FPS  {what}", nl=False, err=True)

    try:
        result = annotate_video(camera if camera is not None else video, model, task=task, weights=weights,
                                out=out, jsonl=jsonl, every_second=every_second, detect_every=detect_every,
                                au_extractor=au_extractor, au_source=au_source, max_frames=max_frames,
                                threads=threads, backend=backend, progress=None if quiet else live)
    except (AnnotateError, MediaError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    except KeyError as exc:
        _fail(str(exc.args[0] if exc.args else exc))
    if not quiet:
        typer.echo("", err=True)
    s, t = result["summary"], result["timing"]
    status = result["status"] + (" (random weights: the labels mean nothing, the speed does)"
                                 if result["status"] == "untrained" else "")
    typer.echo(f"{result['source']}: {s['frames']} frames, face in {s['face_frames']}, "
               f"{s['predictions']} predictions; model {result['model']} ({status})"
               + (f"; backend {result['backend']}" if result["backend"] else "")
               + (f"; AU extractor {result['au_extractor']}" if result["au_extractor"] else ""))
    if s.get("note"):
        typer.echo(s["note"])
    elif result["task_kind"] == "classification":
        typer.echo(f"majority class: {s['majority_class']}  per second: {s['class_counts']}")
    else:
        typer.echo(f"mean {result['task']}: {s['mean_value']}")
    rows = [(stage, f"{t[stage + '_ms']:.2f} ms", f"{100 * t[stage + '_share']:.1f} %")
            for stage in STAGES if t[stage + "_ms"] > 0 or stage != "extract"]
    rows.append(("total", f"{t['total_ms']:.2f} ms", f"{t['fps']:.1f} FPS end to end"))
    _echo_table(rows)
    for path in (out, jsonl):
        if path is not None:
            typer.echo(f"wrote {path}")
