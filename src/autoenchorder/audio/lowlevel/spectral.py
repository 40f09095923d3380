"""Every STFT-based low-level feature from one shared magnitude spectrogram.

One ``librosa.stft`` (n_fft 2048, hop 512, Hann, centred, zero padding: librosa's defaults, the
parameters HitMusicNet passes) feeds the mel spectrogram, the MFCCs, spectral contrast, the two
roll-offs, the centroid and the bandwidth. The plain librosa calls compute that STFT six times.
Filter banks and band layouts depend only on the sample rate and are built once per rate.

Means over time are taken where the feature is linear in the spectrogram (the mel bands: the
mean of ``M = B P`` is ``B mean(P)``); the non-linear features (dB, sorting, ratios) are computed
per frame, vectorised over all frames at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.sparse

N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 48
CONTRAST_FMIN = 200.0
CONTRAST_BANDS = 6
CONTRAST_QUANTILE = 0.02
AMIN = 1e-10
TOP_DB = 80.0


@dataclass(frozen=True)
class SpectralMeans:
    """Time-averaged STFT features of one signal.

    Attributes
    ----------
    mel : np.ndarray, shape (128,)
        Mean mel power per band.
    mfcc : np.ndarray, shape (48,)
        Mean MFCC per coefficient.
    contrast : np.ndarray, shape (7,)
        Mean spectral contrast per band, dB.
    rolloff_min, rolloff_max : float
        Mean 10 % and 85 % roll-off frequencies, Hz.
    bandwidth : float
        Mean spectral bandwidth (p = 2), Hz.
    centroid_first : float
        Spectral centroid of the first frame, Hz (HitMusicNet's value).
    centroid_mean : float
        Spectral centroid averaged over all frames, Hz.
    """

    mel: np.ndarray
    mfcc: np.ndarray
    contrast: np.ndarray
    rolloff_min: float
    rolloff_max: float
    bandwidth: float
    centroid_first: float
    centroid_mean: float


def magnitude_spectrogram(y: np.ndarray) -> np.ndarray:
    """|STFT| with librosa's defaults (n_fft 2048, hop 512, Hann, centred, zero padding).

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)

    Returns
    -------
    np.ndarray, float32, shape (1025, 1 + n // 512)
    """
    import librosa  # noqa: PLC0415  (heavy import kept off the package's import path)

    return np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP_LENGTH))


@lru_cache(maxsize=16)
def fft_frequencies(sr: float) -> np.ndarray:
    """Centre frequency of each STFT bin, Hz, shape (1025,)."""
    return np.fft.rfftfreq(N_FFT, d=1.0 / sr)


@lru_cache(maxsize=16)
def mel_basis(sr: float) -> scipy.sparse.csr_matrix:
    """Librosa's Slaney mel filter bank (128 bands, 0 Hz to Nyquist) as a sparse matrix.

    Returns
    -------
    scipy.sparse.csr_matrix, float32, shape (128, 1025)
    """
    import librosa  # noqa: PLC0415

    return scipy.sparse.csr_matrix(librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS))


@lru_cache(maxsize=16)
def contrast_bands(sr: float) -> tuple[tuple[int, int, int], ...]:
    """Rows of each spectral-contrast octave band, as librosa lays them out.

    Returns
    -------
    tuple of (start, stop, n_quantile)
        Band ``k`` uses rows ``start:stop`` of the spectrogram and averages its ``n_quantile``
        smallest (valley) and largest (peak) values.
    """
    freq = fft_frequencies(sr)
    edges = np.zeros(CONTRAST_BANDS + 2)
    edges[1:] = CONTRAST_FMIN * (2.0 ** np.arange(0, CONTRAST_BANDS + 1))
    if np.any(edges[:-1] >= 0.5 * sr):
        raise ValueError(f"spectral contrast bands exceed the Nyquist frequency at {sr} Hz")
    bands = []
    for k, (f_low, f_high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        rows = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        start, stop = int(rows[0]), int(rows[-1]) + 1
        if k > 0:
            start -= 1  # librosa also takes the bin just below the band
        if k == CONTRAST_BANDS:
            stop = len(freq)  # the top band runs to Nyquist
        n_selected = stop - start
        n_quantile = max(int(np.rint(CONTRAST_QUANTILE * n_selected)), 1)
        if k < CONTRAST_BANDS:
            stop -= 1  # ... and drops its own top bin (it belongs to the next band)
        bands.append((start, stop, n_quantile))
    return tuple(bands)


def power_to_db(power: np.ndarray) -> np.ndarray:
    """``librosa.power_to_db`` with its defaults: ref 1, amin 1e-10, 80 dB below the maximum.

    Parameters
    ----------
    power : np.ndarray, any shape

    Returns
    -------
    np.ndarray, same shape and dtype
    """
    db = 10.0 * np.log10(np.maximum(AMIN, power))
    return np.maximum(db, db.max() - TOP_DB)


def _band_extremes(S: np.ndarray, sr: float) -> tuple[np.ndarray, np.ndarray]:
    """Per band and frame, the mean of the lowest and of the highest quantile (valley, peak)."""
    bands = contrast_bands(sr)
    valley = np.zeros((len(bands), S.shape[1]))
    peak = np.zeros_like(valley)
    for k, (start, stop, n_q) in enumerate(bands):
        sub = S[start:stop]
        n = sub.shape[0]
        part = (
            np.partition(sub, (n_q - 1, n - n_q), axis=0) if n > 2 * n_q else np.sort(sub, axis=0)
        )
        valley[k] = np.mean(part[:n_q], axis=0)
        peak[k] = np.mean(part[n - n_q :], axis=0)
    return valley, peak


def _rolloff(cumulative: np.ndarray, freq: np.ndarray, percent: float) -> np.ndarray:
    """First frequency whose cumulative magnitude reaches ``percent`` of the frame's total."""
    threshold = percent * cumulative[-1]
    return freq[np.argmax(cumulative >= threshold, axis=0)]


def spectral_means(S: np.ndarray, sr: float) -> SpectralMeans:
    """Time-averaged mel, MFCC, contrast, roll-off, bandwidth and centroid from one |STFT|.

    Parameters
    ----------
    S : np.ndarray, float32, shape (1025, T)
        Magnitude spectrogram from :func:`magnitude_spectrogram`.
    sr : float
        Sample rate in Hz.

    Returns
    -------
    SpectralMeans
    """
    freq = fft_frequencies(sr)
    power = S * S
    mel = mel_basis(sr) @ power  # (128, T) float32
    mel_db = power_to_db(mel)
    mfcc = scipy.fft.dct(mel_db.mean(axis=1, dtype=np.float64), type=2, norm="ortho")[:N_MFCC]

    valley, peak = _band_extremes(S, sr)
    contrast = power_to_db(peak) - power_to_db(valley)

    cumulative = np.cumsum(S, axis=0)
    rolloff_min = _rolloff(cumulative, freq, 0.1)
    rolloff_max = _rolloff(cumulative, freq, 0.85)

    # Centroid c = sum f S / sum S and bandwidth sqrt(sum S (f - c)^2 / sum S) from three
    # weighted sums per frame (float64: the expanded square cancels).
    moments = np.vander(freq, 3, increasing=True).T @ S.astype(np.float64)  # (3, T)
    total = moments[0]
    silent = total < np.finfo(np.float32).tiny  # librosa's normalize leaves these frames at 0
    safe_total = np.where(silent, 1.0, total)
    centroid = np.where(silent, 0.0, moments[1] / safe_total)
    spread = moments[2] / safe_total - centroid**2
    bandwidth = np.where(silent, 0.0, np.sqrt(np.maximum(spread, 0.0)))
    return SpectralMeans(
        mel=mel.mean(axis=1, dtype=np.float64),
        mfcc=mfcc,
        contrast=contrast.mean(axis=1),
        rolloff_min=float(rolloff_min.mean()),
        rolloff_max=float(rolloff_max.mean()),
        bandwidth=float(bandwidth.mean()),
        centroid_first=float(centroid[0]),
        centroid_mean=float(centroid.mean()),
    )
