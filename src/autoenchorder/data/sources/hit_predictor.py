"""The Spotify Hit Predictor Dataset 1960-2019 (Farooq Ansari, Kaggle): 41,106 rows, hit or not.

Files read: every ``dataset-of-*.csv`` under ``root`` (one per decade), with the columns
``track, artist, uri``, the 13 Spotify descriptors, ``chorus_hit``, ``sections``, ``target``
(1 = charted on the Billboard Hot 100) and ``decade`` (added from the file name when absent).

A binary classification dataset (``class_names = ["non-hit", "hit"]``). Column groups:

- ``descriptors``: the 13 Spotify descriptors.
- ``structure``: ``chorus_hit`` (estimated start of the chorus, s) and ``sections`` (number of
  sections), both from Spotify's audio analysis.
- ``metadata``: ``decade`` (1960 ... 2010).

Track ids are the Spotify ids (the ``uri`` without ``spotify:track:``). Artist group keys are
the artist text, case-folded, cut before " featuring " / " feat. " / " ft. " (the files carry
no artist ids).

Duplicates: some tracks appear more than once (537 uris, in two or three rows, mostly in the
files of neighbouring decades, 26 of them with a different target). Policy ``duplicates=``:

- ``"keep-hit"`` (default): one row per track; it is a hit if any copy is (it charted), and
  the earliest such copy supplies its features and decade;
- ``"drop-conflicting"``: tracks whose copies disagree on the target are dropped, the others
  keep their earliest copy;
- ``"fail"``: raise :class:`~autoenchorder.errors.DataError`.

``ds.info["duplicates"]`` reports the counts.

:func:`hit_labels` and :func:`match_hit_labels` give the label to songs of another source
(MusicOSet's ``hit`` extra target): by Spotify id, else by normalised title and main artist.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS, PopularityDataset
from autoenchorder.data.validate import check_policy, read_table, validate_table
from autoenchorder.errors import DataError

CLASS_NAMES = ["non-hit", "hit"]
STRUCTURE_COLUMNS = ("chorus_hit", "sections")
DUPLICATE_POLICIES = ("keep-hit", "drop-conflicting", "fail")
_FEATURING = re.compile(r"\s+(?:featuring|feat\.?|ft\.?)\s+", flags=re.IGNORECASE)
_DECADE_IN_NAME = re.compile(r"dataset-of-(\d\d)s\.csv$")


def load_hit_predictor(
    root: str | Path, *, duplicates: str = "keep-hit", on_bad: str = "drop"
) -> PopularityDataset:
    """Load the Hit Predictor files as a binary classification dataset.

    Parameters
    ----------
    root : str or Path
        Folder with the ``dataset-of-<decade>s.csv`` files.
    duplicates : {"keep-hit", "drop-conflicting", "fail"}
        What to do with a track listed more than once (see the module docstring).
    on_bad : {"drop", "impute", "fail"}
        Policy for bad rows (see :mod:`autoenchorder.data.validate`).

    Returns
    -------
    PopularityDataset
        ``task="classification"``, ``y`` int64 in {0, 1}; groups ``descriptors`` (13),
        ``structure`` (2), ``metadata`` (1); ``artist``; ``info`` with ``validation``,
        ``duplicates``, ``files``.

    Raises
    ------
    DataError
        If no file is found, a column is missing, or ``duplicates="fail"`` meets a duplicate.
    """
    check_policy(on_bad)
    if duplicates not in DUPLICATE_POLICIES:
        raise DataError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    root = Path(root)
    files = sorted(root.glob("dataset-of-*.csv"))
    if not files:
        raise DataError(f"{root}: no dataset-of-<decade>s.csv files")
    required = ["artist", "uri", *DESCRIPTOR_COLUMNS, *STRUCTURE_COLUMNS, "target"]
    frames = []
    for order, path in enumerate(files):
        frame = read_table(path, required)
        if "decade" not in frame.columns:
            frame["decade"] = _decade_from_name(path)
        frame["_file"] = path.name
        frame["_order"] = order
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table["track_id"] = table["uri"].astype("string").str.strip().str.removeprefix("spotify:track:")
    table, dup_report = _resolve_duplicates(table, duplicates)

    features = [*DESCRIPTOR_COLUMNS, *STRUCTURE_COLUMNS, "decade"]
    clean, report = validate_table(
        table,
        id_column="track_id",
        target_column="target",
        feature_columns=features,
        task="classification",
        n_classes=2,
        on_bad=on_bad,
        where="hit-predictor",
    )
    return PopularityDataset(
        ids=clean["track_id"].to_numpy(dtype=str),
        y=clean["target"].to_numpy().astype(np.int64),
        tabular=clean[features],
        column_groups={
            "descriptors": list(DESCRIPTOR_COLUMNS),
            "structure": list(STRUCTURE_COLUMNS),
            "metadata": ["decade"],
        },
        artist=main_artist_key(clean["artist"]),
        task="classification",
        class_names=list(CLASS_NAMES),
        name="hit-predictor",
        info={
            "source": str(root),
            "files": [p.name for p in files],
            "validation": report,
            "duplicates": dup_report,
            "join_losses": [],
            "target": "1 = charted on the Billboard Hot 100 in its decade, 0 = did not",
        },
    )


def hit_labels(root: str | Path) -> pd.DataFrame:
    """Every Hit Predictor track's label with the keys other sources are matched on.

    Parameters
    ----------
    root : str or Path
        Folder with the ``dataset-of-<decade>s.csv`` files.

    Returns
    -------
    pd.DataFrame
        Columns ``track_id`` (Spotify id), ``match_key`` (:func:`match_key` of title and
        artist) and ``hit`` (0.0 / 1.0), one row per file row (duplicates kept; the matcher
        counts a track a hit if any copy is, as ``duplicates="keep-hit"`` does).

    Raises
    ------
    DataError
        If no file is found or a column is missing.
    """
    files = sorted(Path(root).glob("dataset-of-*.csv"))
    if not files:
        raise DataError(f"{root}: no dataset-of-<decade>s.csv files")
    frames = [read_table(path, ["track", "artist", "uri", "target"]) for path in files]
    table = pd.concat(frames, ignore_index=True)
    hit = pd.to_numeric(table["target"], errors="coerce")
    return pd.DataFrame(
        {
            "track_id": table["uri"]
            .astype("string")
            .str.strip()
            .str.removeprefix("spotify:track:"),
            "match_key": match_key(table["track"], pd.Series(main_artist_key(table["artist"]))),
            "hit": hit.where(hit.isin([0, 1])).astype(np.float64),
        }
    )


def match_hit_labels(
    track_ids: np.ndarray, titles: pd.Series, artists: pd.Series, labels: pd.DataFrame
) -> np.ndarray:
    """The Hit Predictor label of other tracks: by Spotify id, else by title and main artist.

    Parameters
    ----------
    track_ids : np.ndarray, str, shape (N,)
        Spotify track ids of the tracks to label.
    titles, artists : pd.Series of str, length N
        Their titles and main artists' names (matched case- and punctuation-blind).
    labels : pd.DataFrame
        :func:`hit_labels`'s table.

    Returns
    -------
    np.ndarray, float64, shape (N,)
        1.0 hit, 0.0 non-hit (a track or key listed as both counts as a hit), NaN unmatched.
    """
    known = labels.dropna(subset=["hit"])
    by_id = known.groupby("track_id")["hit"].max()
    by_key = known[known["match_key"] != ""].groupby("match_key")["hit"].max()
    keys = match_key(
        pd.Series(titles, dtype="string").reset_index(drop=True),
        pd.Series(main_artist_key(pd.Series(artists, dtype="string"))),
    )
    from_id = by_id.reindex(pd.Index(np.asarray(track_ids).astype(str))).to_numpy(np.float64)
    from_key = by_key.reindex(pd.Index(keys)).to_numpy(np.float64, copy=True)
    from_key[keys.to_numpy() == ""] = np.nan
    return np.where(np.isnan(from_id), from_key, from_id)


def match_key(titles: pd.Series, artists: pd.Series) -> pd.Series:
    """``"title|artist"`` lower-cased, apostrophes dropped, other non-alphanumeric runs a space.

    Parameters
    ----------
    titles, artists : pd.Series of str, length N
        Row-aligned (their indexes are ignored).

    Returns
    -------
    pd.Series of str, length N
        ``""`` where either part is missing or empty.
    """

    def norm(text: pd.Series) -> pd.Series:
        text = pd.Series(np.asarray(text.astype("string").fillna(""), dtype=str))
        text = text.str.lower().str.replace("['\u2019]", "", regex=True)  # don't = dont
        return text.str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip()

    title, artist = norm(titles), norm(artists)
    key = title + "|" + artist
    return key.where((title != "") & (artist != ""), "")


def main_artist_key(artist: pd.Series) -> np.ndarray:
    """Group key per row: the artist text case-folded, cut before a featuring clause.

    Parameters
    ----------
    artist : pd.Series of str, shape (N,)

    Returns
    -------
    np.ndarray, str, shape (N,)
        ``""`` where the artist is missing.
    """
    text = artist.astype("string").fillna("")
    main = text.map(lambda s: _FEATURING.split(s, maxsplit=1)[0].strip().casefold())
    return main.to_numpy(dtype=str)


def _decade_from_name(path: Path) -> int:
    match = _DECADE_IN_NAME.search(path.name)
    if match is None:
        raise DataError(f"{path}: no decade column and none in the file name")
    two = int(match.group(1))
    return 1900 + two if two >= 50 else 2000 + two


def _resolve_duplicates(table: pd.DataFrame, policy: str) -> tuple[pd.DataFrame, dict]:
    """Apply the duplicate-track policy; returns one row per track id and a report."""
    ids = table["track_id"]
    dup_mask = ids.duplicated(keep=False) & ids.notna()
    copies = table[dup_mask]
    targets = pd.to_numeric(copies["target"], errors="coerce")
    n_targets = targets.groupby(copies["track_id"]).nunique()
    conflicting = set(n_targets[n_targets > 1].index)
    report = {
        "policy": policy,
        "duplicated_tracks": int(copies["track_id"].nunique()),
        "extra_rows": int(dup_mask.sum() - copies["track_id"].nunique()),
        "across_files": int((copies.groupby("track_id")["_file"].nunique() > 1).sum()),
        "conflicting_targets": len(conflicting),
        "examples": sorted(conflicting)[:5],
    }
    if policy == "fail" and report["duplicated_tracks"]:
        raise DataError(
            f"hit-predictor: {report['duplicated_tracks']} tracks listed more than once "
            f"({report['conflicting_targets']} with conflicting targets); duplicates='fail'"
        )
    ranked = table.assign(_target_rank=-pd.to_numeric(table["target"], errors="coerce").fillna(-1))
    if policy == "drop-conflicting":
        ranked = ranked[~ranked["track_id"].isin(conflicting)]
        ranked = ranked.sort_values(["_order"], kind="stable")
    else:
        ranked = ranked.sort_values(["_target_rank", "_order"], kind="stable")
    no_id = ranked["track_id"].isna()
    deduped = pd.concat([ranked[~no_id].drop_duplicates("track_id"), ranked[no_id]])
    deduped = deduped.sort_index().drop(columns=["_target_rank"])
    report["rows_removed"] = len(table) - len(deduped)
    return deduped.reset_index(drop=True), report
