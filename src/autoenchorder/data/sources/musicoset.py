"""MusicOSet (Silva, Rocha & Moro, SBBD 2019): 20,405 Billboard songs with Spotify data.

Files read (tab-separated, under ``root``)::

    musicoset_metadata/songs.csv                  song_id, artists, popularity, explicit, song_type
    musicoset_songfeatures/acoustic_features.csv  song_id + the 13 Spotify descriptors
    musicoset_metadata/artists.csv                artist_id, followers, popularity, artist_type,
                                                  main_genre
    musicoset_metadata/tracks.csv                 song_id, release_date

Target: the song's Spotify popularity (0-100). Column groups:

- ``descriptors``: the 13 Spotify descriptors (:data:`DESCRIPTOR_COLUMNS`).
- ``metadata``: ``artist_followers`` and ``artist_popularity`` (means over the song's artists
  found in artists.csv), ``n_artists``, ``release_year``, ``explicit`` (0/1),
  ``collaboration`` (1 when song_type is "Collaboration"), one-hot ``artist_type=...`` of the
  main (first-listed) artist (singer, band, duo, rapper, DJ, unknown for "-"), and one-hot
  ``main_genre=...`` of the main artist for the :data:`N_GENRES` most frequent main genres of
  the file, plus ``main_genre=other`` and ``main_genre=unknown`` (for "-").

Extra targets (``extra_targets=``, none by default; see :func:`musicoset_extra_targets`), as
``ds.extra_targets`` columns, NaN where a song has none:

- ``billboard``: the song's best Billboard year-end score (``musicoset_popularity/song_pop.csv``,
  ``year_end_score``: peak position and weeks on the Hot 100 combined, the largest over the
  years the song charted; 1 ... 6851, median 563);
- ``billboard_hit``: 1 when the authors flag the song popular (``is_pop``) in any of its years,
  else 0 (46 % of the songs are);
- ``hit``: the Hit Predictor label of the same song (1 = charted on the Hot 100), matched by
  Spotify id, else by normalised title and main artist
  (:func:`~autoenchorder.data.sources.hit_predictor.hit_labels`). Every MusicOSet song charted,
  so the matches are nearly all hits (15,449 matched, 34 of them non-hits): a label
  with almost no information on these songs, kept for completeness.

Artist group keys: the main artist's Spotify id. Note that ``artist_popularity`` is computed by
Spotify from the popularity of the artist's tracks, so it leaks the target; leave the
``metadata`` group out for audio-only studies.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS, PopularityDataset
from autoenchorder.data.locations import require_root
from autoenchorder.data.sources._common import (
    mean_over_artists,
    one_hot,
    parse_id_lists,
    release_year,
    top_categories,
)
from autoenchorder.data.sources.hit_predictor import hit_labels, match_hit_labels
from autoenchorder.data.validate import check_policy, join_report, read_table, validate_table
from autoenchorder.errors import DataError

SONGS = "musicoset_metadata/songs.csv"
SONG_POP = "musicoset_popularity/song_pop.csv"
#: the extra targets :func:`load_musicoset` can attach (see the module docstring)
EXTRA_TARGETS: dict[str, str] = {
    "billboard": "best Billboard year-end score of the song (song_pop.csv year_end_score, max)",
    "billboard_hit": "1 if song_pop.csv flags the song popular (is_pop) in any year, else 0",
    "hit": "Hit Predictor's label of the same song (1 = charted), matched by id or title+artist",
}
ARTISTS = "musicoset_metadata/artists.csv"
TRACKS = "musicoset_metadata/tracks.csv"
FEATURES = "musicoset_songfeatures/acoustic_features.csv"
#: main genres that get their own one-hot column
N_GENRES = 20
ARTIST_TYPES = ("singer", "band", "duo", "rapper", "DJ")
UNKNOWN = "-"


def load_musicoset(
    root: str | Path,
    *,
    on_bad: str = "drop",
    extra_targets: Sequence[str] = (),
    hit_predictor_root: str | Path | None = None,
) -> PopularityDataset:
    """Load MusicOSet as a regression dataset.

    Parameters
    ----------
    root : str or Path
        The folder holding ``musicoset_metadata/`` and ``musicoset_songfeatures/``.
    on_bad : {"drop", "impute", "fail"}
        Policy for bad rows (see :mod:`autoenchorder.data.validate`).
    extra_targets : sequence of str
        Names from :data:`EXTRA_TARGETS` to attach as ``ds.extra_targets`` (default none: the
        dataset is then exactly what it was before extra targets existed).
    hit_predictor_root : str or Path or None
        The Hit Predictor folder for the ``hit`` target (None: found by
        :func:`~autoenchorder.data.locations.require_root`).

    Returns
    -------
    PopularityDataset
        ``name="musicoset"``, groups ``descriptors`` (13) and ``metadata``; ``artist`` = main
        artist id; ``info`` holds ``validation``, ``join_losses``, ``source``, ``genres`` (and
        ``extra_targets``: what each extra column is and how many songs have it).

    Raises
    ------
    DataError
        If a file or a required column is missing, or a join is empty.
    """
    check_policy(on_bad)
    root = Path(root)
    songs = read_table(
        root / SONGS,
        ["song_id", "artists", "popularity", "explicit", "song_type"],
        sep="\t",
        usecols=["song_id", "artists", "popularity", "explicit", "song_type"],
    )
    features = read_table(
        root / FEATURES,
        ["song_id", *DESCRIPTOR_COLUMNS],
        sep="\t",
        usecols=["song_id", *DESCRIPTOR_COLUMNS],
    )
    artist_cols = ["artist_id", "followers", "popularity", "artist_type", "main_genre"]
    artists = read_table(root / ARTISTS, artist_cols, sep="\t", usecols=artist_cols)
    tracks = read_table(
        root / TRACKS, ["song_id", "release_date"], sep="\t", usecols=["song_id", "release_date"]
    )

    joins = [
        join_report(songs["song_id"], features["song_id"], left=SONGS, right=FEATURES),
        _left_join_report(songs["song_id"], tracks["song_id"], left=SONGS, right=TRACKS),
    ]
    table = songs.merge(features.drop_duplicates("song_id"), on="song_id", how="inner")
    table = table.merge(tracks.drop_duplicates("song_id"), on="song_id", how="left")

    artist_ids = parse_id_lists(table["artists"])
    artists = artists.drop_duplicates("artist_id").set_index("artist_id")
    listed = pd.Series([a for ids in artist_ids for a in ids], dtype="string").unique()
    joins.append(_left_join_report(listed, artists.index, left="song artists", right=ARTISTS))

    main_artist = artist_ids.str[0].astype("string").fillna("")
    main = artists.reindex(main_artist.to_numpy())
    artist_type = (
        main["artist_type"]
        .astype("string")
        .str.strip("'\" ")
        .fillna(UNKNOWN)
        .replace(UNKNOWN, "unknown")
    )
    main_genre = main["main_genre"].astype("string").fillna(UNKNOWN)
    genres = top_categories(artists["main_genre"], N_GENRES, exclude=[UNKNOWN])

    followers, _ = mean_over_artists(artist_ids, artists["followers"])
    artist_pop, _ = mean_over_artists(artist_ids, artists["popularity"])
    metadata = pd.DataFrame(
        {
            "artist_followers": followers,
            "artist_popularity": artist_pop,
            "n_artists": artist_ids.str.len().to_numpy(dtype=np.float64),
            "release_year": release_year(table["release_date"]),
            "explicit": _as_flag(table["explicit"]),
            "collaboration": (table["song_type"].astype("string") == "Collaboration").to_numpy(
                dtype=np.float64
            ),
        }
    )
    type_onehot = one_hot(
        artist_type.reset_index(drop=True),
        [*ARTIST_TYPES, "unknown"],
        prefix="artist_type",
        other=None,
    )
    genre_values = main_genre.reset_index(drop=True).replace(UNKNOWN, "unknown")
    genre_onehot = one_hot(genre_values, [*genres, "unknown"], prefix="main_genre")
    metadata = pd.concat([metadata, type_onehot, genre_onehot], axis=1)
    metadata_cols = list(metadata.columns)

    table = pd.concat(
        [table[["song_id", "popularity", *DESCRIPTOR_COLUMNS]].reset_index(drop=True), metadata],
        axis=1,
    )
    table["main_artist"] = main_artist.to_numpy()
    clean, report = validate_table(
        table,
        id_column="song_id",
        target_column="popularity",
        feature_columns=[*DESCRIPTOR_COLUMNS, *metadata_cols],
        on_bad=on_bad,
        where="musicoset",
    )
    ds = PopularityDataset(
        ids=clean["song_id"].to_numpy(dtype=str),
        y=clean["popularity"].to_numpy(dtype=np.float64),
        tabular=clean[[*DESCRIPTOR_COLUMNS, *metadata_cols]],
        column_groups={"descriptors": list(DESCRIPTOR_COLUMNS), "metadata": metadata_cols},
        artist=clean["main_artist"].to_numpy(dtype=str),
        name="musicoset",
        info={
            "source": str(root),
            "validation": report,
            "join_losses": joins,
            "genres": genres,
            "target": "Spotify popularity of the song (songs.csv), 0-100",
        },
    )
    if not extra_targets:
        return ds
    extra = musicoset_extra_targets(
        root, ds.ids, extra_targets, hit_predictor_root=hit_predictor_root
    )
    described = {
        name: {"meaning": EXTRA_TARGETS[name], "n_known": int(extra[name].notna().sum())}
        for name in extra.columns
    }
    return replace(ds, extra_targets=extra, info={**ds.info, "extra_targets": described})


def musicoset_extra_targets(
    root: str | Path,
    song_ids: Sequence[str] | np.ndarray,
    names: Sequence[str],
    *,
    hit_predictor_root: str | Path | None = None,
) -> pd.DataFrame:
    """The extra targets of the given songs (see the module docstring), NaN where unknown.

    Parameters
    ----------
    root : str or Path
        The MusicOSet folder.
    song_ids : sequence of str, length N
        MusicOSet song ids (Spotify track ids).
    names : sequence of str
        Names from :data:`EXTRA_TARGETS`, in the wanted column order.
    hit_predictor_root : str or Path or None
        The Hit Predictor folder (``hit`` only; None: found by its usual rule).

    Returns
    -------
    pd.DataFrame, float64, shape (N, len(names))

    Raises
    ------
    DataError
        An unknown name, or a file the asked targets need that is missing.
    """
    unknown = [n for n in names if n not in EXTRA_TARGETS]
    if unknown:
        raise DataError(
            f"musicoset has no extra target {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(EXTRA_TARGETS)}"
        )
    root = Path(root)
    ids = pd.Index(np.asarray(song_ids).astype(str))
    columns: dict[str, np.ndarray] = {}
    if {"billboard", "billboard_hit"} & set(names):
        pop = read_table(
            root / SONG_POP,
            ["song_id", "year_end_score", "is_pop"],
            sep="\t",
            usecols=["song_id", "year_end_score", "is_pop"],
        )
        pop["year_end_score"] = pd.to_numeric(pop["year_end_score"], errors="coerce")
        pop["is_pop"] = _as_flag(pop["is_pop"])
        per_song = pop.groupby("song_id")[["year_end_score", "is_pop"]].max()
        columns["billboard"] = per_song["year_end_score"].reindex(ids).to_numpy(np.float64)
        columns["billboard_hit"] = per_song["is_pop"].reindex(ids).to_numpy(np.float64)
    if "hit" in names:
        hit_root = require_root("hit-predictor", hit_predictor_root)
        songs = read_table(
            root / SONGS,
            ["song_id", "song_name", "artists"],
            sep="\t",
            usecols=["song_id", "song_name", "artists"],
        ).drop_duplicates("song_id")
        songs = songs.set_index("song_id").reindex(ids)
        main_name = songs["artists"].map(_main_artist_name)
        columns["hit"] = match_hit_labels(
            ids.to_numpy(), songs["song_name"], main_name, hit_labels(hit_root)
        )
    return pd.DataFrame({name: columns[name] for name in names})


def artists_of(text: object) -> list[tuple[str, str]]:
    """``[(artist id, name), ...]`` of songs.csv's ``artists`` text ``{'id': 'Name', ...}``.

    Parameters
    ----------
    text : object
        The cell (anything that is not such a dict literal gives ``[]``).

    Returns
    -------
    list of (str, str)
        In the order listed (the first is the main artist).
    """
    if not isinstance(text, str):
        return []
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return []
    if not isinstance(parsed, dict):
        return []
    return [(str(k), str(v)) for k, v in parsed.items()]


def _main_artist_name(artists: object) -> str:
    """The first name of songs.csv's ``artists`` text ("" if none)."""
    listed = artists_of(artists)
    return listed[0][1] if listed else ""


def _as_flag(values: pd.Series) -> np.ndarray:
    """True/False (bool or text) as 1.0/0.0; anything else NaN."""
    text = values.astype("string").str.strip().str.lower()
    return text.map({"true": 1.0, "false": 0.0}).astype(np.float64).to_numpy()


def _left_join_report(left_keys, right_keys, *, left: str, right: str) -> dict:
    """Like :func:`join_report` for a left join: rows are kept, their lookups may be missing."""
    report = join_report(left_keys, right_keys, left=left, right=right)
    report["how"] = "left"
    return report
