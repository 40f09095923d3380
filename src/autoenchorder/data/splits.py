"""Leakage-free train/test splits: holdout and k-fold, stratified and grouped by artist.

Both split kinds use one assignment procedure. Rows are gathered into *groups* (all songs of
one artist when grouping, else one group per row; a row whose artist is unknown, ``""``, is a
group of its own) and into *strata* (popularity quantile bins for regression, the class label
for classification, a single stratum when not stratifying). Every fold ``j`` has a target
count per stratum ``b`` -- for a holdout, the integer counts that give ``ceil(test_size * N)``
test rows spread over the strata by largest remainders; for k-fold, ``n_b // k`` with the
remainders dealt round-robin so fold sizes differ by at most one. Groups are placed one at a
time, largest first (random order among equal sizes, from ``seed``), each into the fold whose
weighted squared deviation from its targets, ``sum_b (count[j, b] - target[j, b])^2 /
share_j``, grows least; the one-row groups, which come last, are dealt out per stratum in one
step (deficits first, the rest by fold share). With one-row groups only, this reaches the
targets exactly (an ungrouped 85/15 holdout of 10,000 songs is 8,500/1,500); with artist
groups no artist is ever on both sides and the strata stay close to balanced.
The result depends only on the data and ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import DataError

#: quantile bins used to stratify a regression target
DEFAULT_BINS = 10
#: fewer bins are used when a bin would hold fewer rows than this
MIN_ROWS_PER_BIN = 10


@dataclass
class Split:
    """One train/test partition of a dataset, by track id.

    Attributes
    ----------
    train_ids : np.ndarray, str, shape (N_train,)
    test_ids : np.ndarray, str, shape (N_test,)
    kind : str
        Human description the report prints, e.g.
        ``"grouped-by-artist stratified holdout 85/15 seed 0"``.
    seed : int
    fold : int or None
        0-based fold index for k-fold splits, ``None`` for a holdout.
    n_folds : int or None
    """

    train_ids: np.ndarray
    test_ids: np.ndarray
    kind: str
    seed: int
    fold: int | None = None
    n_folds: int | None = None

    def apply(self, ds: PopularityDataset) -> tuple[PopularityDataset, PopularityDataset]:
        """Return the train and test parts of ``ds``.

        Parameters
        ----------
        ds : PopularityDataset

        Returns
        -------
        (PopularityDataset, PopularityDataset)
            ``ds.subset(train_ids)``, ``ds.subset(test_ids)``.
        """
        return ds.subset(self.train_ids), ds.subset(self.test_ids)


def holdout_split(
    ds: PopularityDataset,
    *,
    test_size: float = 0.15,
    seed: int = 0,
    stratify: bool = True,
    group: str | None = "auto",
    n_bins: int = DEFAULT_BINS,
) -> Split:
    """Split into train and test once.

    Parameters
    ----------
    ds : PopularityDataset
    test_size : float
        Share of rows in the test part, in (0, 1); default 0.15 (the study's 8,500/1,500).
    seed : int
    stratify : bool
        Balance popularity quantile bins (regression) or classes (classification).
    group : {"auto", "artist", None}
        ``"auto"`` groups by artist when ``ds.artist`` exists; ``"artist"`` requires it;
        ``None`` (or ``"none"``) does not group.
    n_bins : int
        Number of popularity quantile bins when stratifying a regression target.

    Returns
    -------
    Split
    """
    if not 0.0 < test_size < 1.0:
        raise DataError(f"test_size must be in (0, 1), got {test_size}")
    n = len(ds)
    if n < 2:
        raise DataError(f"cannot split a dataset of {n} rows")
    grouped = _use_groups(ds, group)
    strata = _strata(ds, stratify=stratify, n_bins=n_bins)
    n_test = min(max(math.ceil(test_size * n), 1), n - 1)
    shares = np.array([1.0 - test_size, test_size])
    stratum_sizes = np.bincount(strata)
    test_targets = _largest_remainder(stratum_sizes * (n_test / n), n_test)
    targets = np.vstack([stratum_sizes - test_targets, test_targets]).astype(np.float64)
    groups = _group_codes(ds, grouped)
    if len(np.unique(groups)) < 2:
        raise DataError("a grouped holdout needs at least 2 artists, found 1; use group=None")
    fold_of = _ensure_both_sides(_assign(groups, strata, targets, shares, seed), groups, seed)
    train = ds.ids[fold_of == 0]
    test = ds.ids[fold_of == 1]
    if len(train) == 0 or len(test) == 0:
        raise DataError(
            f"holdout left an empty side ({len(train)} train, {len(test)} test): too few groups"
        )
    pct_test = round(100 * test_size)
    kind = f"{_describe(grouped, stratify)} holdout {100 - pct_test}/{pct_test} seed {seed}"
    return Split(train_ids=train, test_ids=test, kind=kind, seed=seed)


def kfold_splits(
    ds: PopularityDataset,
    *,
    k: int = 5,
    seed: int = 0,
    stratify: bool = True,
    group: str | None = "auto",
    n_bins: int = DEFAULT_BINS,
) -> list[Split]:
    """Split into ``k`` folds; each row is in exactly one test fold.

    Parameters
    ----------
    ds : PopularityDataset
    k : int
        Number of folds, at least 2.
    seed : int
    stratify : bool
    group : {"auto", "artist", None}
    n_bins : int

    Returns
    -------
    list of Split
        ``k`` splits; split ``j`` tests fold ``j`` and trains on the others.
    """
    if k < 2:
        raise DataError(f"k-fold needs k >= 2, got {k}")
    grouped = _use_groups(ds, group)
    groups = _group_codes(ds, grouped)
    if len(np.unique(groups)) < k:
        raise DataError(f"cannot make {k} folds from {len(np.unique(groups))} groups")
    strata = _strata(ds, stratify=stratify, n_bins=n_bins)
    targets = _kfold_targets(np.bincount(strata), k)
    fold_of = _assign(groups, strata, targets, np.full(k, 1.0 / k), seed)
    base = f"{_describe(grouped, stratify)} {k}-fold"
    return [
        Split(
            train_ids=ds.ids[fold_of != j],
            test_ids=ds.ids[fold_of == j],
            kind=f"{base}, fold {j + 1} of {k}, seed {seed}",
            seed=seed,
            fold=j,
            n_folds=k,
        )
        for j in range(k)
    ]


# ---------------------------------------------------------------------- internals
def _use_groups(ds: PopularityDataset, group: str | None) -> bool:
    if group in (None, "none"):
        return False
    if group == "auto":
        return ds.artist is not None
    if group == "artist":
        ds.require("artist")
        return True
    raise DataError(f"group must be 'auto', 'artist' or None, got {group!r}")


def _describe(grouped: bool, stratify: bool) -> str:
    words = []
    if grouped:
        words.append("grouped-by-artist")
    words.append("stratified" if stratify else "random")
    return " ".join(words)


def _group_codes(ds: PopularityDataset, grouped: bool) -> np.ndarray:
    """Integer group code per row, shape (N,); unknown artists ("") are singletons."""
    n = len(ds)
    if not grouped:
        return np.arange(n)
    assert ds.artist is not None
    _, codes = np.unique(ds.artist, return_inverse=True)
    unknown = ds.artist == ""
    codes = codes.astype(np.int64)
    codes[unknown] = codes.max(initial=0) + 1 + np.arange(int(unknown.sum()))
    return codes


def popularity_bins(y: np.ndarray, n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Quantile bin of each target value.

    Parameters
    ----------
    y : np.ndarray, shape (N,)
    n_bins : int
        Wanted bins; fewer result when quantiles tie (e.g. many equal values).

    Returns
    -------
    np.ndarray, int64, shape (N,)
        Bin codes 0..B-1, every code used.
    """
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or n_bins <= 1:
        return np.zeros(len(y), dtype=np.int64)
    edges = np.unique(np.quantile(y, np.linspace(0, 1, n_bins + 1)[1:-1]))
    raw = np.searchsorted(edges, y, side="right")
    _, codes = np.unique(raw, return_inverse=True)
    return codes.astype(np.int64)


def _strata(ds: PopularityDataset, *, stratify: bool, n_bins: int) -> np.ndarray:
    if not stratify:
        return np.zeros(len(ds), dtype=np.int64)
    if ds.task == "classification":
        _, codes = np.unique(ds.y, return_inverse=True)
        return codes.astype(np.int64)
    # at least ~10 rows per bin, so tiny datasets are not cut into one-row strata
    return popularity_bins(ds.y, max(1, min(n_bins, len(ds) // MIN_ROWS_PER_BIN)))


def _largest_remainder(quotas: np.ndarray, total: int) -> np.ndarray:
    """Integers close to ``quotas`` (shape (B,)) summing to ``total``."""
    base = np.floor(quotas).astype(np.int64)
    short = total - int(base.sum())
    if short > 0:
        order = np.argsort(-(quotas - base), kind="stable")
        base[order[:short]] += 1
    return base


def _ensure_both_sides(fold_of: np.ndarray, groups: np.ndarray, seed: int) -> np.ndarray:
    """Move one smallest group to an empty side of a holdout (tiny datasets only).

    Parameters
    ----------
    fold_of : np.ndarray, int, shape (N,)
        0 = train, 1 = test.
    groups : np.ndarray, int, shape (N,)
    seed : int

    Returns
    -------
    np.ndarray, int, shape (N,)
    """
    for empty in (1, 0):
        if (fold_of == empty).any() or len(np.unique(groups)) < 2:
            continue
        codes, sizes = np.unique(groups, return_counts=True)
        smallest = codes[sizes == sizes.min()]
        chosen = np.random.default_rng(seed).choice(smallest)
        fold_of = np.where(groups == chosen, empty, fold_of)
    return fold_of


def _kfold_targets(stratum_sizes: np.ndarray, k: int) -> np.ndarray:
    """Integer rows per fold and stratum, shape (k, B).

    Each fold gets ``n_b // k`` rows of stratum b; the remainders are dealt round-robin across
    strata, so fold totals differ by at most one.
    """
    base = np.tile(stratum_sizes // k, (k, 1)).astype(np.float64)
    offset = 0
    for b, extra in enumerate(stratum_sizes % k):
        base[(offset + np.arange(extra)) % k, b] += 1
        offset += int(extra)
    return base


def _share_out(m: int, deficit: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split ``m`` rows over folds: fill the deficits (shape (K,)), the rest by ``shares``."""
    deficit = np.clip(deficit, 0.0, None)
    total = float(deficit.sum())
    if m <= total:
        quotas = deficit * (m / total) if total > 0 else np.zeros_like(deficit)
    else:
        quotas = deficit + shares / shares.sum() * (m - total)
    return _largest_remainder(quotas, m)


def _assign(
    groups: np.ndarray,
    strata: np.ndarray,
    targets: np.ndarray,
    shares: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Greedy group-to-fold assignment.

    Parameters
    ----------
    groups : np.ndarray, int, shape (N,)
    strata : np.ndarray, int, shape (N,)
    targets : np.ndarray, float, shape (K, B)
        Wanted rows of stratum b in fold j.
    shares : np.ndarray, float, shape (K,)
        Fold shares (weights of the deviation).
    seed : int

    Returns
    -------
    np.ndarray, int64, shape (N,)
        Fold of every row.
    """
    n_folds, n_strata = targets.shape
    rng = np.random.default_rng(seed)
    uniq, group_index = np.unique(groups, return_inverse=True)
    n_groups = len(uniq)
    counts = np.zeros((n_groups, n_strata), dtype=np.float64)
    np.add.at(counts, (group_index, strata), 1.0)
    sizes = counts.sum(axis=1)
    order = rng.permutation(n_groups)
    order = order[np.argsort(-sizes[order], kind="stable")]
    filled = np.zeros_like(targets)
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    weights = 1.0 / shares
    for g in order[sizes[order] > 1]:
        c = counts[g]
        nz = np.flatnonzero(c)
        cz = c[nz]
        growth = ((2.0 * (filled[:, nz] - targets[:, nz]) + cz) * cz).sum(axis=1) * weights
        best = int(np.argmin(growth))
        fold_of_group[g] = best
        filled[best, nz] += cz
    # one-row groups come last and only fill deficits, so they are dealt out per stratum at
    # once (in their random order): the same counts the one-by-one rule reaches
    singles = order[sizes[order] == 1]
    single_stratum = counts[singles].argmax(axis=1)
    for b in range(n_strata):
        members = singles[single_stratum == b]
        per_fold = _share_out(len(members), targets[:, b] - filled[:, b], shares)
        fold_of_group[members] = np.repeat(np.arange(n_folds), per_fold)
        filled[:, b] += per_fold
    return fold_of_group[group_index]
