"""Time-domain low-level features: zero-crossing rate, RMS energy and its "entropy".

Both are framed like librosa (frame 2048, hop 512, centred) but computed from running sums over
the whole signal instead of a (2048 x T) frame matrix: a frame's crossing count and energy are
differences of two cumulative sums.
"""

from __future__ import annotations

import numpy as np

FRAME_LENGTH = 2048
HOP_LENGTH = 512
ZERO_THRESHOLD = 1e-10


def _frame_starts(n_padded: int) -> np.ndarray:
    n_frames = 1 + (n_padded - FRAME_LENGTH) // HOP_LENGTH
    return np.arange(n_frames) * HOP_LENGTH


def zero_crossing_rate_mean(y: np.ndarray) -> float:
    """Mean of ``librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)``.

    librosa pads by repeating the edge samples, treats ``|y| <= 1e-10`` as zero (and zero as
    positive), and counts sign changes between consecutive samples inside each frame.

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    float
    """
    padded = np.pad(y, FRAME_LENGTH // 2, mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= ZERO_THRESHOLD, 0, padded))
    change = np.concatenate(([0], np.cumsum(negative[1:] != negative[:-1], dtype=np.int64)))
    starts = _frame_starts(padded.size)
    # crossings between samples (s, s+1), ..., (s+2046, s+2047) of each frame
    counts = change[starts + FRAME_LENGTH - 1] - change[starts]
    return float(np.mean(counts / FRAME_LENGTH))


def rms_frames(y: np.ndarray) -> np.ndarray:
    """``librosa.feature.rms(y=y)[0]``: root mean square of zero-padded centred frames.

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray, float64, shape (1 + n // 512,)
    """
    padded = np.pad(y.astype(np.float64), FRAME_LENGTH // 2)
    energy = np.concatenate(([0.0], np.cumsum(padded * padded)))
    starts = _frame_starts(padded.size)
    power = (energy[starts + FRAME_LENGTH] - energy[starts]) / FRAME_LENGTH
    return np.sqrt(np.maximum(power, 0.0))


def energy_entropy_original(rms: np.ndarray) -> float:
    """HitMusicNet's ``entropy_energy``: ``sum(q * log10(q))``, ``q = |rms - mean(rms)|``.

    Not an entropy (no normalisation, sign reversed, grows with the clip's length); a frame with
    ``q == 0`` gives ``0 * log10(0) = NaN``, so digital silence yields NaN, as in the original.

    Parameters
    ----------
    rms : np.ndarray, shape (T,)

    Returns
    -------
    float
    """
    q = np.abs(rms - np.mean(rms))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(q * np.log10(q)))


def energy_entropy_fixed(rms: np.ndarray) -> float:
    """Shannon entropy (bits) of the distribution ``p = q / sum(q)``, ``q = |rms - mean(rms)|``.

    Non-negative, independent of the signal's gain, ``0 log 0 = 0``; 0 when the energy is
    constant (including silence).

    Parameters
    ----------
    rms : np.ndarray, shape (T,)

    Returns
    -------
    float
    """
    q = np.abs(rms - np.mean(rms))
    total = q.sum()
    if not total > 0:
        return 0.0
    p = q[q > 0] / total
    return float(-np.sum(p * np.log2(p)))
