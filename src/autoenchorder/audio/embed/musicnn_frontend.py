"""musicnn's input representation: 16 kHz, librosa mel (n_fft 512, hop 256, 96 bands), log.

The original (``musicnn.extractor.batch_data``) computes::

    audio, sr = librosa.load(file, sr=16000)
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    rep = np.log10(10000 * mel.astype(np.float16) + 1)

Under NumPy 1's value-based promotion ``10000 * float16_array`` is float32 (the Python int 10000
does not fit float16's exact integer range, so the result type is promoted to float32); under
NumPy 2 (NEP 50) it stays float16 and overflows to ``inf`` for mel values above 6.55. We
reproduce NumPy 1: round the mel to float16, widen to float32, multiply by 10000 and add 1 in
float32, ``log10`` in float32.

Streaming: :class:`StreamingResampler` and :class:`StreamingLogMel` turn consecutive blocks of
a long file into exactly the frames the one-shot computation gives (see their docstrings), so
memory stays constant in the song's length.
"""

from __future__ import annotations

from math import gcd

import numpy as np

from autoenchorder.audio.io import resample

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
#: Frames per patch: ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``.
PATCH_FRAMES = 187


def log_compress(mel: np.ndarray) -> np.ndarray:
    """Musicnn's ``log10(10000 * float16(mel) + 1)`` with NumPy 1 promotion (float32 math).

    Parameters
    ----------
    mel : np.ndarray, float32, shape (T, 96)
        Mel power spectrogram frames.

    Returns
    -------
    np.ndarray, float32, shape (T, 96)
    """
    widened = mel.astype(np.float16).astype(np.float32)
    return np.log10(widened * np.float32(10000) + np.float32(1))


def _mel_frames(padded: np.ndarray) -> np.ndarray:
    """Mel frames of an already padded 16 kHz signal (``center=False``), shape (T, 96)."""
    import librosa  # noqa: PLC0415

    mel = librosa.feature.melspectrogram(
        y=padded, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, center=False
    )
    return np.ascontiguousarray(mel.T, dtype=np.float32)


