"""The 207 HitMusicNet / SpotGenTrack low-level audio features, fast.

:func:`extract_lowlevel` computes, from a mono signal at its native rate, the 207 features that
SpotGenTrack publishes for its 100k tracks, under their published column names and order
(:data:`LOWLEVEL_COLUMNS`). The values equal those of the plain sequence of librosa calls that
HitMusicNet's extractor makes (:mod:`autoenchorder.audio.lowlevel_reference`) to a relative
1e-4, while sharing one STFT across the spectral features and one CQT between chroma and
tonnetz. ``docs/lowlevel-features.md`` lists every feature, its original computation and the
``compat="fixed"`` variant.

Submodules: :mod:`.spectral` (STFT features), :mod:`.chroma` (tuning, CQT, chroma, tonnetz),
:mod:`.temporal` (zero-crossing rate, RMS energy entropy).
"""

from __future__ import annotations

import numpy as np

from autoenchorder.audio.lowlevel.chroma import chroma_tonnetz_means
from autoenchorder.audio.lowlevel.spectral import magnitude_spectrogram, spectral_means
from autoenchorder.audio.lowlevel.temporal import (
    energy_entropy_fixed,
    energy_entropy_original,
    frame_features,
)
from autoenchorder.errors import AudioError

__all__ = [
    "COMPAT_MODES",
    "LOWLEVEL_COLUMNS",
    "MIN_SAMPLES",
    "MIN_SAMPLE_RATE",
    "extract_lowlevel",
    "lowlevel_dict",
]

_FEATURE_NAMES = (
    [f"MFCC_{i}" for i in range(1, 49)]
    + [f"Chroma_{i}" for i in range(1, 13)]
    + [f"MEL_{i}" for i in range(1, 129)]
    + [f"Tonnetz_{i}" for i in range(1, 7)]
    + [f"Spectral_contrast_{i}" for i in range(1, 8)]
    + ["ZCR", "spectral_centroid", "spectral_rollOff_min", "spectral_rollOff_max"]
    + ["spectral_bandwith", "entropy_energy"]
)

#: The 207 column names of SpotGenTrack's ``Features Extracted/low_level_audio_features.csv``,
#: in the file's order: sorted by code point (HitMusicNet built the table with
#: ``pd.DataFrame(list_of_dicts)``, which sorted the keys in the pandas of 2019), spelling quirks
#: included (``spectral_bandwith``, ``spectral_rollOff_min``). The file also has an unnamed index
#: column first and ``track_id`` last; see ``tests/data/spotgentrack_lowlevel_header.txt``.
LOWLEVEL_COLUMNS: tuple[str, ...] = tuple(sorted(_FEATURE_NAMES))

#: ``"spotgentrack"``: HitMusicNet's computation, quirks included (with the pinned librosa; see
#: "Known difference from the published CSV" in docs/lowlevel-features.md); ``"fixed"``: the
#: quirks repaired.
COMPAT_MODES: tuple[str, ...] = ("spotgentrack", "fixed")

#: Shortest signal accepted: one full analysis frame.
MIN_SAMPLES = 2048

#: Lowest sample rate accepted, Hz: librosa's spectral contrast (6 octave bands from 200 Hz)
#: needs a Nyquist frequency above 6.4 kHz, the chroma CQT (7 octaves from C1) one above about
#: 4.2 kHz. HitMusicNet's extractor fails on lower rates too.
MIN_SAMPLE_RATE = 12801


def lowlevel_dict(y: np.ndarray, sr: int, *, compat: str = "spotgentrack") -> dict[str, float]:
    """The 207 features by column name.

    Parameters
    ----------
    y, sr, compat
        As :func:`extract_lowlevel`.

    Returns
    -------
    dict of str to float
        One entry per name of :data:`LOWLEVEL_COLUMNS`.
    """
    if compat not in COMPAT_MODES:
        raise ValueError(f"compat must be one of {COMPAT_MODES}, not {compat!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise AudioError(None, f"expected a mono signal of shape (n,), got shape {y.shape}")
    if y.size < MIN_SAMPLES:
        raise AudioError(
            None, f"{y.size} samples is shorter than one {MIN_SAMPLES}-sample analysis frame"
        )
    if sr < MIN_SAMPLE_RATE:
        raise AudioError(
            None,
            f"sample rate {sr} Hz is too low for the low-level features "
            f"(spectral contrast needs more than 12800 Hz)",
        )
    if not np.all(np.isfinite(y)):
        raise AudioError(None, "NaN or infinite samples")
    y = y.astype(np.float32, copy=False)

    S = magnitude_spectrogram(y)
    spectral = spectral_means(S, sr)
    chroma, tonnetz = chroma_tonnetz_means(y, sr, S)
    zcr, rms = frame_features(y)

    out: dict[str, float] = {}
    out.update({f"MFCC_{i + 1}": float(v) for i, v in enumerate(spectral.mfcc)})
    out.update({f"Chroma_{i + 1}": float(v) for i, v in enumerate(chroma)})
    out.update({f"MEL_{i + 1}": float(v) for i, v in enumerate(spectral.mel)})
    out.update({f"Tonnetz_{i + 1}": float(v) for i, v in enumerate(tonnetz)})
    out.update({f"Spectral_contrast_{i + 1}": float(v) for i, v in enumerate(spectral.contrast)})
    out["ZCR"] = zcr
    out["spectral_rollOff_min"] = spectral.rolloff_min
    out["spectral_rollOff_max"] = spectral.rolloff_max
    out["spectral_bandwith"] = spectral.bandwidth
    if compat == "spotgentrack":
        out["spectral_centroid"] = spectral.centroid_first
        out["entropy_energy"] = energy_entropy_original(rms)
    else:
        out["spectral_centroid"] = spectral.centroid_mean
        out["entropy_energy"] = energy_entropy_fixed(rms)
    return out


def extract_lowlevel(y: np.ndarray, sr: int, *, compat: str = "spotgentrack") -> np.ndarray:
    """Compute the 207 SpotGenTrack low-level features of a mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal at the file's native rate (HitMusicNet never resamples), float32
        preferred; ``n >= 2048``.
    sr : int
        Its sample rate in Hz, above 12.8 kHz (spectral contrast's top band starts at 6.4 kHz).
    compat : {"spotgentrack", "fixed"}
        ``"spotgentrack"`` (default) reproduces HitMusicNet's quirks so that models trained on
        the published CSV can score new audio: ``spectral_centroid`` is the first frame's, and
        ``entropy_energy`` is ``sum(q log10 q)`` (NaN for digital silence). ``"fixed"`` averages
        the centroid over all frames and makes ``entropy_energy`` a true, gain-independent
        Shannon entropy; the other 205 values are the same in both modes. Both compute with
        librosa 0.11's defaults, which differ from the librosa <= 0.7 that produced the
        published CSV in the chroma and tonnetz (12 vs 36 CQT bins per octave) and in the
        padding of the edge frames (see docs/lowlevel-features.md).

    Returns
    -------
    np.ndarray, float64, shape (207,)
        Ordered as :data:`LOWLEVEL_COLUMNS`.

    Raises
    ------
    AudioError
        Not mono, shorter than 2048 samples, NaN or infinite samples, or a sample rate of
        12.8 kHz or less.
    ValueError
        Unknown ``compat``.
    """
    values = lowlevel_dict(y, sr, compat=compat)
    return np.array([values[name] for name in LOWLEVEL_COLUMNS], dtype=np.float64)
