"""resampy's ``kaiser_best`` resampling to 16 kHz, computed as one polyphase FIR.

The official VGGish front-end resamples with ``resampy.resample(x, sr, 16000)``, a per-sample
numba loop. For output sample ``k`` resampy takes ``t = k / ratio`` (float), ``n = int(t)``,
``frac = scale * (t - n)`` and weights the inputs ``x[n - i]`` (left wing) and ``x[n + 1 + j]``
(right wing) by its tabulated Kaiser-windowed sinc, read at ``offset + i * index_step`` with
linear interpolation by ``eta`` (see resampy's ``interpn.py``).

For integer rates, ``16000 / sr = L / M`` in lowest terms, so ``frac`` -- hence every weight --
depends only on ``k mod L``: the resampler is a polyphase FIR whose ``L`` phases are resampy's
own weights. Those are laid into one prototype filter and applied by
:func:`scipy.signal.upfirdn` (compiled, one pass), 4-20x faster than resampy on one core.

The two differ only where resampy's float arithmetic drifts from the exact phase: its
``t = k * (1 / ratio)`` carries a rounding error that grows with ``k`` (and can put ``t`` just
below an integer, turning ``n, frac = 0`` into ``n - 1, frac ~ scale``), which moves its
interpolated weights by up to ~1e-6 of a table step. Here the phases are exact. Measured
difference: below 3e-10 of the signal's scale for 30 s at 44.1 / 22.05 / 11.025 kHz, and
below 1e-14 where ``1 / ratio`` is exact in binary (48, 32, 24, 8 kHz...).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import gcd

import numpy as np

#: Output sample rate.
TARGET_RATE: int = 16000


@dataclass(frozen=True)
class _Design:
    up: int  # L
    down: int  # M
    prototype: np.ndarray  # (L * (left + right),)
    left: int  # taps on x[n], x[n-1], ...
    right: int  # taps on x[n+1], x[n+2], ...


def _wings(frac: float, window: np.ndarray, delta: np.ndarray, num_table: int, step: int):
    # resampy's weights for one side of the filter at a given fractional position.
    index_frac = frac * num_table
    offset = int(index_frac)
    eta = index_frac - offset
    count = (window.shape[0] - offset) // step
    index = offset + np.arange(count) * step
    return window[index] + eta * delta[index]


@lru_cache(maxsize=8)
def _design(sr: int) -> _Design:
    from resampy.filters import get_filter  # noqa: PLC0415

    ratio = float(TARGET_RATE) / sr
    window, num_table, _ = get_filter("kaiser_best")
    if ratio < 1:
        window = ratio * window
    delta = np.diff(window, append=window[-1])
    scale = min(1.0, ratio)
    step = int(scale * num_table)
    increment = 1.0 / ratio
    divisor = gcd(sr, TARGET_RATE)
    up, down = TARGET_RATE // divisor, sr // divisor

    lefts, rights = [], []
    for phase in range(up):
        t = phase * increment
        frac = scale * (t - int(t))
        lefts.append(_wings(frac, window, delta, num_table, step))
        rights.append(_wings(scale - frac, window, delta, num_table, step))
    left = max(w.shape[0] for w in lefts)
    right = max(w.shape[0] for w in rights)
    prototype = np.zeros(up * (left + right))
    for phase in range(up):
        residue = (phase * down) % up
        lw, rw = lefts[phase], rights[phase]
        prototype[residue + (right + np.arange(lw.shape[0])) * up] = lw
        prototype[residue + (right - 1 - np.arange(rw.shape[0])) * up] = rw

    return _Design(up, down, prototype, left, right)


def resample_kaiser_best(x: np.ndarray, sr: int) -> np.ndarray:
    """``resampy.resample(x, sr, 16000, filter="kaiser_best")``, computed as a polyphase FIR.

    Parameters
    ----------
    x : np.ndarray, float64, shape (n,)
        Mono samples at ``sr`` (an integer rate other than 16000).
    sr : int
        Input sample rate.

    Returns
    -------
    np.ndarray, float64, shape (int(n * 16000 / sr),)
        resampy's output to within its own float drift (see the module docstring).
    """
    from scipy.signal import upfirdn  # noqa: PLC0415

    x = np.asarray(x, dtype=np.float64)
    n_out = int(x.shape[0] * float(TARGET_RATE) / float(sr))
    if n_out < 1:
        return np.zeros(0, dtype=np.float64)
    design = _design(int(sr))
    up, down = design.up, design.down
    # Output k of upfirdn(h, [0]*pad + x) at index k + skip sums x[i] h[r_k + (n_k - i + right) L].
    blocks = -(-design.right // down)
    pad = blocks * down - design.right
    skip = blocks * up
    padded = np.concatenate([np.zeros(pad), x]) if pad else x
    y = upfirdn(design.prototype, padded, up=up, down=down)[skip : skip + n_out]
    if y.shape[0] < n_out:
        y = np.pad(y, (0, n_out - y.shape[0]))
    return y
