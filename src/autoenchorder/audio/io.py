"""The only code that opens audio files: decode, downmix, resample, read windows, stream blocks.

Everything is decoded to float32 by libsndfile (through :mod:`soundfile`) and never passes
through an integer format: loud Ogg Vorbis and MP3 decode above full scale, and an int16 cast
would wrap those samples around. Every problem with a file is raised as one
:class:`~autoenchorder.errors.AudioError` that names the file and the reason, so that batch jobs
can record it and go on.

Songs may also live on an object store (any fsspec URI, ``s3://bucket/songs/a.mp3``): such a
file is copied to a local temporary file, decoded there and the copy deleted
(:func:`local_audio`); errors still name the URI. Local paths are read where they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import soundfile as sf

from autoenchorder import storage
from autoenchorder.errors import AudioError, DataError

#: File name endings that :func:`discover_audio` collects (libsndfile reads them all).
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".w64"}
)

#: Longest input accepted by default, in seconds (3 hours): anything longer is almost surely a
#: wrong file (a concatenated stream, a podcast) and would exhaust memory when decoded whole.
MAX_DURATION_SECONDS: float = 3 * 3600.0

#: Peak amplitude at or below which a signal is called silent (about -140 dBFS).
SILENCE_PEAK: float = 1e-7


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header without decoding it.

    Attributes
    ----------
    path : str
        The file.
    sample_rate : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of sample frames (per channel).
    format : str
        libsndfile's container name (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"`` ...).
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.frames / float(self.sample_rate)


def discover_audio(
    root: str | Path, *, extensions: frozenset[str] = AUDIO_EXTENSIONS
) -> list[Path] | list[str]:
    """List the audio files below a folder, recursively, in a stable (sorted) order.

    Parameters
    ----------
    root : str or Path
        A folder (searched recursively) or a single file; or a URI of either
        (``s3://bucket/songs``: every object below the prefix).
    extensions : frozenset of str
        Lower-case endings, with the dot, that count as audio.

    Returns
    -------
    list of Path, or list of str for a URI
        Sorted paths (URIs). Hidden files and folders (starting with ``.``) are skipped.
    """
    if storage.is_remote(root):
        try:
            return storage.list_files(root, suffixes=extensions)  # type: ignore[return-value]
        except FileNotFoundError:
            raise AudioError(root, "no such file or folder") from None
        except (DataError, OSError) as exc:
            raise AudioError(root, f"cannot be listed ({exc})") from None
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise AudioError(root, "no such file or folder")
    found = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in extensions
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


@contextmanager
def local_audio(path: str | Path) -> Iterator[str | Path]:
    """A local file to decode for ``path``: itself, or a temporary copy of a URI.

    Hold the block over all the reads of one file (header, samples, streamed blocks) so that
    a remote file is fetched once; the copy is deleted when the block ends. An
    :class:`AudioError` raised about the copy inside the block names the URI (in its path and
    its reason).

    Parameters
    ----------
    path : str or Path
        A local file or a URI.

    Yields
    ------
    str or Path
        ``path`` itself when it is local.

    Raises
    ------
    AudioError
        The remote file is missing or cannot be fetched.
    """
    if not storage.is_remote(path):
        yield path
        return
    fetched = False
    try:
        with storage.local_copy(path) as local:
            fetched = True
            try:
                yield local
            except AudioError as exc:
                if exc.path != str(local):
                    raise
                # the reason may quote the decoder's message about the copy: name the URI
                raise AudioError(path, exc.reason.replace(str(local), str(path))) from None
    except FileNotFoundError:
        if fetched:
            raise
        raise AudioError(path, "file not found") from None
    except (DataError, OSError) as exc:
        if fetched:
            raise
        raise AudioError(path, f"cannot be fetched ({exc})") from None


def _open(path: str | Path) -> sf.SoundFile:
    path = Path(path)
    if not path.exists():
        raise AudioError(path, "file not found")
    if path.is_dir():
        raise AudioError(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "empty file (0 bytes)")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(path, f"not readable as audio ({exc})") from exc


def audio_info(path: str | Path) -> AudioInfo:
    """Read a file's header: sample rate, channels, length, container.

    Parameters
    ----------
    path : str or Path
        The audio file.

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioError
        The file is missing, empty or not audio.
    """
    if storage.is_remote(path):
        with local_audio(path) as local:
            return replace(audio_info(local), path=str(path))
    with _open(path) as f:
        return AudioInfo(str(path), int(f.samplerate), int(f.channels), int(f.frames), f.format)


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average the channels (librosa's downmix).

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)

    Returns
    -------
    np.ndarray, shape (n,)
    """
    if y.ndim == 1:
        return y
    return np.mean(y, axis=0, dtype=np.float32) if y.dtype == np.float32 else np.mean(y, axis=0)


def resample(
    y: np.ndarray, *, orig_sr: int, target_sr: int, res_type: str = "soxr_hq"
) -> np.ndarray:
    """Resample a signal along its last axis.

    Parameters
    ----------
    y : np.ndarray, shape (..., n)
        The signal.
    orig_sr, target_sr : int
        Sample rates in Hz.
    res_type : str
        Any of librosa's resamplers: ``"soxr_hq"`` (librosa >= 0.10's default) or
        ``"kaiser_best"`` (resampy, the default of older librosa and of the VGGish reference).

    Returns
    -------
    np.ndarray, shape (..., round(n * target_sr / orig_sr)), float32 if ``y`` was float32.
    """
    if orig_sr == target_sr:
        return y
    import librosa  # noqa: PLC0415  (heavy import kept off the module's import path)

    out = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type=res_type)
    return out.astype(y.dtype, copy=False)


