from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

from autoenchorder import bundle
from autoenchorder.cli import main
from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.data.store import FeatureStore
from autoenchorder.errors import DataError
from autoenchorder.evaluate.rundir import read_study
from autoenchorder.train import api
from autoenchorder.train.api import train_model
from synthetic_popularity import learnable_dataset


@pytest.fixture
def synthetic_source(monkeypatch):
    """Make ``--data procedural --root X`` load a small synthetic dataset (no audio needed)."""
    ds = learnable_dataset(120, seed=7, max_len=6)
    seen = []

    def fake_load(spec):
        seen.append(spec)
        return ds

    monkeypatch.setattr(api, "load_dataset", fake_load)
    return ds, seen


def test_train_api_splits_by_artist_and_scores_the_test_rows():
    ds = learnable_dataset(120, seed=1, with_sequences=False)
    result = train_model("gbdt", ds, {"max_iter": 30, "quiet": True}, seed=2)
    train_ids, test_ids = set(result.split.train_ids), set(result.split.test_ids)
    assert not train_ids & test_ids and len(train_ids | test_ids) == len(ds)
    test_artists = set(ds.subset(result.split.test_ids).artist)
    assert not test_artists & set(ds.subset(result.split.train_ids).artist)
    assert "grouped-by-artist" in result.metrics["split"]
    m = result.metrics
    assert m["n_train"] + m["n_val"] + m["n_test"] == len(ds)
    truth = ds.subset(result.split.test_ids).y
    assert m["test"]["mae"] == pytest.approx(np.abs(truth - result.test_predictions).mean())


def test_train_api_same_seed_same_predictions():
    ds = learnable_dataset(80, seed=1, max_len=5)
    config = {"epochs": 4, "ae_epochs": 2, "quiet": True}
    first = train_model("rnn", ds, config, seed=4).test_predictions
    np.testing.assert_array_equal(first, train_model("rnn", ds, config, seed=4).test_predictions)


def test_train_command_writes_a_loadable_bundle(tmp_path, synthetic_source):
    ds, seen = synthetic_source
    (tmp_path / "corpus").mkdir()
    FeatureStore.create(
        tmp_path / "store", audio_root=tmp_path / "corpus", config={"compat": "fixed"}
    )
    config = tmp_path / "rnn.toml"
    config.write_text("[model]\nepochs = 4\nae_epochs = 2\nbatch_size = 16\n")
    out = tmp_path / "bundle"
    status = main(
        [
            "train",
            "--model",
            "rnn",
            "--data",
            "procedural",
            "--root",
            str(tmp_path / "corpus"),
            "--config",
            str(config),
            "--set",
            "lr=2e-3",
            "--set",
            'groups=["lowlevel"]',
            "--store",
            str(tmp_path / "store"),
            "--seed",
            "3",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert status == 0
    assert seen[0].source == "procedural" and seen[0].root == str((tmp_path / "corpus").resolve())
    model = bundle.load_bundle(out)
    assert model.config.lr == 2e-3 and model.config.epochs == 4 and model.config.seed == 3
    assert model.config.groups == ("lowlevel",)
    doc = json.loads((out / "bundle.json").read_text())
    assert doc["metrics"]["test"]["n"] == doc["metrics"]["n_test"]
    assert doc["extra"]["split"].startswith("grouped-by-artist")
    assert doc["feature_spec"]["columns"] == {"lowlevel": ds.column_groups["lowlevel"]}
    assert doc["feature_spec"]["sequence_dim"] == 8
    assert doc["feature_spec"]["lowlevel_compat"] == "fixed"  # from the store's manifest
    assert np.all((model.predict(ds) >= 0) & (model.predict(ds) <= 100))


def test_train_command_on_real_hit_predictor(tmp_path, capsys, hit_predictor_root):
    out = tmp_path / "gbdt"
    status = main(
        [
            "train",
            "--model",
            "gbdt",
            "--data",
            "hit-predictor",
            "--root",
            str(hit_predictor_root),
            "--set",
            "max_iter=20",
            "--out",
            str(out),
            "--run-dir",
            str(tmp_path / "run"),
            "--quiet",
        ]
    )
    assert status == 0
    study = read_study(tmp_path / "run")
    assert list(study.meta["models"]) == ["gbdt"]
    assert set(study.predictions["set"]) == {"test"}
    doc = json.loads((out / "bundle.json").read_text())
    assert doc["metrics"]["test"]["accuracy"] > 0.6  # hit / non-hit from Spotify descriptors
    assert doc["feature_spec"]["task"] == "classification"
    assert "accuracy" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope", "--data", "musicoset"], "unknown model 'nope'"),
        (["--model", "mean", "--data", "catalog"], "needs --root"),
        (["--model", "mean", "--data", "catalog", "--root", "."], "needs --labels, --store"),
        (["--model", "mean", "--data", "musicoset", "--root", ".", "--set", "lr"], "KEY=VALUE"),
        (
            ["--model", "autoenchorder", "--data", "musicoset", "--set", "finetune=no"],
            "autoenchorder.finetune: expected true or false, got 'no'",
        ),
        (
            ["--model", "hitmusicnet", "--data", "musicoset", "--set", "epochs=lots"],
            "hitmusicnet.epochs: expected an integer, got 'lots'",
        ),
    ],
)
def test_train_command_user_errors_exit_2(args, message, tmp_path, capsys):
    assert main(["train", *args, "--out", str(tmp_path / "b")]) == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_unknown_config_field_is_reported(tmp_path, synthetic_source, capsys):
    status = main(
        [
            "train",
            "--model",
            "rnn",
            "--data",
            "procedural",
            "--root",
            str(tmp_path),
            "--set",
            "epochz=3",
            "--out",
            str(tmp_path / "b"),
        ]
    )
    assert status == 2
    assert "epochz" in capsys.readouterr().err


