"""Where the real datasets live: one rule for every command, loader and script.

A source's folder (``musicoset``, ``hit-predictor``, ``spotgentrack``) is, in order:

1. the folder given explicitly (``--root DIR``, ``root=``);
2. ``$AUTOENCHORDER_DATA/<source>`` when the environment variable is set;
3. ``./data/<source>`` under the working directory;
4. ``../shared/data/<source>`` beside the repository (the developers' shared copy).

>>> find_root("musicoset")  # doctest: +SKIP
PosixPath('/home/me/data/musicoset')
>>> require_root("hit-predictor")  # doctest: +SKIP
Traceback (most recent call last):
DataError: Hit Predictor data not found. Looked in: ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from autoenchorder.errors import DataError

#: the environment variable naming a folder that holds one sub-folder per source
ENV_VAR = "AUTOENCHORDER_DATA"
#: the repository this module belongs to (src/autoenchorder/data/locations.py -> repo)
_REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class KnownSource:
    """What a user needs to know to fetch a dataset and put it where it is found.

    Attributes
    ----------
    title : str
        The dataset's name, for messages.
    origin : str
        Where the dataset comes from (publication, download page).
    layout : str
        What the source's folder must contain.
    """

    title: str
    origin: str
    layout: str


#: source name -> how to obtain it; the sources whose folder :func:`find_root` looks for
KNOWN_SOURCES: dict[str, KnownSource] = {
    "musicoset": KnownSource(
        "MusicOSet",
        "MusicOSet (Silva, Rocha & Moro, SBBD 2019), https://marianaossilva.github.io/DSW2019/",
        "musicoset_metadata/songs.csv, musicoset_songfeatures/acoustic_features.csv, ...",
    ),
    "hit-predictor": KnownSource(
        "Hit Predictor",
        "The Spotify Hit Predictor Dataset 1960-2019 by Farooq Ansari, on Kaggle as "
        "theoverman/the-spotify-hit-predictor-dataset "
        "(https://www.kaggle.com/datasets/theoverman/the-spotify-hit-predictor-dataset)",
        "dataset-of-60s.csv ... dataset-of-10s.csv",
    ),
    "spotgentrack": KnownSource(
        "SpotGenTrack",
        "the SpotGenTrack Popularity Dataset on Kaggle (HitMusicNet's data, "
        "Martin-Gutierrez et al., IEEE Access 2020)",
        "'Data Sources/spotify_tracks.csv', 'Features Extracted/low_level_audio_features.csv', ...",
    ),
}


def candidate_roots(source: str) -> list[tuple[str, Path]]:
    """The folders where ``source`` is looked for, in order (whether they exist or not).

    Parameters
    ----------
    source : str
        Source name, e.g. ``"musicoset"``.

    Returns
    -------
    list of (str, Path)
        ``(how it was found, folder)``: ``("AUTOENCHORDER_DATA", $AUTOENCHORDER_DATA/source)``
        when the variable is set, ``("./data", CWD/data/source)`` and
        ``("../shared/data", REPO/../shared/data/source)``.
    """
    found: list[tuple[str, Path]] = []
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        found.append((ENV_VAR, Path(env).expanduser() / source))
    found.append(("./data", Path.cwd() / "data" / source))
    found.append(("../shared/data", _REPO.parent / "shared" / "data" / source))
    return found


def find_root(source: str, root: str | Path | None = None) -> Path | None:
    """The folder of ``source``: ``root`` if given, else the first candidate that exists.

    Parameters
    ----------
    source : str
    root : str or Path or None
        An explicit folder (``--root``); it must exist.

    Returns
    -------
    Path or None
        None when no candidate folder exists.

    Raises
    ------
    DataError
        If ``root`` is given but is not a directory.
    """
    if root is not None:
        path = Path(root).expanduser()
        if not path.is_dir():
            raise DataError(f"{source}: the folder {path} given as its root does not exist")
        return path
    for _, candidate in candidate_roots(source):
        if candidate.is_dir():
            return candidate
    return None


def require_root(source: str, root: str | Path | None = None) -> Path:
    """Like :func:`find_root`, but a missing folder is a :class:`DataError` saying what to do.

    Parameters
    ----------
    source : str
    root : str or Path or None

    Returns
    -------
    Path

    Raises
    ------
    DataError
        Naming where it looked, where to put the data and where the dataset comes from.
    """
    found = find_root(source, root)
    if found is not None:
        return found
    raise DataError(not_found_message(source))


def not_found_message(source: str) -> str:
    """Where ``source`` was looked for, where to put it and where it comes from (several lines).

    Parameters
    ----------
    source : str

    Returns
    -------
    str
    """
    known = KNOWN_SOURCES.get(source)
    title = known.title if known else source
    looked = "\n".join(f"  {how}: {path}" for how, path in candidate_roots(source))
    if ENV_VAR not in os.environ:
        looked += f"\n  ({ENV_VAR} is not set)"
    lines = [
        f"{title} data not found. Looked in:",
        looked,
        f"Put the {title} folder at ./data/{source}, or set {ENV_VAR}=DIR with DIR/{source}, "
        "or pass --root DIR.",
    ]
    if known:
        lines.append(f"The folder holds {known.layout}")
        lines.append(f"Get it from {known.origin}.")
    return "\n".join(lines)
