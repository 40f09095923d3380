import numpy as np
import pytest

from autoenchorder.evaluate.compare import (
    STUDY_BANDS,
    Band,
    error_by_decile,
    error_by_range,
    interval_coverage,
    quantile_bands,
    score_table,
    win_rate,
    win_rate_by_range,
)
from autoenchorder.published import (
    STUDY_TEST_SONGS,
    STUDY_WIN_PERCENT,
    STUDY_WIN_SHARE,
    STUDY_WINS,
)


def test_win_rate_by_hand():
    y = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    a = np.array([12.0, 20.0, 35.0, 40.0, 49.0])  # |e| 2 0 5 0 1
    b = np.array([10.0, 25.0, 30.0, 45.0, 51.0])  # |e| 0 5 0 5 1
    result = win_rate(y, a, b, names=("ours", "hmn"), n_boot=200)
    assert (result.a_better, result.b_better, result.ties) == (2, 2, 1)
    assert result.share == pytest.approx(0.4)
    assert result.share_decided == pytest.approx(0.5)
    assert result.model_a == "ours" and result.n == 5
    assert 0.0 <= result.low <= result.share <= result.high <= 1.0


def test_win_rate_of_the_study_scale():
    # the study's 919 wins out of 1,500 must come out as its share, with an interval around it
    n, n_wins, share = STUDY_TEST_SONGS, STUDY_WINS, STUDY_WIN_SHARE
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 100, n)
    wins = np.zeros(n, bool)
    wins[rng.choice(n, n_wins, replace=False)] = True
    a = np.where(wins, y + 1, y + 5)
    b = np.where(wins, y + 5, y + 1)
    result = win_rate(y, a, b, n_boot=1000)
    assert result.a_better == n_wins and result.share == pytest.approx(share, abs=1e-12)
    # the binomial standard error: sqrt(.61 * .39 / 1500) = 0.0126, an interval of about +-0.025
    half_width = 1.96 * np.sqrt(share * (1 - share) / n)
    assert result.low == pytest.approx(share - half_width, abs=0.006)
    assert result.high == pytest.approx(share + half_width, abs=0.006)
    # the study rounded its share down to the percent it wrote
    assert pytest.approx(100 * share, abs=0.1) == STUDY_WIN_PERCENT


@pytest.mark.parametrize(
    ("value", "labels"),
    [
        (19.9, ["low tail (< 20)"]),
        (20.0, []),
        (22.0, ["middle (22-55)"]),
        (55.0, ["middle (22-55)"]),
        (60.0, []),
        (60.5, ["high tail (> 60)"]),
        (100.0, ["high tail (> 60)"]),
    ],
)
def test_study_bands(value, labels):
    assert [b.label for b in STUDY_BANDS if b.mask(np.array([value]))[0]] == labels


def test_error_by_range_by_hand():
    y = np.array([10.0, 30.0, 40.0, 80.0])
    preds = {"m": np.array([20.0, 30.0, 30.0, 70.0])}
    table = error_by_range(y, preds).set_index("band")
    assert table.loc["low tail (< 20)", "mae"] == pytest.approx(10.0)
    assert table.loc["low tail (< 20)", "bias"] == pytest.approx(10.0)
    assert table.loc["middle (22-55)", "n"] == 2
    assert table.loc["middle (22-55)", "mae"] == pytest.approx(5.0)
    assert table.loc["middle (22-55)", "bias"] == pytest.approx(-5.0)
    assert table.loc["high tail (> 60)", "bias"] == pytest.approx(-10.0)


def test_empty_band_gives_nan():
    table = error_by_range(np.array([30.0]), {"m": np.array([31.0])}).set_index("band")
    assert table.loc["low tail (< 20)", "n"] == 0 and np.isnan(table.loc["low tail (< 20)", "mae"])


def test_win_rate_by_range_splits_middle_and_tails():
    # a wins in the middle, b on the tails: the study's pattern
    y = np.array([5.0, 10.0, 30.0, 40.0, 50.0, 70.0, 90.0])
    middle = (y >= 22) & (y <= 55)
    a = np.where(middle, y + 1, y + 9)
    b = np.where(middle, y + 4, y + 2)
    table = win_rate_by_range(y, a, b, n_boot=100).set_index("band")
    assert table.loc["middle (22-55)", "share"] == 1.0
    assert table.loc["low tail (< 20)", "share"] == 0.0
    assert table.loc["high tail (> 60)", "b_better"] == 2


def test_deciles_hold_equal_counts():
    y = np.arange(100.0)
    bands = quantile_bands(y)
    assert len(bands) == 10
    counts = [int(b.mask(y).sum()) for b in bands]
    assert sum(counts) == 100 and max(counts) - min(counts) <= 1
    table = error_by_decile(y, {"m": y + 2})
    assert np.allclose(table["bias"], 2.0)


def test_band_inclusivity():
    band = Band("x", 10, 20, lower_inclusive=False, upper_inclusive=True)
    np.testing.assert_array_equal(band.mask(np.array([10.0, 15.0, 20.0])), [False, True, True])


def test_score_table_ranks_models_by_mae():
    from sklearn.metrics import mean_absolute_error, r2_score

    rng = np.random.default_rng(1)
    y = rng.uniform(0, 100, 200)
    preds = {"rough": y + rng.normal(0, 20, 200), "close": y + rng.normal(0, 2, 200)}
    table = score_table(y, preds)
    assert list(table.index) == ["close", "rough"]
    assert table.loc["rough", "mae"] == pytest.approx(mean_absolute_error(y, preds["rough"]))
    assert table.loc["close", "r2"] == pytest.approx(r2_score(y, preds["close"]))


def test_interval_coverage_by_hand_and_when_calibrated():
    y = np.array([0.0, 10.0, 20.0, 30.0])
    pred = np.array([1.0, 13.0, 20.0, 40.0])  # |error| 1, 3, 0, 10
    out = interval_coverage(y, pred, np.full(4, 2.0))  # z = 0.5, 1.5, 0, 5
    assert out["within_1sd"] == 0.5 and out["within_1_96sd"] == 0.75
    assert out["z_rmse"] == pytest.approx(np.sqrt((0.25 + 2.25 + 0 + 25) / 4))
    rng = np.random.default_rng(2)
    sd = rng.uniform(2, 10, 20000)
    truth = rng.normal(0, sd)  # errors drawn with exactly the stated sd
    calibrated = interval_coverage(truth, np.zeros_like(truth), sd)
    assert calibrated["within_1sd"] == pytest.approx(0.683, abs=0.01)
    assert calibrated["within_1_96sd"] == pytest.approx(0.95, abs=0.01)


def test_quantile_band_labels_stay_distinct_for_close_values():
    bands = quantile_bands(np.array([1.0, 1.2, 1.4, 1.6]), n_bins=3)
    labels = [b.label for b in bands]
    assert len(set(labels)) == len(labels) == 3
