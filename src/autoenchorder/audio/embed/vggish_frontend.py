"""VGGish's input features: 16 kHz log-mel patches of 96 frames x 64 bands, as the official code.

The numbers are those of the official ``vggish_params`` / ``mel_features`` / ``vggish_input``
(tensorflow/models, research/audioset/vggish), re-implemented here:

* mono average, resample to 16 kHz with resampy's ``kaiser_best`` filter (the official
  resampler, computed here as an equivalent polyphase FIR, 4-20x faster; ``soxr_hq`` is
  offered as an alternative that does not reproduce the reference);
* frames of 400 samples (25 ms) every 160 samples (10 ms), no centring, periodic Hann window,
  FFT of 512 points, magnitude;
* 64 triangular HTK mel bands from 125 to 7500 Hz (``mel = 1127 ln(1 + f / 700)``), linear in
  mel, peak 1, no area normalisation, the DC bin given zero weight;
* ``log(mel + 0.01)``;
* examples of 96 frames every 96 frames (0.96 s, no overlap); a trailing partial example is
  dropped, so a 30 s clip gives 31 examples.

Everything is computed in float64 (as the reference, which reads int16 WAV into float64) and
the examples are returned as float32. :class:`StreamingFrontend` produces the same examples
from a signal fed in blocks, in memory independent of the signal's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from math import gcd

import numpy as np

from autoenchorder.errors import AudioError

#: Sample rate of the network's input, Hz.
SAMPLE_RATE: int = 16000
#: STFT window length in samples (25 ms).
WINDOW_LENGTH: int = 400
#: STFT hop in samples (10 ms).
HOP_LENGTH: int = 160
#: FFT size: the next power of two above the window length.
FFT_LENGTH: int = 512
#: Number of mel bands.
NUM_BANDS: int = 64
#: Lower edge of the lowest mel band, Hz.
MEL_MIN_HZ: float = 125.0
#: Upper edge of the highest mel band, Hz.
MEL_MAX_HZ: float = 7500.0
#: Offset added to the mel magnitudes before the log.
LOG_OFFSET: float = 0.01
#: STFT frames per example (0.96 s).
EXAMPLE_FRAMES: int = 96
#: STFT frames between the starts of consecutive examples (0.96 s, no overlap).
EXAMPLE_HOP_FRAMES: int = 96
#: Seconds between example starts.
EXAMPLE_HOP_SECONDS: float = EXAMPLE_HOP_FRAMES * HOP_LENGTH / SAMPLE_RATE
#: Samples at 16 kHz that one example needs: (96 - 1) * 160 + 400 = 15600 (0.975 s).
EXAMPLE_SAMPLES: int = (EXAMPLE_FRAMES - 1) * HOP_LENGTH + WINDOW_LENGTH
#: Samples at 16 kHz between the starts of consecutive examples (15360).
EXAMPLE_HOP_SAMPLES: int = EXAMPLE_HOP_FRAMES * HOP_LENGTH

#: Resamplers the front-end accepts.
RESAMPLERS: tuple[str, ...] = ("kaiser_best", "soxr_hq")
#: What to do with inputs too short for one example.
SHORT_INPUT_POLICIES: tuple[str, ...] = ("error", "pad")


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray:
    """Convert frequencies to the HTK mel scale, ``1127 ln(1 + f / 700)``.

    Parameters
    ----------
    frequencies_hertz : float or np.ndarray
        Frequencies in Hz.

    Returns
    -------
    np.ndarray
        Mel values, same shape.
    """
    return 1127.0 * np.log1p(np.asarray(frequencies_hertz, dtype=np.float64) / 700.0)


@lru_cache(maxsize=1)
def mel_matrix() -> np.ndarray:
    """The mel filterbank that post-multiplies STFT magnitude rows.

    Returns
    -------
    np.ndarray, float64, shape (FFT_LENGTH // 2 + 1, NUM_BANDS) = (257, 64)
        Column ``i`` is the triangle of band ``i``, linear in mel between its lower edge,
        centre and upper edge (``NUM_BANDS + 2`` equally spaced mel points from 125 to
        7500 Hz); row 0 (DC) is zero. Read-only.
    """
    num_bins = FFT_LENGTH // 2 + 1
    bin_mel = hertz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2.0, num_bins))
    edges = np.linspace(hertz_to_mel(MEL_MIN_HZ), hertz_to_mel(MEL_MAX_HZ), NUM_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel[:, None] - lower) / (centre - lower)
    falling = (upper - bin_mel[:, None]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    weights.setflags(write=False)
    return weights


@lru_cache(maxsize=1)
def periodic_hann() -> np.ndarray:
    """The periodic Hann window of ``WINDOW_LENGTH`` points, ``0.5 - 0.5 cos(2 pi n / N)``.

    Returns
    -------
    np.ndarray, float64, shape (WINDOW_LENGTH,)
    """
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi / WINDOW_LENGTH * np.arange(WINDOW_LENGTH))
    window.setflags(write=False)
    return window


def log_mel(y16k: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram of a 16 kHz signal.

    Parameters
    ----------
    y16k : np.ndarray, shape (n,)
        Mono samples at 16 kHz.

    Returns
    -------
    np.ndarray, float64, shape (max(0, 1 + (n - 400) // 160), 64)
        ``log(|STFT| @ mel_matrix() + 0.01)``, one row per 10 ms frame.
    """
    y16k = np.asarray(y16k, dtype=np.float64)
    num_frames = 1 + (y16k.shape[0] - WINDOW_LENGTH) // HOP_LENGTH
    if num_frames <= 0:
        return np.zeros((0, NUM_BANDS), dtype=np.float64)
    frames = np.lib.stride_tricks.as_strided(
        y16k,
        shape=(num_frames, WINDOW_LENGTH),
        strides=(y16k.strides[0] * HOP_LENGTH, y16k.strides[0]),
        writeable=False,
    )
    magnitude = np.abs(np.fft.rfft(frames * periodic_hann(), FFT_LENGTH))
    return np.log(magnitude @ mel_matrix() + LOG_OFFSET)


def frame_examples(log_mel_frames: np.ndarray) -> np.ndarray:
    """Cut a log-mel spectrogram into non-overlapping 96-frame examples.

    Parameters
    ----------
    log_mel_frames : np.ndarray, shape (F, 64)

    Returns
    -------
    np.ndarray, float32, shape (E, 96, 64)
        ``E = 1 + (F - 96) // 96`` complete examples (0 if ``F < 96``); the tail is dropped.
    """
    num_examples = max(0, 1 + (log_mel_frames.shape[0] - EXAMPLE_FRAMES) // EXAMPLE_HOP_FRAMES)
    used = log_mel_frames[: num_examples * EXAMPLE_HOP_FRAMES]
    return used.reshape(num_examples, EXAMPLE_FRAMES, NUM_BANDS).astype(np.float32)


def resample_to_16k(y: np.ndarray, sr: int, *, resampler: str = "kaiser_best") -> np.ndarray:
    """Resample a mono signal to 16 kHz, in float64.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono samples at ``sr``.
    sr : int
        Their sample rate.
    resampler : {"kaiser_best", "soxr_hq"}
        ``"kaiser_best"``: resampy's Kaiser-windowed sinc, as the official code (computed as
        the equivalent polyphase filter, see
        :mod:`~autoenchorder.audio.embed.vggish_resample`); output length
        ``int(n * 16000 / sr)``. ``"soxr_hq"``: libsoxr's HQ preset (librosa >= 0.10's
        default); output length ``ceil(n * 16000 / sr)``.

    Returns
    -------
    np.ndarray, float64, shape (n16,)
    """
    y = np.asarray(y, dtype=np.float64)
    if sr == SAMPLE_RATE:
        return y
    if resampler == "kaiser_best":
        from autoenchorder.audio.embed.vggish_resample import (  # noqa: PLC0415
            resample_kaiser_best,
        )

        return resample_kaiser_best(y, sr)
    if resampler == "soxr_hq":
        import soxr  # noqa: PLC0415

        out = soxr.resample(y, sr, SAMPLE_RATE, quality="HQ")
        size = int(np.ceil(y.shape[0] * SAMPLE_RATE / sr))
        return np.pad(out, (0, max(0, size - out.shape[0])))[:size]
    raise ValueError(f"unknown resampler {resampler!r}; use one of {RESAMPLERS}")


def pad_short(y16k: np.ndarray) -> np.ndarray:
    """Zero-pad a 16 kHz signal at the end to at least one example's length (15600 samples).

    Parameters
    ----------
    y16k : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray, shape (max(n, 15600),)
    """
    return np.pad(y16k, (0, max(0, EXAMPLE_SAMPLES - y16k.shape[0])))


def waveform_to_examples(
    y: np.ndarray,
    sr: int,
    *,
    resampler: str = "kaiser_best",
    short_input: str = "error",
) -> np.ndarray:
    """VGGish input examples of a waveform (the official ``waveform_to_examples``).

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        Samples at ``sr``; several channels are averaged.
    sr : int
        Sample rate of ``y``.
    resampler : {"kaiser_best", "soxr_hq"}
        See :func:`resample_to_16k`.
    short_input : {"error", "pad"}
        Inputs shorter than one example (0.975 s at 16 kHz) have no output in the official
        code. ``"error"`` raises :class:`AudioError`; ``"pad"`` zero-pads them to one example.

    Returns
    -------
    np.ndarray, float32, shape (E, 96, 64)
        Example ``k`` starts at ``k * 0.96`` s.

    Raises
    ------
    AudioError
        Input shorter than one example with ``short_input="error"``.
    """
    if short_input not in SHORT_INPUT_POLICIES:
        raise ValueError(f"short_input must be one of {SHORT_INPUT_POLICIES}, not {short_input!r}")
    y = np.asarray(y)
    if y.ndim == 2:
        y = y.mean(axis=0, dtype=np.float64)
    y16k = resample_to_16k(y, sr, resampler=resampler)
    if y16k.shape[0] < EXAMPLE_SAMPLES:
        if short_input == "error":
            raise AudioError(None, short_input_reason(y.shape[0] / sr))
        y16k = pad_short(y16k)
    return frame_examples(log_mel(y16k))


def short_input_reason(seconds: float) -> str:
    """The message for an input too short for one VGGish example.

    Parameters
    ----------
    seconds : float
        The input's duration.

    Returns
    -------
    str
    """
    return (
        f"{seconds:.3f} s of audio is shorter than one VGGish example "
        f"({EXAMPLE_SAMPLES / SAMPLE_RATE:.3f} s), which has no output in the reference; "
        "pass short_input='pad' to zero-pad it"
    )


class StreamingResampler:
    """Resample a signal fed in blocks to exactly the samples of one-shot resampling.

    Each call resamples the pending input with margins on both sides that cover the filter's
    support, and keeps only the output samples whose whole support lies inside; segments start
    on input samples that fall on an output sample, so the filter phases are those of the
    one-shot call. Memory is the block size plus the margins.

    Parameters
    ----------
    sr : int
        Input sample rate.
    resampler : {"kaiser_best", "soxr_hq"}
        See :func:`resample_to_16k`. ``soxr_hq`` matches one-shot resampling to about 1e-6,
        ``kaiser_best`` to float rounding.
    """

    def __init__(self, sr: int, *, resampler: str = "kaiser_best") -> None:
        if resampler not in RESAMPLERS:
            raise ValueError(f"unknown resampler {resampler!r}; use one of {RESAMPLERS}")
        self.sr = int(sr)
        self.resampler = resampler
        divisor = gcd(self.sr, SAMPLE_RATE)
        self._in_step = self.sr // divisor  # input samples per aligned step
        self._out_step = SAMPLE_RATE // divisor  # output samples per aligned step
        self._margin = self._aligned(self._support())
        self._buffer = np.zeros(0, dtype=np.float64)
        self._buffer_start = 0  # global input index of _buffer[0]
        self._next_out = 0  # global index of the next output sample to emit
        self._total_in = 0

    def _support(self) -> int:
        # Input samples each side of an output sample that the filter reaches (generous).
        ratio = max(1.0, self.sr / SAMPLE_RATE)
        if self.resampler == "kaiser_best":
            from resampy.filters import get_filter  # noqa: PLC0415

            window, num_table, _ = get_filter("kaiser_best")
            scale = min(1.0, SAMPLE_RATE / self.sr)
            return int(window.shape[0] // max(1, int(scale * num_table))) + 8
        return int(16384 * ratio)  # soxr HQ: long FFT filter plus its internal delay line

    def _aligned(self, n_in: int) -> int:
        # Round a number of input samples up to a whole aligned step.
        return -(-n_in // self._in_step) * self._in_step

    def _emit(self, out_end: int, in_end: int) -> np.ndarray:
        # Resample input [seg_start, in_end) and return output [_next_out, out_end).
        if out_end <= self._next_out:
            return np.zeros(0, dtype=np.float64)
        first_in = self._next_out // self._out_step * self._in_step
        seg_start = max(0, first_in - self._margin)
        segment = self._buffer[seg_start - self._buffer_start : in_end - self._buffer_start]
        out = resample_to_16k(segment, self.sr, resampler=self.resampler)
        offset = seg_start // self._in_step * self._out_step
        chunk = out[self._next_out - offset : out_end - offset]
        self._next_out = out_end
        keep_from = max(0, out_end // self._out_step * self._in_step - self._margin)
        self._buffer = self._buffer[keep_from - self._buffer_start :]
        self._buffer_start = keep_from
        return chunk

    def push(self, block: np.ndarray) -> np.ndarray:
        """Feed the next input block; return the output samples that are now final.

        Parameters
        ----------
        block : np.ndarray, shape (n,)
            The next input samples.

        Returns
        -------
        np.ndarray, float64, shape (m,)
            The next 16 kHz samples (possibly none).
        """
        block = np.asarray(block, dtype=np.float64)
        if self.sr == SAMPLE_RATE:
            self._total_in += block.shape[0]
            return block
        self._buffer = np.concatenate([self._buffer, block])
        self._total_in += block.shape[0]
        safe_in = self._total_in - self._margin
        out_end = max(0, safe_in) // self._in_step * self._out_step
        # Keep a whole aligned step between the emitted outputs and the right margin.
        return self._emit(out_end - self._out_step, self._total_in)

    def finish(self) -> np.ndarray:
        """Flush: return the remaining output samples at the end of the signal.

        Returns
        -------
        np.ndarray, float64, shape (m,)
        """
        if self.sr == SAMPLE_RATE:
            return np.zeros(0, dtype=np.float64)
        ratio = SAMPLE_RATE / self.sr
        if self.resampler == "kaiser_best":
            total_out = int(self._total_in * ratio)
        else:
            total_out = int(np.ceil(self._total_in * ratio))
        return self._emit(total_out, self._total_in)


class StreamingFrontend:
    """The examples of :func:`waveform_to_examples`, from a signal fed in blocks.

    Parameters
    ----------
    sr : int
        Sample rate of the blocks.
    resampler : {"kaiser_best", "soxr_hq"}
        See :func:`resample_to_16k`.
    """

    def __init__(self, sr: int, *, resampler: str = "kaiser_best") -> None:
        self._resampler = StreamingResampler(sr, resampler=resampler)
        self._pending = np.zeros(0, dtype=np.float64)  # 16 kHz samples from the next example on
        self.examples_emitted = 0
        self.samples_16k = 0

    def _cut(self) -> np.ndarray:
        count = max(0, 1 + (self._pending.shape[0] - EXAMPLE_SAMPLES) // EXAMPLE_HOP_SAMPLES)
        if count == 0:
            return np.zeros((0, EXAMPLE_FRAMES, NUM_BANDS), dtype=np.float32)
        span = (count - 1) * EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES
        examples = frame_examples(log_mel(self._pending[:span]))
        self._pending = self._pending[count * EXAMPLE_HOP_SAMPLES :]
        self.examples_emitted += count
        return examples

    def push(self, block: np.ndarray) -> np.ndarray:
        """Feed the next block of mono samples; return the examples now complete.

        Parameters
        ----------
        block : np.ndarray, shape (n,)

        Returns
        -------
        np.ndarray, float32, shape (E, 96, 64)
        """
        out = self._resampler.push(block)
        self.samples_16k += out.shape[0]
        self._pending = np.concatenate([self._pending, out])
        return self._cut()

    def finish(self) -> np.ndarray:
        """Flush the end of the signal; return the last complete examples.

        Returns
        -------
        np.ndarray, float32, shape (E, 96, 64)
        """
        out = self._resampler.finish()
        self.samples_16k += out.shape[0]
        self._pending = np.concatenate([self._pending, out])
        return self._cut()


def stream_examples(
    blocks: Iterator[np.ndarray], sr: int, *, resampler: str = "kaiser_best"
) -> Iterator[np.ndarray]:
    """Examples of a signal given as consecutive blocks, as :func:`waveform_to_examples` would.

    Parameters
    ----------
    blocks : iterator of np.ndarray, shape (n_i,)
        Consecutive mono blocks at ``sr``.
    sr : int
        Their sample rate.
    resampler : {"kaiser_best", "soxr_hq"}
        See :func:`resample_to_16k`.

    Yields
    ------
    np.ndarray, float32, shape (E_i, 96, 64)
        The examples completed by each block (possibly none), in order.
    """
    frontend = StreamingFrontend(sr, resampler=resampler)
    for block in blocks:
        examples = frontend.push(block)
        if examples.shape[0]:
            yield examples
    examples = frontend.finish()
    if examples.shape[0]:
        yield examples