def check_finite(y: np.ndarray, path: str | Path | None = None) -> None:
    """Raise :class:`AudioError` if the signal has NaN or infinite samples or no samples at all.

    Parameters
    ----------
    y : np.ndarray
        The signal, any shape.
    path : str or Path or None
        The file it came from, for the message.
    """
    if y.size == 0:
        raise AudioError(path, "no audio samples (zero length)")
    if not np.isfinite(y).all():
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise AudioError(path, f"{bad} NaN or infinite samples")


def is_silent(y: np.ndarray, *, peak: float = SILENCE_PEAK) -> bool:
    """Whether the signal is digital silence (peak amplitude at or below ``peak``).

    Parameters
    ----------
    y : np.ndarray
        The signal, any shape.
    peak : float
        Threshold on ``max |y|``.

    Returns
    -------
    bool
    """
    return y.size == 0 or float(np.max(np.abs(y))) <= peak


def load_audio(
    path: str | Path,
    *,
    sr: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
    res_type: str = "soxr_hq",
    max_duration: float = MAX_DURATION_SECONDS,
) -> tuple[np.ndarray, int]:
    """Decode an audio file (or a window of it) to float32.

    Only the requested window is decoded: the decoder seeks to ``offset`` where the format
    allows (wav, flac, ogg and mp3 do in libsndfile >= 1.1).

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads (wav, flac, ogg, mp3 ...).
    sr : int or None
        Sample rate to resample to; ``None`` keeps the file's native rate (HitMusicNet's way).
    mono : bool
        Average the channels (as ``librosa.load`` does).
    offset : float
        Start of the window, seconds.
    duration : float or None
        Length of the window, seconds; ``None`` reads to the end.
    res_type : str
        Resampler, see :func:`resample`.
    max_duration : float
        Refuse windows longer than this many seconds.

    Returns
    -------
    y : np.ndarray, float32, shape (n,) if ``mono`` else (channels, n)
        The samples, unclipped (lossy formats may exceed +-1).
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    AudioError
        Missing, empty or unreadable file; an offset past the end; a window longer than
        ``max_duration``; NaN or infinite samples.
    """
    if offset < 0 or (duration is not None and duration <= 0):
        raise AudioError(path, f"bad window: offset={offset}, duration={duration}")
    if storage.is_remote(path):
        with local_audio(path) as local:
            return load_audio(
                local,
                sr=sr,
                mono=mono,
                offset=offset,
                duration=duration,
                res_type=res_type,
                max_duration=max_duration,
            )
    with _open(path) as f:
        native_sr = int(f.samplerate)
        start = int(round(offset * native_sr))
        total = int(f.frames)
        if total <= 0:
            raise AudioError(path, "no audio frames (zero length)")
        if start >= total:
            raise AudioError(
                path, f"offset {offset:.2f} s is past the end ({total / native_sr:.2f} s)"
            )
        stop = total if duration is None else min(total, start + int(round(duration * native_sr)))
        n = stop - start
        if n / native_sr > max_duration:
            raise AudioError(
                path,
                f"{n / native_sr:.0f} s of audio is longer than the limit of {max_duration:.0f} s",
            )
        try:
            if start:
                f.seek(start)
            data = f.read(n, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(path, f"decoding failed ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioError(path, "decoded no samples (zero length or corrupt stream)")
    y = np.ascontiguousarray(data.T)  # (channels, n)
    if mono:
        y = to_mono(y)
    check_finite(y, path)
    if sr is not None and sr != native_sr:
        y = resample(y, orig_sr=native_sr, target_sr=sr, res_type=res_type)
        return y, int(sr)
    return y, native_sr


def iter_blocks(
    path: str | Path,
    *,
    block_seconds: float,
    mono: bool = True,
) -> Iterator[tuple[float, np.ndarray, int]]:
    """Stream a file in consecutive blocks at its native rate, in constant memory.

    Parameters
    ----------
    path : str or Path
        The audio file.
    block_seconds : float
        Length of each block in seconds (the last one may be shorter).
    mono : bool
        Average the channels.

    Yields
    ------
    start : float
        Start time of the block, seconds.
    block : np.ndarray, float32, shape (n,) or (channels, n)
        The samples.
    sr : int
        Native sample rate.

    Raises
    ------
    AudioError
        As :func:`load_audio`, raised when the bad part is reached.
    """
    if storage.is_remote(path):
        with local_audio(path) as local:
            yield from iter_blocks(local, block_seconds=block_seconds, mono=mono)
        return
    with _open(path) as f:
        native_sr = int(f.samplerate)
        block_frames = max(1, int(round(block_seconds * native_sr)))
        position = 0
        while True:
            try:
                data = f.read(block_frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(path, f"decoding failed ({exc})") from exc
            if data.shape[0] == 0:
                break
            block = np.ascontiguousarray(data.T)
            if mono:
                block = to_mono(block)
            check_finite(block, path)
            yield position / native_sr, block, native_sr
            position += data.shape[0]
        if position == 0:
            raise AudioError(path, "no audio frames (zero length)")
