"""A teacher with privileged columns: out-of-fold, artist-grouped, and only at training time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import r2_score

from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models import make_model
from autoenchorder.models.distillation import out_of_fold_teacher, taught

FAST = dict(
    n_seeds=1,
    ae_epochs=5,
    ae_batch_size=32,
    batch_size=32,
    epochs=20,
    patience=20,
    quiet=True,
)


def privileged_dataset(n: int = 400, *, seed: int = 0) -> PopularityDataset:
    """Popularity = a function of 4 columns + noise that the extra column "outcome" reveals."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    noise = rng.normal(scale=12.0, size=n)
    popularity = np.clip(50 + 12 * x[:, 0] - 8 * x[:, 1] + noise, 0, 100)
    outcome = noise + rng.normal(scale=2.0, size=n)
    outcome[rng.random(n) < 0.2] = np.nan  # some songs have no known outcome
    return PopularityDataset(
        ids=[f"s{i}" for i in range(n)],
        y=popularity,
        tabular=pd.DataFrame(x, columns=["a", "b", "c", "d"]),
        column_groups={"descriptors": ["a", "b", "c", "d"]},
        artist=[f"artist{i // 4}" for i in range(n)],
        name="privileged",
        extra_targets=pd.DataFrame({"outcome": outcome}),
    )


def _inputs(ds: PopularityDataset, *, privileged: bool) -> np.ndarray:
    x = ds.features("descriptors")
    return np.column_stack([x, ds.extra_targets["outcome"]]) if privileged else x


def test_the_privileged_column_makes_the_teacher_better_out_of_fold() -> None:
    ds = privileged_dataset()
    seen = out_of_fold_teacher(_inputs(ds, privileged=True), ds.y, ds.artist, seed=0)
    blind = out_of_fold_teacher(_inputs(ds, privileged=False), ds.y, ds.artist, seed=0)
    assert seen.shape == (len(ds),) and seen.min() >= 0 and seen.max() <= 100
    assert r2_score(ds.y, seen) > r2_score(ds.y, blind) + 0.2


def test_a_songs_teacher_never_saw_its_artist() -> None:
    ds = privileged_dataset(200)
    x = _inputs(ds, privileged=True)
    before = out_of_fold_teacher(x, ds.y, ds.artist, seed=0)
    poisoned = ds.y.copy()
    artist = ds.artist == "artist7"
    poisoned[artist] = 100.0 - poisoned[artist]  # the artist's own popularity, turned around
    after = out_of_fold_teacher(x, poisoned, ds.artist, seed=0)
    np.testing.assert_array_equal(after[artist], before[artist])
    assert not np.array_equal(after[~artist], before[~artist])  # the other folds did see it


def test_the_blend_moves_popularity_towards_the_teacher_on_known_rows_only() -> None:
    full = privileged_dataset(200)
    y = full.y.copy()
    y[:5] = np.nan  # rows known by another target alone keep no popularity
    ds = dataclasses.replace(full, y=y, partial_popularity=True)
    x = ds.features("descriptors")
    half, teacher = taught(ds, x, ("outcome",), weight=0.5, seed=0)
    np.testing.assert_allclose(half.y[5:], 0.5 * ds.y[5:] + 0.5 * teacher[5:])
    assert np.isnan(half.y[:5]).all() and np.isnan(teacher[:5]).all()
    assert np.nanmin(teacher) >= np.nanmin(ds.y) and np.nanmax(teacher) <= np.nanmax(ds.y)
    same, _ = taught(ds, x, ("outcome",), weight=0.0, seed=0)
    np.testing.assert_array_equal(same.y, ds.y)
    np.testing.assert_array_equal(half.ids, ds.ids)
    np.testing.assert_array_equal(ds.y, y)  # the input rows are untouched


def test_teacher_options_are_refused_with_the_reason() -> None:
    ds = privileged_dataset(40)
    x = ds.features("descriptors")
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        taught(ds, x, ("outcome",), weight=1.5, seed=0)
    with pytest.raises(ModelError, match="no extra target 'billboard'"):
        taught(ds, x, ("billboard",), weight=0.5, seed=0)
    with pytest.raises(ModelError, match="5 folds .* 3 artists"):
        out_of_fold_teacher(x[:12], ds.y[:12], ds.artist[:12], seed=0)
    with pytest.raises(ModelError, match="teacher_weight > 0"):
        make_model("hitmusicnet", privileged=("outcome",), **FAST).fit(ds)
    as_classes = dict(FAST, task="classification", teacher_weight=0.5, privileged=("outcome",))
    with pytest.raises(ModelError, match="needs the regression task"):  # low/mid/high: no blend
        make_model("hitmusicnet", **as_classes).fit(ds)


def test_a_taught_hitmusicnet_predicts_without_the_privileged_columns(tmp_path) -> None:
    ds = privileged_dataset(300)
    train, val = ds.take(np.arange(240)), ds.take(np.arange(240, 300))
    options = dict(FAST, seed=0)
    plain = make_model("hitmusicnet", **options).fit(train, val)
    pupil = make_model("hitmusicnet", teacher_weight=0.5, privileged=("outcome",), **options)
    pupil.fit(train, val)
    bare = PopularityDataset(val.ids, val.y, val.tabular, val.column_groups)  # no extra targets
    prediction = pupil.predict(bare)
    np.testing.assert_array_equal(prediction, pupil.predict(val))
    assert not np.allclose(prediction, plain.predict(val))  # the teacher changed what it learnt
    assert r2_score(val.y, prediction) > 0.2  # and it still learnt popularity
    loaded = load_bundle(save_bundle(pupil, tmp_path / "bundle"))
    np.testing.assert_array_equal(loaded.predict(bare), prediction)
