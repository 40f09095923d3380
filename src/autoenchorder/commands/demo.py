"""``autoenchorder demo``: the whole study end to end, offline (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from autoenchorder.data.locations import find_root
from autoenchorder.study import DemoSettings, run_demo


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("runs/demo"),
    show_default=True,
    help="Run directory; the report is OUT/report.html.",
)
@click.option("--quick", is_flag=True, help="A smoke run: small corpus, few epochs (< 3 min).")
@click.option(
    "--songs",
    "n_songs",
    type=click.IntRange(20),
    default=None,
    help="Songs in the procedural corpus (default 4000; 120 with --quick).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--embedder", default="musicnn-msd", show_default=True)
@click.option(
    "--musicoset",
    "musicoset_root",
    type=click.Path(path_type=Path),
    default=None,
    help="MusicOSet folder (default: $AUTOENCHORDER_DATA/musicoset, ./data/musicoset or "
    "../shared/data/musicoset; without it only the procedural study runs).",
)
def command(
    out: Path,
    quick: bool,
    n_songs: int | None,
    workers: int,
    seed: int,
    embedder: str,
    musicoset_root: Path | None,
) -> None:
    """Generate a corpus, extract features, train every model, write the report, score songs."""
    # a --musicoset folder that is not there is an error now, not after the corpus is made
    musicoset_root = find_root("musicoset", musicoset_root)
    options = {
        "workers": workers,
        "seed": seed,
        "embedder": embedder,
        "musicoset_root": musicoset_root,
    }
    if n_songs is not None:
        options["n_songs"] = n_songs
    settings = DemoSettings.quick(out, **options) if quick else DemoSettings(out=out, **options)
    run_demo(settings)
