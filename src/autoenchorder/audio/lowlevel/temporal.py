"""Time-domain low-level features: zero-crossing rate, RMS energy and its "entropy".

Both are framed like librosa (frame 2048, hop 512, centred) but, since a frame is exactly four
hops, computed from sums over 512-sample blocks, taken in one compiled pass over the signal that
pads it virtually (no padded copy, no 2048 x T frame matrix).
"""

from __future__ import annotations

import numpy as np

from autoenchorder.audio.lowlevel.kernels import block_energy_and_crossings

FRAME_LENGTH = 2048
HOP_LENGTH = 512
ZERO_THRESHOLD = 1e-10
BLOCKS_PER_FRAME = FRAME_LENGTH // HOP_LENGTH


def frame_features(y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean zero-crossing rate and per-frame RMS, framed as librosa frames them.

    ``librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512)`` pads by
    repeating the edge samples, treats ``|y| <= 1e-10`` as zero (and zero as positive) and counts
    sign changes between consecutive samples inside each frame; ``librosa.feature.rms(y=y)`` is
    the root mean square of zero-padded centred frames.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)

    Returns
    -------
    zcr_mean : float
        Mean over frames of the zero-crossing rate.
    rms : np.ndarray, float64, shape (1 + n // 512,)
        RMS of each frame.
    """
    n_frames = 1 + y.size // HOP_LENGTH
    energy, crossings, at_start = block_energy_and_crossings(
        np.ascontiguousarray(y, dtype=np.float32),
        n_frames + BLOCKS_PER_FRAME - 1,
        HOP_LENGTH,
        FRAME_LENGTH // 2,
        ZERO_THRESHOLD,
    )
    # a frame is four consecutive blocks; its own first sample's change is not inside it
    counts = _frame_sums(crossings) - at_start[:n_frames]
    rms = np.sqrt(_frame_sums(energy) / FRAME_LENGTH)
    return float(np.mean(counts / FRAME_LENGTH)), rms


def _frame_sums(blocks: np.ndarray) -> np.ndarray:
    return sum(blocks[k : blocks.size - BLOCKS_PER_FRAME + 1 + k] for k in range(BLOCKS_PER_FRAME))


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
