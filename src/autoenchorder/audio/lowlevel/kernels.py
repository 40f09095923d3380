"""Compiled loops (numba) that replace whole-array numpy passes in the low-level extractor.

- :func:`frame_statistics`: one pass over each STFT frame yields the two roll-offs, the moments
  behind centroid and bandwidth, and the valley and peak of every spectral-contrast band (numpy
  needs a cumulative sum of the whole spectrogram, a float64 copy of it and a sort of each
  band).
- :func:`pitch_peaks`: librosa's ``piptrack`` restricted to the rows the tuning estimate reads.
- :func:`block_energy_and_crossings`: RMS energy and zero crossings per 512-sample block, with
  librosa's centre padding applied virtually.

Where a value depends on rounding, the arithmetic is librosa's: the roll-off's cumulative sum is
accumulated sequentially in float32 as ``np.cumsum`` does, the pitch interpolation mixes float32
and float64 as librosa's numba stencil does, so the selected bins and peaks are the same.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _insert_ascending(buf: np.ndarray, count: int, value: float) -> None:
    """Insert ``value`` into ascending ``buf[:count]``, dropping the last element if full."""
    pos = count if count < buf.shape[0] else buf.shape[0] - 1
    while pos > 0 and buf[pos - 1] > value:
        buf[pos] = buf[pos - 1]
        pos -= 1
    buf[pos] = value


@numba.njit(cache=True, nogil=True)
def _band_extremes(
    col: np.ndarray, start: int, stop: int, lows: np.ndarray, highs: np.ndarray
) -> tuple[float, float]:
    """Sums of the ``len(lows)`` smallest and largest values of ``col[start:stop]``.

    ``lows`` keeps the smallest values ascending and ``highs`` the negated largest ascending;
    the admission thresholds stay in registers, so most values cost two comparisons.
    """
    k = lows.shape[0]
    n_low = 0
    n_high = 0
    low_limit = np.float32(np.inf)  # largest kept low once full
    high_limit = np.float32(np.inf)  # largest kept negated high once full
    for f in range(start, stop):
        v = col[f]
        if n_low < k:
            _insert_ascending(lows, n_low, v)
            n_low += 1
            if n_low == k:
                low_limit = lows[k - 1]
        elif v < low_limit:
            _insert_ascending(lows, k, v)
            low_limit = lows[k - 1]
        if n_high < k:
            _insert_ascending(highs, n_high, -v)
            n_high += 1
            if n_high == k:
                high_limit = highs[k - 1]
        elif -v < high_limit:
            _insert_ascending(highs, k, -v)
            high_limit = highs[k - 1]
    low_sum = 0.0
    high_sum = 0.0
    for i in range(k):
        low_sum += lows[i]
        high_sum -= highs[i]
    return low_sum, high_sum


@numba.njit(cache=True, nogil=True, fastmath=True)
def _moments(col: np.ndarray, freq: np.ndarray, freq2: np.ndarray) -> tuple[float, float, float]:
    """``sum S``, ``sum f S``, ``sum f^2 S`` of one frame in float64 (vectorised, any order)."""
    m0 = 0.0
    m1 = 0.0
    m2 = 0.0
    for f in range(col.shape[0]):
        v = np.float64(col[f])
        m0 += v
        m1 += freq[f] * v
        m2 += freq2[f] * v
    return m0, m1, m2


@numba.njit(cache=True, nogil=True)
def frame_statistics(
    S: np.ndarray,
    freq: np.ndarray,
    roll_low: np.float32,
    roll_high: np.float32,
    bands: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Roll-off bins, spectral moments and contrast extremes of every frame.

    Parameters
    ----------
    S : np.ndarray, float32, shape (F, T), Fortran order
        Magnitude spectrogram (each frame contiguous).
    freq : np.ndarray, float64, shape (F,)
        Bin frequencies.
    roll_low, roll_high : np.float32
        Roll-off fractions (0.1 and 0.85).
    bands : np.ndarray, int64, shape (B, 3)
        Contrast bands as (start row, stop row, quantile count).

    Returns
    -------
    rolloff_bins : np.ndarray, int64, shape (2, T)
        First bin whose cumulative magnitude reaches each fraction of the frame total.
    moments : np.ndarray, float64, shape (3, T)
        ``sum S``, ``sum f S``, ``sum f^2 S`` per frame.
    valley, peak : np.ndarray, float64, shape (B, T)
        Mean of the quantile-count smallest / largest magnitudes of each band.
    """
    n_freq, n_frames = S.shape
    n_bands = bands.shape[0]
    rolloff_bins = np.zeros((2, n_frames), dtype=np.int64)
    moments = np.zeros((3, n_frames))
    valley = np.zeros((n_bands, n_frames))
    peak = np.zeros((n_bands, n_frames))
    max_q = 1
    for b in range(n_bands):
        max_q = max(max_q, bands[b, 2])
    low_buf = np.empty(max_q, dtype=np.float32)
    high_buf = np.empty(max_q, dtype=np.float32)
    freq2 = freq * freq
    cumulative = np.empty(n_freq, dtype=np.float32)
    for t in range(n_frames):
        col = S[:, t]
        moments[0, t], moments[1, t], moments[2, t] = _moments(col, freq, freq2)
        running = np.float32(0.0)
        for f in range(n_freq):  # sequential float32, as np.cumsum
            running += col[f]
            cumulative[f] = running
        # first bin whose cumulative sum reaches the fraction (the sum never decreases)
        rolloff_bins[0, t] = np.searchsorted(cumulative, roll_low * running)
        rolloff_bins[1, t] = np.searchsorted(cumulative, roll_high * running)
        for b in range(n_bands):
            n_q = bands[b, 2]
            low_sum, high_sum = _band_extremes(
                col, bands[b, 0], bands[b, 1], low_buf[:n_q], high_buf[:n_q]
            )
            valley[b, t] = low_sum / n_q
            peak[b, t] = high_sum / n_q
    return rolloff_bins, moments, valley, peak


