"""Audio file -> the inputs a model reads: one path for ``extract``, ``predict`` and a server.

A model is only as good as the agreement between the inputs it was trained on and the inputs it
is scored on. :class:`AudioProcessor` is the single place that decides what part of a file a
model sees -- its :class:`InputSpec` -- and computes the 207 low-level features and the
embedder's frames from that part. ``extract`` uses it to build the training features and
``predict`` to build the features of a new song, so the two cannot drift apart.

Input specs
-----------
- **whole file** (the default): every sample of the file. What ``extract`` did before input
  specs existed, so stores and bundles that record no spec mean this.
- **window** of ``window`` seconds starting at ``offset`` seconds: e.g. ``extract --window 30
  --offset 30``. A file shorter than the window is used whole; a window that would run past the
  end is moved back so that it ends at the end.
- **window at an unknown position** (``offset=None``): Spotify's 30 s previews, from which
  SpotGenTrack's published features were computed; where in the song a preview starts is not
  published. A song is then represented by windows spread evenly over it (see
  :func:`analysis_windows`), and its prediction is their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoenchorder.audio.io import audio_info, is_silent, load_audio
from autoenchorder.errors import AudioError, DataError

if TYPE_CHECKING:
    from autoenchorder.audio.embed.base import Embedder, Embedding

#: Songs whose whole file is embedded are streamed (constant memory) after this many seconds.
STREAM_EMBEDDING_AFTER_SECONDS: float = 600.0
#: Shortest trailing part of a song worth a window of its own, seconds.
MIN_WINDOW_SECONDS: float = 5.0
#: Length of a Spotify preview, seconds (SpotGenTrack's features were computed from these).
PREVIEW_SECONDS: float = 30.0


@dataclass(frozen=True)
class InputSpec:
    """Which part of a file a model reads.

    Attributes
    ----------
    window : float or None
        Window length in seconds; ``None``: the whole file.
    offset : float or None
        Start of the window in seconds; ``None``: the position is unknown (Spotify previews).
        Ignored for the whole file.
    """

    window: float | None = None
    offset: float | None = 0.0

    def __post_init__(self) -> None:
        if self.window is not None and not self.window > 0:
            raise DataError(f"an input window must be longer than 0 s, got {self.window}")
        if self.offset is not None and not self.offset >= 0:
            raise DataError(f"an input window cannot start before 0 s, got {self.offset}")
        if self.window is None and self.offset != 0.0:
            object.__setattr__(self, "offset", 0.0)  # one spelling of "the whole file"

    @property
    def whole_file(self) -> bool:
        """Whether the model reads every sample of the file."""
        return self.window is None

    def spans(self, duration: float, *, max_windows: int = 3) -> list[tuple[float, float]]:
        """The parts of a file of ``duration`` seconds that make the model's input.

        Parameters
        ----------
        duration : float
            Length of the file, seconds.
        max_windows : int
            For a window at an unknown position: how many windows spread over the song.

        Returns
        -------
        list of (start, length)
            In seconds: one span, or (unknown position) up to ``max_windows`` spread ones.
        """
        if self.window is None:
            return [(0.0, float(duration))]
        if self.offset is None:
            return analysis_windows(
                duration, window_seconds=self.window, max_windows=max(1, max_windows)
            )
        length = min(self.window, float(duration))
        start = min(self.offset, float(duration) - length)
        return [(max(0.0, start), length)]

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as stores and bundles record it."""
        if self.window is None:
            return {"kind": "whole_file"}
        return {"kind": "window", "seconds": float(self.window), "offset": self.offset}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> InputSpec:
        """Read :meth:`to_dict`'s form.

        ``None`` (stores and bundles older than the field) is the whole file.

        Raises
        ------
        DataError
            An unknown kind or a bad window.
        """
        if not value:
            return cls()
        kind = value.get("kind")
        if kind == "whole_file":
            return cls()
        if kind == "window":
            offset = value.get("offset")
            return cls(float(value["seconds"]), None if offset is None else float(offset))
        raise DataError(f"unknown audio input kind {kind!r} (expected whole_file or window)")

    def describe(self) -> str:
        """Words for a table or a log line (``"whole file"``, ``"30 s window at 0 s"``)."""
        if self.window is None:
            return "whole file"
        where = "at an unknown position" if self.offset is None else f"at {self.offset:g} s"
        return f"{self.window:g} s window {where}"


