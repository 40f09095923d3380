"""The 207 HitMusicNet / SpotGenTrack low-level audio features (first, slow version)."""

from __future__ import annotations

import numpy as np

from autoenchorder.errors import AudioError

_NAMES = (
    [f"MFCC_{i}" for i in range(1, 49)]
    + [f"Chroma_{i}" for i in range(1, 13)]
    + [f"MEL_{i}" for i in range(1, 129)]
    + [f"Tonnetz_{i}" for i in range(1, 7)]
    + [f"Spectral_contrast_{i}" for i in range(1, 8)]
    + ["ZCR", "spectral_centroid", "spectral_rollOff_min", "spectral_rollOff_max"]
    + ["spectral_bandwith", "entropy_energy"]
)

#: The 207 column names of SpotGenTrack's ``low_level_audio_features.csv``, in its order
#: (the header sorted by code point, as pandas < 0.25 did when HitMusicNet built the frame).
LOWLEVEL_COLUMNS: tuple[str, ...] = tuple(sorted(_NAMES))

COMPAT_MODES = ("spotgentrack", "fixed")


def extract_lowlevel(y: np.ndarray, sr: int, *, compat: str = "spotgentrack") -> np.ndarray:
    """Compute the 207 low-level features of a mono signal (see docs/lowlevel-features.md)."""
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, not {compat!r}")
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < 2048:
        raise AudioError(None, "signal too short for the low-level features (< 2048 samples)")
    from autoenchorder.audio.lowlevel_reference import extract_lowlevel_reference

    return extract_lowlevel_reference(y, sr)
