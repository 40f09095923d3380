"""``sequence-ridge``: ridge regression on statistics of a song's sequence over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import RidgeCV

from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import DataError, ModelError
from autoenchorder.models import make_model
from autoenchorder.models.registry import model_from_state
from autoenchorder.models.sequence_ridge import (
    STATISTICS,
    expand_columns,
    sequence_statistics,
)


def trend_dataset(n: int, *, seed: int, dim: int = 6) -> PopularityDataset:
    """Songs of 4-12 frames whose popularity is set by how much one power column *rises*.

    Every song has the same average level in every column (so a model of the song's mean
    frame sees nothing); popularity follows the rise of column 0 from the first to the last
    frame, which the slope (and the spread) over time carries.
    """
    rng = np.random.default_rng(seed)
    rise = rng.uniform(0.0, 1.0, n)
    sequences, lengths = [], rng.integers(4, 13, size=n)
    for i in range(n):
        t = np.linspace(-1.0, 1.0, lengths[i])
        frames = np.abs(1.0 + 0.05 * rng.normal(size=(lengths[i], dim)))
        frames[:, 0] = 1.0 + rise[i] * t  # mean 1 whatever the rise; non-negative
        sequences.append(frames.astype(np.float32))
    return PopularityDataset(
        ids=np.array([f"s{i:04d}" for i in range(n)]),
        y=np.clip(20.0 + 60.0 * rise + rng.normal(0.0, 1.0, n), 0, 100),
        tabular=pd.DataFrame(index=range(n)),
        column_groups={},
        sequences=sequences,
        name="trend",
    )


def test_statistics_are_mean_sd_max_min_and_slope_per_column() -> None:
    frames = np.array([[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [7.0, 5.0]])
    stats = sequence_statistics(frames).reshape(len(STATISTICS), 2)
    by_name = dict(zip(STATISTICS, stats, strict=True))
    np.testing.assert_allclose(by_name["mean"], [2.5, 5.0])
    np.testing.assert_allclose(by_name["std"], [np.std([0, 1, 2, 7]), 0.0])
    np.testing.assert_allclose(by_name["max"], [7.0, 5.0])
    np.testing.assert_allclose(by_name["min"], [0.0, 5.0])
    t = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(by_name["slope"], [np.polyfit(t, frames[:, 0], 1)[0], 0.0])


def test_one_frame_has_no_spread_and_no_slope() -> None:
    stats = sequence_statistics(np.array([[3.0, -1.0]])).reshape(len(STATISTICS), 2)
    np.testing.assert_allclose(stats, [[3, -1], [0, 0], [3, -1], [3, -1], [0, 0]])
    with pytest.raises(ModelError, match="T >= 1"):
        sequence_statistics(np.zeros((0, 2)))


def test_expansion_adds_root_and_log_of_the_chosen_columns_only() -> None:
    frames = np.array([[4.0, -1.0, 100.0], [9.0, 2.0, 0.0]])
    chosen = np.array([True, False, True])
    out = expand_columns(frames, chosen, np.array([1.0, 1.0]))
    assert out.shape == (2, 3 + 2 * 2)
    np.testing.assert_allclose(out[:, :3], frames)
    np.testing.assert_allclose(out[:, 3:5], [[2.0, 10.0], [3.0, 0.0]])
    np.testing.assert_allclose(out[:, 5:7], np.log10([[5.0, 101.0], [10.0, 1.0]]))
    # a value below 0 in a column that was non-negative in training counts as 0
    below = expand_columns(np.array([[-2.0, 0.0, 1.0]]), chosen, np.array([1.0, 1.0]))
    np.testing.assert_allclose(below[0, 3], 0.0)
    np.testing.assert_allclose(below[0, 5], 0.0)


def test_it_learns_a_change_over_time_that_the_mean_frame_does_not_show() -> None:
    train, test = trend_dataset(200, seed=0), trend_dataset(80, seed=1)
    model = make_model("sequence-ridge").fit(train)
    r2 = 1 - np.mean((model.predict(test) - test.y) ** 2) / np.var(test.y)
    assert r2 > 0.9
    # the same ridge on the mean frame alone cannot (every song's mean frame is alike)
    means = np.stack([s.mean(axis=0) for s in train.sequences])
    ridge = RidgeCV().fit(means, train.y)
    test_means = np.stack([s.mean(axis=0) for s in test.sequences])
    mean_r2 = 1 - np.mean((ridge.predict(test_means) - test.y) ** 2) / np.var(test.y)
    assert mean_r2 < 0.3


def test_it_is_the_ridge_of_scikit_learn_on_the_standardised_statistics() -> None:
    train, test = trend_dataset(120, seed=2), trend_dataset(30, seed=3)
    model = make_model("sequence-ridge", expand=False).fit(train)
    x = np.stack([sequence_statistics(s) for s in train.sequences])
    center, scale = x.mean(0), x.std(0)
    # column 0's mean is 1 in every song: its spread is rounding, and it keeps scale 1
    constant = scale <= 1e-6 * np.maximum(1.0, np.abs(x).max(0))
    assert constant[0] and 0 < scale[0] < 1e-6
    scale[constant] = 1.0
    alphas = np.logspace(-2, 5, 29)
    reference = RidgeCV(alphas=alphas).fit((x - center) / scale, train.y)
    x_test = np.stack([sequence_statistics(s) for s in test.sequences])
    expected = np.clip(reference.predict((x_test - center) / scale), 0, 100)
    np.testing.assert_allclose(model.predict(test), expected, rtol=1e-9, atol=1e-9)
    assert model.alpha_ == pytest.approx(reference.alpha_)


def test_state_round_trip_through_a_bundle(tmp_path) -> None:
    train, test = trend_dataset(100, seed=4), trend_dataset(20, seed=5)
    model = make_model("sequence-ridge").fit(train)
    save_bundle(model, tmp_path / "bundle")
    again = load_bundle(tmp_path / "bundle")
    np.testing.assert_array_equal(again.predict(test), model.predict(test))


def test_a_column_constant_up_to_rounding_is_not_blown_up_to_unit_spread() -> None:
    train, test = trend_dataset(120, seed=7), trend_dataset(30, seed=8)
    rng = np.random.default_rng(9)

    def with_column(ds: PopularityDataset, wobble: float) -> PopularityDataset:
        extra = [
            np.hstack([s, 3.0 + wobble * rng.normal(size=(len(s), 1))]).astype(np.float64)
            for s in ds.sequences
        ]
        return ds.with_sequences(extra)

    exact = make_model("sequence-ridge", expand=False).fit(with_column(train, 0.0))
    # a few float32 ulps around 3 (the sequences are float32): scaled to unit spread, they
    # would be 5 pure-noise features for the ridge (0.5 points of popularity apart here)
    rounding = make_model("sequence-ridge", expand=False).fit(with_column(train, 1e-6))
    np.testing.assert_allclose(
        rounding.predict(with_column(test, 1e-6)),
        exact.predict(with_column(test, 0.0)),
        atol=1e-6,
    )


def test_a_state_saved_with_center_and_scale_still_loads() -> None:
    train, test = trend_dataset(80, seed=10), trend_dataset(20, seed=11)
    model = make_model("sequence-ridge").fit(train)
    meta, arrays = model.to_state()
    older = {k: v for k, v in arrays.items() if not k.startswith("rows.")}
    older |= {"center": arrays["rows.shift"], "scale": arrays["rows.scale"]}
    again = model_from_state(meta, older)
    np.testing.assert_array_equal(again.predict(test), model.predict(test))


def test_bad_inputs_are_named() -> None:
    train = trend_dataset(30, seed=6)
    no_sequences = PopularityDataset(
        ids=train.ids, y=train.y, tabular=train.tabular, column_groups={}, name="flat"
    )
    with pytest.raises(DataError, match="sequences"):
        make_model("sequence-ridge").fit(no_sequences)
    model = make_model("sequence-ridge").fit(train)
    narrower = train.with_sequences([s[:, :3] for s in train.sequences])
    with pytest.raises(ModelError, match="6-d frames, got 3-d"):
        model.predict(narrower)
    empty = train.with_sequences([np.zeros((0, 6), np.float32), *train.sequences[1:]])
    with pytest.raises(ModelError, match="s0000 has no frames"):
        make_model("sequence-ridge").fit(empty)
    with pytest.raises(ModelError, match="alpha_min"):
        make_model("sequence-ridge", alpha_min=0.0).fit(train)
