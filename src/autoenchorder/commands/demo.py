"""``autoenchorder demo``: the whole study end to end, offline (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from autoenchorder.study import DemoSettings, run_demo

_DEFAULT_MUSICOSET = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "musicoset"


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
    default=_DEFAULT_MUSICOSET,
    show_default=True,
    help="MusicOSet folder.",
)
def command(
    out: Path,
    quick: bool,
    n_songs: int | None,
    workers: int,
    seed: int,
    embedder: str,
    musicoset_root: Path,
) -> None:
    """Generate a corpus, extract features, train every model, write the report, score songs."""
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
