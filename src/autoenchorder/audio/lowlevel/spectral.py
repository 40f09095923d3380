"""Every STFT-based low-level feature from one shared magnitude spectrogram.

One STFT (n_fft 2048, hop 512, Hann, centred, zero padding: librosa's defaults, the parameters
HitMusicNet passes), bit-identical to ``librosa.stft``, feeds the mel spectrogram, the MFCCs,
spectral contrast, the two roll-offs, the centroid and the bandwidth; the plain librosa calls
compute it six times. Filter banks and band layouts depend only on the sample rate and are built
once per rate.

Linear steps are moved after the mean over time (the MFCCs are the DCT of the time-mean dB mel
spectrogram); the non-linear ones (dB, quantiles, ratios) are computed per frame, the per-frame
loops in one compiled pass over each frame (:mod:`.kernels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from autoenchorder.audio.lowlevel.kernels import frame_statistics, mel_power
from autoenchorder.errors import AudioError

N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 48
CONTRAST_FMIN = 200.0
CONTRAST_BANDS = 6
CONTRAST_QUANTILE = 0.02
ROLL_PERCENT_MIN = 0.1
ROLL_PERCENT_MAX = 0.85
AMIN = 1e-10
#: Frames transformed per FFT call (keeps the float64 block in cache).
STFT_BLOCK_FRAMES = 64
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


@lru_cache(maxsize=1)
def _hann_window() -> np.ndarray:
    """The analysis window of librosa: periodic Hann, float64, length 2048."""
    import scipy.signal  # noqa: PLC0415

    return scipy.signal.get_window("hann", N_FFT, fftbins=True)


def magnitude_spectrogram(y: np.ndarray) -> np.ndarray:
    """``np.abs(librosa.stft(y))``: n_fft 2048, hop 512, Hann, centred, zero padding.

    Bit-identical to librosa (frames windowed in float64, transformed in float64, rounded to
    complex64, then the magnitude), computed in blocks of frames that stay in cache.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)

    Returns
    -------
    np.ndarray, float32, shape (1025, 1 + n // 512), Fortran order (each frame contiguous)
    """
    window = _hann_window()
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(y, N_FFT // 2), N_FFT)[::HOP_LENGTH]
    out = np.empty((frames.shape[0], N_FFT // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], STFT_BLOCK_FRAMES):
        block = slice(start, start + STFT_BLOCK_FRAMES)
        spectrum = scipy.fft.rfft(frames[block] * window, axis=1, overwrite_x=True)
        np.abs(spectrum.astype(np.complex64), out=out[block])
    return out.T


@lru_cache(maxsize=16)
def fft_frequencies(sr: float) -> np.ndarray:
    """Centre frequency of each STFT bin, Hz, shape (1025,)."""
    return np.fft.rfftfreq(N_FFT, d=1.0 / sr)


@lru_cache(maxsize=16)
def mel_basis(sr: float) -> np.ndarray:
    """Librosa's Slaney mel filter bank (128 bands, 0 Hz to Nyquist).

    Returns
    -------
    np.ndarray, float32, shape (128, 1025)
    """
    import librosa  # noqa: PLC0415

    return librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS)


@lru_cache(maxsize=16)
def mel_bands(sr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The non-zero runs of :func:`mel_basis`, packed for :func:`.kernels.mel_power`.

    Returns
    -------
    weights : np.ndarray, float32, shape (W,)
        Each filter's weights from its first to its last non-zero bin, filter after filter.
    starts : np.ndarray, int64, shape (128,)
        First non-zero bin of each filter (0 for a filter with none, which librosa warns
        about at low rates).
    offsets : np.ndarray, int64, shape (129,)
        Filter ``m``'s weights are ``weights[offsets[m]:offsets[m + 1]]``.
    """
    basis = mel_basis(sr)
    nonzero = basis != 0
    has_any = nonzero.any(axis=1)
    starts = np.where(has_any, np.argmax(nonzero, axis=1), 0).astype(np.int64)
    stops = np.where(has_any, basis.shape[1] - np.argmax(nonzero[:, ::-1], axis=1), 0)
    runs = [basis[m, starts[m] : stops[m]] for m in range(basis.shape[0])]
    offsets = np.concatenate([[0], np.cumsum([run.size for run in runs])]).astype(np.int64)
    return np.concatenate(runs).astype(np.float32), starts, offsets


@lru_cache(maxsize=16)
def contrast_bands(sr: float) -> np.ndarray:
    """Rows of each spectral-contrast octave band, as librosa lays them out.

    Raises
    ------
    AudioError
        The top band would start above Nyquist (rates of 12.8 kHz and below).

    Returns
    -------
    np.ndarray, int64, shape (7, 3)
        Row ``k`` is (start, stop, n_quantile): band ``k`` uses spectrogram rows
        ``start:stop`` and averages their ``n_quantile`` smallest (valley) and largest (peak)
        values.
    """
    freq = fft_frequencies(sr)
    edges = np.zeros(CONTRAST_BANDS + 2)
    edges[1:] = CONTRAST_FMIN * (2.0 ** np.arange(0, CONTRAST_BANDS + 1))
    if np.any(edges[:-1] >= 0.5 * sr):
        raise AudioError(
            None,
            f"sample rate {sr:g} Hz is too low for spectral contrast "
            f"(its top band starts at {edges[-2]:g} Hz; needs a rate above {2 * edges[-2]:g} Hz)",
        )
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
    return np.array(bands, dtype=np.int64)


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
    S = np.asfortranarray(S, dtype=np.float32)
    mel = mel_power(S, *mel_bands(sr))
    mel_db = power_to_db(mel)
    mfcc = scipy.fft.dct(mel_db.mean(axis=1, dtype=np.float64), type=2, norm="ortho")[:N_MFCC]

    rolloff_bins, moments, valley, peak = frame_statistics(
        S, freq, np.float32(ROLL_PERCENT_MIN), np.float32(ROLL_PERCENT_MAX), contrast_bands(sr)
    )
    contrast = power_to_db(peak) - power_to_db(valley)
    rolloff = freq[rolloff_bins]

    # Centroid c = sum f S / sum S and bandwidth sqrt(sum S (f - c)^2 / sum S) from the three
    # float64 moments; librosa's normalisation leaves frames whose total is below float32's
    # `tiny` unnormalised, which makes their centroid and bandwidth 0.
    silent = moments[0] < np.finfo(np.float32).tiny
    total = np.where(silent, 1.0, moments[0])
    centroid = np.where(silent, 0.0, moments[1] / total)
    spread = np.maximum(moments[2] / total - centroid**2, 0.0)
    bandwidth = np.where(silent, 0.0, np.sqrt(spread))
    return SpectralMeans(
        mel=mel.mean(axis=1, dtype=np.float64),
        mfcc=mfcc,
        contrast=contrast.mean(axis=1),
        rolloff_min=float(rolloff[0].mean()),
        rolloff_max=float(rolloff[1].mean()),
        bandwidth=float(bandwidth.mean()),
        centroid_first=float(centroid[0]),
        centroid_mean=float(centroid.mean()),
    )
