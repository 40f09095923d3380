"""``autoenchorder predict SONG_OR_DIR... --model BUNDLE``: score songs from their audio.

Without ``--out`` the songs are scored here and printed (a table, ``--json`` or ``--csv``).
With ``--out scores.parquet`` a catalog is scored on an engine (``--engine local|ray``) into a
Parquet file, streaming and resumable (:mod:`autoenchorder.predict.catalog`).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from autoenchorder.commands.engine_options import (
    address_option,
    device_option,
    engine_option,
    gpus_per_worker_option,
)
from autoenchorder.commands.scoring_options import scoring_options
from autoenchorder.predict import PredictionFailure, SongPrediction, expand_paths
from autoenchorder.predict.catalog import load_predictor, read_song_list
from autoenchorder.progress import counting_progress
from autoenchorder.terminal import results_table

#: Columns of ``--csv`` (a failed file has only ``path`` and ``error``).
CSV_FIELDS: tuple[str, ...] = (
    "path",
    "popularity",
    "band",
    "uncertainty",
    "uncertainty_method",
    "duration",
    "input",
    "n_windows",
    "window_sd",
    "error",
)


def write_csv(predictions: list[SongPrediction], failures: list[PredictionFailure]) -> None:
    """Write one CSV row per song (failures with their error) to stdout."""
    rows = [p.summary() for p in predictions] + [
        {"path": f.path, "error": f.reason} for f in failures
    ]
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


@click.command(name="predict")
@click.argument("songs", nargs=-1, type=str)
@click.option(
    "--model",
    "bundles",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Bundle folder (repeat, or give a folder of bundles, for an ensemble).",
)
@click.option(
    "--songs-from",
    "song_lists",
    multiple=True,
    type=str,
    help="A file listing songs, one path a line (blank lines and # comments skipped); "
    "repeatable, and combined with SONGS.",
)
@click.option(
    "--out",
    type=str,
    default=None,
    help="Score a catalog into this Parquet file (one row per song, failures with their "
    "error), written in parts as songs finish; running again resumes.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (every field) instead of a table."
)
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (one row per song) instead of a table."
)
@scoring_options
@click.option(
    "--no-contributions", is_flag=True, help="Skip the per-frame occlusion contributions (faster)."
)
@device_option(
    "Where the networks and the embedder run [default: cuda with --gpus-per-worker, else cpu]"
)
@engine_option("With --out: where the songs are scored")
@address_option
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="With --out: workers, each loading the model once (0: one per core, or per CPU of "
    "the Ray cluster).",
)
@gpus_per_worker_option
@click.option(
    "--retry-failed",
    is_flag=True,
    help="With --out: score again the songs whose earlier row is a failure.",
)
def command(
    songs: tuple[str, ...],
    bundles: tuple[Path, ...],
    song_lists: tuple[str, ...],
    out: str | None,
    as_json: bool,
    as_csv: bool,
    windows: int,
    mc_passes: int,
    no_contributions: bool,
    device: str | None,
    engine: str,
    address: str | None,
    workers: int,
    gpus_per_worker: float,
    retry_failed: bool,
) -> None:
    """Predict the popularity (0-100) of songs or folders of songs from their audio.

    Bad files are reported one by one and the others scored; the exit status is 1 if no
    song could be scored.
    """
    if not songs and not song_lists:
        raise click.UsageError("give songs (files or folders) or --songs-from FILE")
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    device = device or ("cuda" if gpus_per_worker > 0 else "cpu")
    options = {
        "max_windows": windows,
        "mc_passes": mc_passes,
        "contributions": not no_contributions,
    }
    if out is not None:
        if as_json or as_csv:
            raise click.UsageError("--out writes Parquet; --json and --csv print (choose one)")
        _score_catalog(
            songs,
            song_lists,
            bundles=[str(b) for b in bundles],
            out=out,
            device=device,
            engine=(engine, address, workers, gpus_per_worker),
            retry_failed=retry_failed,
            options=options,
        )
        return
    given = {"--engine": engine != "local", "--address": address is not None}
    given |= {"--workers": workers != 1, "--gpus-per-worker": gpus_per_worker > 0}
    given |= {"--retry-failed": retry_failed}
    if any(given.values()):
        raise click.UsageError(
            f"{', '.join(k for k, v in given.items() if v)}: only with --out (a catalog run)"
        )
    _print_predictions(songs, song_lists, bundles, device, options, as_json, as_csv)


def _print_predictions(
    songs: tuple[str, ...],
    song_lists: tuple[str, ...],
    bundles: tuple[Path, ...],
    device: str,
    options: dict[str, Any],
    as_json: bool,
    as_csv: bool,
) -> None:
    """Score the songs here, one after the other, and print them (a table, JSON or CSV)."""
    err = Console(stderr=True)
    predictor = load_predictor([str(b) for b in bundles], device=device, **options)
    failures: list[PredictionFailure] = []
    files: list[str | Path] = [*expand_paths(songs, failures)]
    files += [song for song_list in song_lists for song in read_song_list(song_list)]
    predictions: list[SongPrediction] = []
    progress = counting_progress(
        "scoring", unit="songs", console=err, transient=True, disable=len(files) < 2
    )
    with progress as bar:
        task = bar.add_task("scoring", total=len(files), note="")
        for path in files:
            scored, failed = predictor.predict_many([path])
            predictions += scored
            failures += failed
            bar.update(task, advance=1, note=f"[red]{len(failures)} failed" if failures else "")
    if as_json:
        json.dump(
            {
                "predictions": [p.to_dict() for p in predictions],
                "failures": [f.to_dict() for f in failures],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    elif as_csv:
        write_csv(predictions, failures)
    else:
        out = Console()
        if predictions:
            out.print(results_table(predictions))
            out.print(
                f"[dim]input: {predictions[0].input}; uncertainty: "
                f"{predictions[0].uncertainty_method}; bands: low < 25, mid 25-64, high >= 65"
                "[/dim]"
            )
    for failure in failures:
        err.print(f"[yellow]skipped[/yellow] {failure.path}: {failure.reason}")
    if not predictions:
        raise click.exceptions.Exit(1)


def _score_catalog(
    songs: tuple[str, ...],
    song_lists: tuple[str, ...],
    *,
    bundles: list[str],
    out: str,
    device: str,
    engine: tuple[str, str | None, int, float],
    retry_failed: bool,
    options: dict[str, Any],
) -> None:
    """Score a catalog into ``out`` on an engine; print what was done and what OUT holds."""
    from autoenchorder.engine import EngineSpec  # noqa: PLC0415
    from autoenchorder.predict.catalog import score_catalog  # noqa: PLC0415

    name, address, workers, gpus = engine
    err = Console(stderr=True)
    summary = score_catalog(
        songs,
        bundles=bundles,
        out=out,
        song_lists=song_lists,
        engine=EngineSpec(name=name, workers=workers, address=address, gpus_per_worker=gpus),
        device=device,
        retry_failed=retry_failed,
        console=err,
        **options,
    )
    for path, reason in summary.failures:
        err.print(f"[yellow]failed[/yellow] {path}: {reason}", soft_wrap=True)
    if summary.failed > len(summary.failures):
        err.print(f"[yellow]... and {summary.failed - len(summary.failures)} more failed[/yellow]")
    err.print(
        f"scored {summary.scored}, failed {summary.failed}, already done {summary.skipped}; "
        f"{summary.out}: {summary.rows} songs, {summary.rows_failed} failed "
        "(their reason in the error column)",
        soft_wrap=True,
    )
    if summary.rows == summary.rows_failed:
        raise click.exceptions.Exit(1)