@numba.njit(cache=True, nogil=True)
def pitch_peaks(
    S: np.ndarray, lo: int, hi: int, threshold: np.float32, sr: float, n_fft: int
) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.piptrack``'s peaks between rows ``lo`` and ``hi``: pitches and magnitudes.

    A bin is a peak when its magnitude, zeroed below ``threshold`` times its frame's maximum,
    is a local maximum along frequency; its pitch and magnitude are refined by parabolic
    interpolation. The float32 / float64 mix of every operation is librosa's (numpy for the
    gating and the gradient, its numba stencil for the interpolation).

    Parameters
    ----------
    S : np.ndarray, float32, shape (F, T), Fortran order
        Magnitude spectrogram; rows ``lo - 1`` and ``hi`` must exist.
    lo, hi : int
        Rows searched for peaks, ``lo:hi``.
    threshold : np.float32
        Fraction of the frame maximum below which bins are ignored (0.1).
    sr : float
        Sample rate in Hz.
    n_fft : int
        FFT length of ``S``.

    Returns
    -------
    pitches, mags : np.ndarray, float32, shape (n_peaks,)
    """
    n_freq, n_frames = S.shape
    pitches = np.empty((hi - lo) * n_frames, dtype=np.float32)
    mags = np.empty_like(pitches)
    n = 0
    half = np.float32(0.5)
    two = np.float32(2.0)
    for t in range(n_frames):
        col = S[:, t]
        frame_max = col[0]
        for f in range(1, n_freq):
            if col[f] > frame_max:
                frame_max = col[f]
        ref = threshold * frame_max
        for f in range(lo, hi):
            g0 = col[f] if col[f] > ref else np.float32(0.0)
            g_lo = col[f - 1] if col[f - 1] > ref else np.float32(0.0)
            g_hi = col[f + 1] if col[f + 1] > ref else np.float32(0.0)
            if not (g0 > g_lo and g0 >= g_hi):
                continue
            s0, s_lo, s_hi = col[f], col[f - 1], col[f + 1]
            a = np.float64(s_hi + s_lo) - 2.0 * np.float64(s0)
            b = np.float64(s_hi - s_lo) / 2.0
            shift = np.float32(0.0) if abs(b) >= abs(a) else np.float32(-b / a)
            gradient = (s_hi - s_lo) / two
            mags[n] = s0 + half * gradient * shift
            pitches[n] = np.float32((np.float64(f) + np.float64(shift)) * sr / n_fft)
            n += 1
    return pitches[:n], mags[:n]


@numba.njit(cache=True, nogil=True)
def block_energy_and_crossings(
    y: np.ndarray, n_blocks: int, block: int, pad: int, zero: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-block sums over the centred, padded signal, without building the padded copy.

    Block ``b`` covers samples ``b * block .. (b + 1) * block - 1`` of ``y`` padded by ``pad``
    samples on each side: zeros for the energy (librosa's RMS padding), repeated edge samples
    for the crossings (librosa's zero-crossing padding).

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)
    n_blocks : int
        Number of blocks (``(n + 2 pad) // block`` at most).
    block, pad : int
        Block length and padding, samples.
    zero : float
        Magnitudes up to this count as zero (and zero as positive) for the crossings.

    Returns
    -------
    energy : np.ndarray, float64, shape (n_blocks,)
        Sum of squares per block.
    crossings : np.ndarray, int64, shape (n_blocks,)
        Sign changes between each sample and the one before it, per block (none before the
        first sample).
    at_start : np.ndarray, int64, shape (n_blocks,)
        Whether the block's first sample is itself a sign change (0 or 1).
    """
    n = y.shape[0]
    energy = np.zeros(n_blocks)
    crossings = np.zeros(n_blocks, dtype=np.int64)
    at_start = np.zeros(n_blocks, dtype=np.int64)
    previous = y[0] < -zero  # the padding before y repeats y[0]: no change there
    for b in range(n_blocks):
        base = b * block - pad
        total = 0.0
        changes = 0
        if base >= 0 and base + block <= n:  # interior block: no padding involved
            for i in range(base, base + block):
                v = y[i]
                total += np.float64(v) * np.float64(v)
                negative = v < -zero
                changes += negative != previous
                previous = negative
            first = base
        else:
            for i in range(base, base + block):
                if 0 <= i < n:
                    total += np.float64(y[i]) * np.float64(y[i])
                negative = y[min(max(i, 0), n - 1)] < -zero
                changes += negative != previous
                previous = negative
            first = min(max(base, 0), n - 1)
        energy[b] = total
        crossings[b] = changes
        if b > 0:
            before = y[min(max(base - 1, 0), n - 1)] < -zero
            at_start[b] = (y[first] < -zero) != before
    return energy, crossings, at_start


