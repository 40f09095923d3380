from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from autoenchorder import bundle
from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.errors import ModelError
from autoenchorder.models import available_models, make_model, registry
from autoenchorder.models.base import Model, ModelConfig
from synthetic_popularity import learnable_dataset


@dataclasses.dataclass
class RidgeConfig(ModelConfig):
    penalty: float = 1.0
    groups: tuple[str, ...] = ("lowlevel",)


class TinyRidge(Model):
    """A closed-form ridge regression: enough state (arrays + JSON) to exercise bundles."""

    name = "test-tiny-ridge"
    config_class = RidgeConfig
    tasks = ("regression",)

    @property
    def required_parts(self) -> tuple[str, ...]:
        return self.config.groups

    def _fit(self, train, val) -> None:
        x = train.features(self.config.groups)
        self.mean_ = x.mean(axis=0)
        xc = x - self.mean_
        gram = xc.T @ xc + self.config.penalty * np.eye(x.shape[1])
        self.coef_ = np.linalg.solve(gram, xc.T @ (train.y - train.y.mean()))
        self.intercept_ = float(train.y.mean())
        self.history_.append({"stage": "solve", "epoch": 0, "train_loss": 0.0, "val_loss": None})

    def _predict(self, ds) -> np.ndarray:
        x = ds.features(self.config.groups)
        return np.clip((x - self.mean_) @ self.coef_ + self.intercept_, 0, 100)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"intercept": self.intercept_}, {"coef": self.coef_, "mean": self.mean_}

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.intercept_ = float(state["intercept"])
        self.coef_ = np.asarray(arrays["coef"])
        self.mean_ = np.asarray(arrays["mean"])


@pytest.fixture
def tiny_ridge(monkeypatch):
    # registered only for the test, so other tests' available_models() never see it
    monkeypatch.setitem(registry._REGISTRY, TinyRidge.name, TinyRidge)
    data = learnable_dataset(60, seed=1, with_sequences=False)
    return TinyRidge(penalty=0.5).fit(data), data


def test_round_trip_predicts_identically(tiny_ridge, tmp_path):
    model, data = tiny_ridge
    out = save_bundle(model, tmp_path / "b", metrics={"test": {"mae": 1.5}}, extra={"seed": 3})
    assert sorted(p.name for p in out.iterdir()) == ["bundle.json", "weights.safetensors"]
    loaded = load_bundle(out)
    assert isinstance(loaded, TinyRidge)
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))
    assert loaded.bundle_info_["metrics"] == {"test": {"mae": 1.5}}
    assert loaded.bundle_info_["extra"] == {"seed": 3}
    assert loaded.history_ == model.history_


def test_bundle_json_records_provenance(tiny_ridge, tmp_path):
    model, data = tiny_ridge
    spec = bundle.feature_spec_from_dataset(data, embedder={"name": "vggish", "version": "1"})
    save_bundle(model, tmp_path / "b", feature_spec=spec)
    doc = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert doc["format"] == "autoenchorder-bundle"
    assert doc["format_version"] == bundle.FORMAT_VERSION
    assert doc["model"] == "test-tiny-ridge"
    assert doc["state"]["config"]["penalty"] == 0.5
    assert doc["feature_spec"]["columns"]["lowlevel"] == list(data.tabular.columns)
    assert doc["feature_spec"]["embedder"] == {"name": "vggish", "version": "1"}
    assert {"python", "numpy", "autoenchorder"} <= set(doc["libraries"])
    weights = (tmp_path / "b" / "weights.safetensors").read_bytes()
    assert doc["weights_sha256"] == hashlib.sha256(weights).hexdigest()


def test_feature_spec_reads_the_loaders_embedder_name():
    data = learnable_dataset(10, seed=1)
    data.info["embedder"] = "musicnn-msd"
    spec = bundle.feature_spec_from_dataset(data, groups=[])
    assert spec["embedder"] == {"name": "musicnn-msd", "version": None}
    assert spec["columns"] == {} and spec["sequence_dim"] == 8


def test_feature_spec_records_how_the_training_inputs_were_made():
    data = learnable_dataset(10, seed=1)
    assert "audio_input" not in bundle.feature_spec_from_dataset(data)  # no audio source
    window = {"kind": "window", "seconds": 30.0, "offset": None}
    data.info["audio_input"] = window  # as the catalog and SpotGenTrack loaders record it
    assert bundle.feature_spec_from_dataset(data)["audio_input"] == window
    whole = {"kind": "whole_file"}
    assert bundle.feature_spec_from_dataset(data, audio_input=whole)["audio_input"] == whole


def _flip_last_weight_byte(path):
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))


