from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import holdout_split
from autoenchorder.errors import DataError, ModelError
from autoenchorder.models import (
    Model,
    available_models,
    make_model,
    model_class,
    model_from_state,
    register_model,
)
from autoenchorder.models.autoenchorder import DEAD_CODE_SD, code_scale
from autoenchorder.models.base import MODEL_FAMILIES, popularity_classes, split_validation
from autoenchorder.models.training import TrainSettings, seeded, train_module
from synthetic_popularity import learnable_dataset

# Small but real training budgets: every network model trains in about a second here.
FAST = {
    "hitmusicnet-faithful": (
        "hitmusicnet",
        dict(setting="faithful", ae_epochs=20, ae_batch_size=16, batch_size=16, epochs=60),
    ),
    "hitmusicnet-default": (
        "hitmusicnet",
        dict(ae_epochs=30, ae_batch_size=32, batch_size=16, epochs=80, patience=15, n_seeds=2),
    ),
    "autoenchorder-lstm": (
        "autoenchorder",
        dict(ae_epochs=25, ae_batch_size=32, batch_size=16, epochs=60, sequence_hidden=16),
    ),
    "autoenchorder-faithful": (
        "autoenchorder",
        dict(
            setting="faithful",
            ae_epochs=25,
            ae_batch_size=32,
            batch_size=16,
            epochs=60,
            sequence_hidden=16,
        ),
    ),
    "autoenchorder-transformer": (
        "autoenchorder",
        dict(
            sequence_encoder="transformer",
            ae_epochs=25,
            ae_batch_size=32,
            batch_size=16,
            epochs=60,
            sequence_hidden=16,
            n_layers=9,
        ),
    ),
    "gbdt": ("gbdt", dict(max_iter=100)),
}


def build(key: str, **extra: object):
    name, config = FAST[key]
    return make_model(name, quiet=True, **{**config, **extra})


def latent_dataset(n: int, *, seed: int, d: int = 40, max_len: int = 8) -> PopularityDataset:
    """Correlated tabular features driven by 4 latent factors, plus embedding sequences.

    Popularity is a smooth function of the factors (which any autoencoder can keep) and, to a
    smaller part, of the sequences' level (which only a sequence model sees).
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    x = z @ rng.normal(size=(4, d)) + 0.1 * rng.normal(size=(n, d))
    level = rng.normal(size=n)
    lengths = rng.integers(2, max_len + 1, size=n)
    sequences = [
        (level[i] + 0.3 * rng.normal(size=(lengths[i], 4))).astype(np.float32) for i in range(n)
    ]
    signal = 1.2 * z[:, 0] - 0.8 * z[:, 1] + 0.5 * z[:, 2] * z[:, 3] + 0.5 * level
    columns = [f"low_{j}" for j in range(d)]
    return PopularityDataset(
        ids=np.array([f"t{i:04d}" for i in range(n)]),
        y=np.clip(50 + 12 * signal + rng.normal(size=n), 0, 100),
        tabular=pd.DataFrame(x, columns=columns),
        column_groups={"lowlevel": columns},
        sequences=sequences,
        name="latent",
    )


def mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


@pytest.fixture(scope="module")
def data() -> tuple[PopularityDataset, PopularityDataset]:
    ds = latent_dataset(320, seed=3)
    split = holdout_split(ds, test_size=0.25, seed=0, stratify=False, group=None)
    return ds.subset(split.train_ids), ds.subset(split.test_ids)


# ---------------------------------------------------------------- registry and API contract
def test_registry_has_the_core_models() -> None:
    assert {"mean", "random-normal", "gbdt", "hitmusicnet", "autoenchorder"} <= set(
        available_models()
    )


#: the report family each built-in model had when the run directory guessed it from the name
REPORT_FAMILIES = {
    "mean": "baseline",
    "random-normal": "baseline",
    "gbdt": "baseline",
    "hitmusicnet": "hitmusicnet",
    "autoenchorder": "autoenchorder",
    "autoenchorder-transformer": "alternate",
    "single-ae": "alternate",
    "rnn": "alternate",
    "hmn-embedding": "alternate",
    "lossnet": "alternate",
}


def test_every_registered_model_has_its_report_family() -> None:
    """``family`` is one of the report's families, the one each built-in model always had."""
    assert set(REPORT_FAMILIES) <= set(available_models())
    for name in available_models():
        family = model_class(name).family
        assert family in MODEL_FAMILIES, name
        assert family == REPORT_FAMILIES.get(name, family), name


