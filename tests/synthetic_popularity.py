"""Small learnable popularity datasets for model tests (seeded, a few hundred rows at most).

The target depends on both parts: a linear function of a few low-level columns plus the mean
of the first sequence channel, squashed into 0-100, so a model that uses either part beats the
training mean, and one that uses both does better.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import PopularityDataset


def learnable_dataset(
    n: int = 160,
    *,
    seed: int = 0,
    n_lowlevel: int = 24,
    seq_dim: int = 8,
    max_len: int = 12,
    noise: float = 1.0,
    with_sequences: bool = True,
    prefix: str = "t",
) -> PopularityDataset:
    """A regression dataset whose popularity is a smooth function of both parts.

    Returns
    -------
    PopularityDataset
        ``column_groups={"lowlevel": [...n_lowlevel names...]}``, ragged sequences of
        shape (T_i, seq_dim) with T_i in [max_len // 2, max_len], artists in groups of 4.
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 3))
    # low-rank features (3 latent factors spread over n_lowlevel columns), as real audio
    # descriptors are strongly correlated: an autoencoder's small code can keep the signal
    mixing = rng.normal(size=(3, n_lowlevel))
    low = latent @ mixing + 0.1 * rng.normal(size=(n, n_lowlevel))
    lengths = rng.integers(max(2, max_len // 2), max_len + 1, size=n)
    level = rng.normal(size=n)
    direction = rng.normal(size=seq_dim)
    sequences = [
        (level[i] * direction + 0.3 * rng.normal(size=(lengths[i], seq_dim))).astype(np.float32)
        for i in range(n)
    ]
    signal = 1.0 * latent[:, 0] - 0.7 * latent[:, 1] + 0.3 * latent[:, 2] ** 2
    if with_sequences:
        signal = signal + 0.8 * level
    y = np.clip(50 + 14 * signal + noise * rng.normal(size=n), 0, 100)
    columns = [f"low_{j}" for j in range(n_lowlevel)]
    return PopularityDataset(
        ids=np.array([f"{prefix}{i:04d}" for i in range(n)]),
        y=y,
        tabular=pd.DataFrame(low, columns=columns),
        column_groups={"lowlevel": columns},
        sequences=sequences if with_sequences else None,
        artist=np.array([f"artist{i // 4}" for i in range(n)]),
        name="synthetic",
    )


@dataclass
class BarrierObjective:
    """A cheap picklable search objective: waits until ``n_workers`` processes have called it.

    Every calling process leaves a file named after its pid in ``directory``; the first call
    of each process waits (up to ``timeout`` s) until ``n_workers`` such files exist, so the
    workers of a parallel search really run at the same time. Value: a bowl over the params.
    """

    directory: str
    n_workers: int = 2
    timeout: float = 60.0

    def __call__(self, params: dict) -> dict:
        marker = Path(self.directory) / f"{os.getpid()}.pid"
        if not marker.exists():
            marker.touch()
            deadline = time.monotonic() + self.timeout
            while len(list(Path(self.directory).glob("*.pid"))) < self.n_workers:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other search workers never started")
                time.sleep(0.05)
        time.sleep(0.05)
        value = sum((float(v) - 1.0) ** 2 for v in params.values())
        return {"mae": value, "r2": -value}
