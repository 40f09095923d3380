"""A ranking objective against the regression losses: MSE, weighted, ranking, mixed.

HitMusicNet (default setting) on MusicOSet's tabular features (no audio needed; read with
``load_musicoset`` from where ``autoenchorder data where`` finds it), artist-grouped holdout
85/15 (seed 0), the same split and the same seeds for every objective. Per objective it prints
Spearman and R^2 on the test songs, the Spearman difference to MSE, and the song-by-song win
rate against MSE (share of test songs whose absolute error is smaller than the MSE model's,
as :func:`autoenchorder.evaluate.compare.win_rate` counts it), with 95 % percentile
intervals from one set of shared bootstrap resamples of the test songs
(:func:`autoenchorder.evaluate.bootstrap.paired_bootstrap`). With several seeds each figure
is the mean over the seeds, and its interval is that of the seed mean over the song
resamples (the replicates of the seeds are averaged before the percentiles are taken); the
win rate is per song the share of seeds in which the objective beats MSE with the same seed.

Usage: ``python benchmarks/ranking.py [--seeds 3] [--objectives mse,weighted,ranking,mixed]
[--ranking-weight 0.1] [--heads 1] [--threads 1] [--train-rows N]``. One regressor head per
fit by default (``--heads 3`` is the model's default ensemble, three times the regressor's
cost).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from autoenchorder.data.locations import find_root
from autoenchorder.data.splits import holdout_split
from autoenchorder.evaluate.bootstrap import (
    bootstrap_replicates,
    confidence_interval,
    paired_bootstrap,
)
from autoenchorder.models import make_model
from machine import print_machine

OBJECTIVES = ("mse", "weighted", "ranking", "mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--objectives", default=",".join(OBJECTIVES))
    parser.add_argument("--ranking-weight", type=float, default=0.1)
    parser.add_argument("--heads", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument(
        "--train-rows", type=int, default=0, help="a seeded sample of the training songs (0: all)"
    )
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(args.threads)
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    if objectives[0] != "mse":
        objectives = ["mse", *[o for o in objectives if o != "mse"]]  # the reference

    root = find_root("musicoset")
    if root is None:
        raise SystemExit("MusicOSet not found (see `autoenchorder data where`)")
    from autoenchorder.data.sources.musicoset import load_musicoset

    ds = load_musicoset(root)
    split = holdout_split(ds, test_size=0.15, seed=0, group="artist")
    train, test = ds.subset(split.train_ids), ds.subset(split.test_ids)
    if 0 < args.train_rows < len(train):
        keep = np.random.default_rng(0).choice(len(train), args.train_rows, replace=False)
        train = train.take(np.sort(keep))
    seeds = list(range(args.seeds))

    predictions: dict[str, np.ndarray] = {}
    seconds: dict[str, list[float]] = {o: [] for o in objectives}
    for objective in objectives:
        for seed in seeds:
            model = make_model(
                "hitmusicnet",
                objective=objective,
                ranking_weight=args.ranking_weight,
                n_seeds=args.heads,
                seed=seed,
                quiet=True,
            )
            start = time.perf_counter()
            model.fit(train)
            seconds[objective].append(time.perf_counter() - start)
            predictions[f"{objective}/{seed}"] = model.predict(test)

    boot = paired_bootstrap(
        test.y, predictions, metrics=["r2", "spearman"], n_boot=args.n_boot, seed=0
    )
    r2_at, rho_at = boot.metric_names.index("r2"), boot.metric_names.index("spearman")
    estimates = boot.metrics.set_index(["model", "metric"])["estimate"]

    def seed_mean(objective: str, k: int) -> tuple[np.ndarray, float]:
        """Replicates [n_boot] and estimate of the seed mean of metric ``k``."""
        reps = np.mean([boot.replicates[f"{objective}/{s}"][:, k] for s in seeds], axis=0)
        name = boot.metric_names[k]
        return reps, float(np.mean([estimates[(f"{objective}/{s}", name)] for s in seeds]))

    def interval(reps: np.ndarray, estimate: float) -> str:
        low, high = confidence_interval(reps, np.asarray(estimate))
        return f"{estimate:.3f} [{float(low):.3f}, {float(high):.3f}]"

    header = (
        f"HitMusicNet (default, {args.heads} head(s)) on {ds.name}: {len(train)} train / "
        f"{len(test)} test songs, {split.kind}; seeds {seeds}; ranking_weight "
        f"{args.ranking_weight}; {args.threads} thread(s); 95 % intervals, "
        f"{args.n_boot} paired resamples of the test songs"
    )
    columns = ("objective", "Spearman", "dSpearman vs mse", "R^2", "win rate vs mse", "fit s")
    rows = []
    rho_mse, _ = seed_mean("mse", rho_at)
    for objective in objectives:
        rho_reps, rho = seed_mean(objective, rho_at)
        r2_reps, r2 = seed_mean(objective, r2_at)
        if objective == "mse":
            difference = win = "-"
        else:
            difference = interval(rho_reps - rho_mse, rho - seed_mean("mse", rho_at)[1])
            win = win_rate_over_seeds(test.y, predictions, objective, seeds, args.n_boot)
        fit = seconds[objective]
        rows.append(
            (
                objective,
                interval(rho_reps, rho),
                difference,
                interval(r2_reps, r2),
                win,
                f"{np.mean(fit):.0f} ({min(fit):.0f}-{max(fit):.0f})",
            )
        )
    print(header)
    widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
    for row in [columns, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def win_rate_over_seeds(
    y: np.ndarray,
    predictions: dict[str, np.ndarray],
    objective: str,
    seeds: list[int],
    n_boot: int,
) -> str:
    """Share of test songs (seed-averaged) with a smaller absolute error than MSE's, with CI."""
    wins = np.mean(
        [
            np.abs(predictions[f"mse/{s}"] - y) - np.abs(predictions[f"{objective}/{s}"] - y) > 1e-9
            for s in seeds
        ],
        axis=0,
    )  # (n,): per song, the share of seeds in which the objective wins
    share = float(wins.mean())
    reps = bootstrap_replicates(lambda index: wins[index].mean(axis=-1), len(y), n_boot=n_boot)
    low, high = confidence_interval(reps, np.asarray(share))
    return f"{share:.3f} [{float(low):.3f}, {float(high):.3f}]"


if __name__ == "__main__":
    main()
