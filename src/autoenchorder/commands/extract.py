"""``autoenchorder extract AUDIO_DIR --out STORE``: a folder of songs -> a feature store."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autoenchorder import storage
from autoenchorder.audio.processor import InputSpec
from autoenchorder.commands.engine_options import (
    address_option,
    device_option,
    engine_option,
    gpus_per_worker_option,
    precision_option,
)
from autoenchorder.data.extract import ExtractSummary, extract_corpus
from autoenchorder.engine import EngineSpec


def print_summary(
    summary: ExtractSummary, store: Path, console: Console, *, max_failures: int = 20
) -> None:
    """Print a run's done / skipped / failed counts and its failures (file and reason).

    Parameters
    ----------
    summary : ExtractSummary
        The run.
    store : Path
        The store folder, for the closing line.
    console : rich.console.Console
        Where to print.
    max_failures : int
        List at most this many failures.
    """
    table = Table(title="extract", show_header=True)
    for col in ("found", "done", "skipped (already stored)", "failed", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(
        str(summary.total),
        str(summary.done),
        str(summary.skipped),
        str(summary.failed),
        f"{summary.seconds:.1f}",
    )
    console.print(table)
    if summary.failures:
        failures = Table(title="failures (recorded in the store)", show_header=True)
        for col in ("file", "stage", "reason"):
            failures.add_column(col)
        for path, stage, reason in summary.failures[:max_failures]:
            failures.add_row(path, stage, reason)
        console.print(failures)
        if len(summary.failures) > max_failures:
            console.print(f"... and {len(summary.failures) - max_failures} more")
    console.print(f"store: {store}")


def _embedder_options(device: str | None, precision: str) -> dict[str, str]:
    """The embedder options of the command line (float32, the default, left out)."""
    options = {"device": device} if device else {}
    if precision != "float32":
        options["precision"] = precision
    return options


def _location(value: str, *, exists: bool = False) -> Path | str:
    """A local path as a Path (checked to exist if asked), a URI (s3://...) as it is."""
    location = storage.as_location(value)
    if exists and isinstance(location, Path) and not location.exists():
        raise click.BadParameter(f"Path '{value}' does not exist.")
    return location


@click.command("extract")
@click.argument("audio_dir", callback=lambda ctx, param, value: _location(value, exists=True))
@click.option(
    "--out",
    "store",
    required=True,
    callback=lambda ctx, param, value: _location(value),
    help="Feature store folder or URI, e.g. s3://bucket/store (created, or resumed).",
)
@engine_option("Where the per-file work runs (this process writes the store)", name="engine_name")
@address_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(0, 4096),
    help="Worker processes (local; 1 = in this process) or Ray actors; 0 = one per core "
    "(local) or per --cpus-per-worker CPUs of the cluster (Ray).",
)
@click.option(
    "--cpus-per-worker",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Ray only: CPUs each actor reserves (and its torch / BLAS threads).",
)
@gpus_per_worker_option
@device_option("Where the embedder's network runs [default: cpu]")
@precision_option()
@click.option(
    "--embedder",
    default=None,
    help="Also store this embedder's sequences (e.g. musicnn-msd, vggish).",
)
@click.option(
    "--compat",
    type=click.Choice(["spotgentrack", "fixed"]),
    default="spotgentrack",
    show_default=True,
    help="Low-level feature mode (see docs/lowlevel-features.md).",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Compute the features of a window of this length (default: the whole file), e.g. "
    "30 for features like SpotGenTrack's 30 s previews. Models trained on the store are scored "
    "on the same window by `predict`.",
)
@click.option(
    "--offset",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Start of the --window in each file (default 0); a window past a file's end is "
    "moved back to end there, a file shorter than it is used whole.",
)
@click.option("--retry-failed", is_flag=True, help="Retry files that failed in an earlier run.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def command(
    audio_dir: Path | str,
    store: Path | str,
    engine_name: str,
    address: str | None,
    workers: int,
    cpus_per_worker: float,
    gpus_per_worker: float,
    device: str | None,
    precision: str,
    embedder: str | None,
    compat: str,
    window: float | None,
    offset: float | None,
    retry_failed: bool,
    quiet: bool,
) -> None:
    """Extract the 207 low-level features (and embeddings) of every song below AUDIO_DIR.

    Re-running the same command resumes: tracks already stored are skipped, and a run that
    was interrupted (even by kill -9) loses at most its last unwritten shard. With
    --engine ray the songs must be readable at the same path (or URI) on every node.
    """
    if offset is not None and window is None:
        raise click.UsageError("--offset needs --window")
    if engine_name == "local" and (address or gpus_per_worker):
        raise click.UsageError("--address and --gpus-per-worker need --engine ray")
    if device is not None and embedder is None:
        raise click.UsageError("--device is the embedder's: it needs --embedder")
    if precision != "float32" and embedder is None:
        raise click.UsageError("--precision is the embedder's: it needs --embedder")
    engine = EngineSpec(
        engine_name,
        workers=workers,
        address=address,
        cpus_per_worker=cpus_per_worker,
        gpus_per_worker=gpus_per_worker,
    )
    input_spec = InputSpec() if window is None else InputSpec(window, offset or 0.0)
    summary = extract_corpus(
        audio_dir,
        store,
        engine=engine,
        embedder=embedder,
        embedder_options=_embedder_options(device, precision),
        compat=compat,
        input_spec=input_spec,
        retry_failed=retry_failed,
        progress=not quiet,
    )
    console = Console()
    print_summary(summary, store, console)
    console.print(f"features computed from: {input_spec.describe()} (recorded in the store)")