def test_a_model_without_a_family_cannot_register() -> None:
    class Nameless(Model):
        name = "test-no-family"

    with pytest.raises(ModelError, match="family"):
        register_model(Nameless)


def test_unknown_model_and_option_are_model_errors() -> None:
    with pytest.raises(ModelError, match="known models"):
        make_model("no-such-model")
    with pytest.raises(ModelError):
        make_model("hitmusicnet", no_such_option=1)
    with pytest.raises(ModelError, match="setting"):
        make_model("hitmusicnet", setting="best-ever")


def test_settings_pick_defaults_and_overrides_win() -> None:
    faithful = make_model("hitmusicnet", setting="faithful", patience=7).config
    assert (faithful.optimizer, faithful.ae_batch_size, faithful.patience) == ("adam", 32, 7)
    assert faithful.restore_best is False and faithful.code_scaler == "minmax"
    default = make_model("hitmusicnet").config
    assert default.setting == "default" and default.restore_best is True


def test_autoenchorder_settings_differ_where_documented() -> None:
    faithful = make_model("autoenchorder", setting="faithful", dropout=0.05).config
    assert (faithful.finetune, faithful.center_frames, faithful.frame_noise) == (False, False, 0)
    assert faithful.dropout == 0.05  # an override wins over the setting
    default = make_model("autoenchorder").config
    assert default.setting == "default" and default.finetune and default.center_frames
    assert default.frame_noise > 0 and default.dropout > 0
    with pytest.raises(ModelError, match="setting"):
        make_model("autoenchorder", setting="best-ever")


def test_autoenchorder_stages_follow_the_setting(data) -> None:
    train, _ = data
    small = dict(epochs=3, ae_epochs=2)
    faithful = build("autoenchorder-faithful", **small).fit(train)
    assert {h["stage"] for h in faithful.history_} == {
        "lowlevel-autoencoder",
        "sequence-autoencoder",
        "regressor",
    }
    default = build("autoenchorder-lstm", finetune_epochs=2, **small).fit(train)
    assert "finetune" in {h["stage"] for h in default.history_}


@pytest.mark.parametrize("center", [True, False])
def test_centring_gives_the_song_mean_to_the_dense_branch(center: bool, data) -> None:
    """With centring the sequence branch sees only how a song's frames change over time; its
    mean frame goes beside the low-level features."""
    train, test = data
    model = build("autoenchorder-lstm", epochs=3, ae_epochs=2, center_frames=center).fit(train)
    rng = np.random.default_rng(0)
    shifted = replace(
        test,
        sequences=[s + rng.normal(size=(1, s.shape[1])).astype(np.float32) for s in test.sequences],
    )
    cpu = torch.device("cpu")
    (x, frames, _), (x_shifted, frames_shifted, _) = (
        model._tensors(test, cpu),
        model._tensors(shifted, cpu),
    )
    n_low, dim = len(train.feature_names("lowlevel")), train.sequence_dim
    assert model.net_.dense.widths[0] == n_low + (dim if center else 0)
    if center:
        torch.testing.assert_close(frames_shifted, frames, atol=1e-4, rtol=0)
        torch.testing.assert_close(x_shifted[:, :n_low], x[:, :n_low])
        assert (x_shifted[:, n_low:] - x[:, n_low:]).abs().max() > 1e-3
        assert np.abs(model.predict(shifted) - model.predict(test)).max() > 1e-3
    else:
        torch.testing.assert_close(x_shifted, x)
        assert (frames_shifted - frames).abs().max() > 1e-3


def test_frame_noise_is_for_training_only(data) -> None:
    train, test = data
    model = build("autoenchorder-lstm", epochs=3, ae_epochs=2, frame_noise=2.0).fit(train)
    np.testing.assert_array_equal(model.predict(test), model.predict(test))
    quiet = build("autoenchorder-lstm", epochs=3, ae_epochs=2, frame_noise=0.0).fit(train)
    assert not np.array_equal(model.predict(test), quiet.predict(test))


