"""The study's fits and the search on Ray: the same results as locally; the options plumbed.

The Ray tests share the session's two-node cluster (:mod:`ray_cluster`) and run in one
pytest worker (``xdist_group("ray")``). The data is a tiny user catalog written here: a labels
CSV and a feature store of 207 seeded low-level features per track (no audio decoded).
"""

from __future__ import annotations

import collections

import numpy as np
import optuna
import pandas as pd
import pytest

from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.cli import main
from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.data.store import FeatureStore, ShardContent
from autoenchorder.engine import EngineSpec
from autoenchorder.train.jobs import FitJob, StudyData, run_jobs
from ray_cluster import ray_cluster  # noqa: F401  (the session's shared Ray cluster)

N_TRACKS = 120


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """``(audio folder, labels CSV, store)`` of a small catalog whose popularity is learnable."""
    root = tmp_path_factory.mktemp("catalog")
    audio = root / "audio"
    audio.mkdir()
    rng = np.random.default_rng(5)
    latent = rng.normal(size=(N_TRACKS, 3))
    features = latent @ rng.normal(size=(3, len(LOWLEVEL_COLUMNS)))
    features += 0.1 * rng.normal(size=features.shape)
    popularity = np.clip(50 + 12 * latent[:, 0] - 6 * latent[:, 1], 0, 100)
    ids = [f"t{i:03d}" for i in range(N_TRACKS)]
    store = FeatureStore.create(root / "store", audio_root=audio, config={"compat": "fixed"})
    rows = []
    for track, values in zip(ids, features, strict=True):
        row = {"track_id": track, "path": f"{track}.mp3", "duration": 30.0,
               "sample_rate": 44100, "channels": 2, "silent": False}  # fmt: skip
        row.update(zip(LOWLEVEL_COLUMNS, values.tolist(), strict=True))
        rows.append(row)
    store.write_shard(ShardContent(rows=rows))
    labels = root / "labels.csv"
    pd.DataFrame(
        {"id": ids, "popularity": popularity, "artist": [f"a{i // 3}" for i in range(N_TRACKS)]}
    ).to_csv(labels, index=False)
    return audio, labels, root / "store"


def _study(catalog) -> StudyData:
    audio, labels, store = catalog
    spec = DataSpec("catalog", root=str(audio), labels=str(labels), store=str(store))
    return StudyData(spec, seed=2)


def _jobs() -> list[FitJob]:
    hmn = {"setting": "default", "groups": ("lowlevel",), "epochs": 2, "ae_epochs": 1}
    return [
        FitJob("c", "gbdt", "gbdt", {"seed": 1, "max_iter": 10}, cost=2.0),
        FitJob("c", "hmn-half", "hitmusicnet", {"seed": 3, **hmn}, fraction=0.5, cost=3.0),
    ]


@pytest.mark.xdist_group("ray")
def test_fit_jobs_on_ray_give_the_local_predictions(catalog, ray_cluster):  # noqa: F811
    data = {"c": _study(catalog)}
    local = {r.job.key: r for r in run_jobs(_jobs(), data, workers=1)}
    on_ray = {r.job.key: r for r in run_jobs(_jobs(), data, engine=EngineSpec("ray", workers=2))}
    assert set(local) == set(on_ray) == {job.key for job in _jobs()}
    for key, expected in local.items():
        got = on_ray[key]
        assert expected.error is None and got.error is None, (expected.error, got.error)
        np.testing.assert_array_equal(got.ids, expected.ids)
        np.testing.assert_allclose(got.y_pred, expected.y_pred, rtol=0, atol=1e-6)
        assert got.n_train == expected.n_train and got.n_val == expected.n_val
    assert len(set(local["gbdt"].y_pred.round(6))) > 1  # a real model, not a constant


@pytest.mark.xdist_group("ray")
def test_search_command_on_ray_runs_each_grid_point_once(catalog, ray_cluster, tmp_path):  # noqa: F811
    audio, labels, store = catalog
    space = tmp_path / "space.toml"
    space.write_text("[space]\nlearning_rate = [0.05, 0.2]\nmax_leaf_nodes = [4, 8]\n")
    out = tmp_path / "search"
    status = main(
        ["search", "--model", "gbdt", "--data", "catalog", "--root", str(audio),
         "--labels", str(labels), "--store", str(store), "--space", str(space),
         "--set", "max_iter=10", "--engine", "ray", "--workers", "2", "--out", str(out)]
    )  # fmt: skip
    assert status == 0
    study = optuna.load_study(study_name="autoenchorder", storage=f"sqlite:///{out / 'study.db'}")
    done = [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]
    counts = collections.Counter(tuple(sorted(t.params.items())) for t in done)
    assert len(counts) == 4 and set(counts.values()) == {1}
    assert (out / "best_config.toml").is_file()


def test_demo_passes_engine_and_device_to_its_fits(monkeypatch, tmp_path):
    from autoenchorder.commands import demo as demo_command
    from autoenchorder.study import run as study_run
    from autoenchorder.study.plan import DemoPlan

    seen = {}
    monkeypatch.setattr(demo_command, "run_demo", lambda settings: seen.update(settings=settings))
    status = main(
        ["demo", "--out", str(tmp_path / "demo"), "--engine", "ray", "--address", "auto",
         "--workers", "3", "--device", "auto"]
    )  # fmt: skip
    assert status == 0
    settings = seen["settings"]
    assert settings.engine == EngineSpec("ray", workers=3, address="auto", threads_per_worker=1)
    assert settings.device == "auto"

    calls = []

    def fake_run_jobs(jobs, data, **kwargs):
        calls.append((list(jobs), kwargs))
        return iter(())

    monkeypatch.setattr(study_run, "run_jobs", fake_run_jobs)
    plan = DemoPlan(jobs=[FitJob("procedural", "mean", "mean")], data={}, recorders={})
    study_run.run_plan(plan, settings, console=None)
    assert calls[0][1]["engine"] == settings.engine
