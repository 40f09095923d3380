"""The pairwise ranking objective, its calibration to popularity, and the models' switch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.commands.train import model_config
from autoenchorder.errors import ModelError
from autoenchorder.metrics import spearman
from autoenchorder.models import make_model
from autoenchorder.models.calibration import ScoreCalibration
from autoenchorder.models.losses import (
    Objective,
    outlier_weights,
    pairwise_ranking_loss,
    weighted_mse,
)
from autoenchorder.models.scaling import ColumnScaler
from autoenchorder.train.fit import model_options
from synthetic_popularity import learnable_dataset


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


# ------------------------------------------------------------------------------ the loss
def test_logistic_loss_by_hand_leaves_ties_out() -> None:
    prediction = torch.tensor([0.5, 0.2, 0.9])
    target = torch.tensor([2.0, 1.0, 1.0])  # rows 1 and 2 tie: that pair carries no order
    # ordered pairs: (0, 1) with gap 0.3 and (0, 2) with gap -0.4
    expected = (softplus(-10 * 0.3) + softplus(-10 * -0.4)) / 2
    got = pairwise_ranking_loss(prediction, target, scale=10.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_margin_loss_by_hand() -> None:
    prediction = torch.tensor([0.5, 0.2, 0.9])
    target = torch.tensor([2.0, 1.0, 1.0])
    # hinge max(0, 0.1 - gap): 0 for gap 0.3, 0.5 for gap -0.4
    got = pairwise_ranking_loss(prediction, target, kind="margin", margin=0.1)
    assert got.item() == pytest.approx(0.25, rel=1e-6)


def test_all_ties_give_zero_and_a_usable_graph() -> None:
    prediction = torch.tensor([0.3, 0.7, 0.1], requires_grad=True)
    loss = pairwise_ranking_loss(prediction, torch.tensor([4.0, 4.0, 4.0]))
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(prediction.grad, torch.zeros(3))


@pytest.mark.parametrize("kind", ["logistic", "margin"])
def test_gradient_step_fixes_a_misordered_pair(kind: str) -> None:
    prediction = torch.tensor([0.1, 0.3], requires_grad=True)  # row 0 is the more popular
    target = torch.tensor([0.9, 0.2])
    pairwise_ranking_loss(prediction, target, kind=kind).backward()
    assert prediction.grad[0] < 0 < prediction.grad[1]  # descent raises row 0, lowers row 1
    stepped = prediction.detach() - 0.1 * prediction.grad
    assert stepped[0] - stepped[1] > prediction[0].item() - prediction[1].item()


@pytest.mark.parametrize("kind", ["logistic", "margin"])
@pytest.mark.parametrize("max_pairs", [0, 500])
def test_invariant_to_a_shift_of_the_scores(kind: str, max_pairs: int) -> None:
    rng = np.random.default_rng(1)
    prediction = torch.as_tensor(rng.normal(size=64), dtype=torch.float32)
    target = torch.as_tensor(rng.integers(0, 10, size=64), dtype=torch.float32)

    def loss(p: torch.Tensor) -> float:
        generator = torch.Generator().manual_seed(3)
        return pairwise_ranking_loss(
            p, target, kind=kind, max_pairs=max_pairs, generator=generator
        ).item()

    assert loss(prediction + 7.0) == pytest.approx(loss(prediction), rel=1e-5)


def test_extreme_gaps_stay_finite() -> None:
    prediction = torch.tensor([1e4, -1e4, 0.0])
    right = pairwise_ranking_loss(prediction, torch.tensor([3.0, 1.0, 2.0]))
    wrong = pairwise_ranking_loss(prediction, torch.tensor([1.0, 3.0, 2.0]))
    assert math.isfinite(right.item()) and right.item() < 1e-6
    # each pair costs scale * |gap| once it is badly wrong: (2e5 + 1e5 + 1e5) / 3
    assert wrong.item() == pytest.approx(4e5 / 3, rel=1e-4)


def test_sampled_pairs_estimate_the_all_pairs_loss() -> None:
    rng = np.random.default_rng(2)
    target = torch.as_tensor(rng.normal(size=300), dtype=torch.float32)
    prediction = target + torch.as_tensor(rng.normal(size=300), dtype=torch.float32)
    full = pairwise_ranking_loss(prediction, target, scale=2.0).item()
    generator = torch.Generator().manual_seed(0)
    sampled = pairwise_ranking_loss(
        prediction, target, scale=2.0, max_pairs=20_000, generator=generator
    ).item()
    assert sampled == pytest.approx(full, rel=0.03)


def test_objectives_combine_as_documented() -> None:
    rng = np.random.default_rng(3)
    prediction = torch.as_tensor(rng.uniform(size=32), dtype=torch.float32)
    target = torch.as_tensor(rng.uniform(size=32), dtype=torch.float32)
    mse = F.mse_loss(prediction, target).item()
    ranking = pairwise_ranking_loss(prediction, target).item()
    assert Objective("mse")(prediction, target).item() == pytest.approx(mse)
    assert Objective("ranking")(prediction, target).item() == pytest.approx(ranking)
    mixed = Objective("mixed", ranking_weight=0.5)(prediction, target).item()
    assert mixed == pytest.approx(mse + 0.5 * ranking, rel=1e-6)
    weighted = Objective("weighted", sd=0.2)(prediction, target).item()
    assert weighted == pytest.approx(weighted_mse(prediction, target, sd=0.2).item())
    with pytest.raises(ModelError, match="unknown objective"):
        Objective("listwise")
    with pytest.raises(ModelError, match="ranking_loss"):
        Objective("mixed", ranking_loss="hinge-squared")


# ------------------------------------------------------------------------------ calibration
def test_calibration_is_strictly_increasing_and_within_0_100() -> None:
    rng = np.random.default_rng(4)
    scores = rng.normal(size=400)
    targets = np.clip(50 + 30 * np.tanh(scores) + 8 * rng.normal(size=400), 0, 100)
    calibration = ScoreCalibration.fit(scores, targets)
    grid = np.linspace(-6, 6, 2001)
    mapped = calibration(grid)
    assert np.all((mapped >= 0) & (mapped <= 100))
    inside = (grid > calibration.knots_x[0]) & (grid < calibration.knots_x[-1])
    assert np.all(np.diff(mapped[inside]) > 0)  # no ties: the scores' order survives
    fitted = calibration(scores)
    assert spearman(scores, fitted) == pytest.approx(1.0)
    # on the training targets' scale: its error is close to that of the true curve
    truth = np.clip(50 + 30 * np.tanh(scores), 0, 100)
    assert np.mean(np.abs(fitted - targets)) < 1.2 * np.mean(np.abs(truth - targets))


def test_calibration_arrays_round_trip() -> None:
    calibration = ScoreCalibration.fit(np.array([0.1, 0.4, 0.2, 0.9]), np.array([10, 50, 5, 70]))
    again = ScoreCalibration.from_arrays(calibration.to_arrays("calibration"), "calibration")
    scores = np.array([-1.0, 0.15, 0.5, 3.0])
    assert np.array_equal(again(scores), calibration(scores))


# ------------------------------------------------------------------------------ the models
HMN_FAST = dict(
    ae_epochs=20, ae_batch_size=32, batch_size=32, epochs=80, patience=15, n_seeds=1, quiet=True
)
AEC_FAST = dict(
    ae_epochs=15,
    ae_batch_size=32,
    batch_size=32,
    epochs=60,
    finetune_epochs=10,
    sequence_hidden=16,
    quiet=True,
)


def test_ranking_hitmusicnet_orders_its_training_songs_and_bundles(tmp_path) -> None:
    train = learnable_dataset(160, seed=0, with_sequences=False)
    model = make_model("hitmusicnet", objective="ranking", **HMN_FAST).fit(train)
    assert any(r.get("val_spearman") is not None for r in model.history_)
    prediction = model.predict(train)
    assert np.all((prediction >= 0) & (prediction <= 100))
    assert spearman(train.y, prediction) > 0.9
    # calibrated to popularity, not left on the network's 0-1 scale
    assert abs(prediction.mean() - train.y.mean()) < 5
    loaded = load_bundle(save_bundle(model, tmp_path / "bundle"))
    assert np.array_equal(loaded.calibration_.knots_x, model.calibration_.knots_x)
    assert np.array_equal(loaded.predict(train), prediction)


def test_ranking_autoenchorder_is_calibrated_and_keeps_it_in_its_state() -> None:
    train = learnable_dataset(120, seed=1)
    model = make_model("autoenchorder", objective="ranking", **AEC_FAST).fit(train)
    prediction = model.predict(train)
    assert np.all((prediction >= 0) & (prediction <= 100))
    assert spearman(train.y, prediction) > 0.8
    meta, arrays = model.to_state()
    assert "calibration_x" in arrays
    again = type(model).from_state(meta, arrays)
    assert np.array_equal(again.predict(train), prediction)


def test_default_objectives_are_unchanged() -> None:
    assert make_model("hitmusicnet").config.objective == "mse"
    assert make_model("autoenchorder").config.objective == "weighted"
    assert make_model("autoenchorder", setting="faithful").config.objective == "weighted"


def test_set_objective_reaches_the_config_typed() -> None:
    raw = model_config(None, ("objective=mixed", "ranking_weight=1", "ranking_pairs=4096"))
    for name in ("hitmusicnet", "autoenchorder"):
        options = model_options(name, raw)
        assert options["objective"] == "mixed"
        assert isinstance(options["ranking_weight"], float) and options["ranking_weight"] == 1.0
        config = make_model(name, **options).config
        assert (config.objective, config.ranking_pairs) == ("mixed", 4096)


def test_unknown_objective_is_refused_before_training() -> None:
    train = learnable_dataset(40, seed=2, with_sequences=False)
    model = make_model("hitmusicnet", objective="listwise", **HMN_FAST)
    with pytest.raises(ModelError, match="unknown objective 'listwise'"):
        model.fit(train)
    assert model.history_ == []  # nothing was trained


def test_hitmusicnet_weighted_weighs_songs_as_on_popularity_over_100() -> None:
    # HitMusicNet trains on MinMax-scaled targets; its "weighted" objective must give each song
    # the weight Autoen-chorder's loss gives it on popularity / 100
    y = np.array([3.0, 20.0, 36.0, 55.0, 80.0, 97.0])
    model = make_model("hitmusicnet", objective="weighted")
    model.target_scaler_ = ColumnScaler("minmax").fit(y)
    scaled = torch.as_tensor(model.target_scaler_.transform(y), dtype=torch.float32)
    objective = model._objective(scaled)
    got = outlier_weights(scaled, sd=objective.sd, mean=objective.mean)
    expected = outlier_weights(
        torch.as_tensor(y / 100, dtype=torch.float32), sd=float(np.std(y / 100)), mean=0.36
    )
    assert torch.allclose(got, expected, rtol=1e-5)