def test_dead_code_dimensions_are_not_magnified() -> None:
    live = torch.linspace(-2.0, 2.0, 50)
    dead = torch.full((50,), 0.3) + torch.linspace(0.0, DEAD_CODE_SD / 10, 50)
    codes = torch.stack([live, dead], dim=1)
    scale = code_scale(codes)
    assert scale[0] == pytest.approx(float(live.std(unbiased=False)))
    assert scale[1] == 1.0
    # a dead dimension that comes alive in end-to-end training moves by its own size
    assert float((codes[:, 1] + 0.5 - 0.3).abs().max() / scale[1]) < 1.0


def test_init_only_stores_the_config() -> None:
    model = make_model("hitmusicnet", seed=5)
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(ModelError, match="not fitted"):
        model.predict(latent_dataset(4, seed=0))


def test_missing_part_is_named(data) -> None:
    train, _ = data
    no_sequences = replace(train, sequences=None, sequence_times=None)
    with pytest.raises(DataError, match="sequences"):
        build("autoenchorder-lstm").fit(no_sequences)
    with pytest.raises(DataError, match="descriptors"):
        make_model("hitmusicnet", groups=("descriptors",)).fit(train)
    fitted = make_model("mean").fit(train)
    assert fitted.predict(no_sequences).shape == (len(train),)


def test_audio_only_uses_the_lowlevel_group(data) -> None:
    train, _ = data
    extra = train.tabular.assign(artist_followers=np.arange(len(train), dtype=float))
    wide = replace(
        train,
        tabular=extra,
        column_groups={**train.column_groups, "metadata": ["artist_followers"]},
    )
    model = make_model("gbdt", groups="audio-only", max_iter=5).fit(wide)
    assert model.groups_ == ("lowlevel",)
    assert make_model("gbdt", max_iter=5).fit(wide).groups_ == ("lowlevel", "metadata")


# ---------------------------------------------------------------- baselines
def test_random_normal_uses_training_mean_and_sd(data) -> None:
    train, test = data
    model = make_model("random-normal", seed=1).fit(train)
    assert model.mean_ == pytest.approx(train.y.mean())
    assert model.sd_ == pytest.approx(train.y.std())
    big = latent_dataset(4000, seed=9, d=2)
    draws = model.predict(big)
    assert draws.mean() == pytest.approx(train.y.mean(), abs=1.0)
    assert draws.min() >= 0 and draws.max() <= 100
    np.testing.assert_array_equal(model.predict(test), model.predict(test))


def test_gbdt_predicts_what_scikit_learn_predicts(data) -> None:
    train, test = data
    model = make_model("gbdt", max_iter=50, seed=2).fit(train)
    reference = HistGradientBoostingRegressor(max_iter=50, random_state=2, early_stopping=True).fit(
        train.features("lowlevel"), train.y / 100
    )
    expected = np.clip(reference.predict(test.features("lowlevel")) * 100, 0, 100)
    np.testing.assert_allclose(model.predict(test), expected, rtol=1e-12, atol=1e-10)


def _as_classes(ds: PopularityDataset) -> PopularityDataset:
    return replace(
        ds, y=popularity_classes(ds.y), task="classification", class_names=["low", "mid", "high"]
    )


