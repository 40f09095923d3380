from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from autoenchorder.models.losses import outlier_weights, target_sd, weighted_mse


def test_weighted_mse_by_hand() -> None:
    prediction = torch.tensor([0.50, 0.20, 0.36])
    target = torch.tensor([0.36, 0.76, 0.16])
    sd = 0.2  # alpha * sd = 0.4
    # weights: t = mean -> exp(0) = 1; (0.76 - 0.36) / 0.4 = 1 -> exp(1 / 2);
    # (0.16 - 0.36) / 0.4 = -0.5 -> exp(0.25 / 2)
    expected = (1.0 * 0.14**2 + math.exp(0.5) * 0.56**2 + math.exp(0.125) * 0.20**2) / 3
    got = weighted_mse(prediction, target, sd=sd, mean=0.36, alpha=2.0, beta=2.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("mean", "alpha", "beta"), [(0.36, 2.0, 2.0), (0.42, 1.8, 2.2), (0.33, 2.2, 1.8)]
)
def test_weights_follow_the_formula(mean: float, alpha: float, beta: float) -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 1, size=50)
    sd = float(t.std())
    reference = np.exp(((t - mean) / (alpha * sd)) ** 2 / beta)
    got = outlier_weights(torch.tensor(t), sd=sd, mean=mean, alpha=alpha, beta=beta)
    np.testing.assert_allclose(got.numpy(), reference, rtol=1e-12)
    assert got.min() >= 1.0


def test_weighted_mse_is_mse_when_weights_are_one() -> None:
    prediction, target = torch.tensor([0.1, 0.9]), torch.tensor([0.3, 0.3])
    # a huge alpha flattens the weights to 1: plain MSE
    got = weighted_mse(prediction, target, sd=1.0, alpha=1e6).item()
    assert got == pytest.approx((0.2**2 + 0.6**2) / 2)


def test_outliers_weigh_more() -> None:
    target = torch.tensor([0.36, 0.5, 0.9])
    w = outlier_weights(target, sd=0.17)
    assert w[0] < w[1] < w[2]


@pytest.mark.parametrize("bad", [{"sd": 0.0}, {"sd": 0.1, "alpha": 0.0}, {"sd": 0.1, "beta": -1}])
def test_bad_parameters_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        outlier_weights(torch.tensor([0.5]), **bad)


def test_target_sd_is_population_sd() -> None:
    assert target_sd(np.array([0.2, 0.4])) == pytest.approx(0.1)
    assert target_sd(np.array([0.3, 0.3])) == 1.0
