import numpy as np
import pandas as pd
import pytest

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import holdout_split, kfold_splits, popularity_bins
from autoenchorder.errors import DataError


def make_dataset(n=600, *, n_artists=150, seed=0, artist=True, task="regression"):
    rng = np.random.default_rng(seed)
    # artist sizes skewed like real catalogs: a few prolific artists, many with one song
    weights = rng.pareto(1.5, n_artists) + 1
    artists = rng.choice(n_artists, size=n, p=weights / weights.sum())
    if task == "regression":
        y = np.clip(rng.normal(40, 17, n) + artists % 7, 0, 100)
    else:
        y = (rng.random(n) < 0.3).astype(int)
    return PopularityDataset(
        ids=[f"t{i}" for i in range(n)],
        y=y,
        tabular=pd.DataFrame({"x": rng.normal(size=n)}),
        column_groups={"descriptors": ["x"]},
        artist=np.array([f"a{k}" for k in artists]) if artist else None,
        task=task,
        class_names=["no", "yes"] if task == "classification" else None,
    )


def artists_of(ds, ids):
    return set(ds.subset(ids).artist)


@pytest.mark.parametrize("seed", range(12))
def test_grouped_holdout_never_shares_an_artist(seed):
    ds = make_dataset(seed=seed)
    split = holdout_split(ds, seed=seed)
    assert not artists_of(ds, split.train_ids) & artists_of(ds, split.test_ids)
    assert len(split.train_ids) + len(split.test_ids) == len(ds)
    assert 0.10 < len(split.test_ids) / len(ds) < 0.20
    assert split.kind == f"grouped-by-artist stratified holdout 85/15 seed {seed}"


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [3, 5])
def test_grouped_kfold_never_shares_and_covers_each_row_once(seed, k):
    ds = make_dataset(seed=seed)
    splits = kfold_splits(ds, k=k, seed=seed)
    assert len(splits) == k
    tested = np.concatenate([s.test_ids for s in splits])
    assert sorted(tested) == sorted(ds.ids)
    for s in splits:
        assert set(s.train_ids) | set(s.test_ids) == set(ds.ids)
        assert not artists_of(ds, s.train_ids) & artists_of(ds, s.test_ids)
    assert splits[1].kind == f"grouped-by-artist stratified {k}-fold, fold 2 of {k}, seed {seed}"


@pytest.mark.parametrize("k", [2, 4, 5])
def test_ungrouped_kfold_covers_each_row_once_with_equal_sizes(k):
    ds = make_dataset(n=103, artist=False)
    splits = kfold_splits(ds, k=k, seed=3)
    tested = np.concatenate([s.test_ids for s in splits])
    assert len(tested) == len(set(tested)) == len(ds)
    sizes = [len(s.test_ids) for s in splits]
    assert max(sizes) - min(sizes) <= 1


def test_ungrouped_holdout_is_exactly_the_reference_8500_1500():
    ds = make_dataset(n=10_000, artist=False)
    split = holdout_split(ds)
    assert (len(split.train_ids), len(split.test_ids)) == (8500, 1500)
    assert split.kind == "stratified holdout 85/15 seed 0"


def test_stratification_balances_popularity_bins():
    ds = make_dataset(n=2000, artist=False, seed=4)
    bins = popularity_bins(ds.y, 10)
    test = np.isin(ds.ids, holdout_split(ds, seed=4).test_ids)
    for b in np.unique(bins):
        in_bin = bins == b
        # largest-remainder targets: within one row of 15 % of the bin
        assert abs(test[in_bin].sum() - 0.15 * in_bin.sum()) <= 1


def test_grouped_stratification_keeps_bins_close():
    ds = make_dataset(n=3000, n_artists=900, seed=5)
    bins = popularity_bins(ds.y, 10)
    test = np.isin(ds.ids, holdout_split(ds, seed=5).test_ids)
    shares = [test[bins == b].mean() for b in np.unique(bins)]
    assert max(shares) - min(shares) < 0.06
    random_test = np.isin(ds.ids, holdout_split(ds, seed=5, stratify=False, group=None).test_ids)
    assert abs(random_test.mean() - 0.15) < 0.001


def test_classification_stratifies_by_label():
    ds = make_dataset(n=1000, artist=False, task="classification", seed=2)
    split = holdout_split(ds, seed=2)
    test = ds.subset(split.test_ids)
    assert abs(test.y.mean() - ds.y.mean()) < 0.01


def test_same_seed_same_split_other_seed_other_split():
    ds = make_dataset()
    a, b, c = holdout_split(ds, seed=7), holdout_split(ds, seed=7), holdout_split(ds, seed=8)
    assert list(a.test_ids) == list(b.test_ids)
    assert set(a.test_ids) != set(c.test_ids)


def test_group_auto_without_artist_is_ungrouped_and_artist_requires_it():
    ds = make_dataset(artist=False)
    assert holdout_split(ds).kind.startswith("stratified")
    with pytest.raises(DataError, match="artist"):
        holdout_split(ds, group="artist")
    grouped = make_dataset()
    assert holdout_split(grouped, group=None).kind == "stratified holdout 85/15 seed 0"


def test_unknown_artist_rows_are_their_own_groups():
    ds = make_dataset(n=200)
    ds.artist[:100] = ""
    split = holdout_split(ds, seed=1)
    test = set(split.test_ids)
    unknown_in_test = sum(i in test for i in ds.ids[:100])
    assert 0 < unknown_in_test < 100


def test_split_apply_and_bad_arguments():
    ds = make_dataset()
    train, test = holdout_split(ds).apply(ds)
    assert len(train) + len(test) == len(ds)
    with pytest.raises(DataError):
        holdout_split(ds, test_size=1.5)
    with pytest.raises(DataError):
        kfold_splits(ds, k=1)


def test_tiny_grouped_holdout_has_both_sides():
    ds = make_dataset(n=6, n_artists=3, seed=1)
    split = holdout_split(ds)
    assert len(split.train_ids) and len(split.test_ids)
    assert not artists_of(ds, split.train_ids) & artists_of(ds, split.test_ids)


def test_single_artist_cannot_be_grouped_but_can_be_split_ungrouped():
    ds = make_dataset(n=20, n_artists=1)
    with pytest.raises(DataError, match="at least 2 artists"):
        holdout_split(ds)
    assert len(holdout_split(ds, group=None).test_ids) == 3


def test_popularity_bins_with_ties_are_monotone_and_all_used():
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(400), rng.integers(0, 100, 600)]).astype(float)
    bins = popularity_bins(y, 10)
    assert set(bins) == set(range(bins.max() + 1))
    order = np.argsort(y, kind="stable")
    assert np.all(np.diff(bins[order]) >= 0)
    assert len(set(bins[y == 0])) == 1  # equal values share a bin
