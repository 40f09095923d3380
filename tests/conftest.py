"""Shared test fixtures: where the real data is, small generated audio."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

# Two pytest workers share two cores: one thread each keeps the suite from oversubscribing.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]

SHARED = REPO.parent / "shared"
SHARED_AUDIO = SHARED / "audio"
SHARED_DATA = SHARED / "data"


def pytest_configure(config: pytest.Config) -> None:
    # numba's on-disk cache (librosa's kernels and ours) is not safe for several processes
    # compiling into it at once, and a test that kills a process mid-write could leave an
    # entry that crashes every later load. Each pytest worker gets its own cache folder, set
    # before numba is first imported; subprocesses of the worker inherit it.
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    if "numba" not in sys.modules:
        os.environ["NUMBA_CACHE_DIR"] = str(REPO / ".cache" / "numba" / worker)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    if not SHARED_AUDIO.is_dir():
        pytest.skip(f"real clips not found at {SHARED_AUDIO}")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


def make_tone(
    seconds: float, sr: int, *, freqs=(220.0, 277.2, 329.6), seed: int = 0, channels: int = 1
) -> np.ndarray:
    """A short chord with a little noise, float32, shape (n,) or (n, channels) for soundfile."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    y = 0.5 * y * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.01 * rng.standard_normal(t.size)
    y = y.astype(np.float32)
    if channels > 1:
        y = np.stack([y] * channels, axis=1)
    return y
