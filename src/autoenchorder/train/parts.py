"""The rows of one fit, cut the same way everywhere: training, early-stopping validation, test.

An outer :class:`~autoenchorder.data.splits.Split` holds out the test rows; the validation rows
that steer early stopping are carved out of the training part with the same procedure (a
stratified holdout, grouped by artist when the dataset knows artists), so nothing fitted ever
sees a test row. ``train``, the demo's jobs and the search all cut their rows with
:func:`split_parts`. :func:`with_supplement` adds further training-only rows (e.g. Hit
Predictor's songs, known by their hit label alone) under the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import Split, holdout_split
from autoenchorder.errors import DataError

#: fewest training rows a learning-curve share keeps
MIN_TRAIN_ROWS = 10


def split_parts(
    ds: PopularityDataset,
    split: Split,
    *,
    val_size: float = 0.15,
    seed: int = 0,
    fraction: float | None = None,
) -> tuple[PopularityDataset, PopularityDataset, PopularityDataset]:
    """Return (train, val, test) of ``ds``: ``split``'s test rows, the rest cut in two.

    Parameters
    ----------
    ds : PopularityDataset
    split : Split
        The outer split; its test rows are the returned ``test``.
    val_size : float
        Share of the (kept) training rows carved out for early stopping.
    seed : int
        Seeds the share kept by ``fraction`` and the validation carve-out.
    fraction : float or None
        Keep a seeded share of the training rows (at least ten) before carving the
        validation rows (learning curves); None or 1: all.

    Returns
    -------
    (PopularityDataset, PopularityDataset, PopularityDataset)
        Disjoint; no artist of ``val`` or ``test`` is in ``train`` when ``ds`` knows artists.
    """
    train_all, test = split.apply(ds)
    if fraction is not None and fraction < 1.0:
        order = np.random.default_rng(seed).permutation(len(train_all))
        keep = max(MIN_TRAIN_ROWS, int(round(fraction * len(train_all))))
        train_all = train_all.take(np.sort(order[:keep]))
    inner = holdout_split(train_all, test_size=val_size, seed=seed)
    train, val = inner.apply(train_all)
    return train, val, test


def with_supplement(
    train: PopularityDataset,
    supplement: PopularityDataset,
    held_out: Sequence[PopularityDataset] = (),
) -> PopularityDataset:
    """``train`` plus the rows of ``supplement`` no held-out part may see.

    A supplement row is dropped when its id is already in ``train`` or ``held_out``, or its
    artist is one of a held-out row's (so the artist-grouped split still holds). The result
    keeps the column groups both have and the union of their extra targets (NaN where a row
    lacks one); it may hold rows without popularity (``partial_popularity``), which only a
    model trained on several targets uses.

    Parameters
    ----------
    train : PopularityDataset
        The training rows (a regression dataset without sequences).
    supplement : PopularityDataset
        Further training rows, e.g. ``musicoset-hit-rows``.
    held_out : sequence of PopularityDataset
        The validation and test rows.

    Returns
    -------
    PopularityDataset
        ``len(train) + kept`` rows, ``train``'s first; ``info["supplement"]`` counts the rows
        added and dropped.

    Raises
    ------
    DataError
        If either is not a tabular regression dataset, or they share no column group.
    """
    for ds in (train, supplement):
        if ds.task != "regression" or ds.sequences is not None:
            raise DataError(f"a supplement joins tabular regression rows; {ds.name!r} is not")
    groups = [g for g in train.column_groups if g in supplement.column_groups]
    if not groups:
        raise DataError(
            f"{supplement.name!r} shares no column group with {train.name!r} "
            f"({sorted(supplement.column_groups)} vs {sorted(train.column_groups)})"
        )
    seen_ids = np.concatenate([train.ids, *(part.ids for part in held_out)])
    held_artists = np.concatenate(
        [part.artist for part in held_out if part.artist is not None] or [np.zeros(0, str)]
    )
    held_artists = held_artists[held_artists != ""]
    artist = supplement.artist
    # hashed lookups (np.isin on string arrays takes seconds to minutes at this size)
    by_artist = pd.Series(artist if artist is not None else [""] * len(supplement))
    by_artist = by_artist.isin(set(held_artists)).to_numpy()
    by_id = pd.Series(supplement.ids).isin(set(seen_ids)).to_numpy()
    extra = supplement.take(~by_artist & ~by_id)
    columns = [c for g in groups for c in train.column_groups[g]]
    targets = None
    if train.extra_targets is not None or extra.extra_targets is not None:
        targets = pd.concat([_targets_or_empty(train), _targets_or_empty(extra)], ignore_index=True)
    return PopularityDataset(
        ids=np.concatenate([train.ids, extra.ids]),
        y=np.concatenate([train.y.astype(np.float64), extra.y.astype(np.float64)]),
        tabular=pd.concat([train.tabular[columns], extra.tabular[columns]], ignore_index=True),
        column_groups={g: list(train.column_groups[g]) for g in groups},
        artist=np.concatenate([_artist_or_blank(train), _artist_or_blank(extra)]),
        name=f"{train.name}+{supplement.name}",
        info={
            **train.info,
            "supplement": {
                "source": supplement.name,
                "added": len(extra),
                "dropped_held_out_artist": int((by_artist & ~by_id).sum()),
                "dropped_known_id": int(by_id.sum()),
            },
        },
        extra_targets=targets,
        partial_popularity=True,
    )


def _targets_or_empty(ds: PopularityDataset) -> pd.DataFrame:
    if ds.extra_targets is None:
        return pd.DataFrame(index=range(len(ds)))
    return ds.extra_targets


def _artist_or_blank(ds: PopularityDataset) -> np.ndarray:
    return np.full(len(ds), "", dtype=object).astype(str) if ds.artist is None else ds.artist
