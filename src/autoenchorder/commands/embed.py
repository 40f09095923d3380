"""``autoenchorder embed FILE``: one file's embedding sequence, printed or saved (npz/csv)."""

from __future__ import annotations

import csv
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from autoenchorder.commands.engine_options import precision_option


def column_names(embedder: object, dim: int) -> list[str]:
    """Tag names for a taggram, ``d0 .. d{dim-1}`` otherwise."""
    tags = getattr(embedder, "tags", None)
    if getattr(embedder, "layer", None) == "taggram" and tags is not None and len(tags) == dim:
        return list(tags)
    return [f"d{i}" for i in range(dim)]


def save_sequence(
    out: Path, frames: np.ndarray, times: np.ndarray, columns: list[str], meta: dict[str, str]
) -> None:
    """Write a sequence as ``.npz`` (frames, times, columns, metadata) or ``.csv`` (time, ...).

    Parameters
    ----------
    out : Path
        Destination ending in ``.npz`` or ``.csv``.
    frames : np.ndarray, float32, shape (T, D)
    times : np.ndarray, float64, shape (T,)
        Window start times, seconds.
    columns : list of str
        ``D`` column names.
    meta : dict of str to str
        Stored in the npz (embedder name, version, layer, source file).
    """
    suffix = out.suffix.lower()
    if suffix == ".npz":
        np.savez(
            out,
            frames=frames,
            times=times,
            columns=np.asarray(columns),
            **{k: np.asarray(v) for k, v in meta.items()},
        )
    elif suffix == ".csv":
        with open(out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["time", *columns])
            for t, row in zip(times, frames, strict=True):
                writer.writerow([f"{t:.6f}", *(f"{v:.7g}" for v in row)])
    else:
        raise click.BadParameter(f"--out must end in .npz or .csv, got {out.name}")


@click.command(name="embed")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--embedder",
    "name",
    default="musicnn-msd",
    show_default=True,
    help="Registered embedder name: musicnn-msd, musicnn-mtt, vggish ...",
)
@click.option(
    "--layer",
    default=None,
    help="Output layer (musicnn: penultimate, max_pool, mean_pool, taggram).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Save the sequence with timestamps to X.npz or X.csv.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Embed a window of this length (default: the whole file), as `extract --window`.",
)
@click.option(
    "--offset",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Start of the --window (default 0).",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:1 ...")
@click.option("--batch-size", type=int, default=None, help="Windows per forward pass.")
@precision_option()
def command(
    file: Path,
    name: str,
    layer: str | None,
    out: Path | None,
    window: float | None,
    offset: float | None,
    device: str,
    batch_size: int | None,
    precision: str,
) -> None:
    """Embed one audio FILE and print a summary or save the sequence (npz/csv).

    The frames are those `extract --embedder` stores for the same file and window (times in
    seconds from the start of the window).
    """
    from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415 (torch import)
    from autoenchorder.audio.processor import AudioProcessor, InputSpec  # noqa: PLC0415

    if offset is not None and window is None:
        raise click.UsageError("--offset needs --window")
    if out is not None and out.suffix.lower() not in {".npz", ".csv"}:
        raise click.BadParameter(f"--out must end in .npz or .csv, got {out.name}")
    options: dict[str, object] = {"device": device}
    if layer is not None:
        options["layer"] = layer
    if batch_size is not None:
        options["batch_size"] = batch_size
    if precision != "float32":
        options["precision"] = precision
    console = Console()
    with console.status(f"loading {name} ..."):
        embedder = get_embedder(name, **options)
    spec = InputSpec() if window is None else InputSpec(window, offset or 0.0)
    with console.status(f"embedding {file} ({spec.describe()}) ..."):
        embedding = AudioProcessor(spec, embedder=embedder).embed_path(file)
    frames, times = embedding.frames, embedding.times
    columns = column_names(embedder, frames.shape[1])
    console.print(
        f"[bold]{file}[/bold]: {embedder.name} ({getattr(embedder, 'layer', 'default')}), "
        f"{frames.shape[0]} windows x {frames.shape[1]} dims, "
        f"window {embedder.window_seconds:.3f} s, hop {embedder.hop_seconds:.3f} s"
    )
    if out is not None:
        meta = {
            "embedder": embedder.name,
            "version": str(getattr(embedder, "version", "")),
            "layer": str(getattr(embedder, "layer", "")),
            "precision": str(getattr(embedder, "precision", "float32")),
            "source": str(file),
        }
        save_sequence(out, frames, times, columns, meta)
        console.print(f"saved to {out}")
        return
    table = Table(title="first windows (first 6 columns)")
    table.add_column("time s", justify="right")
    shown = columns[:6]
    for c in shown:
        table.add_column(c, justify="right")
    for t, row in zip(times[:8], frames[:8], strict=False):
        table.add_row(f"{t:.2f}", *(f"{v:.4f}" for v in row[: len(shown)]))
    console.print(table)
    if columns[0] != "d0" and frames.shape[0]:
        mean = frames.mean(axis=0)
        top = np.argsort(mean)[::-1][:5]
        console.print("top tags: " + ", ".join(f"{columns[i]} {mean[i]:.2f}" for i in top))
