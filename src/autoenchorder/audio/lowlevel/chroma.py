"""Chroma and tonnetz from one constant-Q transform, with librosa's exact arithmetic.

``librosa.feature.chroma_cqt(y=y, sr=sr)`` and ``librosa.feature.tonnetz(y=y, sr=sr)`` each
estimate the tuning (a pitch track over a fresh STFT) and compute the same 252-bin CQT (7 octaves
from C1, 36 bins per octave, hop 512). Here the tuning is estimated once, from the shared STFT
magnitude and only over the 150 Hz - 4 kHz rows the pitch tracker looks at, and the CQT is computed
once with librosa's own recursive-octave algorithm (same early downsampling, same soxr
resampler, same sparse FFT filter bases), its filter bases built once per (rate, tuning) and
reused. The low octaves, whose hop (4 to 16 samples) is a small fraction of their 1024-sample
frames, are computed by blocks of fast convolution instead of one FFT per frame: the same linear
map, accumulated in float64, about half the work (:func:`_octave_response_by_blocks`). Tonnetz is
linear in the L1-normalised chroma, so its mean is a 6 x 12 projection of the mean normalised
chroma.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from autoenchorder.audio.lowlevel.kernels import fold_aliases, pitch_peaks
from autoenchorder.errors import AudioError

HOP_LENGTH = 512
N_CHROMA = 12
N_OCTAVES = 7
BINS_PER_OCTAVE = 36
N_BINS = N_OCTAVES * BINS_PER_OCTAVE
SPARSITY = 0.01
RES_TYPE = "soxr_hq"
#: Frames per FFT call in the CQT octaves (bounds the temporary spectrum).
CQT_BLOCK_FRAMES = 128
#: Octaves whose hop is at most this many samples are computed by fast convolution.
CONVOLUTION_MAX_HOP = 16
#: Fast-convolution block length, in frame lengths (each block yields 3 frame lengths of hops).
CONVOLUTION_BLOCK_FRAMES = 4
#: Frames whose peak is below this fraction of their block's are computed frame by frame: a
#: block's float64 rounding error scales with its loudest sample, and a frame of near-silence
#: next to loud ones (resampler ringing before an attack) must stay accurate relative to
#: itself, as its own FFT keeps it (exact zeros included).
CONVOLUTION_QUIET_RATIO = 1e-6
#: Filter-response values (complex128) per group of convolution blocks: about 4 MB of
#: temporaries per group, however long the signal.
CONVOLUTION_GROUP_VALUES = 1 << 18
#: Pitch-tracker settings of ``librosa.estimate_tuning`` (via ``piptrack``) at their defaults.
PIP_FMIN = 150.0
PIP_FMAX = 4000.0
PIP_THRESHOLD = 0.1
TUNING_RESOLUTION = 0.01
STFT_N_FFT = 2048


@dataclass(frozen=True)
class OctaveFilters:
    """The sparse FFT filter basis of one CQT octave.

    Attributes
    ----------
    n_fft : int
        Frame length of the octave's STFT (rectangular window).
    hop : int
        Hop between the octave's frames, samples at the octave's rate.
    columns : slice
        The FFT bins the basis touches.
    basis : np.ndarray, complex64, shape (36, columns width)
        Filter responses on those bins (zero where librosa's sparsification dropped them).
    """

    n_fft: int
    hop: int
    columns: slice
    basis: np.ndarray

    @property
    def by_convolution(self) -> bool:
        """Whether the octave is computed by fast convolution (:func:`convolution_kernels`)."""
        return self.hop <= CONVOLUTION_MAX_HOP


@dataclass(frozen=True)
class CqtPlan:
    """Everything the CQT of one (sample rate, tuning) needs that does not depend on the signal.

    Attributes
    ----------
    downsample_factor : int
        Early decimation applied to the signal before the top octave.
    hop_length : int
        Hop after early decimation (the top octave's).
    octaves : tuple of OctaveFilters
        From the top octave down.
    scale : np.ndarray, float64, shape (252,)
        ``1 / sqrt(filter length)`` per bin (librosa's ``scale=True``).
    """

    downsample_factor: int
    hop_length: int
    octaves: tuple[OctaveFilters, ...]
    scale: np.ndarray


def _relative_bandwidth(freqs: np.ndarray) -> np.ndarray:
    """Relative bandwidth of each log-spaced bin (librosa's ``filters._relative_bandwidth``)."""
    logf = np.log2(freqs)
    bpo = np.empty_like(freqs)
    bpo[0] = 1 / (logf[1] - logf[0])
    bpo[-1] = 1 / (logf[-1] - logf[-2])
    bpo[1:-1] = 2 / (logf[2:] - logf[:-2])
    return (2.0 ** (2 / bpo) - 1) / (2.0 ** (2 / bpo) + 1)


def _two_factors(n: int) -> int:
    count = 0
    while n > 0 and n % 2 == 0:
        n //= 2
        count += 1
    return count


def _octave_kernels(octave: OctaveFilters) -> np.ndarray:
    """Filter spectra of one octave for :func:`_octave_response_by_blocks`.

    A filter's response to a frame ``x`` is ``sum_f basis[f] X[f]`` with ``X`` the frame's
    FFT, i.e. ``sum_n x[n] kernel[n]`` with ``kernel = fft(basis zero-padded to n_fft)``; over a
    block of ``Q`` samples, the response at every lag is the inverse FFT of the block's spectrum
    times ``Q ifft(kernel, Q)``.

    Returns
    -------
    np.ndarray, complex128, shape (36, hop, Q // hop)
        ``Q ifft(kernel, Q) / hop`` cut into ``hop`` consecutive aliases. Kept in float64: a
        block's rounding error scales with its loudest samples, and a quiet frame next to loud
        ones must stay accurate relative to its own level.
    """
    n_fft, hop = octave.n_fft, octave.hop
    block = CONVOLUTION_BLOCK_FRAMES * n_fft
    padded = np.zeros((octave.basis.shape[0], n_fft), dtype=np.complex128)
    padded[:, octave.columns] = octave.basis
    kernel = scipy.fft.fft(padded, axis=1)
    spectrum = scipy.fft.ifft(kernel, n=block, axis=1) * (block / hop)
    return spectrum.reshape(octave.basis.shape[0], hop, block // hop)


@lru_cache(maxsize=8)
def convolution_kernels(sr: float, tuning: float) -> tuple[np.ndarray | None, ...]:
    """Per octave of :func:`cqt_plan`, its fast-convolution filter spectra or None.

    Cached apart from the plan and for fewer (rate, tuning) pairs: they take about 2.4 MB per
    octave (up to 56 MB for 8 pairs at 44.1 kHz), and rebuilding them costs a few
    milliseconds, not the plan's tens (procedural songs' tunings fall on about 8 values).

    Returns
    -------
    tuple of (np.ndarray, complex128, shape (36, hop, Q // hop)) or None
        From the top octave down; None for octaves computed frame by frame.
    """
    return tuple(
        _octave_kernels(octave) if octave.by_convolution else None
        for octave in cqt_plan(sr, tuning).octaves
    )


@lru_cache(maxsize=64)
def cqt_plan(sr: float, tuning: float) -> CqtPlan:
    """Build (once per rate and tuning) the filters of librosa's 252-bin chroma CQT.

    Parameters
    ----------
    sr : float
        Sample rate in Hz.
    tuning : float
        Tuning offset in fractions of a bin, as :func:`estimate_tuning` returns it.

    Returns
    -------
    CqtPlan

    Raises
    ------
    AudioError
        The rate is too low for 7 octaves above C1 (the top filter would pass Nyquist: librosa
        refuses such rates too, below about 8.4 kHz).
    """
    import librosa  # noqa: PLC0415  (heavy import kept off the package's import path)

    fmin = librosa.note_to_hz("C1") * 2.0 ** (tuning / BINS_PER_OCTAVE)
    freqs = librosa.interval_frequencies(
        n_bins=N_BINS, fmin=fmin, intervals="equal", bins_per_octave=BINS_PER_OCTAVE, sort=True
    )
    alpha = _relative_bandwidth(freqs)
    _, cutoff = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0, alpha=alpha
    )
    nyquist = sr / 2.0
    if cutoff > nyquist:
        raise AudioError(
            None,
            f"sample rate {sr:g} Hz is too low for the chroma CQT "
            f"(its top filter reaches {cutoff:.0f} Hz; needs a rate above {2 * cutoff:.0f} Hz)",
        )
    count = min(
        max(0, int(np.ceil(np.log2(nyquist / cutoff)) - 1) - 1),
        max(0, _two_factors(HOP_LENGTH) - N_OCTAVES + 1),
    )
    factor = 2**count
    sr_ds = sr / factor
    hop = HOP_LENGTH // factor

    octaves = []
    my_sr = sr_ds
    my_hop = hop
    for i in range(N_OCTAVES):
        sl = slice(N_BINS - BINS_PER_OCTAVE * (i + 1), N_BINS - BINS_PER_OCTAVE * i)
        basis, lengths = librosa.filters.wavelet(
            freqs=freqs[sl],
            sr=my_sr,
            filter_scale=1,
            norm=1,
            pad_fft=True,
            window="hann",
            gamma=0,
            alpha=alpha[sl],
        )
        n_fft = basis.shape[1]
        basis *= lengths[:, np.newaxis] / float(n_fft)
        fft_basis = scipy.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
        sparse = librosa.util.sparsify_rows(fft_basis, quantile=SPARSITY, dtype=np.complex64)
        dense = sparse.toarray() * np.sqrt(sr_ds / my_sr)
        used = np.flatnonzero(np.any(dense != 0, axis=0))
        columns = slice(int(used[0]), int(used[-1]) + 1)
        octaves.append(
            OctaveFilters(
                n_fft, my_hop, columns, np.ascontiguousarray(dense[:, columns], np.complex64)
            )
        )
        my_sr /= 2.0
        if my_hop % 2 == 0:
            my_hop //= 2
    lengths, _ = librosa.filters.wavelet_lengths(
        freqs=freqs, sr=sr_ds, window="hann", filter_scale=1, gamma=0, alpha=alpha
    )
    return CqtPlan(factor, hop, tuple(octaves), 1.0 / np.sqrt(lengths))


def _decimate(y: np.ndarray, factor: int) -> np.ndarray:
    """``librosa.resample(y, orig_sr=factor, target_sr=1, res_type="soxr_hq", scale=True)``.

    The same soxr call, length fix and gain, without librosa's per-call validation and
    ``apply_along_axis`` overhead (it dominates on the short low octaves).
    """
    import soxr  # noqa: PLC0415

    ratio = 1.0 / factor
    n_samples = int(np.ceil(y.shape[-1] * ratio))
    y_hat = soxr.resample(y, factor, 1, quality=RES_TYPE)
    if y_hat.shape[-1] > n_samples:
        y_hat = y_hat[:n_samples]
    elif y_hat.shape[-1] < n_samples:
        y_hat = np.pad(y_hat, (0, n_samples - y_hat.shape[-1]))
    y_hat /= np.sqrt(ratio)
    return np.asarray(y_hat, dtype=y.dtype)


def _octave_response_by_blocks(
    y: np.ndarray, octave: OctaveFilters, kernels: np.ndarray
) -> np.ndarray:
    """Filter responses of one small-hop octave by fast convolution, in float64.

    The same linear map as :func:`_octave_response` (each frame's rectangular-window FFT times
    the sparse basis), computed as the correlation of the padded signal with each filter's
    time-domain kernel: blocks of ``Q = 4 n_fft`` samples, one real FFT each, give
    ``(Q - n_fft) / hop + 1`` frames per block through :func:`.kernels.fold_aliases` and one
    inverse FFT of length ``Q / hop`` per filter. A frame costs about ``36 hop`` complex
    products instead of an ``n_fft``-point FFT.

    Frames whose peak is below :data:`CONVOLUTION_QUIET_RATIO` times their block's (exact
    silence included) are computed by their own FFT instead: the block's rounding would
    otherwise swamp them with a trace of its loud samples.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)
        The signal at the octave's rate.
    octave : OctaveFilters
    kernels : np.ndarray, complex128, shape (36, hop, Q // hop)
        The octave's entry of :func:`convolution_kernels`.

    Returns
    -------
    np.ndarray, complex64, shape (36, 1 + len(y) // hop)
    """
    n_fft, hop = octave.n_fft, octave.hop
    n_filters, _, n_lags = kernels.shape
    block = hop * n_lags
    per_block = (block - n_fft) // hop + 1
    n_frames = 1 + y.shape[0] // hop
    n_blocks = -(-n_frames // per_block)
    padded = np.zeros((n_blocks - 1) * per_block * hop + block)
    usable = min(padded.size - n_fft // 2, y.shape[0])
    padded[n_fft // 2 : n_fft // 2 + usable] = y[:usable]
    segments = np.lib.stride_tricks.sliding_window_view(padded, block)[:: per_block * hop]
    out = np.empty((n_filters, n_blocks * per_block), dtype=np.complex64)
    group = max(1, CONVOLUTION_GROUP_VALUES // (n_filters * n_lags))  # bounds the temporaries
    for first in range(0, n_blocks, group):
        count = min(group, n_blocks - first)
        half = scipy.fft.rfft(segments[first : first + count], axis=1)
        spectra = np.empty((count, block), dtype=np.complex128)
        spectra[:, : block // 2 + 1] = half
        spectra[:, block // 2 + 1 :] = np.conj(half[:, block // 2 - 1 : 0 : -1])
        folded = fold_aliases(kernels, spectra.reshape(count, hop, n_lags))
        lags = scipy.fft.ifft(folded, axis=2, overwrite_x=True)[:, :, :per_block]
        columns = slice(first * per_block, (first + count) * per_block)
        out[:, columns] = lags.transpose(1, 0, 2).reshape(n_filters, count * per_block)
    out = out[:, :n_frames]
    chunk_peaks = np.abs(padded).reshape(-1, hop).max(axis=1)  # frames start at chunk edges
    window = np.lib.stride_tricks.sliding_window_view
    frame_peaks = window(chunk_peaks, n_fft // hop)[:n_frames].max(axis=1)
    block_peaks = window(chunk_peaks, n_lags)[::per_block][:n_blocks].max(axis=1)
    quiet = np.flatnonzero(
        frame_peaks < CONVOLUTION_QUIET_RATIO * np.repeat(block_peaks, per_block)[:n_frames]
    )
    if quiet.size:
        frames = window(padded[: (n_frames - 1) * hop + n_fft].astype(np.float32), n_fft)
        out[:, quiet] = _frames_response(frames[::hop][quiet], octave).T
    return out


def _frames_response(frames: np.ndarray, octave: OctaveFilters) -> np.ndarray:
    """Filter responses of frames: each one's FFT times the sparse basis, shape (T, 36).

    Frames are transformed in blocks so that only the FFT bins the filters use are kept (memory
    stays proportional to the output, not to frames x FFT length).
    """
    out = np.empty((frames.shape[0], octave.basis.shape[0]), dtype=np.complex64)
    basis_t = octave.basis.T
    for start in range(0, frames.shape[0], CQT_BLOCK_FRAMES):
        block = slice(start, start + CQT_BLOCK_FRAMES)
        spectrum = scipy.fft.rfft(frames[block], axis=1)[:, octave.columns]
        np.matmul(spectrum, basis_t, out=out[block])
    return out


def _octave_response(y: np.ndarray, hop: int, octave: OctaveFilters) -> np.ndarray:
    """Filter responses of one octave: rectangular-window STFT times the sparse basis.

    Returns
    -------
    np.ndarray, complex64, shape (36, 1 + len(y) // hop)
    """
    n_fft = octave.n_fft
    padded = np.pad(y, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return _frames_response(frames, octave).T


def cqt_magnitude(y: np.ndarray, sr: float, tuning: float) -> np.ndarray:
    """|CQT| as ``np.abs(librosa.cqt(y, sr=sr, n_bins=252, bins_per_octave=36, tuning=tuning))``.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)
    sr : float
    tuning : float

    Returns
    -------
    np.ndarray, float32, shape (252, 1 + n // 512)
    """
    plan = cqt_plan(float(sr), float(tuning))
    if plan.downsample_factor > 1:
        y = _decimate(y, plan.downsample_factor)
    kernels = convolution_kernels(float(sr), float(tuning))
    responses = []
    for i, octave in enumerate(plan.octaves):
        if kernels[i] is not None:
            responses.append(_octave_response_by_blocks(y, octave, kernels[i]))
        else:
            responses.append(_octave_response(y, octave.hop, octave))
        if octave.hop % 2 == 0 and i + 1 < len(plan.octaves):  # the last octave needs no more
            y = _decimate(y, 2)
    n_frames = min(r.shape[1] for r in responses)
    magnitude = np.empty((N_BINS, n_frames), dtype=np.float32)
    row = 0
    for response in reversed(responses):  # lowest octave first
        np.abs(response[:, :n_frames], out=magnitude[row : row + response.shape[0]])
        row += response.shape[0]
    magnitude *= plan.scale.astype(np.float32)[:, np.newaxis]
    return magnitude


def estimate_tuning(S: np.ndarray, sr: float) -> float:
    """``librosa.estimate_tuning(y=y, sr=sr, bins_per_octave=36)`` from the shared |STFT|.

    The pitch tracker only keeps local maxima between 150 Hz and 4 kHz, so only those rows (and
    one neighbour on each side) are processed, in one compiled pass
    (:func:`~autoenchorder.audio.lowlevel.kernels.pitch_peaks`); the arithmetic mirrors
    librosa's, operation by operation and in the same precision, so that the histogram of
    tuning residuals is the same.

    Parameters
    ----------
    S : np.ndarray, float32, shape (1025, T)
        |STFT| with n_fft 2048, hop 512 (the one :mod:`.spectral` uses).
    sr : float

    Returns
    -------
    float
        Tuning in fractions of a CQT bin, a multiple of 0.01 in [-0.5, 0.5).
    """
    import librosa  # noqa: PLC0415

    freqs = np.fft.rfftfreq(STFT_N_FFT, d=1.0 / sr)
    fmax = min(PIP_FMAX, float(sr) / 2)
    rows = np.flatnonzero((freqs >= PIP_FMIN) & (freqs < fmax))
    # rows never include bin 0 or Nyquist, so both neighbours of every row exist
    pitches, mags = pitch_peaks(
        np.asfortranarray(S, dtype=np.float32),
        int(rows[0]),
        int(rows[-1]) + 1,
        np.float32(PIP_THRESHOLD),
        float(sr),
        STFT_N_FFT,
    )
    selected = pitches[pitches > 0]
    if selected.size == 0:
        return 0.0  # librosa warns "empty frequency set" and returns 0.0 (e.g. for silence)
    threshold = np.median(mags[pitches > 0])
    selected = pitches[(pitches > 0) & (mags >= threshold)]
    return float(
        librosa.pitch_tuning(
            selected, resolution=TUNING_RESOLUTION, bins_per_octave=BINS_PER_OCTAVE
        )
    )


@lru_cache(maxsize=1)
def chroma_map() -> np.ndarray:
    """Librosa's CQT-to-chroma folding matrix for 252 bins, 36 per octave, shape (12, 252)."""
    import librosa  # noqa: PLC0415

    return librosa.filters.cq_to_chroma(N_BINS, bins_per_octave=BINS_PER_OCTAVE, n_chroma=N_CHROMA)


@lru_cache(maxsize=1)
def tonnetz_map() -> np.ndarray:
    """Librosa's chroma-to-tonnetz projection (fifths, minor and major thirds), shape (6, 12)."""
    dim_map = np.linspace(0, 12, num=N_CHROMA, endpoint=False)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    angles = np.multiply.outer(scale, dim_map)
    angles[::2] -= 0.5
    radii = np.array([1, 1, 1, 1, 0.5, 0.5])
    return radii[:, np.newaxis] * np.cos(np.pi * angles)


def _normalize_columns(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Divide each column by its length, leaving (near-)zero columns as they are (librosa)."""
    lengths = np.where(lengths < np.finfo(x.dtype).tiny, 1.0, lengths)
    return (x / lengths).astype(x.dtype, copy=False)


def chroma_tonnetz_means(y: np.ndarray, sr: float, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean chroma (12) and mean tonnetz (6) of a signal, as librosa's two calls average them.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n,)
    sr : float
    S : np.ndarray, float32, shape (1025, T)
        The shared |STFT| (for the tuning estimate).

    Returns
    -------
    chroma : np.ndarray, float64, shape (12,)
    tonnetz : np.ndarray, float64, shape (6,)
    """
    tuning = estimate_tuning(S, sr)
    C = cqt_magnitude(y, sr, tuning)
    chroma = chroma_map() @ C
    chroma[chroma < 0.0] = 0.0
    chroma = _normalize_columns(chroma, np.max(np.abs(chroma), axis=0, keepdims=True))
    unit = _normalize_columns(
        chroma, np.sum(np.abs(chroma), axis=0, keepdims=True, dtype=np.float64)
    )
    chroma_mean = chroma.mean(axis=1, dtype=np.float64)
    tonnetz_mean = tonnetz_map() @ unit.mean(axis=1, dtype=np.float64)
    return chroma_mean, tonnetz_mean
