"""A user's own catalog: a folder of audio, a labels CSV, and the feature store ``extract`` made.

The labels CSV has a header and one row per track:

- ``id`` -- the track id, i.e. the file's path relative to the audio folder, posix, without
  extension (for a flat folder of ``<spotify id>.mp3`` previews: the Spotify id); or
  ``path`` -- that relative path with its extension (``id`` wins when both are present);
- ``popularity`` -- 0-100;
- ``artist`` (optional) -- any artist key (name or id); it groups the splits.

Rows with a missing or duplicate id, or a non-numeric or out-of-range popularity, are bad rows
(policy ``on_bad``, see :mod:`autoenchorder.data.validate`); the good rows load. Labels are then
inner-joined with the store's low-level table: labels without features and features without
labels are counted, with examples, in ``info["join_losses"]``; files the extraction could not
read are counted in ``info["store_failures"]``. With ``embedder=`` the stored sequences of that
embedder are attached; tracks without a sequence are dropped and reported.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Protocol

import numpy as np
import pandas as pd

from autoenchorder import storage
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.audio.processor import InputSpec
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.store import stored_precision
from autoenchorder.data.validate import check_policy, join_report, read_table, validate_table
from autoenchorder.errors import DataError


class FeatureSource(Protocol):
    """What the loader needs of a feature store (``autoenchorder.data.store.FeatureStore``)."""

    manifest: dict

    def read_table(self) -> pd.DataFrame: ...  # noqa: D102

    def read_sequences(self, embedder: str, ids=None) -> dict: ...  # noqa: D102

    def failures(self) -> pd.DataFrame: ...  # noqa: D102


def load_catalog(
    audio_dir: str | Path,
    labels_csv: str | Path,
    store: FeatureSource | str | Path,
    *,
    embedder: str | None = None,
    on_bad: str = "drop",
) -> PopularityDataset:
    """Join a labels file with the features extracted from a folder of audio.

    Parameters
    ----------
    audio_dir : str or Path
        The folder the labels' paths are relative to (the folder given to ``extract``).
    labels_csv : str or Path
        CSV with ``id`` or ``path``, ``popularity`` and optionally ``artist``.
    store : FeatureStore or str or Path
        The store ``extract`` wrote (or its folder).
    embedder : str or None
        Also attach this embedder's sequences (e.g. ``"musicnn-msd"``).
    on_bad : {"drop", "impute", "fail"}
        Policy for bad label rows and bad feature values.

    Returns
    -------
    PopularityDataset
        ``name="catalog"``, group ``lowlevel`` (207), ``artist`` when the labels have one,
        sequences when ``embedder`` is given.

    Raises
    ------
    DataError
        If the labels lack ``popularity`` or both ``id`` and ``path``, the store is empty, or
        no label matches a stored track.
    """
    check_policy(on_bad)
    audio_dir = storage.as_location(audio_dir)  # a Path, or the URI of a song prefix
    labels_csv = Path(labels_csv)
    if not isinstance(store, str | Path):
        features_store = store
    else:
        from autoenchorder.data.store import FeatureStore  # noqa: PLC0415 (pyarrow import)

        features_store = FeatureStore(store)

    labels, label_report = read_labels(labels_csv, audio_dir=audio_dir, on_bad=on_bad)
    table = features_store.read_table()
    if len(table) == 0:
        raise DataError(f"feature store {getattr(features_store, 'root', store)} holds no tracks")
    missing = [c for c in LOWLEVEL_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(f"feature store lacks low-level columns {missing[:5]}")
    table = table.assign(track_id=table["track_id"].astype(str))
    joins = [
        join_report(labels["track_id"], table["track_id"], left=labels_csv.name, right="store")
    ]
    joined = labels.merge(table, on="track_id", how="inner")
    joined, feature_report = validate_table(
        joined,
        id_column="track_id",
        target_column="popularity",
        feature_columns=list(LOWLEVEL_COLUMNS),
        on_bad=on_bad,
        where=f"{labels_csv.name} + store",
    )
    info: dict = {
        "source": str(labels_csv),
        "audio_dir": str(audio_dir),
        "validation": label_report,
        "feature_validation": feature_report,
        "join_losses": joins,
        "store_failures": _failure_summary(features_store),
        "silent_tracks": int(joined["silent"].astype(bool).sum()) if "silent" in joined else 0,
        "target": "popularity from the labels file, 0-100",
        # the part of each file the features were computed from (bundles record it)
        "audio_input": InputSpec.from_dict((features_store.manifest or {}).get("input")).to_dict(),
    }
    store_root = features_store.manifest.get("audio_root") if features_store.manifest else None
    if store_root and _location_key(store_root) != _location_key(audio_dir):
        info["audio_root_mismatch"] = {"store": store_root, "given": _location_key(audio_dir)}

    sequences = times = None
    if embedder is not None:
        joined, sequences, times = _attach_sequences(features_store, embedder, joined, info)
        if on_bad == "fail" and info["sequence_losses"]["missing"]:
            raise DataError(
                f"{info['sequence_losses']['missing']} tracks have no {embedder} sequence; "
                "on_bad='fail'"
            )
    has_artist = "artist" in joined.columns
    return PopularityDataset(
        ids=joined["track_id"].to_numpy(dtype=str),
        y=joined["popularity"].to_numpy(dtype=np.float64),
        tabular=joined[list(LOWLEVEL_COLUMNS)],
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
        sequences=sequences,
        sequence_times=times,
        artist=joined["artist"].to_numpy(dtype=str) if has_artist else None,
        name="catalog",
        info=info,
    )


def read_labels(
    labels_csv: Path, *, audio_dir: Path | str | None = None, on_bad: str = "drop"
) -> tuple[pd.DataFrame, dict]:
    """Read and validate a labels file.

    Parameters
    ----------
    labels_csv : Path
    audio_dir : Path or None
        Used to make absolute ``path`` values relative.
    on_bad : {"drop", "impute", "fail"}

    Returns
    -------
    labels : pd.DataFrame
        Columns ``track_id``, ``popularity`` (float64) and ``artist`` (str, ``""`` unknown)
        when present; good rows only.
    report : dict
        The validation report.
    """
    if not labels_csv.is_file():
        raise DataError(f"{labels_csv}: labels file not found")
    header = pd.read_csv(labels_csv, nrows=0).columns
    key = "id" if "id" in header else "path" if "path" in header else None
    if key is None:
        missing = ["id or path"] + ([] if "popularity" in header else ["popularity"])
        raise DataError(f"{labels_csv}: missing column(s) {', '.join(missing)}")
    wanted = [key, "popularity"] + (["artist"] if "artist" in header else [])
    raw = read_table(labels_csv, [key, "popularity"], usecols=wanted, dtype=str)
    track_id = raw[key].astype("string").str.strip()
    if key == "path":
        track_id = track_id.map(
            lambda p: track_id_from_path(p, audio_dir) if isinstance(p, str) else p
        )
    labels = pd.DataFrame({"track_id": track_id, "popularity": raw["popularity"]})
    if "artist" in raw.columns:
        labels["artist"] = raw["artist"].astype("string").str.strip().fillna("")
    return validate_table(
        labels,
        id_column="track_id",
        target_column="popularity",
        feature_columns=[],
        on_bad=on_bad,
        where=str(labels_csv),
    )


def track_id_from_path(path: str, audio_dir: Path | str | None = None) -> str:
    r"""The track id of a labels ``path``: relative to the audio folder, posix, no extension.

    Parameters
    ----------
    path : str
        Relative (``"rock/song.mp3"``, ``"rock\\song.mp3"``) or absolute under ``audio_dir``.
    audio_dir : Path or None

    Returns
    -------
    str
    """
    text = path.strip().replace("\\", "/")
    if audio_dir is not None and storage.is_remote(audio_dir):
        text = text.removeprefix(str(audio_dir).rstrip("/") + "/")  # a URI below the prefix
    elif audio_dir is not None and Path(text).is_absolute():
        try:
            text = Path(text).resolve().relative_to(audio_dir.resolve()).as_posix()
        except ValueError:
            return text
    pure = PurePosixPath(text.removeprefix("./"))
    return pure.with_suffix("").as_posix() if pure.suffix else pure.as_posix()


def _location_key(location: str | Path) -> str:
    """A song folder's comparable spelling: a local path resolved, a URI without a final /."""
    if storage.is_remote(location):
        return str(location).rstrip("/")
    return str(Path(location).resolve())


