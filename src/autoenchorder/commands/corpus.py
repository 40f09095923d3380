"""``autoenchorder corpus make``: render a procedural corpus whose popularity is known."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from autoenchorder.data.procedural.generate import (
    AUDIO_FORMATS,
    SAMPLE_RATE,
    CorpusConfig,
    CorpusSummary,
    write_corpus,
)
from autoenchorder.progress import counting_progress


def print_summary(summary: CorpusSummary, seconds: float, console: Console) -> None:
    """Print what was written and the corpus's popularity statistics.

    Parameters
    ----------
    summary : CorpusSummary
        The run.
    seconds : float
        Wall time of the run.
    console : rich.console.Console
        Where to print.
    """
    run = Table(title="corpus make", show_header=True)
    for col in ("songs", "rendered", "skipped (already written)", "failed", "audio min", "wall s"):
        run.add_column(col, justify="right")
    run.add_row(
        str(summary.n_songs),
        str(summary.rendered),
        str(summary.skipped),
        str(len(summary.failures)),
        f"{summary.seconds / 60:.1f}",
        f"{seconds:.1f}",
    )
    console.print(run)
    for song_id, reason in summary.failures[:20]:
        console.print(f"[red]failed[/red] {song_id}: {reason}")
    r = summary.report
    stats = Table(title="popularity (0-100)", show_header=True)
    for col in ("statistic", "value"):
        stats.add_column(col)
    rows = (
        full_length_rows(r)
        if "spotify_oracle_r2" in r
        else [
            ("mean / sd", f"{r['mean']:.1f} / {r['sd']:.1f}"),
            ("oracle R^2 (noise ceiling)", f"{r['oracle_r2']:.3f}"),
            ("R^2 without idiosyncratic artist effect", f"{r['audio_ceiling_r2']:.3f}"),
            ("order-blind R^2 (everything but section order)", f"{r['order_blind_r2']:.3f}"),
            ("R^2 only temporal structure explains", f"{r['temporal_only_r2']:.3f}"),
            ("temporal share of explainable variance", f"{100 * r['temporal_share']:.1f} %"),
        ]
    )
    for name, value in rows:
        stats.add_row(name, value)
    console.print(stats)
    console.print(f"corpus: {summary.out}  (labels.csv, truth.json, audio/)")


def full_length_rows(r: dict) -> list[tuple[str, str]]:
    """The statistics of a full-length corpus: its ceilings, whole song and previews."""
    return [
        ("mean / sd", f"{r['mean']:.1f} / {r['sd']:.1f}"),
        ("oracle R^2, whole song (noise ceiling)", f"{r['oracle_r2']:.3f}"),
        ("oracle R^2, 30 s preview from the first chorus", f"{r['spotify_oracle_r2']:.3f}"),
        ("oracle R^2, 30 s preview from the start", f"{r['start_oracle_r2']:.3f}"),
        (
            "same without the artist effect (whole / chorus / start)",
            f"{r['audio_ceiling_r2']:.3f} / {r['spotify_audio_ceiling_r2']:.3f} / "
            f"{r['start_audio_ceiling_r2']:.3f}",
        ),
        (
            "share of the whole-song ceiling the chorus preview misses",
            f"{100 * r['spotify_missed_share']:.1f} %",
        ),
    ]


@click.group("corpus")
def command() -> None:
    """Procedural music corpora with popularity known by construction."""


@command.command("make")
@click.option("--n", "n", required=True, type=click.IntRange(1), help="Number of songs.")
@click.option("--seed", default=0, show_default=True, type=int, help="Corpus seed.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Processes."
)
@click.option(
    "--min-duration", default=None, type=float, help="Seconds [default: 10; full-length 120]."
)
@click.option(
    "--max-duration", default=None, type=float, help="Seconds [default: 30; full-length 300]."
)
@click.option(
    "--full-length",
    is_flag=True,
    help="Full-length songs (2-5 min, intro / verses / choruses / bridge / outro) whose "
    "popularity depends in part on what a 30 s preview misses.",
)
@click.option(
    "--formats",
    default="wav,flac,ogg,mp3",
    show_default=True,
    help=f"Comma-separated audio formats, cycled by song ({', '.join(AUDIO_FORMATS)}).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def make(
    n: int,
    seed: int,
    out: Path,
    workers: int,
    min_duration: float | None,
    max_duration: float | None,
    full_length: bool,
    formats: str,
    quiet: bool,
) -> None:
    """Render N songs to OUT: audio/, labels.csv (id, popularity, artist) and truth.json.

    The corpus depends only on its settings (not on --workers); re-running the same command
    resumes, skipping songs already written. docs/procedural-corpus.md gives the formula.
    With --full-length, truth.json also states the ceilings (oracle R^2) of the whole song and
    of 30 s previews from the first chorus and from the start.
    """
    config = CorpusConfig(
        n=n,
        seed=seed,
        min_duration=min_duration,
        max_duration=max_duration,
        formats=tuple(f.strip().lower() for f in formats.split(",") if f.strip()),
        sample_rate=SAMPLE_RATE,
        full_length=full_length,
    )
    console = Console()
    progress = counting_progress("rendering", unit="songs", console=console, disable=quiet)
    start = time.perf_counter()
    with progress:
        task = progress.add_task("songs", total=n, note="")

        def advance(_: str) -> None:
            progress.update(task, advance=1)

        summary = write_corpus(config, out, workers=workers, on_song=advance)
    print_summary(summary, time.perf_counter() - start, console)
