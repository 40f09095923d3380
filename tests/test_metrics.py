import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from autoenchorder.metrics import (
    classification_metrics,
    confusion_counts,
    macro_f1,
    popularity_band,
    r2,
    regression_metrics,
    spearman,
)


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def test_regression_metrics_by_hand():
    # errors: +10, -10, 0, +20 -> MAE 10, MSE (100+100+0+400)/4 = 150
    y = np.array([10.0, 50.0, 60.0, 80.0])
    p = np.array([20.0, 40.0, 60.0, 100.0])
    m = regression_metrics(y, p)
    assert m["n"] == 4
    assert m["mae"] == pytest.approx(10.0)
    assert m["mse"] == pytest.approx(150.0)
    assert m["rmse"] == pytest.approx(np.sqrt(150.0))
    # mean 50, SS_tot = 1600 + 0 + 100 + 900 = 2600, SS_res = 600
    assert m["r2"] == pytest.approx(1 - 600 / 2600)
    # ranks of y: 1 2 3 4, of p: 1 2 3 4 -> rho = 1
    assert m["spearman"] == pytest.approx(1.0)
    assert m["mae_01"] == pytest.approx(0.10)
    assert m["mse_01"] == pytest.approx(0.015)
    assert m["rmse_01"] == pytest.approx(np.sqrt(150.0) / 100)


@pytest.mark.parametrize("n", [5, 50, 500])
def test_regression_metrics_match_sklearn_and_scipy(rng, n):
    y = rng.uniform(0, 100, n)
    p = np.round(y + rng.normal(0, 15, n))  # rounding makes ties for the rank correlation
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, p))
    assert m["mse"] == pytest.approx(mean_squared_error(y, p))
    assert m["r2"] == pytest.approx(r2_score(y, p))
    assert m["spearman"] == pytest.approx(spearmanr(y, p).statistic)
    # the 0-1 figures are what the same metrics give on popularity / 100
    assert m["mae_01"] == pytest.approx(mean_absolute_error(y / 100, p / 100))
    assert m["mse_01"] == pytest.approx(mean_squared_error(y / 100, p / 100))


def test_batched_metrics_equal_row_by_row(rng):
    y = rng.uniform(0, 100, (7, 40))
    p = y + rng.normal(0, 10, (7, 40))
    np.testing.assert_allclose(r2(y, p), [r2_score(a, b) for a, b in zip(y, p, strict=True)])
    np.testing.assert_allclose(
        spearman(y, p), [spearmanr(a, b).statistic for a, b in zip(y, p, strict=True)]
    )


def test_undefined_correlations_are_nan():
    y = np.full(5, 40.0)
    assert np.isnan(r2(y, np.arange(5.0)))
    assert np.isnan(spearman(np.arange(5.0), y))


@pytest.mark.parametrize(
    ("popularity", "band"),
    [(0, 0), (24.9, 0), (25, 1), (64.99, 1), (65, 2), (100, 2)],
)
def test_popularity_band_edges(popularity, band):
    assert popularity_band(np.array([popularity]))[0] == band


def test_classification_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # F1 per class: class0 tp1 fp1 fn1 -> 0.5; class1 tp2 fp1 fn0 -> 0.8; class2 tp1 fp0 fn1 -> 2/3
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_classification_metrics_match_sklearn(rng, n_classes):
    y = rng.integers(0, n_classes, 300)
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, n_classes, 300))
    assert macro_f1(y, p, n_classes=n_classes) == pytest.approx(f1_score(y, p, average="macro"))
    assert classification_metrics(y, p, class_names=[str(k) for k in range(n_classes)])[
        "accuracy"
    ] == pytest.approx(accuracy_score(y, p))
    np.testing.assert_array_equal(confusion_counts(y, p, n_classes), confusion_matrix(y, p))


def test_macro_f1_skips_absent_classes_like_sklearn():
    y = np.array([0, 0, 2, 2])
    p = np.array([0, 2, 2, 2])
    assert macro_f1(y, p, n_classes=3) == pytest.approx(f1_score(y, p, average="macro"))


def test_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same length|one length"):
        regression_metrics(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (np.zeros(3), np.zeros(4), "one length"),
        (np.zeros((2, 3)), np.zeros((2, 3)), "1-d"),
        (np.zeros(0), np.zeros(0), "no rows"),
        (np.array([1.0, np.nan, 3.0]), np.zeros(3), "y_true holds 1 NaN"),
        (np.zeros(3), np.array([1.0, 2.0, np.inf]), "y_pred holds 1 NaN or infinite"),
        (np.array(["a", "b"]), np.zeros(2), "must be numbers"),
    ],
    ids=["lengths", "2-d", "empty", "nan-target", "inf-prediction", "text"],
)
@pytest.mark.parametrize("score", ["regression", "classification", "bootstrap", "win-rate"])
def test_unscorable_input_is_an_evaluation_error(y_true, y_pred, message, score):
    from autoenchorder.errors import AutoenchorderError, EvaluationError
    from autoenchorder.evaluate.bootstrap import paired_bootstrap
    from autoenchorder.evaluate.compare import win_rate

    run = {
        "regression": lambda: regression_metrics(y_true, y_pred),
        "classification": lambda: classification_metrics(y_true, y_pred),
        "bootstrap": lambda: paired_bootstrap(y_true, {"a": y_pred}, pairs=[], n_boot=10),
        "win-rate": lambda: win_rate(y_true, y_pred, y_pred, n_boot=10),
    }[score]
    with pytest.raises(EvaluationError, match=message) as caught:
        run()
    assert isinstance(caught.value, AutoenchorderError)  # the CLI reports it as one line