def test_classification_outputs(data) -> None:
    train, test = data
    classes, test_classes = _as_classes(train), _as_classes(test)
    gbdt = make_model("gbdt", max_iter=20).fit(classes)
    reference = HistGradientBoostingClassifier(
        max_iter=20, random_state=0, early_stopping=True
    ).fit(classes.features("lowlevel"), classes.y)
    np.testing.assert_allclose(
        gbdt.predict_proba(test_classes),
        reference.predict_proba(test.features("lowlevel")),
        atol=1e-9,
    )
    np.testing.assert_array_equal(
        gbdt.predict(test_classes), reference.predict(test.features("lowlevel"))
    )
    priors = make_model("mean").fit(classes).predict_proba(test_classes)
    np.testing.assert_allclose(priors[0], np.bincount(classes.y, minlength=3) / len(classes))
    hmn = build("hitmusicnet-default", task="classification").fit(train)
    probabilities = hmn.predict_proba(test)
    assert probabilities.shape == (len(test), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert "val_acc" in hmn.history_[-1]
    with pytest.raises(ModelError):
        make_model("random-normal").fit(classes)


@pytest.mark.parametrize("key", ["hitmusicnet", "gbdt", "mean"])
def test_classifiers_predict_labels_and_probabilities_through_a_bundle(
    key: str, data, tmp_path
) -> None:
    """scikit-learn's contract: ``predict`` gives labels, ``predict_proba`` the probabilities."""
    train, test = data
    if key == "hitmusicnet":  # HitMusicNet's 3-class task, fitted from popularity
        model = build("hitmusicnet-default", task="classification", n_seeds=1).fit(train)
    else:
        model = make_model(key, quiet=True).fit(_as_classes(train))
    proba = model.predict_proba(test)
    labels = model.predict(test)
    assert proba.shape == (len(test), 3) and labels.shape == (len(test),)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, proba.argmax(axis=1))
    loaded = load_bundle(save_bundle(model, tmp_path / "bundle"))
    np.testing.assert_array_equal(loaded.predict(test), labels)
    np.testing.assert_allclose(loaded.predict_proba(test), proba, rtol=1e-6, atol=1e-9)
    assert loaded.predict(test.take(np.arange(0))).shape == (0,)
    assert loaded.predict_proba(test.take(np.arange(0))).shape == (0, 3)


def test_predict_proba_of_a_regressor_is_an_error(data) -> None:
    train, test = data
    with pytest.raises(ModelError, match="regression"):
        make_model("mean").fit(train).predict_proba(test)


def test_validation_carve_out_keeps_each_artist_on_one_side() -> None:
    ds = learnable_dataset(120, seed=4)  # artists in groups of 4
    assert ds.artist is not None
    train, val = split_validation(ds, None, fraction=0.2, seed=0)
    assert not set(train.artist) & set(val.artist)
    assert len(train) + len(val) == len(ds) and 0.1 * len(ds) <= len(val) <= 0.3 * len(ds)
    assert sorted([*train.ids, *val.ids]) == sorted(ds.ids)


def test_validation_carve_out_without_artists_is_a_seeded_permutation() -> None:
    ds = replace(learnable_dataset(50, seed=4), artist=None)
    train, val = split_validation(ds, None, fraction=0.2, seed=0)
    again = split_validation(ds, None, fraction=0.2, seed=0)[1]
    assert len(val) == 10 and len(train) == 40
    np.testing.assert_array_equal(val.ids, again.ids)
    assert not set(train.ids) & set(val.ids)


# ---------------------------------------------------------------- learning works
@pytest.mark.parametrize("key", sorted(FAST))
def test_beats_the_mean_on_a_learnable_task(key: str, data) -> None:
    train, test = data
    model = build(key).fit(train)
    baseline = make_model("mean").fit(train).predict(test)
    prediction = model.predict(test)
    assert prediction.shape == (len(test),)
    assert prediction.min() >= 0 and prediction.max() <= 100
    assert mae(prediction, test.y) < 0.8 * mae(baseline, test.y)
    if key != "gbdt":
        stages = {h["stage"] for h in model.history_}
        assert len(stages) >= 2 and all("train_loss" in h for h in model.history_)


@pytest.mark.parametrize("key", sorted(FAST))
def test_overfits_a_tiny_dataset(key: str) -> None:
    tiny = latent_dataset(24, seed=4, max_len=6)
    if key == "gbdt":
        model = build(key, min_samples_leaf=1, early_stopping=False, max_iter=200)
    elif key.startswith("autoenchorder"):
        # capacity, not generalisation: the default setting's regularisers are switched off
        model = build(
            key,
            epochs=400,
            patience=10_000,
            lr=3e-3,
            batch_size=8,
            dropout=0.0,
            frame_noise=0.0,
        )
    else:
        # wider than HitMusicNet's 10-5-3 head, so that 20 rows can be memorised
        model = build(
            key,
            epochs=400,
            patience=10_000,
            dropout=0.0,
            lr=3e-3,
            batch_size=8,
            alpha=2.0,
            beta=2.0,
            gamma=1.0,
        )
    train = tiny.take(np.arange(20))
    model.fit(train, val=train)
    spread = mae(np.full(len(train), train.y.mean()), train.y)
    assert mae(model.predict(train), train.y) < 0.35 * spread


