"""``autoenchorder demo``: the whole study end to end, offline (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path

import click

from autoenchorder.commands.engine_options import (
    address_option,
    device_option,
    engine_option,
    precision_option,
)
from autoenchorder.data.locations import find_root
from autoenchorder.study import DemoSettings, run_demo
from autoenchorder.study.extras import ALL_STUDIES, check_studies


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
    "--study",
    "studies",
    multiple=True,
    type=click.Choice(ALL_STUDIES),
    help="Run only this study (repeat for several); each is a section of the report. Default: "
    "procedural and musicoset. Extra studies (docs/models.md): full-length (whole songs vs "
    "30 s previews), finetune (musicnn fine-tuned in series), ranking (Autoen-chorder's "
    "objectives), multi-target (Spotify + Billboard + hit on MusicOSet).",
)
@click.option(
    "--songs",
    "n_songs",
    type=click.IntRange(20),
    default=None,
    help="Songs in the procedural corpus (default 4000; 120 with --quick).",
)
@click.option(
    "--alternates",
    is_flag=True,
    help="Also fit the alternatives beyond the two studies on the procedural corpus (transformer "
    "encoder, RNN head, single autoencoder, HMN + embedding, LossNet): ~2-3 more minutes on 2 "
    "cores; re-running with it in the same --out fits only these.",
)
@click.option(
    "--model-seeds",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="MusicOSet, ranking and multi-target studies: fit each model with this many model "
    "seeds (same split) and compare their averaged predictions, so a difference is not one "
    "seed's luck (N times those studies' time).",
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
@engine_option("Where the model fits run (the corpus and its features are made locally)")
@address_option
@device_option("Where the networks train", default="cpu")
@precision_option(default="auto", training=True)
def command(
    out: Path,
    quick: bool,
    studies: tuple[str, ...],
    n_songs: int | None,
    alternates: bool,
    model_seeds: int,
    workers: int,
    seed: int,
    embedder: str,
    musicoset_root: Path | None,
    engine: str,
    address: str | None,
    device: str,
    precision: str,
) -> None:
    """Generate a corpus, extract features, train every model, write the report, score songs."""
    # a --musicoset folder that is not there is an error now, not after the corpus is made
    musicoset_root = find_root("musicoset", musicoset_root)
    if address is not None and engine != "ray":
        raise click.UsageError("--address is for --engine ray")
    if device != "cpu":  # cuda without CUDA fails now, not in every fit
        from autoenchorder.models.training import resolve_device  # noqa: PLC0415

        resolve_device(device)
    options = {
        "workers": workers,
        "seed": seed,
        "embedder": embedder,
        "musicoset_root": musicoset_root,
        "device": device,
        "precision": precision,
        "alternates": alternates,
        "model_seeds": model_seeds,
    }
    if engine == "ray":
        from autoenchorder.engine import EngineSpec  # noqa: PLC0415

        # one torch thread per actor, as in the local pool (the models are small)
        options["engine"] = EngineSpec(
            "ray", workers=workers, address=address, threads_per_worker=1
        )
    if n_songs is not None:
        options["n_songs"] = n_songs
    if studies:
        options["studies"] = check_studies(studies)
    settings = DemoSettings.quick(out, **options) if quick else DemoSettings(out=out, **options)
    run_demo(settings)
