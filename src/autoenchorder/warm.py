"""Compile the numba kernels once, ahead of use: ``python -m autoenchorder.warm``.

The low-level features (ours, and the plain librosa calls they are checked against) and the
procedural renderer run numba kernels that are compiled on first use and cached on disk
(``cache=True``): a fresh install pays ~30 s of compilation in its first ``extract``, ``corpus
make``, ``demo`` or test run, and processes started side by side compile the same kernels at
once. ``make kernels`` runs this module (``make demo``, ``serve`` and ``bench`` run that first;
``make test`` runs it into the cache its workers start from), so that later processes only load
the kernels; on a warm cache it takes a few seconds.
"""

from __future__ import annotations

import time
import warnings

import numpy as np


def warm_kernels() -> dict[str, float]:
    """Run each numba-compiled path once on a tiny input, compiling (or loading) its kernels.

    Returns
    -------
    dict of str to float
        Seconds each path took (``lowlevel/<compat>``, ``lowlevel/reference``: the plain librosa
        calls the parity checks and benchmarks compare with, ``procedural``).
    """
    from autoenchorder.audio.lowlevel import COMPAT_MODES, extract_lowlevel  # noqa: PLC0415
    from autoenchorder.audio.lowlevel_reference import (  # noqa: PLC0415
        extract_lowlevel_reference,
    )
    from autoenchorder.data.procedural.generate import (  # noqa: PLC0415
        CorpusConfig,
        render_song,
        sample_songs,
    )

    seconds: dict[str, float] = {}
    signal = 0.1 * np.random.default_rng(0).standard_normal(3 * 22050).astype(np.float32)
    with warnings.catch_warnings():  # librosa's notes on a short signal are not the user's
        warnings.simplefilter("ignore", UserWarning)
        for compat in COMPAT_MODES:
            started = time.perf_counter()
            extract_lowlevel(signal, 22050, compat=compat)
            seconds[f"lowlevel/{compat}"] = time.perf_counter() - started
        started = time.perf_counter()
        extract_lowlevel_reference(signal, 22050)
        seconds["lowlevel/reference"] = time.perf_counter() - started
    started = time.perf_counter()
    render_song(sample_songs(CorpusConfig(n=1, min_duration=4.0, max_duration=8.0))[0])
    seconds["procedural"] = time.perf_counter() - started
    return seconds


def main() -> None:
    """Print what :func:`warm_kernels` took."""
    started = time.perf_counter()
    seconds = warm_kernels()
    parts = ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items())
    print(f"numba kernels ready in {time.perf_counter() - started:.1f} s ({parts})")


if __name__ == "__main__":
    main()
