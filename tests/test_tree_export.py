from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load, save
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from autoenchorder.errors import ModelError
from autoenchorder.models.tree_export import TreeEnsemble, export_hist_gradient_boosting


def _data(n=300, seed=0, with_nan=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    y = 3 * x[:, 0] - 2 * np.abs(x[:, 1]) + x[:, 2] * x[:, 3] + 0.1 * rng.normal(size=n)
    if with_nan:
        x[rng.random(x.shape) < 0.05] = np.nan
    return x, y


def _round_trip(ensemble, prefix="gbdt."):
    meta, arrays = ensemble.to_state(prefix)
    return TreeEnsemble.from_state(meta, load(save(arrays)), prefix)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "poisson"])
def test_regressor_predictions_identical(loss):
    x, y = _data()
    if loss == "poisson":
        y = np.exp(y / 4)
    est = HistGradientBoostingRegressor(loss=loss, max_iter=30, random_state=0).fit(x, y)
    x_new, _ = _data(200, seed=1)  # NaNs in unseen positions too
    restored = _round_trip(export_hist_gradient_boosting(est))
    np.testing.assert_array_equal(restored.predict(x_new), est.predict(x_new))


def test_nan_only_in_prediction_follows_sklearn():
    x, y = _data(with_nan=False)
    est = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(x, y)
    x_new = _data(50, seed=2)[0]
    np.testing.assert_array_equal(
        export_hist_gradient_boosting(est).predict(x_new), est.predict(x_new)
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_probabilities_match(n_classes):
    x, y = _data()
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    est = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, labels)
    x_new, _ = _data(100, seed=3)
    restored = _round_trip(export_hist_gradient_boosting(est))
    np.testing.assert_allclose(
        restored.predict_proba(x_new), est.predict_proba(x_new), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_array_equal(restored.predict(x_new), est.predict(x_new))


def test_unfitted_and_categorical_are_refused():
    with pytest.raises(ModelError, match="not fitted"):
        export_hist_gradient_boosting(HistGradientBoostingRegressor())
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.integers(0, 4, 200), rng.normal(size=200)]).astype(float)
    est = HistGradientBoostingRegressor(categorical_features=[0], max_iter=5).fit(x, x[:, 0])
    with pytest.raises(ModelError, match="categorical"):
        export_hist_gradient_boosting(est)


def test_out_of_range_child_is_refused():
    x, y = _data(with_nan=False)
    est = HistGradientBoostingRegressor(max_iter=3, random_state=0).fit(x, y)
    meta, arrays = export_hist_gradient_boosting(est).to_state()
    arrays["left"] = arrays["left"].copy()
    arrays["left"][0] = 10_000
    with pytest.raises(ModelError, match="child index"):
        TreeEnsemble.from_state(meta, arrays)


def test_wrong_feature_count_is_refused():
    x, y = _data(with_nan=False)
    est = HistGradientBoostingRegressor(max_iter=3, random_state=0).fit(x, y)
    with pytest.raises(ModelError, match=r"\(N, 5\)"):
        export_hist_gradient_boosting(est).predict(x[:, :4])
