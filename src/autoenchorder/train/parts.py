"""The rows of one fit, cut the same way everywhere: training, early-stopping validation, test.

An outer :class:`~autoenchorder.data.splits.Split` holds out the test rows; the validation rows
that steer early stopping are carved out of the training part with the same procedure (a
stratified holdout, grouped by artist when the dataset knows artists), so nothing fitted ever
sees a test row. ``train``, the demo's jobs and the search all cut their rows with
:func:`split_parts`.
"""

from __future__ import annotations

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import Split, holdout_split

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