#: The whole file (stores and bundles without an input spec).
WHOLE_FILE = InputSpec()
#: SpotGenTrack's published features: 30 s Spotify previews, position in the song unknown.
SPOTIFY_PREVIEW = InputSpec(window=PREVIEW_SECONDS, offset=None)


def analysis_windows(
    duration: float, *, window_seconds: float = PREVIEW_SECONDS, max_windows: int = 3
) -> list[tuple[float, float]]:
    """Windows spread evenly over a song (first at 0, last ending at the end).

    Parameters
    ----------
    duration : float
        Song length, seconds.
    window_seconds : float
        Window length.
    max_windows : int
        At most this many windows; a trailing part shorter than :data:`MIN_WINDOW_SECONDS`
        does not earn one.

    Returns
    -------
    list of (start, length)
        In seconds, sorted; one window of the whole song when it is no longer than a window.
    """
    if duration <= window_seconds:
        return [(0.0, float(duration))]
    n_fit = int(duration // window_seconds)
    if duration - n_fit * window_seconds >= MIN_WINDOW_SECONDS:
        n_fit += 1  # the windows can then be spread to cover the tail too
    count = max(1, min(max_windows, n_fit))
    if count == 1:
        start = (duration - window_seconds) / 2.0  # the middle of the song
        return [(start, window_seconds)]
    starts = np.linspace(0.0, duration - window_seconds, count)
    return [(float(s), window_seconds) for s in starts]


@dataclass(frozen=True)
class DecodedAudio:
    """The decoded part of a file a model reads.

    Attributes
    ----------
    path : str
        The file (``"<signal>"`` for a signal in memory), named in errors.
    samples : np.ndarray, float32, shape (n,)
        Mono samples of the span at the file's native rate.
    sample_rate : int
    channels : int
        Channels of the file (before the downmix).
    duration : float
        Length of the whole file, seconds.
    start, length : float
        The span, seconds.
    """

    path: str
    samples: np.ndarray
    sample_rate: int
    channels: int
    duration: float
    start: float
    length: float

    @property
    def whole_file(self) -> bool:
        """Whether the span is the whole file."""
        return self.start == 0.0 and self.length >= self.duration

    @property
    def silent(self) -> bool:
        """Whether the span is digital silence."""
        return is_silent(self.samples)


class AudioProcessor:
    """Decode a file's model input and compute its features, the same way for every caller.

    Parameters
    ----------
    spec : InputSpec
        Which part of a file the model reads (default the whole file).
    compat : {"spotgentrack", "fixed"}
        Low-level feature mode (see :func:`~autoenchorder.audio.lowlevel.extract_lowlevel`).
    embedder : Embedder or None
        The embedder whose frames are wanted, if any.
    """

    def __init__(
        self,
        spec: InputSpec = WHOLE_FILE,
        *,
        compat: str = "spotgentrack",
        embedder: Embedder | None = None,
    ) -> None:
        self.spec = spec
        self.compat = compat
        self.embedder = embedder

    # ---------------------------------------------------------------- decoding
    def spans(self, duration: float, *, max_windows: int = 3) -> list[tuple[float, float]]:
        """The spans of a file of ``duration`` seconds that make its input (spec's spans)."""
        return self.spec.spans(duration, max_windows=max_windows)

    def decode(self, path: str | Path, *, span: tuple[float, float] | None = None) -> DecodedAudio:
        """Decode the model's input of a file, or a given span of it.

        Parameters
        ----------
        path : str or Path
        span : (start, length) or None
            Seconds; default the spec's (first) span.

        Returns
        -------
        DecodedAudio

        Raises
        ------
        AudioError
            The file cannot be decoded.
        """
        info = audio_info(path)
        if span is None:
            span = self.spans(info.duration)[0]
        start, length = span
        whole = start == 0.0 and length >= info.duration
        if whole:
            y, sr = load_audio(path, mono=False)  # to the last decoded sample
        else:
            y, sr = load_audio(path, mono=False, offset=start, duration=length)
        channels = 1 if y.ndim == 1 else y.shape[0]
        mono = y if y.ndim == 1 else np.mean(y, axis=0, dtype=np.float32)
        del y  # a long song's channels are not kept beside its downmix
        duration = info.duration
        if whole:
            # A compressed file's header count can differ from what decodes; trust the samples.
            duration = length = mono.shape[0] / sr
        return DecodedAudio(str(path), mono, int(sr), int(channels), duration, start, length)

    def from_signal(
        self,
        y: np.ndarray,
        sr: int,
        *,
        span: tuple[float, float] | None = None,
        name: str = "<signal>",
    ) -> DecodedAudio:
        """The model's input of a mono signal already in memory (as :meth:`decode` a file).

        Parameters
        ----------
        y : np.ndarray, float32, shape (n,)
        sr : int
        span : (start, length) or None
            Seconds; default the spec's (first) span.
        name : str
            Named in errors.
        """
        y = np.asarray(y, dtype=np.float32)
        duration = y.size / float(sr)
        start, length = span if span is not None else self.spans(duration)[0]
        first = int(round(start * sr))
        samples = y[first : first + int(round(length * sr))]
        return DecodedAudio(name, samples, int(sr), 1, duration, start, samples.size / float(sr))

    def embed_path(self, path: str | Path) -> Embedding:
        """The embedder's frames of a file's input, without holding a long whole file decoded.

        Same frames as ``embed(decode(path))``.

        Raises
        ------
        AudioError
            The file cannot be decoded or is too short for the embedder.
        """
        if self.embedder is not None and self._streamed(
            self.spec.whole_file, audio_info(path).duration
        ):
            return self.embedder.embed_file(path)
        return self.embed(self.decode(path))

    @staticmethod
    def _streamed(whole_file: bool, duration: float) -> bool:
        """Whether a span is embedded by streaming its file: a whole file above the threshold."""
        return whole_file and duration > STREAM_EMBEDDING_AFTER_SECONDS

    # ---------------------------------------------------------------- features
    def lowlevel(self, audio: DecodedAudio) -> np.ndarray:
        """The 207 low-level features of the decoded span.

        Returns
        -------
        np.ndarray, float64, shape (207,)
            In :data:`~autoenchorder.audio.lowlevel.LOWLEVEL_COLUMNS` order.

        Raises
        ------
        AudioError
            The span is too short for the features (naming the file).
        """
        from autoenchorder.audio.lowlevel import extract_lowlevel  # noqa: PLC0415

        try:
            return np.asarray(
                extract_lowlevel(audio.samples, audio.sample_rate, compat=self.compat)
            )
        except AudioError as exc:
            raise AudioError(audio.path, exc.reason) from None

    def embed(self, audio: DecodedAudio) -> Embedding:
        """The embedder's frames of the decoded span (times in seconds from the span start).

        A whole file longer than :data:`STREAM_EMBEDDING_AFTER_SECONDS` is embedded by
        streaming the file (the embedder's own resampled copy of it is never held whole).

        Raises
        ------
        AudioError
            The span is too short for the embedder (naming the file).
        ModelError
            The processor has no embedder.
        """
        if self.embedder is None:
            from autoenchorder.errors import ModelError  # noqa: PLC0415

            raise ModelError("this audio processor has no embedder")
        try:
            if self._streamed(audio.whole_file, audio.duration) and Path(audio.path).is_file():
                return self.embedder.embed_file(audio.path)
            return self.embedder.embed(audio.samples, audio.sample_rate)
        except AudioError as exc:
            raise AudioError(audio.path, exc.reason) from None
