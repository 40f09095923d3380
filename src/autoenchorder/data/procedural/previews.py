"""30 s preview clips of a full-length corpus, cut where each song's preview lies.

A preview's position depends on the song (the Spotify-like one starts at its first chorus), so
the clips are files of their own (``<id>.flac``, the songs' track ids), which ``extract`` then
reads whole like any folder of audio. The ceilings (oracle R^2) of each way of listening -- the
whole song, the preview from the first chorus, 30 s from the start -- on any set of the songs
come from the corpus's truth.json (:func:`ceilings_on`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from autoenchorder.atomic import write_atomic
from autoenchorder.data.procedural.full_length import preview_span
from autoenchorder.data.procedural.popularity import _r2
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


#: The key prefix of each way of listening's ceiling in truth.json's report (and a study's
#: dataset info, where ``oracle_r2`` etc. are the test songs' ceilings and ``corpus_...`` the
#: whole corpus's).
CEILING_PREFIXES: dict[str, str] = {"whole": "", "preview": "spotify_", "start": "start_"}


def corpus_ceilings_of(report: Mapping[str, float]) -> dict[str, float]:
    """Each way of listening's ceiling over the whole corpus, from truth.json's report."""
    return {
        listening: float(report.get(f"{prefix}oracle_r2", float("nan")))
        for listening, prefix in CEILING_PREFIXES.items()
    }


def ceiling_info(test: Mapping[str, float], corpus: Mapping[str, float]) -> dict[str, float]:
    """The run's dataset info about ceilings: the test songs' under the keys the report checks.

    ``oracle_r2`` (what the report's "reaches 90 % of the noise ceiling" check divides by),
    ``spotify_oracle_r2`` and ``start_oracle_r2`` are the ceilings on the test songs, the ones
    the test R^2 are measured against; ``corpus_oracle_r2`` ... those of the whole corpus.

    Parameters
    ----------
    test, corpus : mapping of str to float
        Ceilings by way of listening (``whole``, ``preview``, ``start``).
    """
    info = {}
    for listening, prefix in CEILING_PREFIXES.items():
        info[f"{prefix}oracle_r2"] = float(test[listening])
        info[f"corpus_{prefix}oracle_r2"] = float(corpus[listening])
    return info


def ceilings_on(corpus: Path, ids: np.ndarray) -> dict[str, float]:
    """Oracle R^2 of each way of listening on the given songs (from truth.json).

    Parameters
    ----------
    corpus : Path
        The full-length corpus.
    ids : np.ndarray of str, shape (n,)
        The songs (e.g. the test songs).

    Returns
    -------
    dict of str to float
        Keys ``whole``, ``preview`` (from the first chorus), ``start``: R^2 of the best
        prediction of that way of listening.
    """
    songs = {s["id"]: s["popularity"] for s in read_truth(corpus)["songs"]}
    y = np.array([songs[i]["popularity"] for i in ids])
    expected = {"whole": "expected_whole", "preview": "expected_spotify", "start": "expected_start"}
    return {
        listening: _r2(y, np.array([songs[i][key] for i in ids]))
        for listening, key in expected.items()
    }
