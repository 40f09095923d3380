"""Helpers the source loaders share: artist-list parsing, per-song artist averages, one-hots."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: a Spotify base-62 id inside a Python-literal list or dict, e.g. "['id1', 'id2']"
SPOTIFY_ID_PATTERN = r"'([0-9A-Za-z]{22})'"


def parse_id_lists(text: pd.Series, pattern: str = SPOTIFY_ID_PATTERN) -> pd.Series:
    """Spotify ids listed in each cell, in order.

    Parameters
    ----------
    text : pd.Series of str, shape (N,)
        Cells such as ``"['id1', 'id2']"`` or ``"{'id1': 'Name', 'id2': 'Other'}"``.
    pattern : str
        Regular expression with one group capturing an id.

    Returns
    -------
    pd.Series of list of str, shape (N,)
        Empty lists for missing or unparsable cells.
    """
    found = text.astype("string").str.findall(pattern)
    return found.apply(lambda ids: list(ids) if isinstance(ids, list) else [])


def mean_over_artists(artist_lists: pd.Series, values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Average an artist attribute over each song's artists.

    Parameters
    ----------
    artist_lists : pd.Series of list of str, shape (N,)
        Each song's artist ids.
    values : pd.Series of float, indexed by artist id
        The attribute (NaN = unknown).

    Returns
    -------
    mean : np.ndarray, float64, shape (N,)
        Mean over the song's artists with a known value; NaN if none is known.
    n_known : np.ndarray, int64, shape (N,)
        How many of the song's artists had a known value.
    """
    exploded = artist_lists.reset_index(drop=True).explode()
    mapped = pd.to_numeric(exploded.map(values), errors="coerce").astype(np.float64)
    grouped = mapped.groupby(level=0)
    n = len(artist_lists)
    mean = grouped.mean().reindex(range(n)).to_numpy(dtype=np.float64)
    n_known = grouped.count().reindex(range(n), fill_value=0).to_numpy(dtype=np.int64)
    return mean, n_known


def one_hot(
    values: pd.Series, categories: Sequence[str], *, prefix: str, other: str | None = "other"
) -> pd.DataFrame:
    """0/1 indicator columns ``{prefix}={category}`` for the given categories.

    Parameters
    ----------
    values : pd.Series of str, shape (N,)
    categories : sequence of str
        The categories that get their own column, in column order.
    prefix : str
    other : str or None
        Name of an extra column for every value not in ``categories`` (None: no such column).

    Returns
    -------
    pd.DataFrame, float64, shape (N, len(categories) [+ 1])
    """
    values = values.astype("string").fillna("")
    columns = {f"{prefix}={c}": (values == c).to_numpy(dtype=np.float64) for c in categories}
    if other is not None:
        columns[f"{prefix}={other}"] = (~values.isin(list(categories))).to_numpy(dtype=np.float64)
    return pd.DataFrame(columns, index=values.index)


def top_categories(values: pd.Series, k: int, *, exclude: Sequence[str] = ()) -> list[str]:
    """The ``k`` most frequent values (ties broken by name), leaving out ``exclude``."""
    counts = values.astype("string").dropna().value_counts()
    counts = counts[~counts.index.isin(list(exclude))]
    frame = counts.rename("n").reset_index().rename(columns={"index": "value"})
    frame.columns = ["value", "n"]
    frame = frame.sort_values(["n", "value"], ascending=[False, True], kind="stable")
    return frame["value"].head(k).tolist()


def release_year(dates: pd.Series) -> np.ndarray:
    """Year of ISO-like dates (``"1981"``, ``"1981-12"``, ``"1981-12-15"``), NaN if unparsable.

    Parameters
    ----------
    dates : pd.Series of str, shape (N,)

    Returns
    -------
    np.ndarray, float64, shape (N,)
    """
    years = pd.to_numeric(dates.astype("string").str.slice(0, 4), errors="coerce")
    return years.astype(np.float64).to_numpy()
