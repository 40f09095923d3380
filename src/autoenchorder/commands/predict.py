"""``autoenchorder predict SONG_OR_DIR... --model BUNDLE``: score songs from their audio."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
from rich.console import Console

from autoenchorder.predict import PredictionFailure, Predictor, SongPrediction, expand_paths
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
@click.argument("songs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "bundles",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Bundle folder (repeat, or give a folder of bundles, for an ensemble).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (every field) instead of a table."
)
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (one row per song) instead of a table."
)
@click.option(
    "--windows",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Windows of the timeline view per long song (0: none). The headline is made from "
    "the input the model was trained on (the whole file, or its window).",
)
@click.option(
    "--mc-passes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="MC dropout passes for the uncertainty of a single bundle (0: off).",
)
@click.option(
    "--no-contributions", is_flag=True, help="Skip the per-frame occlusion contributions (faster)."
)
def command(
    songs: tuple[Path, ...],
    bundles: tuple[Path, ...],
    as_json: bool,
    as_csv: bool,
    windows: int,
    mc_passes: int,
    no_contributions: bool,
) -> None:
    """Predict the popularity (0-100) of songs or folders of songs from their audio.

    Bad files are reported one by one and the others scored; the exit status is 1 if no
    song could be scored.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    err = Console(stderr=True)
    predictor = Predictor.load(
        *bundles, max_windows=windows, mc_passes=mc_passes, contributions=not no_contributions
    )
    failures: list[PredictionFailure] = []
    files = expand_paths(songs, failures)
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
