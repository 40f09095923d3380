"""The procedural corpus written by ``autoenchorder corpus make`` as a dataset.

The corpus folder holds ``audio/``, ``labels.csv`` (id, popularity, artist) and
``truth.json``. Without a feature store the dataset has ids, popularity and artists only
(plus, on request, the generative ``truth`` columns); with the store ``extract`` made from
``<corpus>/audio`` it carries the 207 low-level features and, with ``embedder=``, the
embedding sequences, joined exactly as a user's catalog is
(:func:`autoenchorder.data.sources.catalog.load_catalog`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.sources.catalog import FeatureSource, load_catalog, read_labels
from autoenchorder.errors import DataError

#: Generative facts offered as the ``truth`` column group (for oracle baselines only: they
#: are not audio features).
#: The song-level generative facts every corpus records.
SONG_TRUTH_COLUMNS: tuple[str, ...] = (
    "tempo",
    "major",
    "brightness",
    "regularity",
    "loudness_db",
    "duration",
    "n_sections",
    "n_choruses",
    "n_builds",
)
TRUTH_COLUMNS: tuple[str, ...] = (
    *SONG_TRUTH_COLUMNS,
    "first_chorus_seconds",
    "expected_first_chorus_seconds",
    "builds_into_chorus",
    "expected_builds_into_chorus",
    "chorus_returns",
    "expected_chorus_returns",
)


#: The generative facts of a full-length corpus (``corpus make --full-length``): the song-level
#: ones, and the two qualities a 30 s preview may miss (docs/procedural-corpus.md).
FULL_LENGTH_TRUTH_COLUMNS: tuple[str, ...] = (
    *SONG_TRUTH_COLUMNS,
    "hook_strength",
    "final_lift",
)


def truth_columns(truth: dict) -> tuple[str, ...]:
    """The ``truth`` column group of a corpus: :data:`TRUTH_COLUMNS`, or the full-length ones."""
    if (truth.get("config") or {}).get("full_length"):
        return FULL_LENGTH_TRUTH_COLUMNS
    return TRUTH_COLUMNS


def read_truth(corpus_dir: str | Path) -> dict:
    """Read a corpus's ``truth.json`` (config, formula constants, report, songs).

    Parameters
    ----------
    corpus_dir : str or Path

    Returns
    -------
    dict
    """
    path = Path(corpus_dir) / "truth.json"
    if not path.is_file():
        raise DataError(f"{path}: not found (make the corpus with `autoenchorder corpus make`)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc


def truth_table(truth: dict) -> pd.DataFrame:
    """The generative facts of every song, one row per song.

    Parameters
    ----------
    truth : dict
        :func:`read_truth` output.

    Returns
    -------
    pandas.DataFrame, shape (n_songs, 1 + len(columns))
        ``track_id`` then :func:`truth_columns` (float64).
    """
    columns = truth_columns(truth)
    rows = []
    for song in truth["songs"]:
        pop = song["popularity"]
        rows.append(
            {
                "track_id": song["id"],
                "tempo": song["tempo"],
                "major": float(song["mode"] == "major"),
                "brightness": song["brightness"],
                "regularity": song["regularity"],
                "loudness_db": song["loudness_db"],
                "duration": song["duration"],
                "n_sections": len(song["sections"]),
                "n_choruses": song["sections"].count("chorus"),
                "n_builds": song["sections"].count("build"),
                **{key: pop[key] for key in TRUTH_COLUMNS if key in pop},
                **{key: song[key] for key in ("hook_strength", "final_lift") if key in song},
            }
        )
    table = pd.DataFrame(rows)
    return table[["track_id", *columns]].astype({c: np.float64 for c in columns})


def load_procedural(
    corpus_dir: str | Path,
    store: FeatureSource | str | Path | None = None,
    *,
    embedder: str | None = None,
    include_truth: bool = False,
    on_bad: str = "drop",
) -> PopularityDataset:
    """Load a procedural corpus as a :class:`PopularityDataset`.

    Parameters
    ----------
    corpus_dir : str or Path
        The folder ``corpus make`` wrote.
    store : FeatureStore or str or Path or None
        The store ``extract <corpus_dir>/audio`` made; ``None`` loads labels only.
    embedder : str or None
        With a store: attach this embedder's sequences (e.g. ``"musicnn-msd"``).
    include_truth : bool
        Add the ``truth`` column group (:data:`TRUTH_COLUMNS`): the generative facts, for
        oracle baselines (never give them to a model that should hear the audio).
    on_bad : {"drop", "impute", "fail"}
        Policy for bad rows (see :func:`load_catalog`).

    Returns
    -------
    PopularityDataset
        ``name="procedural"``, popularity 0-100, ``artist`` groups, ``lowlevel`` group and
        sequences when a store is given; ``info["corpus"]`` holds the corpus config and its
        variance report (oracle R^2, temporal share).

    Raises
    ------
    DataError
        Missing labels or truth, or no labelled song in the store.
    """
    corpus_dir = Path(corpus_dir)
    truth = read_truth(corpus_dir)
    labels_csv = corpus_dir / "labels.csv"
    if store is not None:
        dataset = load_catalog(
            corpus_dir / "audio", labels_csv, store, embedder=embedder, on_bad=on_bad
        )
        tabular = dataset.tabular.reset_index(drop=True)
        groups = dict(dataset.column_groups)
        info = dict(dataset.info)
        ids, y, artist = dataset.ids, dataset.y, dataset.artist
        sequences, times = dataset.sequences, dataset.sequence_times
    else:
        labels, report = read_labels(labels_csv, on_bad=on_bad)
        ids = labels["track_id"].to_numpy(dtype=str)
        y = labels["popularity"].to_numpy(dtype=np.float64)
        artist = labels["artist"].to_numpy(dtype=str)
        tabular, groups = pd.DataFrame(index=pd.RangeIndex(len(ids))), {}
        info = {"source": str(labels_csv), "validation": report}
        sequences = times = None
    if include_truth:
        facts = truth_table(truth).set_index("track_id").reindex(ids)
        if facts.isna().any().any():
            raise DataError(f"{corpus_dir / 'truth.json'} lacks songs that labels.csv lists")
        tabular = pd.concat([tabular, facts.reset_index(drop=True)], axis=1)
        groups["truth"] = list(truth_columns(truth))
    info["corpus"] = {"config": truth.get("config"), "report": truth.get("report")}
    info["target"] = "popularity by construction, docs/procedural-corpus.md"
    return PopularityDataset(
        ids=ids,
        y=y,
        tabular=tabular,
        column_groups=groups,
        sequences=sequences,
        sequence_times=times,
        artist=artist,
        name="procedural",
        info=info,
    )
