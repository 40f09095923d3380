"""The ranking study's plan: one Autoen-chorder per objective on the procedural corpus."""

from __future__ import annotations

import io

from rich.console import Console

from autoenchorder.data.splits import holdout_split
from autoenchorder.models.losses import Objective
from autoenchorder.study import DemoPlan, DemoSettings
from autoenchorder.study import ranking as study
from autoenchorder.study.extras import StudyContext
from autoenchorder.train.jobs import StudyData
from synthetic_popularity import learnable_dataset


def test_the_plan_fits_every_objective_on_the_procedural_songs(tmp_path, monkeypatch) -> None:
    corpus, store = tmp_path / "corpus", tmp_path / "store"
    asked = []

    def procedural():
        asked.append(True)
        return corpus, store

    ds = learnable_dataset(60, seed=0)
    split = holdout_split(ds, test_size=0.15, seed=3)
    seen: list[StudyData] = []

    def fake_loaded(data: StudyData):  # the corpus is not rendered here: its rows are faked
        seen.append(data)
        return ds, split

    monkeypatch.setattr(study, "loaded", fake_loaded)
    settings = DemoSettings.quick(tmp_path / "run", studies=("ranking",), seed=3)
    context = StudyContext(settings, Console(file=io.StringIO()), DemoPlan(), procedural)
    study.plan_study(context)
    plan = context.plan

    assert asked == [True]  # the demo's corpus, made (or found) once
    data = plan.data[study.NAME]
    assert seen == [data] and data.seed == 3
    assert (data.spec.source, data.spec.root, data.spec.store) == (
        "procedural",
        str(corpus),
        str(store),
    )
    assert data.spec.embedder == settings.embedder
    jobs = {job.key: job for job in plan.jobs}
    assert list(jobs) == ["mse", "weighted", "ranking", "mixed"]
    for key, job in jobs.items():
        assert job.model == "autoenchorder" and job.options["objective"] == key
        assert job.options["seed"] == 3 and job.data_key == study.NAME
        Objective(kind=key)  # every key is an objective the models know
    # the quick run's scaled epochs, as every other study's models
    assert jobs["mse"].options["epochs"] < 100
    writer = plan.recorders[study.NAME].writer
    assert writer.meta["headline"] == {"model_a": "ranking", "model_b": "mse", "metric": "spearman"}
    assert writer.meta["split"]["seed"] == 3 and writer.meta["dataset"]["n"] == 60
    assert list(writer.meta["models"]) == ["mse", "weighted", "ranking", "mixed"]


def test_model_seeds_fit_each_objective_with_several_seeds_on_the_same_split(
    tmp_path, monkeypatch
) -> None:
    ds = learnable_dataset(60, seed=0)
    split = holdout_split(ds, test_size=0.15, seed=3)
    monkeypatch.setattr(study, "loaded", lambda data: (ds, split))
    settings = DemoSettings.quick(tmp_path / "run", studies=("ranking",), seed=3, model_seeds=2)
    context = StudyContext(
        settings, Console(file=io.StringIO()), DemoPlan(), lambda: (tmp_path, tmp_path)
    )
    study.plan_study(context)
    jobs = context.plan.jobs
    assert [j.key for j in jobs[:2]] == ["mse#0", "mse#1"] and len(jobs) == 8
    assert [j.options["seed"] for j in jobs[:2]] == [3, 4]
    assert {j.data_key for j in jobs} == {study.NAME}  # one split for all
    writer = context.plan.recorders[study.NAME].writer
    assert list(writer.meta["models"]) == ["mse", "weighted", "ranking", "mixed"]
    assert "mean of 2 fits" in writer.meta["description"]
