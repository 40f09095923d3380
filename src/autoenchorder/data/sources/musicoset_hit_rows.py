"""Hit Predictor's songs that MusicOSet lacks: rows with a hit label and no popularity.

MusicOSet's own songs all charted (its ``hit`` extra target is 1 for all but 34 of the 15,449
songs matched), so the hit label teaches a multi-target model little there. Hit Predictor
holds 25,150 further songs with the same 13 Spotify descriptors and a hit / non-hit label
(4,660 hits). This source gives them as a regression dataset whose popularity is unknown
(``partial_popularity``), for :func:`~autoenchorder.train.parts.with_supplement` to add to
MusicOSet's training rows: a model trained on several targets learns from their hit label
(and its autoencoder from their descriptors); nothing is ever scored on them.

Rows:

- every Hit Predictor track (one per Spotify id, ``duplicates="keep-hit"``) that is not a
  MusicOSet song, by Spotify id or by normalised title + main artist (the keys MusicOSet's
  ``hit`` target is matched on, :func:`~autoenchorder.data.sources.hit_predictor.match_key`);
- ``y``: NaN; ``extra_targets``: ``hit`` (1 = charted on the Hot 100, 0 = did not);
- column group ``descriptors`` only (MusicOSet's metadata has no counterpart here);
- ``artist``: MusicOSet's id of the same artist where the name matches one of its artists
  (case-blind, a featuring clause cut, as
  :func:`~autoenchorder.data.sources.hit_predictor.main_artist_key` does), so an
  artist-grouped split keeps a held-out artist's Hit Predictor songs out of training too;
  otherwise ``"hit-predictor:<name>"``.

``info["hit_rows"]`` counts the rows read, matched to MusicOSet songs, and kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS, PopularityDataset
from autoenchorder.data.locations import require_root
from autoenchorder.data.sources.hit_predictor import (
    hit_labels,
    load_hit_predictor,
    main_artist_key,
    match_key,
)
from autoenchorder.data.sources.musicoset import artists_of
from autoenchorder.data.validate import read_table

SONGS = Path("musicoset_metadata") / "songs.csv"
#: prefix of the artist key of a Hit Predictor artist MusicOSet does not know
UNMATCHED_ARTIST = "hit-predictor:"


def load_musicoset_hit_rows(
    root: str | Path | None = None,
    *,
    hit_predictor_root: str | Path | None = None,
    on_bad: str = "drop",
) -> PopularityDataset:
    """Load Hit Predictor's songs absent from MusicOSet, with their hit label only.

    Parameters
    ----------
    root : str or Path or None
        The MusicOSet folder (None: found by its usual rule).
    hit_predictor_root : str or Path or None
        The Hit Predictor folder (None: found by its usual rule).
    on_bad : {"drop", "impute", "fail"}
        Policy for Hit Predictor's bad rows.

    Returns
    -------
    PopularityDataset
        ``task="regression"``, ``partial_popularity=True``, ``y`` all NaN; group
        ``descriptors`` (13 columns); ``extra_targets`` with the column ``hit`` (0.0 / 1.0).

    Raises
    ------
    DataError
        A folder not found, or a file or column missing.
    """
    musicoset = require_root("musicoset", root)
    hp_root = require_root("hit-predictor", hit_predictor_root)
    songs = read_table(
        Path(musicoset) / SONGS,
        ["song_id", "song_name", "artists"],
        sep="\t",
        usecols=["song_id", "song_name", "artists"],
    ).drop_duplicates("song_id")
    artists = songs["artists"].map(artists_of)
    main_names = pd.Series([a[0][1] if a else "" for a in artists], dtype="string")
    song_keys = set(match_key(songs["song_name"], pd.Series(main_artist_key(main_names))))
    song_keys.discard("")
    artist_ids = _artist_ids_by_name(artists)

    hp = load_hit_predictor(hp_root, on_bad=on_bad)
    labels = hit_labels(hp_root).drop_duplicates("track_id").set_index("track_id")
    hp_keys = labels["match_key"].reindex(pd.Index(hp.ids)).fillna("").to_numpy(str)
    # hashed lookups: np.isin on string arrays is quadratic-slow here (~80 s)
    song_ids = set(songs["song_id"].astype(str))
    in_musicoset = np.array(
        [track in song_ids or key in song_keys for track, key in zip(hp.ids, hp_keys, strict=True)],
        dtype=bool,
    )
    kept = hp.take(~in_musicoset)
    artist = np.array(
        [artist_ids.get(name, f"{UNMATCHED_ARTIST}{name}") if name else "" for name in kept.artist],
        dtype=str,
    )
    columns = list(DESCRIPTOR_COLUMNS)
    return PopularityDataset(
        ids=kept.ids,
        y=np.full(len(kept), np.nan),
        tabular=kept.tabular[columns].reset_index(drop=True),
        column_groups={"descriptors": columns},
        artist=artist,
        name="musicoset-hit-rows",
        info={
            "source": str(hp_root),
            "musicoset": str(musicoset),
            "validation": hp.info.get("validation"),
            "hit_rows": {
                "read": len(hp),
                "in_musicoset": int(in_musicoset.sum()),
                "kept": len(kept),
                "hits": int(kept.y.sum()),
                "artists_known_to_musicoset": int(
                    sum(not a.startswith(UNMATCHED_ARTIST) and a != "" for a in artist)
                ),
            },
            "extra_targets": {
                "hit": {
                    "meaning": "Hit Predictor's label (1 = charted on the Hot 100)",
                    "n_known": len(kept),
                }
            },
            "target": "none: rows known by their hit label only (popularity NaN)",
        },
        extra_targets=pd.DataFrame({"hit": kept.y.astype(np.float64)}),
        partial_popularity=True,
    )


def _artist_ids_by_name(artists: pd.Series) -> dict[str, str]:
    """Hit Predictor's artist key (:func:`main_artist_key`) -> MusicOSet's artist id."""
    pairs = [pair for song in artists for pair in song]
    if not pairs:
        return {}
    ids, names = zip(*pairs, strict=True)
    keys = main_artist_key(pd.Series(names, dtype="string"))
    found: dict[str, str] = {}
    for key, artist_id in zip(keys, ids, strict=True):
        if key:
            found.setdefault(str(key), artist_id)
    return found
