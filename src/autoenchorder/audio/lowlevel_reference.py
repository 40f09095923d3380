"""The 207 low-level features by the plain sequence of librosa calls, as HitMusicNet makes them.

This is the slow, obviously-correct reference that
:func:`autoenchorder.audio.lowlevel.extract_lowlevel` must match (parity tests) and beat
(``benchmarks/lowlevel.py``). Every feature is one separate librosa call with the parameters
HitMusicNet's extractor passes (everything else at librosa's defaults), so the chroma CQT is
computed twice (once by ``chroma_cqt``, once inside ``tonnetz``), the STFT six times, and so on:
exactly the cost the fast extractor removes.

Semantics kept from the original (``compat="spotgentrack"``):

- every matrix feature is averaged over time, per row;
- ``spectral_centroid`` is the centroid of the first frame only;
- ``entropy_energy`` is ``sum(q * log10(q))`` over frames with ``q = |rms - mean(rms)|``
  (RMS with librosa's defaults: frame 2048, hop 512), evaluated with IEEE arithmetic, so a frame
  with ``q == 0`` (e.g. digital silence) makes it NaN, as it did in the original.

``librosa.feature.rmse`` of the original is ``librosa.feature.rms`` in librosa >= 0.7.
"""

from __future__ import annotations

import numpy as np

#: HitMusicNet's extraction parameters (its ``collect_all_features`` defaults).
N_MFCC = 48
HOP_LENGTH = 512
FRAME_LENGTH = 2048
N_FFT = 2048
ROLL_PERCENT_MIN = 0.1
ROLL_PERCENT_MAX = 0.85

#: Parity tolerance: relative difference allowed per feature.
PARITY_RTOL = 1e-4

#: Smallest magnitude a feature's difference is taken relative to, per column family, on the
#: family's own scale (1 dB for the dB-valued families, 1 Hz for frequencies, 1 % of the unit
#: range for chroma and tonnetz). Mel powers scale with the signal's gain: their floor is
#: ``MEL_FLOOR_FRACTION`` of the largest mean band power.
PARITY_FLOORS: dict[str, float] = {
    "MFCC": 1.0,
    "Spectral_contrast": 1.0,
    "Chroma": 1e-2,
    "Tonnetz": 1e-2,
    "ZCR": 1e-3,
    "spectral_centroid": 1.0,
    "spectral_bandwith": 1.0,
    "spectral_rollOff_min": 1.0,
    "spectral_rollOff_max": 1.0,
    "entropy_energy": 1e-3,
}
MEL_FLOOR_FRACTION = 1e-6


def reference_feature_dict(y: np.ndarray, sr: int) -> dict[str, float]:
    """Compute the 207 features by name with one plain librosa call per feature.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal at its native rate.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    dict of str to float
        The SpotGenTrack column name of each feature and its value.
    """
    import librosa  # noqa: PLC0415  (heavy import kept off the module's import path)

    y = np.asarray(y, dtype=np.float32)
    out: dict[str, float] = {}

    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC)
    out.update({f"MFCC_{i + 1}": float(np.mean(row)) for i, row in enumerate(mfcc)})

    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP_LENGTH)
    out.update({f"Chroma_{i + 1}": float(np.mean(row)) for i, row in enumerate(chroma)})

    mel = librosa.feature.melspectrogram(y=y, sr=sr)
    out.update({f"MEL_{i + 1}": float(np.mean(row)) for i, row in enumerate(mel)})

    zcr = librosa.feature.zero_crossing_rate(
        y=y, frame_length=FRAME_LENGTH, hop_length=HOP_LENGTH, center=True
    )
    out["ZCR"] = float(np.mean(zcr))

    tonnetz = librosa.feature.tonnetz(y=y, sr=sr)
    out.update({f"Tonnetz_{i + 1}": float(np.mean(row)) for i, row in enumerate(tonnetz)})

    centroid = librosa.feature.spectral_centroid(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    out["spectral_centroid"] = float(centroid[0][0])

    contrast = librosa.feature.spectral_contrast(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    out.update(
        {f"Spectral_contrast_{i + 1}": float(np.mean(row)) for i, row in enumerate(contrast)}
    )

    for suffix, percent in (("min", ROLL_PERCENT_MIN), ("max", ROLL_PERCENT_MAX)):
        rolloff = librosa.feature.spectral_rolloff(
            y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, roll_percent=percent
        )
        out[f"spectral_rollOff_{suffix}"] = float(np.mean(rolloff))

    bandwidth = librosa.feature.spectral_bandwidth(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH)
    out["spectral_bandwith"] = float(np.mean(bandwidth))

    rms = librosa.feature.rms(y=y)[0].astype(np.float64)
    q = np.abs(rms - np.mean(rms))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["entropy_energy"] = float(np.sum(q * np.log10(q)))
    return out


def extract_lowlevel_reference(y: np.ndarray, sr: int) -> np.ndarray:
    """The 207 features in ``LOWLEVEL_COLUMNS`` order, by plain librosa calls.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal at its native rate.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray, float64, shape (207,)
    """
    from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415  (import cycle)

    values = reference_feature_dict(y, sr)
    return np.array([values[name] for name in LOWLEVEL_COLUMNS], dtype=np.float64)


def column_family(name: str) -> str:
    """``"MFCC_12"`` -> ``"MFCC"``; scalar columns are their own family."""
    return name.rsplit("_", 1)[0] if name[-1].isdigit() else name


def parity_error(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-feature difference relative to ``max(|reference|, the family's floor)``.

    A value is at parity when this is <= :data:`PARITY_RTOL`. NaN where either input is NaN.

    Parameters
    ----------
    ours, reference : np.ndarray, shape (207,)
        In ``LOWLEVEL_COLUMNS`` order.

    Returns
    -------
    np.ndarray, float64, shape (207,)
    """
    from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415  (import cycle)

    families = [column_family(n) for n in LOWLEVEL_COLUMNS]
    mel = np.array([f == "MEL" for f in families])
    floors = np.array([PARITY_FLOORS.get(f, 0.0) for f in families])
    mel_scale = np.nanmax(np.abs(reference[mel]), initial=0.0)
    floors[mel] = max(MEL_FLOOR_FRACTION * mel_scale, np.finfo(np.float64).tiny)
    return np.abs(ours - reference) / np.maximum(np.abs(reference), floors)
