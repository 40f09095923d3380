"""30 s preview clips of a full-length corpus, cut where each song's preview lies.

A preview's position depends on the song (the Spotify-like one starts at its first chorus), so
the clips are files of their own (``<id>.flac``, the songs' track ids), which ``extract`` then
reads whole like any folder of audio.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from autoenchorder.atomic import write_atomic
from autoenchorder.data.procedural.full_length import preview_span
from autoenchorder.data.procedural.spec import FullLengthSpec, spec_from_dict
from autoenchorder.data.sources.procedural import read_truth
from autoenchorder.errors import DataError


def write_preview_clips(
    corpus_dir: str | Path,
    out_dir: str | Path,
    position: str,
    *,
    on_song: Callable[[str], None] | None = None,
) -> int:
    """Cut every song's 30 s preview at ``position`` into ``out_dir/<id>.flac`` (resumable).

    Parameters
    ----------
    corpus_dir : str or Path
        A full-length corpus (``corpus make --full-length``).
    out_dir : str or Path
        Folder of the clips.
    position : {"spotify", "start"}
        See :func:`~autoenchorder.data.procedural.full_length.preview_span`.
    on_song : callable or None
        Called with each song id once its clip exists.

    Returns
    -------
    int
        Clips written now (those already present are kept).

    Raises
    ------
    DataError
        The corpus is not a full-length one.
    """
    import soundfile as sf  # noqa: PLC0415

    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    truth = read_truth(corpus_dir)
    if not truth.get("config", {}).get("full_length"):
        raise DataError(f"{corpus_dir} is not a full-length corpus (corpus make --full-length)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for song in truth["songs"]:
        spec = spec_from_dict(song)
        assert isinstance(spec, FullLengthSpec)
        target = out_dir / f"{spec.id}.flac"
        if not target.exists():
            source = corpus_dir / song["path"]
            sr = sf.info(str(source)).samplerate
            start, length = preview_span(spec, position)
            clip, sr = sf.read(
                str(source),
                start=int(round(start * sr)),
                frames=int(round(length * sr)),
                dtype="float32",
            )

            def write(tmp: Path, clip=clip, sr=sr) -> None:  # noqa: ANN001
                sf.write(str(tmp), clip, sr, format="FLAC", subtype="PCM_16")

            write_atomic(target, write, fsync=False)
            written += 1
        if on_song is not None:
            on_song(spec.id)
    return written