def _edit_json(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda d: _flip_last_weight_byte(d / "weights.safetensors"), "weights were modified"),
        (
            lambda d: _edit_json(
                d / "bundle.json", lambda doc: doc["state"]["config"].update(penalty=9.0)
            ),
            "JSON was modified",
        ),
        (
            lambda d: _edit_json(d / "bundle.json", lambda doc: doc["metrics"].update(mae=0.1)),
            "JSON was modified",
        ),
        (
            lambda d: _edit_json(d / "bundle.json", lambda doc: doc.update(format_version=99)),
            "version 99 is not supported",
        ),
        (
            lambda d: _edit_json(d / "bundle.json", lambda doc: doc.update(format="zip")),
            "not an autoenchorder bundle",
        ),
        (lambda d: (d / "weights.safetensors").unlink(), "weights.safetensors is missing"),
        (lambda d: (d / "bundle.json").write_text("{not json"), "not valid JSON"),
    ],
    ids=["weights", "config", "metrics", "version", "format", "no-weights", "bad-json"],
)
def test_tampered_bundle_is_refused(tiny_ridge, tmp_path, tamper, message):
    model, _ = tiny_ridge
    out = save_bundle(model, tmp_path / "b")
    tamper(out)
    with pytest.raises(ModelError, match=message):
        load_bundle(out)


def test_unknown_model_name_is_refused(tiny_ridge, tmp_path, monkeypatch):
    model, _ = tiny_ridge
    out = save_bundle(model, tmp_path / "b")
    monkeypatch.delitem(registry._REGISTRY, TinyRidge.name)
    with pytest.raises(ModelError, match="unknown model 'test-tiny-ridge'"):
        load_bundle(out)


def test_rehashed_json_edit_still_needs_consistent_state(tiny_ridge, tmp_path):
    # The hash is not a signature: a consistent re-hash is accepted, but a state that does not
    # fit the model is still a ModelError, never a crash.
    model, _ = tiny_ridge
    out = save_bundle(model, tmp_path / "b")
    doc, weights = bundle.read_bundle_files(out)
    doc["state"]["state"] = {}
    doc["content_sha256"] = bundle._content_hash(doc, weights)
    (out / "bundle.json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="state does not fit"):
        load_bundle(out)


def test_loading_never_unpickles(tiny_ridge, tmp_path, monkeypatch):
    model, data = tiny_ridge
    out = save_bundle(model, tmp_path / "b")
    expected = model.predict(data)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    for name in ("load", "loads", "Unpickler", "dump", "dumps"):
        monkeypatch.setattr(pickle, name, refuse)
    np.testing.assert_array_equal(load_bundle(out).predict(data), expected)
    assert not list(out.glob("*.pkl")) and not list(out.glob("*.pt"))


def test_non_finite_metrics_become_null(tiny_ridge, tmp_path):
    model, _ = tiny_ridge
    out = save_bundle(model, tmp_path / "b", metrics={"r2": float("nan"), "n": np.int64(3)})
    text = (out / "bundle.json").read_text()
    assert "NaN" not in text
    assert load_bundle(out).bundle_info_["metrics"] == {"r2": None, "n": 3}


def test_unfitted_model_cannot_be_bundled(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._REGISTRY, TinyRidge.name, TinyRidge)
    with pytest.raises(ModelError, match="not fitted"):
        save_bundle(TinyRidge(), tmp_path / "b")


# --------------------------------------------------------------- every registered model

_QUICK = {
    "epochs": 3,
    "ae_epochs": 3,
    "ffn_epochs": 3,
    "max_epochs": 3,
    "n_estimators": 5,
    "max_iter": 5,
    "quiet": True,
    "hmn_options": {"epochs": 3, "ae_epochs": 3},
}


def quick_model(name: str, **overrides) -> Model:
    """A registered model with its training shortened (only the options it has)."""
    cls = registry.model_class(name)
    fields = {f.name for f in dataclasses.fields(cls.config_class)}
    config = {k: v for k, v in _QUICK.items() if k in fields}
    return make_model(name, **config, **overrides)


@pytest.mark.parametrize("name", available_models())
def test_every_registered_model_round_trips(name, tmp_path):
    if name == "autoenchorder-finetune":  # runs musicnn on [P, 187 x 96] log-mel patches
        pytest.skip(
            "reads musicnn's log-mel patches, not this synthetic set's frames; its bundle round "
            "trip is tests/test_finetune.py::test_bundle_scores_audio_through_the_patch_embedder"
        )
    data = learnable_dataset(48, seed=2, max_len=6)
    model = quick_model(name)
    try:
        data.require(*model.required_parts)
    except Exception as exc:  # noqa: BLE001 -- a part the synthetic set lacks
        pytest.skip(f"{name} needs {exc}")
    model.fit(data.take(np.arange(36)), data.take(np.arange(36, 48)))
    save_bundle(model, tmp_path / name)
    np.testing.assert_array_equal(load_bundle(tmp_path / name).predict(data), model.predict(data))
