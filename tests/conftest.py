"""Shared test fixtures: the project's real clips, where the real datasets are, generated audio.

Everything a test needs is in the repository (``examples/audio``, ``tests/data``) or generated;
only the real datasets (MusicOSet, Hit Predictor) live outside it, found as
:mod:`autoenchorder.data.locations` says, and the tests that need them skip, naming where they
looked, when they are absent.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

# Two pytest workers share two cores: one thread each keeps the suite from oversubscribing.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]

#: the real clips of the project (one per format: ogg, mp3, wav, flac), CC BY-SA 3.0
EXAMPLE_AUDIO = REPO / "examples" / "audio"
#: their paths, sorted
EXAMPLE_CLIPS = sorted(
    p for p in EXAMPLE_AUDIO.glob("*") if p.suffix.lower() in {".wav", ".flac", ".ogg", ".mp3"}
)


#: numba's cache that ``make test`` fills before the suite (``python -m autoenchorder.warm``)
WARM_NUMBA_CACHE = REPO / ".cache" / "numba" / "warm"


def seed_numba_cache(folder: Path, warm: Path = WARM_NUMBA_CACHE) -> bool:
    """Start a new numba cache ``folder`` as a copy of ``warm`` (when it exists).

    Returns
    -------
    bool
        Whether ``folder`` was seeded (False: it already existed, or there is no warm cache).
    """
    if folder.exists() or not warm.is_dir():
        return False
    partial = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    shutil.copytree(warm, partial)
    try:
        partial.rename(folder)
    except OSError:  # another process seeded it first
        shutil.rmtree(partial, ignore_errors=True)
    return True


def pytest_configure(config: pytest.Config) -> None:
    # numba's on-disk cache (librosa's kernels and ours) is not safe for several processes
    # compiling into it at once, and a test that kills a process mid-write could leave an
    # entry that crashes every later load. Each pytest worker gets its own cache folder, set
    # before numba is first imported; subprocesses of the worker inherit it. A new folder
    # starts as a copy of the kernels make compiled before the suite, so that no worker spends
    # its first minute compiling them.
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    if "numba" not in sys.modules:
        folder = REPO / ".cache" / "numba" / worker
        seed_numba_cache(folder)
        os.environ["NUMBA_CACHE_DIR"] = str(folder)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def musicnn_weights() -> Path:
    """The musicnn weights folder; the test skips, saying how to set them up, without it."""
    from autoenchorder.audio.embed.weights import locate_weights
    from autoenchorder.errors import WeightsError

    try:
        return locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights absent (`autoenchorder weights setup musicnn`): {exc}")


@pytest.fixture(scope="session")
def example_audio() -> Path:
    """``examples/audio``: four real clips, part of the repository."""
    return EXAMPLE_AUDIO


def missing_data_reason(source: str) -> str:
    """A one-line skip reason: which dataset is missing and every place it was looked for."""
    from autoenchorder.data.locations import KNOWN_SOURCES, candidate_roots

    looked = "; ".join(f"{how}: {path}" for how, path in candidate_roots(source))
    return (
        f"{KNOWN_SOURCES[source].title} data not found (looked in {looked}); "
        f"put it in one of these or set AUTOENCHORDER_DATA (see docs/datasets.md)"
    )


def real_data_root(source: str) -> Path:
    """The folder of a real dataset, or skip the test saying where it would be found."""
    from autoenchorder.data.locations import find_root

    root = find_root(source)
    if root is None:
        pytest.skip(missing_data_reason(source))
    return root


@pytest.fixture(scope="session")
def musicoset_root() -> Path:
    """The MusicOSet folder (skips when absent)."""
    return real_data_root("musicoset")


@pytest.fixture(scope="session")
def hit_predictor_root() -> Path:
    """The Hit Predictor folder (skips when absent)."""
    return real_data_root("hit-predictor")


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