def log_mel(y16: np.ndarray) -> np.ndarray:
    """Musicnn's log-mel representation of a whole 16 kHz signal.

    Equals librosa's ``melspectrogram`` with ``center=True`` (zero padding of ``n_fft // 2``
    on both sides, librosa >= 0.10's ``pad_mode="constant"``), followed by :func:`log_compress`.

    Parameters
    ----------
    y16 : np.ndarray, float32, shape (n,)
        Mono samples at 16 kHz.

    Returns
    -------
    np.ndarray, float32, shape (1 + n // 256, 96)
    """
    pad = np.zeros(N_FFT // 2, dtype=np.float32)
    padded = np.concatenate([pad, np.asarray(y16, dtype=np.float32), pad])
    return log_compress(_mel_frames(padded))


def patch_starts(n_frames: int, *, hop_frames: int = PATCH_FRAMES) -> np.ndarray:
    """First frame of every complete patch, as the original's ``range(0, T - 187 + 1, hop)``.

    Parameters
    ----------
    n_frames : int
        Number of log-mel frames.
    hop_frames : int
        Frames between patch starts (187: no overlap).

    Returns
    -------
    np.ndarray, int64, shape (P,)
        Empty when the input is shorter than one patch.
    """
    return np.arange(0, n_frames - PATCH_FRAMES + 1, hop_frames, dtype=np.int64)


class StreamingResampler:
    """Resample a signal block by block, giving the one-shot result (to float rounding).

    Each call resamples a piece of input with ``margin_seconds`` of extra context on both
    sides and keeps only the output whose filter support lies inside the piece. Piece starts
    are aligned to whole periods of the rate ratio, so output sample ``k`` always sits at input
    position ``k * orig_sr / target_sr`` as in the one-shot call, and the first and last pieces
    see the true signal edges, as the one-shot call does.

    Parameters
    ----------
    orig_sr, target_sr : int
        Sample rates in Hz.
    res_type : str
        Resampler name (see :func:`autoenchorder.audio.io.resample`).
    margin_seconds : float
        Context kept on each side of a piece (far longer than any resampler's filter).
    """

    def __init__(
        self,
        orig_sr: int,
        target_sr: int,
        *,
        res_type: str = "soxr_hq",
        margin_seconds: float = 0.5,
    ) -> None:
        self.orig_sr = int(orig_sr)
        self.target_sr = int(target_sr)
        self.res_type = res_type
        g = gcd(self.orig_sr, self.target_sr)
        self.step_in = self.orig_sr // g
        self.step_out = self.target_sr // g
        periods = int(np.ceil(margin_seconds * self.orig_sr / self.step_in))
        self.margin = max(1, periods) * self.step_in
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute input index of _buf[0]
        self._done_in = 0  # input index matching the next output sample (a multiple of step_in)

    def _resample(self, piece: np.ndarray) -> np.ndarray:
        return resample(
            piece, orig_sr=self.orig_sr, target_sr=self.target_sr, res_type=self.res_type
        )

    def _emit(self, end_in: int | None) -> np.ndarray:
        start = max(0, self._done_in - self.margin)
        stop = None if end_in is None else end_in + self.margin
        piece = self._buf[
            start - self._buf_start : None if stop is None else stop - self._buf_start
        ]
        out = self._resample(piece)
        offset = (self._done_in - start) // self.step_in * self.step_out
        if end_in is None:
            return out[offset:]
        count = (end_in - self._done_in) // self.step_in * self.step_out
        return out[offset : offset + count]

    def push(self, block: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples that are now final (maybe none)."""
        if self.orig_sr == self.target_sr:
            return np.asarray(block, dtype=np.float32)
        self._buf = np.concatenate([self._buf, np.asarray(block, dtype=np.float32)])
        in_end = self._buf_start + self._buf.size
        periods = (in_end - self.margin - self._done_in) // self.step_in
        if periods <= 0:
            return np.zeros(0, dtype=np.float32)
        end_in = self._done_in + periods * self.step_in
        out = self._emit(end_in)
        self._done_in = end_in
        keep_from = max(0, self._done_in - self.margin)
        self._buf = self._buf[keep_from - self._buf_start :]
        self._buf_start = keep_from
        return out

    def finish(self) -> np.ndarray:
        """Return the remaining output after the last block."""
        if self.orig_sr == self.target_sr or self._buf.size == 0:
            return np.zeros(0, dtype=np.float32)
        return self._emit(None)


class StreamingLogMel:
    """musicnn log-mel frames of a 16 kHz signal fed in pieces (equal to :func:`log_mel`).

    The signal is framed as if padded with 256 zeros on both sides (librosa's ``center=True``),
    so frame ``f`` covers padded samples ``[256 f, 256 f + 512)``; each call computes the frames
    whose window is complete and keeps the 256-sample overlap for the next call.
    """

    def __init__(self) -> None:
        self._buf = np.zeros(N_FFT // 2, dtype=np.float32)

    def push(self, y16: np.ndarray) -> np.ndarray:
        """Add 16 kHz samples; return the new complete frames, shape (t, 96) (t may be 0)."""
        self._buf = np.concatenate([self._buf, np.asarray(y16, dtype=np.float32)])
        n = (self._buf.size - N_FFT) // HOP + 1 if self._buf.size >= N_FFT else 0
        if n <= 0:
            return np.zeros((0, N_MELS), dtype=np.float32)
        frames = log_compress(_mel_frames(self._buf[: (n - 1) * HOP + N_FFT]))
        self._buf = self._buf[n * HOP :]
        return frames

    def finish(self) -> np.ndarray:
        """Pad the end with 256 zeros and return the last frames."""
        return self.push(np.zeros(N_FFT // 2, dtype=np.float32))