@numba.njit(cache=True, nogil=True, fastmath=True)
def mel_power(
    S: np.ndarray, weights: np.ndarray, starts: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """``basis @ S**2`` for a banded filter bank, touching only each filter's non-zero bins.

    A Slaney mel filter is a triangle over a few bins, so 98 % of the dense product's
    128 x 1025 weights per frame are zeros; this sums the 2 % that are not, in float32 as the
    dense product does (in another order: the values agree to float32 rounding).

    Parameters
    ----------
    S : np.ndarray, float32, shape (F, T), Fortran order
        Magnitude spectrogram (each frame contiguous).
    weights : np.ndarray, float32, shape (W,)
        The filters' weights over their supports, filter after filter.
    starts : np.ndarray, int64, shape (M,)
        First bin of each filter's support.
    offsets : np.ndarray, int64, shape (M + 1,)
        Filter ``m``'s weights are ``weights[offsets[m]:offsets[m + 1]]``.

    Returns
    -------
    np.ndarray, float32, shape (M, T)
    """
    n_bands = starts.shape[0]
    n_freq, n_frames = S.shape
    out = np.empty((n_bands, n_frames), dtype=np.float32)
    power = np.empty(n_freq, dtype=np.float32)
    for t in range(n_frames):
        for f in range(n_freq):
            power[f] = S[f, t] * S[f, t]
        for m in range(n_bands):
            first = offsets[m]
            shift = starts[m] - first
            total = np.float32(0.0)
            for w in range(first, offsets[m + 1]):
                total += weights[w] * power[w + shift]
            out[m, t] = total
    return out


@numba.njit(cache=True, nogil=True)
def fold_aliases(kernels: np.ndarray, spectra: np.ndarray) -> np.ndarray:
    """Filter block spectra and fold their ``h`` aliases: a CQT octave's small-hop responses.

    Multiplying a block's spectrum by a filter's and keeping every ``h``-th sample of the
    inverse transform is the same as summing the ``h`` aliases of the product (the spectrum
    cut into ``h`` consecutive pieces of length ``R``) and transforming that length-``R`` sum.

    Parameters
    ----------
    kernels : np.ndarray, complex128, shape (K, h, R)
        Filter spectra, cut into their ``h`` aliases.
    spectra : np.ndarray, complex128, shape (B, h, R)
        Block spectra, cut the same way.

    Returns
    -------
    np.ndarray, complex128, shape (B, K, R)
        ``sum over a of kernels[k, a] * spectra[b, a]``.
    """
    n_kernels, n_aliases, n_out = kernels.shape
    n_blocks = spectra.shape[0]
    out = np.zeros((n_blocks, n_kernels, n_out), dtype=np.complex128)
    for b in range(n_blocks):
        for k in range(n_kernels):
            row = out[b, k]
            for a in range(n_aliases):
                kernel = kernels[k, a]
                spectrum = spectra[b, a]
                for j in range(n_out):
                    row[j] += kernel[j] * spectrum[j]
    return out
