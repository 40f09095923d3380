"""SpotGenTrack (the data of HitMusicNet), read from the Kaggle layout as published.

Layout under ``root`` (every CSV starts with an unnamed index column)::

    Data Sources/spotify_tracks.csv        id, popularity, artists_id, album_id,
                                           available_markets, the 13 descriptors, ...
    Data Sources/spotify_artists.csv       id, followers, artist_popularity, ...
    Data Sources/spotify_albums.csv        id, release_date, total_tracks, ...
    Features Extracted/low_level_audio_features.csv   track_id + 207 low-level features
    Features Extracted/lyrics_features.csv            track_id + 6 lyrics features
    [audio folder]/<track id>.<ext>        optional 30 s previews (``audio_dir=``)

Column groups (HitMusicNet's feature sets):

- ``descriptors``: the 13 Spotify descriptors (HitMusicNet itself dropped ``time_signature``).
- ``lowlevel``: the 207 features, named and ordered as
  :data:`autoenchorder.audio.lowlevel.LOWLEVEL_COLUMNS`.
- ``lyrics``: ``mean_syllables_word, mean_words_sentence, n_sentences, n_words,
  sentence_similarity, vocabulary_wealth``, kept as published (``-1`` marks lyrics whose
  language was not detected; their count is in ``info["lyrics_sentinel_rows"]``).
- ``metadata``: ``artist_followers`` and ``artist_popularity`` (means over the track's artists
  found in spotify_artists.csv; HitMusicNet truncated the mean to an int), ``n_artists``,
  ``n_markets`` (entries of ``available_markets``), ``release_year`` and
  ``album_total_tracks`` (from the album).

``feature_sets`` picks groups; ``"audio"`` is the audio-only subset (descriptors + lowlevel),
``"all"`` every group. Files of groups not asked for are not read. Tracks are inner-joined with
the feature files (as HitMusicNet does), and a track listed several times (once per playlist)
is kept once (first copy); every loss is reported in ``info["join_losses"]`` and
``info["validation"]``. The artist group key is the first listed artist id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.audio.processor import SPOTIFY_PREVIEW
from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS, PopularityDataset
from autoenchorder.data.sources._common import (
    mean_over_artists,
    parse_id_lists,
    release_year,
)
from autoenchorder.data.validate import check_policy, join_report, read_table, validate_table
from autoenchorder.errors import DataError
from autoenchorder.published import BAND_EDGES

TRACKS = "Data Sources/spotify_tracks.csv"
ARTISTS = "Data Sources/spotify_artists.csv"
ALBUMS = "Data Sources/spotify_albums.csv"
LOWLEVEL = "Features Extracted/low_level_audio_features.csv"
LYRICS = "Features Extracted/lyrics_features.csv"

LYRICS_COLUMNS = (
    "mean_syllables_word",
    "mean_words_sentence",
    "n_sentences",
    "n_words",
    "sentence_similarity",
    "vocabulary_wealth",
)
METADATA_COLUMNS = (
    "artist_followers",
    "artist_popularity",
    "n_artists",
    "n_markets",
    "release_year",
    "album_total_tracks",
)
GROUPS = ("descriptors", "lowlevel", "lyrics", "metadata")
#: named feature-set aliases
FEATURE_SETS: dict[str, tuple[str, ...]] = {"all": GROUPS, "audio": ("descriptors", "lowlevel")}
#: HitMusicNet's popularity classes: low < 25 <= medium < 65 <= high
CLASS_NAMES = ["low", "medium", "high"]
CLASS_EDGES = BAND_EDGES
AUDIO_EXTENSIONS = (".mp3", ".ogg", ".wav", ".flac", ".m4a")
_MARKET_PATTERN = r"'([A-Z]{2})'"


def load_spotgentrack(
    root: str | Path,
    *,
    feature_sets: str | Sequence[str] = "all",
    task: str = "regression",
    audio_dir: str | Path | None = None,
    on_bad: str = "drop",
) -> PopularityDataset:
    """Load SpotGenTrack with HitMusicNet's feature groups.

    Parameters
    ----------
    root : str or Path
        Folder holding ``Data Sources/`` and ``Features Extracted/``.
    feature_sets : str or sequence of str
        Group names among ``descriptors, lowlevel, lyrics, metadata`` and/or the aliases
        ``"audio"`` (descriptors + lowlevel) and ``"all"``.
    task : {"regression", "classification"}
        Regression on popularity 0-100, or HitMusicNet's three classes (:data:`CLASS_NAMES`,
        edges :data:`CLASS_EDGES`).
    audio_dir : str or Path or None
        Folder of previews named ``<track id>.<ext>``; matched tracks are counted in ``info``.
    on_bad : {"drop", "impute", "fail"}
        Policy for bad rows (see :mod:`autoenchorder.data.validate`).

    Returns
    -------
    PopularityDataset
        ``name="spotgentrack"``, the requested groups, ``artist`` = first artist id.

    Raises
    ------
    DataError
        If a file or column is missing, a join is empty or a feature set is unknown.
    """
    check_policy(on_bad)
    if task not in ("regression", "classification"):
        raise DataError(f"task must be 'regression' or 'classification', got {task!r}")
    groups = resolve_feature_sets(feature_sets)
    root = Path(root)
    group_columns = {
        "descriptors": list(DESCRIPTOR_COLUMNS),
        "lowlevel": list(LOWLEVEL_COLUMNS),
        "lyrics": list(LYRICS_COLUMNS),
        "metadata": list(METADATA_COLUMNS),
    }

    track_cols = ["id", "popularity", "artists_id", "album_id", "available_markets"]
    needs_descriptors = "descriptors" in groups
    tracks = read_table(
        root / TRACKS,
        [*track_cols, *(DESCRIPTOR_COLUMNS if needs_descriptors else ())],
        usecols=[*track_cols, *DESCRIPTOR_COLUMNS],
        dtype={"id": "string", "artists_id": "string", "album_id": "string"},
    )
    n_listed = len(tracks)
    tracks = tracks.drop_duplicates("id", keep="first").reset_index(drop=True)
    tracks["main_artist"] = parse_id_lists(tracks["artists_id"]).str[0].astype("string").fillna("")
    info: dict = {
        "source": str(root),
        "feature_sets": list(groups),
        "track_rows": n_listed,
        "repeated_track_rows": n_listed - len(tracks),
        "join_losses": [],
    }
    table = tracks
    if "lowlevel" in groups:
        table = _inner_join(table, root / LOWLEVEL, LOWLEVEL_COLUMNS, info, name=LOWLEVEL)
        info["audio_input"] = SPOTIFY_PREVIEW.to_dict()  # computed from 30 s previews
    if "lyrics" in groups:
        table = _inner_join(table, root / LYRICS, LYRICS_COLUMNS, info, name=LYRICS)
        sentinel = (table[list(LYRICS_COLUMNS)] == -1).any(axis=1)
        info["lyrics_sentinel_rows"] = int(sentinel.sum())

    artist_ids = parse_id_lists(table["artists_id"])
    if "metadata" in groups:
        table = pd.concat([table, _metadata(root, table, artist_ids, info)], axis=1)
    if audio_dir is not None:
        info.update(_match_audio(Path(audio_dir), table["id"]))

    feature_columns = [c for g in groups for c in group_columns[g]]
    clean, report = validate_table(
        table,
        id_column="id",
        target_column="popularity",
        feature_columns=feature_columns,
        on_bad=on_bad,
        where="spotgentrack",
    )
    info["validation"] = report
    y = clean["popularity"].to_numpy(dtype=np.float64)
    class_names = None
    if task == "classification":
        y = np.searchsorted(np.asarray(CLASS_EDGES), y, side="right").astype(np.int64)
        class_names = list(CLASS_NAMES)
        info["target"] = "HitMusicNet popularity class: low < 25 <= medium < 65 <= high"
    else:
        info["target"] = "Spotify popularity of the track (spotify_tracks.csv), 0-100"
    return PopularityDataset(
        ids=clean["id"].to_numpy(dtype=str),
        y=y,
        tabular=clean[feature_columns],
        column_groups={g: group_columns[g] for g in groups},
        artist=clean["main_artist"].to_numpy(dtype=str),
        task=task,
        class_names=class_names,
        name="spotgentrack",
        info=info,
    )


def resolve_feature_sets(feature_sets: str | Sequence[str]) -> tuple[str, ...]:
    """Expand aliases and check names.

    Parameters
    ----------
    feature_sets : str or sequence of str

    Returns
    -------
    tuple of str
        Group names in canonical order (:data:`GROUPS`), without repeats.
    """
    names = [feature_sets] if isinstance(feature_sets, str) else list(feature_sets)
    wanted: set[str] = set()
    for name in names:
        if name in FEATURE_SETS:
            wanted.update(FEATURE_SETS[name])
        elif name in GROUPS:
            wanted.add(name)
        else:
            raise DataError(
                f"unknown feature set {name!r}; "
                f"use {', '.join(GROUPS)} or {', '.join(FEATURE_SETS)}"
            )
    if not wanted:
        raise DataError("feature_sets is empty")
    return tuple(g for g in GROUPS if g in wanted)


def _inner_join(
    table: pd.DataFrame, path: Path, columns: Sequence[str], info: dict, *, name: str
) -> pd.DataFrame:
    """Inner-join a per-track feature file on ``track_id``, recording the losses."""
    features = read_table(
        path, ["track_id", *columns], usecols=["track_id", *columns], dtype={"track_id": "string"}
    )
    report = join_report(table["id"], features["track_id"], left=TRACKS, right=name)
    report["right_duplicates"] = int(features["track_id"].duplicated().sum())
    info["join_losses"].append(report)
    features = features.drop_duplicates("track_id", keep="first").rename(columns={"track_id": "id"})
    return table.merge(features, on="id", how="inner")


def _metadata(root: Path, table: pd.DataFrame, artist_ids: pd.Series, info: dict) -> pd.DataFrame:
    """The ``metadata`` group for the rows of ``table``, shape (N, 6)."""
    artists = read_table(
        root / ARTISTS,
        ["id", "followers", "artist_popularity"],
        usecols=["id", "followers", "artist_popularity"],
        dtype={"id": "string"},
    )
    albums = read_table(
        root / ALBUMS,
        ["id", "release_date", "total_tracks"],
        usecols=["id", "release_date", "total_tracks"],
        dtype={"id": "string", "release_date": "string"},
    )
    artists = artists.drop_duplicates("id").set_index("id")
    albums = albums.drop_duplicates("id").set_index("id")
    listed = pd.Series([a for ids in artist_ids for a in ids], dtype="string").unique()
    artist_join = join_report(listed, artists.index, left="track artists", right=ARTISTS)
    album_join = join_report(table["album_id"], albums.index, left="track albums", right=ALBUMS)
    for report in (artist_join, album_join):
        report["how"] = "left"
        info["join_losses"].append(report)

    followers, _ = mean_over_artists(artist_ids, artists["followers"])
    popularity, _ = mean_over_artists(artist_ids, artists["artist_popularity"])
    album = albums.reindex(table["album_id"].to_numpy())
    markets = table["available_markets"].astype("string").str.count(_MARKET_PATTERN)
    return pd.DataFrame(
        {
            "artist_followers": followers,
            "artist_popularity": popularity,
            "n_artists": artist_ids.str.len().to_numpy(dtype=np.float64),
            "n_markets": markets.fillna(0).to_numpy(dtype=np.float64),
            "release_year": release_year(album["release_date"]),
            "album_total_tracks": pd.to_numeric(album["total_tracks"], errors="coerce").to_numpy(
                dtype=np.float64
            ),
        },
        index=table.index,
    )


def _match_audio(audio_dir: Path, ids: pd.Series) -> dict:
    """Count the tracks that have a preview file ``<id>.<ext>`` in ``audio_dir``."""
    if not audio_dir.is_dir():
        raise DataError(f"{audio_dir}: audio folder not found")
    stems = {p.stem for p in audio_dir.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS}
    matched = ids.isin(stems)
    return {
        "audio_dir": str(audio_dir),
        "audio_matched": int(matched.sum()),
        "audio_missing": int((~matched).sum()),
        "audio_unlisted": len(stems - set(ids)),
    }
