"""Time-domain low-level features: zero-crossing rate, RMS energy and its "entropy".

Both are framed like librosa (frame 2048, hop 512, centred) but, since a frame is exactly four
hops, computed from sums over 512-sample blocks instead of a (2048 x T) frame matrix.
"""

from __future__ import annotations

import numpy as np

FRAME_LENGTH = 2048
HOP_LENGTH = 512
ZERO_THRESHOLD = 1e-10


def _block_sums(x: np.ndarray, n_frames: int) -> np.ndarray:
    """Sum of each frame of ``x`` (frame 2048, hop 512) from sums over 512-sample blocks."""
    blocks = x[: (n_frames + 3) * HOP_LENGTH].reshape(n_frames + 3, HOP_LENGTH).sum(axis=1)
    return blocks[:-3] + blocks[1:-2] + blocks[2:-1] + blocks[3:]


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
    n_frames = 1 + y.size // HOP_LENGTH
    padded = np.pad(y, FRAME_LENGTH // 2, mode="edge")
    negative = np.signbit(np.where(np.abs(padded) <= ZERO_THRESHOLD, 0, padded))
    change = np.empty(padded.size, dtype=np.int32)
    change[0] = 0
    np.not_equal(negative[1:], negative[:-1], out=change[1:])
    # crossings between samples (s, s+1), ..., (s+2046, s+2047) of the frame starting at s
    counts = _block_sums(change, n_frames) - change[: n_frames * HOP_LENGTH : HOP_LENGTH]
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
    n_frames = 1 + y.size // HOP_LENGTH
    padded = np.pad(y.astype(np.float64), FRAME_LENGTH // 2)
    return np.sqrt(_block_sums(padded * padded, n_frames) / FRAME_LENGTH)


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
