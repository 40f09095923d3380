"""on_bad="impute" without leaks: bad values stay NaN in the dataset, models fill them from
their training rows only (models/scaling.py), so nothing about the test rows reaches a fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.validate import validate_table
from autoenchorder.models import make_model
from autoenchorder.models.scaling import ColumnScaler, column_medians
from synthetic_popularity import learnable_dataset

SPOTGENTRACK = Path(__file__).resolve().parent / "data" / "spotgentrack"
N_TRAIN, N_TEST = 90, 40
#: small fits: only their equality across datasets matters here, not their quality
QUICK = {
    "gbdt": dict(max_iter=20),
    "hitmusicnet": dict(ae_epochs=2, epochs=3, quiet=True),
    "autoenchorder": dict(ae_epochs=2, epochs=3, quiet=True),
}


def loaded_with_impute(test_value: float) -> PopularityDataset:
    """A source table through validate_table(on_bad="impute"), as every loader does.

    Training rows (the first N_TRAIN) have bad cells in ``low_0`` (text, empty, infinite);
    every test row has ``test_value`` in ``low_0``, and one test row a bad cell in ``low_1``,
    a column whose training rows are all good.
    """
    base = learnable_dataset(N_TRAIN + N_TEST, seed=3, n_lowlevel=6, max_len=6)
    table = base.tabular.astype(object)
    table.loc[[2, 5, 11, 17, 30, 41], "low_0"] = ["n/a", "", np.inf, "?", None, "-inf"]
    table.loc[N_TRAIN:, "low_0"] = test_value
    table.loc[N_TRAIN + 3, "low_1"] = "broken"
    table.insert(0, "id", base.ids)
    table.insert(1, "pop", base.y)
    columns = base.column_groups["lowlevel"]
    clean, report = validate_table(
        table, id_column="id", target_column="pop", feature_columns=columns, on_bad="impute"
    )
    assert list(clean["id"]) == list(base.ids)  # nothing dropped: sequences stay aligned
    return PopularityDataset(
        ids=clean["id"].to_numpy(),
        y=clean["pop"].to_numpy(),
        tabular=clean[columns],
        column_groups={"lowlevel": columns},
        sequences=base.sequences,
        artist=base.artist,
        name="impute",
        info={"validation": report},
    )


def train_test(ds: PopularityDataset) -> tuple[PopularityDataset, PopularityDataset]:
    return ds.take(np.arange(N_TRAIN)), ds.take(np.arange(N_TRAIN, len(ds)))


def test_impute_keeps_bad_values_as_nan_and_counts_them():
    ds = loaded_with_impute(1e6)
    low_0 = ds.tabular["low_0"].to_numpy()
    assert np.flatnonzero(np.isnan(low_0)).tolist() == [2, 5, 11, 17, 30, 41]
    assert np.isnan(ds.tabular["low_1"].to_numpy()).sum() == 1
    assert np.isfinite(ds.tabular.drop(columns=["low_0", "low_1"]).to_numpy()).all()
    assert ds.info["validation"]["missing_kept"] == {"low_0": 6, "low_1": 1}
    assert len(ds) == N_TRAIN + N_TEST


def test_training_inputs_do_not_depend_on_the_test_rows():
    """The imputed training values are the same whatever the test rows hold."""
    filled = []
    for test_value in (1e6, -1e6):
        train, _ = train_test(loaded_with_impute(test_value))
        x = train.features("lowlevel")
        filled.append(ColumnScaler("none").fit(x).transform(x))
    np.testing.assert_array_equal(filled[0], filled[1])
    train, _ = train_test(loaded_with_impute(0.0))
    expected = np.nanmedian(train.features("lowlevel")[:, 0])
    assert filled[0][[2, 5, 11, 17, 30, 41], 0] == pytest.approx([expected] * 6)


@pytest.mark.parametrize("name", sorted(QUICK))
def test_every_model_imputes_from_its_training_rows_only(name):
    predictions = []
    for test_value in (1e6, -1e6):
        train, test = train_test(loaded_with_impute(test_value))
        model = make_model(name, seed=0, **QUICK[name]).fit(train)
        on_train = model.predict(train)
        on_test = model.predict(test)
        assert np.isfinite(on_train).all() and np.isfinite(on_test).all()
        predictions.append(on_train)
        # the fitted state (bundles) keeps the fill values: a reloaded model predicts the same
        again = type(model).from_state(*model.to_state())
        np.testing.assert_allclose(again.predict(test), on_test, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_scaler_fills_with_training_medians_and_keeps_them_in_its_arrays():
    x = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.inf], [5.0, 40.0]])
    scaler = ColumnScaler("minmax").fit(x)
    np.testing.assert_array_equal(scaler.fill_, [3.0, 20.0])
    np.testing.assert_array_equal(scaler.shift_, [1.0, 10.0])  # statistics of the filled rows
    np.testing.assert_array_equal(scaler.scale_, [4.0, 30.0])
    later = np.array([[np.nan, np.nan], [5.0, 40.0]])
    np.testing.assert_array_equal(scaler.transform(later), [[0.5, 1 / 3], [1.0, 1.0]])
    again = ColumnScaler.from_arrays("minmax", scaler.to_arrays("s"), "s")
    np.testing.assert_array_equal(again.transform(later), scaler.transform(later))


def test_scaler_saved_before_imputation_leaves_nan_alone():
    old = {"s.shift": np.zeros(2), "s.scale": np.ones(2)}
    scaler = ColumnScaler.from_arrays("standard", old, "s")
    assert scaler.fill_ is None
    assert np.isnan(scaler.transform(np.array([[np.nan, 1.0]]))[0, 0])


def test_column_medians_exact_below_the_row_cap_and_without_finite_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(301, 3))
    x[:, 2] = np.nan
    np.testing.assert_array_equal(column_medians(x)[:2], np.median(x[:, :2], axis=0))
    assert column_medians(x)[2] == 0.0
    sampled = column_medians(x, max_rows=100)  # every 4th row
    np.testing.assert_array_equal(sampled[:2], np.median(x[::4, :2], axis=0))
    y = np.full((10, 1), np.nan)
    y[3] = 7.0  # the only finite value is not among the sampled rows (0, 5)
    assert column_medians(y, max_rows=2)[0] == 7.0


def test_data_info_reports_cells_kept_for_the_models():
    from click.testing import CliRunner

    from autoenchorder.cli import cli

    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["data", "info", "spotgentrack", "--root", str(SPOTGENTRACK), "--on-bad", "impute"]
    )
    assert result.exit_code == 0, result.output
    assert "kept as NaN" in result.output