def test_load_dataset_unknown_source():
    with pytest.raises(DataError, match="unknown data source"):
        load_dataset(DataSpec("napster", root="."))


def test_search_command_end_to_end(tmp_path, capsys, hit_predictor_root):
    # gbdt over a 2-point space on Hit Predictor (multi-process runs: see test_search.py)
    space = tmp_path / "space.toml"
    space.write_text("[space]\nlearning_rate = [0.05, 0.2]\n")
    out = tmp_path / "search"
    status = main(
        [
            "search",
            "--model",
            "gbdt",
            "--data",
            "hit-predictor",
            "--root",
            str(hit_predictor_root),
            "--space",
            str(space),
            "--set",
            "max_iter=10",
            "--metric",
            "accuracy",
            "--out",
            str(out),
        ]
    )
    assert status == 0, capsys.readouterr().err
    best = tomllib.loads((out / "best_config.toml").read_text())["model"]
    assert best["max_iter"] == 10 and best["learning_rate"] in (0.05, 0.2)
    assert (out / "study.db").is_file()
    assert len((out / "trials.csv").read_text().strip().splitlines()) == 3


def test_a_classifier_of_a_regression_dataset_is_scored_on_classes(tmp_path, synthetic_source):
    from autoenchorder.models.base import popularity_classes

    ds, _ = synthetic_source
    config = {"task": "classification", "epochs": 3, "ae_epochs": 2, "n_seeds": 1, "quiet": True}
    result = train_model("hitmusicnet", ds, {**config, "groups": ("lowlevel",)}, seed=1)
    assert result.task == "classification" and result.class_names == ["low", "mid", "high"]
    test = ds.subset(result.split.test_ids)
    np.testing.assert_array_equal(result.test_truth, popularity_classes(test.y))
    accuracy = np.mean(result.test_truth == result.test_predictions)
    assert result.metrics["test"]["accuracy"] == pytest.approx(accuracy)
    assert set(result.metrics["val"]) >= {"accuracy", "macro_f1"}


def test_train_command_with_task_classification_on_a_regression_dataset(
    tmp_path, synthetic_source, capsys
):
    status = main(
        [
            "train",
            "--model",
            "hitmusicnet",
            "--data",
            "procedural",
            "--root",
            str(tmp_path),
            *("--set", "task=classification", "--set", 'groups=["lowlevel"]'),
            *("--set", "epochs=3", "--set", "ae_epochs=2", "--set", "n_seeds=1"),
            *("--out", str(tmp_path / "bundle"), "--run-dir", str(tmp_path / "run"), "--quiet"),
        ]
    )
    assert status == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().err
    study = read_study(tmp_path / "run")
    assert study.meta["task"] == "classification"
    assert set(study.predictions["y_true"]) <= {0.0, 1.0, 2.0}


def test_search_command_refuses_a_value_of_the_wrong_type_before_any_trial(tmp_path, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[space]\nlearning_rate = [0.1, "fast"]\n')
    args = ["search", "--model", "gbdt", "--data", "procedural", "--root", str(tmp_path)]
    status = main([*args, "--space", str(space), "--out", str(tmp_path / "out")])
    assert status == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert "gbdt.learning_rate: expected a number, got 'fast'" in err
    assert not (tmp_path / "out" / "study.db").exists()
