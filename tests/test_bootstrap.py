import numpy as np
import pytest

from autoenchorder.evaluate.bootstrap import (
    bootstrap_replicates,
    confidence_interval,
    jackknife_replicates,
    paired_bootstrap,
    resample_blocks,
)


def _simulate(rng, n, sd_a, sd_b):
    y = rng.uniform(0, 100, n)
    return y, {"a": y + rng.normal(0, sd_a, n), "b": y + rng.normal(0, sd_b, n)}


def test_resamples_are_seeded_and_independent_of_the_statistic():
    first = np.concatenate(resample_blocks(30, n_boot=250, seed=3))
    again = np.concatenate(resample_blocks(30, n_boot=250, seed=3))
    other = np.concatenate(resample_blocks(30, n_boot=250, seed=4))
    assert first.shape == (250, 30)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    # the first blocks do not depend on how many resamples are asked for
    np.testing.assert_array_equal(
        np.concatenate(resample_blocks(30, n_boot=100, seed=3)), first[:100]
    )


def test_jackknife_leaves_each_row_out_once():
    values = np.array([1.0, 2.0, 4.0, 8.0])
    means = jackknife_replicates(lambda index: values[index].mean(axis=-1), 4, block=3)
    np.testing.assert_allclose(means, [(15 - v) / 3 for v in values])


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_mae_interval_covers_the_true_mae(method):
    # errors N(0, 10): the population MAE is 10 * sqrt(2 / pi)
    truth = 10 * np.sqrt(2 / np.pi)
    rng = np.random.default_rng(0)
    n_sim, covered = 200, 0
    for sim in range(n_sim):
        y = rng.uniform(0, 100, 80)
        result = paired_bootstrap(
            y,
            {"m": y + rng.normal(0, 10, 80)},
            metrics=["mae"],
            n_boot=400,
            seed=sim,
            method=method,
        )
        row = result.metrics.iloc[0]
        covered += row["low"] <= truth <= row["high"]
    # nominal 0.95; 200 simulations give a standard error of about 0.015
    assert 0.89 <= covered / n_sim <= 0.99


def test_difference_interval_covers_the_true_difference():
    # MAE(a) - MAE(b) in the population: (6 - 10) * sqrt(2 / pi)
    truth = (6 - 10) * np.sqrt(2 / np.pi)
    rng = np.random.default_rng(1)
    n_sim, covered = 200, 0
    for sim in range(n_sim):
        y, preds = _simulate(rng, 80, 6, 10)
        result = paired_bootstrap(
            y, preds, pairs=[("a", "b")], metrics=["mae"], n_boot=400, seed=sim
        )
        row = result.differences.iloc[0]
        covered += row["low"] <= truth <= row["high"]
    assert 0.89 <= covered / n_sim <= 0.99


def test_pairing_narrows_the_difference_interval():
    # b misses every song by 1 more than a: their per-song errors move together, so the
    # paired interval of the difference is far narrower than either model's own interval
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 100, 300)
    a = y + rng.normal(0, 10, 300)
    result = paired_bootstrap(
        y, {"a": a, "b": a + np.sign(a - y)}, pairs=[("a", "b")], metrics=["rmse"], n_boot=500
    )
    own = result.metrics.set_index("model").loc["a"]
    diff = result.differences.iloc[0]
    assert (diff["high"] - diff["low"]) < 0.2 * (own["high"] - own["low"])
    assert diff["high"] < 0  # a is better (lower RMSE) in every resample
    assert diff["a_better_share"] == 1.0


def test_result_tables_and_estimates():
    rng = np.random.default_rng(3)
    y, preds = _simulate(rng, 120, 5, 15)
    result = paired_bootstrap(y, preds, pairs=[("a", "b")], n_boot=300, seed=0)
    assert set(result.metrics["metric"]) == {"mae", "rmse", "mse", "r2", "spearman"}
    assert len(result.metrics) == 10 and len(result.differences) == 5
    mae_a = result.metrics.query("model == 'a' and metric == 'mae'").iloc[0]
    assert mae_a["estimate"] == pytest.approx(np.mean(np.abs(preds["a"] - y)))
    assert mae_a["low"] < mae_a["estimate"] < mae_a["high"]
    r2_diff = result.differences.query("metric == 'r2'").iloc[0]
    assert r2_diff["low"] > 0  # a's R^2 is clearly higher


def test_classification_bootstrap():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 3, 200)
    good = np.where(rng.random(200) < 0.8, y, rng.integers(0, 3, 200))
    result = paired_bootstrap(
        y,
        {"good": good, "chance": rng.integers(0, 3, 200)},
        pairs=[("good", "chance")],
        task="classification",
        n_boot=300,
    )
    acc = result.differences.query("metric == 'accuracy'").iloc[0]
    assert acc["low"] > 0.3


def test_percentile_interval_of_known_replicates():
    replicates = np.arange(1001, dtype=float)[:, None]
    low, high = confidence_interval(replicates, np.array([500.0]), level=0.9)
    assert low[0] == pytest.approx(50.0) and high[0] == pytest.approx(950.0)


def test_bootstrap_replicates_shape():
    out = bootstrap_replicates(lambda index: index.mean(axis=-1), 10, n_boot=250, seed=0)
    assert out.shape == (250,)


def test_unknown_pair_is_refused():
    with pytest.raises(ValueError, match="pair"):
        paired_bootstrap(np.zeros(5), {"a": np.zeros(5)}, pairs=[("a", "zzz")])


@pytest.mark.parametrize("n_distinct", [3, 20, 1000])
def test_resampled_ranks_equal_scipy_rankdata(n_distinct):
    from scipy.stats import rankdata

    from autoenchorder.evaluate.bootstrap import ResampledRanks

    rng = np.random.default_rng(n_distinct)
    values = rng.integers(0, n_distinct, 60).astype(float)  # ties when n_distinct is small
    index = rng.integers(0, 60, (9, 60))
    np.testing.assert_allclose(
        ResampledRanks(values).ranks(index), rankdata(values[index], axis=-1)
    )


def test_bootstrap_spearman_replicates_match_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    y = np.round(rng.uniform(0, 100, 50))
    pred = np.round(y + rng.normal(0, 20, 50))
    result = paired_bootstrap(y, {"m": pred}, metrics=["spearman"], n_boot=120, seed=7)
    index = np.concatenate(resample_blocks(50, n_boot=120, seed=7))
    expected = [spearmanr(y[i], pred[i]).statistic for i in index]
    np.testing.assert_allclose(result.replicates["m"][:, 0], expected, rtol=1e-10)


def test_splitting_blocks_for_memory_keeps_the_resamples():
    values = np.random.default_rng(6).normal(size=40)

    def mean(index):
        return values[index].mean(axis=-1)

    whole = bootstrap_replicates(mean, 40, n_boot=250, seed=2)
    split = bootstrap_replicates(mean, 40, n_boot=250, seed=2, max_cells=7 * 40)
    np.testing.assert_array_equal(whole, split)