def _failure_summary(store: FeatureSource) -> dict:
    failures = store.failures()
    if failures is None or len(failures) == 0:
        return {"count": 0, "examples": []}
    head = failures.head(5)
    return {
        "count": len(failures),
        "examples": [f"{row.path}: {row.reason}" for row in head.itertuples(index=False)],
    }


def _attach_sequences(
    store: FeatureSource, embedder: str, joined: pd.DataFrame, info: dict
) -> tuple[pd.DataFrame, list[np.ndarray], list[np.ndarray]]:
    """Rows that have a stored sequence, with their frames and times in row order."""
    found = store.read_sequences(embedder, ids=joined["track_id"].tolist())
    has = joined["track_id"].isin(list(found))
    missing = joined.loc[~has, "track_id"]
    info["embedder"] = embedder
    precision = stored_precision(store.manifest, embedder)
    if precision:  # predict embeds new songs in it too
        info["embedder_precision"] = precision
    info["sequence_losses"] = {
        "embedder": embedder,
        "missing": int((~has).sum()),
        "examples": missing.head(5).tolist(),
    }
    if not has.any():
        raise DataError(f"the store holds no {embedder} sequence for any labelled track")
    kept = joined.loc[has].reset_index(drop=True)
    frames = [np.asarray(found[t].frames, dtype=np.float32) for t in kept["track_id"]]
    times = [np.asarray(found[t].times, dtype=np.float64) for t in kept["track_id"]]
    return kept, frames, times