def descriptor_dataset(n: int, *, seed: int) -> PopularityDataset:
    """13 descriptor-like columns (MusicOSet's width): uniform, binary, key-like and one
    heavy-tailed column; popularity depends non-linearly on four of them."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 13))
    x[:, 2] = rng.integers(0, 12, size=n)  # key
    x[:, 4] = rng.integers(0, 2, size=n)  # mode
    x[:, 11] = rng.lognormal(12.0, 1.0, size=n)  # duration-like, heavy tail
    signal = (
        2.0 * np.sin(3.0 * x[:, 0])
        - 1.5 * x[:, 1] ** 2
        + 0.8 * x[:, 4]
        + 0.6 * (np.log(x[:, 11]) - 12.0)
    )
    columns = [f"descriptor_{j}" for j in range(13)]
    return PopularityDataset(
        ids=np.array([f"d{i:04d}" for i in range(n)]),
        y=np.clip(40 + 10 * signal + 3 * rng.normal(size=n), 0, 100),
        tabular=pd.DataFrame(x, columns=columns),
        column_groups={"descriptors": columns},
        name="narrow",
    )


def test_default_setting_learns_from_13_descriptors() -> None:
    ds = descriptor_dataset(600, seed=11)
    split = holdout_split(ds, test_size=0.25, seed=0, stratify=False, group=None)
    train, test = ds.subset(split.train_ids), ds.subset(split.test_ids)
    model = make_model(
        "hitmusicnet", groups=("descriptors",), ae_epochs=30, epochs=150, n_seeds=1, quiet=True
    ).fit(train)
    assert model.autoencoder_.widths == (13, 8)  # d/4 = 3 is under the minimum code of 8
    baseline = make_model("mean").fit(train).predict(test)
    assert mae(model.predict(test), test.y) < 0.7 * mae(baseline, test.y)


# ---------------------------------------------------------------- no leakage, reproducibility
@pytest.mark.parametrize(
    "key", ["gbdt", "hitmusicnet-faithful", "hitmusicnet-default", "autoenchorder-lstm"]
)
def test_test_rows_never_reach_a_fitted_component(key: str) -> None:
    ds = latent_dataset(120, seed=5)
    split = holdout_split(ds, test_size=0.25, seed=1, stratify=False, group=None)
    test_rows = np.isin(ds.ids, split.test_ids)
    poisoned_table = ds.tabular.copy()
    poisoned_table.loc[test_rows, :] = 1e6
    sequences = [s * 1e6 if bad else s for s, bad in zip(ds.sequences, test_rows, strict=True)]
    poisoned = replace(
        ds, tabular=poisoned_table, y=np.where(test_rows, 100.0, ds.y), sequences=sequences
    )

    def fit_and_predict(source: PopularityDataset) -> tuple[np.ndarray, np.ndarray]:
        model = build(key, epochs=10, ae_epochs=5) if key != "gbdt" else build(key)
        model.fit(source.subset(split.train_ids))
        return model.predict(ds.subset(split.train_ids)), model.predict(ds.subset(split.test_ids))

    clean_train, clean_test = fit_and_predict(ds)
    poisoned_train, poisoned_test = fit_and_predict(poisoned)
    np.testing.assert_array_equal(poisoned_train, clean_train)
    np.testing.assert_array_equal(poisoned_test, clean_test)


@pytest.mark.parametrize("key", ["hitmusicnet-faithful", "autoenchorder-transformer", "gbdt"])
def test_same_seed_same_predictions_other_seed_differs(key: str, data) -> None:
    train, test = data
    small = dict(epochs=8, ae_epochs=4) if key != "gbdt" else {}
    first = build(key, seed=7, **small).fit(train).predict(test)
    again = build(key, seed=7, **small).fit(train).predict(test)
    other = build(key, seed=8, **small).fit(train).predict(test)
    np.testing.assert_array_equal(first, again)
    if key != "gbdt":  # boosting without subsampling is seed-free on small data
        assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "key",
    [
        "mean",
        "random-normal",
        "gbdt",
        "hitmusicnet-faithful",
        "hitmusicnet-default",
        "autoenchorder-lstm",
    ],
)
def test_state_round_trip_predicts_identically(key: str, data) -> None:
    train, test = data
    if key in FAST:
        model = build(key, **({"epochs": 5, "ae_epochs": 3} if key != "gbdt" else {}))
    else:
        model = make_model(key)
    model.fit(train)
    meta, arrays = model.to_state()
    json.dumps(meta)  # JSON-able
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    restored = model_from_state(meta, arrays)
    np.testing.assert_array_equal(restored.predict(test), model.predict(test))
    assert restored.history_ == model.history_
    broken = {k: v for k, v in list(arrays.items())[1:]}
    if arrays:
        with pytest.raises(ModelError):
            model_from_state(meta, broken)


def test_empty_and_short_sequences_do_not_crash_prediction(data) -> None:
    train, test = data
    model = build("autoenchorder-lstm", epochs=3, ae_epochs=2).fit(train)
    odd = list(test.sequences)
    odd[0] = odd[0][:0]
    odd[1] = odd[1][:1]
    prediction = model.predict(replace(test, sequences=odd))
    assert np.isfinite(prediction).all() and prediction.shape == (len(test),)


# ---------------------------------------------------------------- the training loop
def _linear_fit(epochs: int, *, patience: int | None, restore_best: bool):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen)
    train = (x, x @ torch.tensor([1.0, -2.0, 0.5]))
    val = (x, -train[1])  # the further training goes, the worse validation gets
    with seeded(0):
        module = torch.nn.Linear(3, 1)
    settings = TrainSettings(
        epochs=epochs, batch_size=16, lr=0.05, patience=patience, restore_best=restore_best
    )
    history = train_module(
        module,
        lambda m, b: ((m(b[0]).squeeze(-1) - b[1]) ** 2).mean(),
        train,
        val,
        settings,
        seed=0,
        stage="linear",
        quiet=True,
    )
    return module, history


def test_loop_stops_early_and_restores_the_best_epoch() -> None:
    module, history = _linear_fit(50, patience=3, restore_best=True)
    val_losses = [h["val_loss"] for h in history]
    best = int(np.argmin(val_losses))
    assert len(history) == best + 1 + 3  # Keras's rule: stop after `patience` bad epochs
    assert [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    best_module, _ = _linear_fit(best + 1, patience=None, restore_best=False)
    assert np.array_equal(module.weight.detach().numpy(), best_module.weight.detach().numpy())
    last_module, _ = _linear_fit(50, patience=3, restore_best=False)
    assert not np.array_equal(last_module.weight.detach().numpy(), module.weight.detach().numpy())


@pytest.mark.parametrize(
    ("rows", "max_steps", "epochs_run"),
    [(64, None, 20), (64, 10, 3), (64, 8, 2), (64, 1_000, 20), (16, 10, 10), (200, 1, 1)],
)
def test_step_budget_caps_the_epochs(rows: int, max_steps: int | None, epochs_run: int) -> None:
    """Batches of 16: 64 rows are 4 steps an epoch, so 10 steps end after the third epoch."""
    x = torch.randn(rows, 3, generator=torch.Generator().manual_seed(0))
    settings = TrainSettings(
        epochs=20, batch_size=16, max_steps=max_steps, patience=None, monitor="train_loss"
    )
    history = train_module(
        torch.nn.Linear(3, 1),
        lambda m, b: (m(b[0]) ** 2).mean(),
        (x,),
        None,
        settings,
        seed=0,
        stage="budget",
        quiet=True,
    )
    assert settings.epoch_budget(rows) == epochs_run == len(history)


def test_autoenchorder_autoencoders_keep_to_their_step_budget(data) -> None:
    """240 songs in batches of 40 are 6 steps an epoch: 20 steps end after the fourth."""
    train, val = data
    assert len(train) == 240
    model = build(
        "autoenchorder-lstm",
        epochs=2,
        finetune_epochs=1,
        ae_epochs=50,
        ae_patience=100,
        ae_batch_size=40,
        ae_max_steps=20,
    ).fit(train, val)
    last_epoch = {h["stage"]: h["epoch"] for h in model.history_}
    assert last_epoch["lowlevel-autoencoder"] == last_epoch["sequence-autoencoder"] == 4
