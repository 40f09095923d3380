"""Training time, accuracy and same-seed reproducibility of the core models.

1. HitMusicNet (faithful and default settings) on MusicOSet (about 20k rows, artist-grouped
   holdout 85/15), next to the mean and GBDT baselines, on all the columns and on the 13
   descriptors alone: seconds to fit (target < 60 s on 2 cores), test MAE (0-100 and 0-1),
   R^2. MusicOSet is read with ``load_musicoset`` from where ``autoenchorder data where`` finds it;
   without it a synthetic table of the same shape is used.
2. Autoen-chorder on 10,000 synthetic tracks (207 low-level features, 30-step 128-d sequences,
   8,500 / 1,500 split like the study): seconds to fit (target < 600 s on 2 cores), test MAE.
3. Reproducibility: each network model is fitted twice with the same seed and the largest
   prediction difference is printed (must be 0).

Usage: ``python benchmarks/training.py [--quick] [--threads 1]``. One torch thread is the
default: these networks are small, the cost is per-step overhead, and a second intra-op thread
only spins (the other core stays free for data work or a second job).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import find_root
from autoenchorder.data.splits import holdout_split
from autoenchorder.models import make_model
from machine import print_machine

MUSICOSET = find_root("musicoset")  # $AUTOENCHORDER_DATA, ./data or ../shared/data


def musicoset_or_synthetic(seed: int = 0) -> PopularityDataset:
    if MUSICOSET is not None:
        from autoenchorder.data.sources.musicoset import load_musicoset

        return load_musicoset(MUSICOSET)
    rng = np.random.default_rng(seed)
    n, d = 20_403, 47
    z = rng.normal(size=(n, 6))
    x = z @ rng.normal(size=(6, d)) + 0.3 * rng.normal(size=(n, d))
    y = np.clip(
        40 + 8 * z[:, 0] - 6 * z[:, 1] + 4 * z[:, 2] * z[:, 3] + 8 * rng.normal(size=n), 0, 100
    )
    cols = [f"f{j}" for j in range(d)]
    return PopularityDataset(
        ids=np.array([f"s{i}" for i in range(n)]),
        y=y,
        tabular=pd.DataFrame(x, columns=cols),
        column_groups={"descriptors": cols[:13], "metadata": cols[13:]},
        name="synthetic-musicoset",
    )


def synthetic_tracks(
    n: int, *, steps: int = 30, dim: int = 128, seed: int = 0
) -> PopularityDataset:
    """Low-level features from 8 latent factors, 30-step sequences whose level carries signal."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 8))
    low = z @ rng.normal(size=(8, 207)) + 0.2 * rng.normal(size=(n, 207))
    level = rng.normal(size=(n, 4))
    basis = rng.normal(size=(4, dim)).astype(np.float32)
    lengths = rng.integers(steps // 2, steps + 1, size=n)  # some previews are shorter
    sequences = [
        (level[i] @ basis + rng.normal(size=(lengths[i], dim))).astype(np.float32) for i in range(n)
    ]
    signal = z[:, 0] - 0.7 * z[:, 1] + 0.4 * z[:, 2] * z[:, 3] + 0.6 * level[:, 0]
    y = np.clip(40 + 12 * signal + 5 * rng.normal(size=n), 0, 100)
    cols = [f"low_{j}" for j in range(207)]
    return PopularityDataset(
        ids=np.array([f"t{i:05d}" for i in range(n)]),
        y=y,
        tabular=pd.DataFrame(low, columns=cols),
        column_groups={"lowlevel": cols},
        sequences=sequences,
        name="synthetic-tracks",
    )


def scores(prediction: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    mae = float(np.mean(np.abs(prediction - y)))
    r2 = 1.0 - float(np.sum((prediction - y) ** 2) / np.sum((y - y.mean()) ** 2))
    return mae, r2


def run(
    name: str, config: dict, train: PopularityDataset, test: PopularityDataset, *, repeat: bool
) -> dict:
    start = time.perf_counter()
    model = make_model(name, quiet=True, **config).fit(train)
    seconds = time.perf_counter() - start
    prediction = model.predict(test)
    mae, r2 = scores(prediction, test.y)
    row = {"seconds": seconds, "mae": mae, "r2": r2, "epochs": len(model.history_), "repro": "-"}
    if repeat:
        again = make_model(name, quiet=True, **config).fit(train).predict(test)
        row["repro"] = f"{np.max(np.abs(again - prediction)):.1e}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 synthetic tracks, not 10,000")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(args.threads)
    console = Console()

    ds = musicoset_or_synthetic()
    split = holdout_split(ds, test_size=0.15, seed=0)
    train, test = ds.subset(split.train_ids), ds.subset(split.test_ids)
    table = Table(
        title=f"HitMusicNet on {ds.name} ({len(train)} train / {len(test)} test, "
        f"{split.kind}; {args.threads} threads)"
    )
    for col in ("model", "fit s", "target s", "MAE", "MAE 0-1", "R^2", "epochs", "same-seed diff"):
        table.add_column(col)
    descriptors = {"groups": ("descriptors",)}  # the 13 audio descriptors alone: narrow input
    candidates = [
        ("mean", "mean", {}),
        ("gbdt", "gbdt", {}),
        ("hitmusicnet faithful", "hitmusicnet", {"setting": "faithful"}),
        ("hitmusicnet default", "hitmusicnet", {"setting": "default"}),
        ("gbdt, descriptors", "gbdt", descriptors),
        ("hitmusicnet default, descriptors", "hitmusicnet", {"setting": "default", **descriptors}),
    ]
    for label, name, config in candidates:
        row = run(name, config, train, test, repeat=name == "hitmusicnet")
        target = "< 60" if name == "hitmusicnet" else ""
        table.add_row(
            label,
            f"{row['seconds']:.1f}",
            target,
            f"{row['mae']:.2f}",
            f"{row['mae'] / 100:.4f}",
            f"{row['r2']:.3f}",
            str(row["epochs"]),
            row["repro"],
        )
    console.print(table)
    console.print(
        "HitMusicNet's published best test MAE is 0.0817 (0-1 scale) on SpotGenTrack "
        "with leakage; MusicOSet has no low-level features, so the figures differ."
    )

    n = 2_000 if args.quick else 10_000
    tracks = synthetic_tracks(n)
    split = holdout_split(tracks, test_size=0.15, seed=0, group=None)
    train, test = tracks.subset(split.train_ids), tracks.subset(split.test_ids)
    table = Table(
        title=f"Autoen-chorder on {n} synthetic tracks (207 low-level, 30 x 128 "
        f"sequences; {len(train)} / {len(test)}; {args.threads} threads)"
    )
    for col in ("model", "fit s", "target s", "MAE", "R^2", "epochs", "same-seed diff"):
        table.add_column(col)
    for label, name, config in [("mean", "mean", {}), ("autoenchorder lstm", "autoenchorder", {})]:
        row = run(name, config, train, test, repeat=False)
        target = "< 600" if name == "autoenchorder" else ""
        table.add_row(
            label,
            f"{row['seconds']:.1f}",
            target,
            f"{row['mae']:.2f}",
            f"{row['r2']:.3f}",
            str(row["epochs"]),
            row["repro"],
        )
    small = tracks.take(np.arange(1_000))
    half = holdout_split(small, test_size=0.2, seed=0, group=None)
    row = run(
        "autoenchorder",
        {"ae_epochs": 10, "epochs": 20},
        small.subset(half.train_ids),
        small.subset(half.test_ids),
        repeat=True,
    )
    table.add_row(
        "autoenchorder (1,000 tracks, short)",
        f"{row['seconds']:.1f}",
        "",
        f"{row['mae']:.2f}",
        f"{row['r2']:.3f}",
        str(row["epochs"]),
        row["repro"],
    )
    console.print(table)


if __name__ == "__main__":
    main()
