"""The multi-target study's plan: skipped without MusicOSet, single vs multi on the same rows."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.study import DemoPlan, DemoSettings
from autoenchorder.study import multi_target as study
from autoenchorder.study.extras import StudyContext
from autoenchorder.train.jobs import run_jobs


def _context(tmp_path, **overrides) -> tuple[StudyContext, io.StringIO]:
    text = io.StringIO()
    settings = DemoSettings.quick(tmp_path / "run", studies=("multi-target",), **overrides)
    return StudyContext(settings, Console(file=text, width=200), DemoPlan()), text


def test_without_musicoset_the_study_is_skipped_with_a_note(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(study, "find_root", lambda *a, **k: None)
    context, text = _context(tmp_path)
    study.plan_study(context)
    assert not context.plan.jobs and not context.plan.data and not context.plan.recorders
    said = " ".join(text.getvalue().split())
    assert "Skipping the multi-target study" in said and "MusicOSet data not found" in said


def test_other_outputs_are_scored_on_their_own_scale() -> None:
    test = PopularityDataset(
        ids=["a", "b", "c", "d", "e"],
        y=[10.0, 20.0, 30.0, 40.0, 50.0],
        tabular=pd.DataFrame({"x": np.zeros(5)}),
        column_groups={"descriptors": ["x"]},
        extra_targets=pd.DataFrame(
            {"score": [100.0, 200.0, np.nan, 400.0, 500.0], "label": [1, 0, 1, np.nan, 0]}
        ),
    )
    outputs = pd.DataFrame(
        {
            "score": [100.0, 200.0, -1e9, 400.0, 400.0],  # the NaN row's output is not read
            "label": [0.9, 0.2, 0.4, 0.5, 0.3],  # every hit above every non-hit
        }
    )
    texts = study.other_output_scores(test, outputs, ["score", "label"])
    r2 = 1 - 100.0**2 / np.sum((np.array([100, 200, 400, 500]) - 300.0) ** 2)
    assert texts[0] == f"score R^2 {r2:.3f} (n=4)"
    assert texts[1] == "label AUC 1.000 (n=4, 2 negatives)"
    only_hits = test.take([0, 2])
    assert study.other_output_scores(only_hits, outputs.iloc[[0, 2]], ["label"]) == [
        "label AUC nan (n=2, 0 negatives)"
    ]


@pytest.mark.parametrize("model_seeds", [1, 2])
def test_the_plan_fits_single_and_multi_on_the_same_rows_and_notes_the_other_outputs(
    tmp_path, musicoset_root, hit_predictor_root, model_seeds
) -> None:
    context, _ = _context(
        tmp_path, musicoset_root=musicoset_root, workers=1, model_seeds=model_seeds
    )
    study.plan_study(context)
    plan = context.plan
    data = plan.data[study.NAME]
    assert data.spec.extra_targets == ("billboard", "hit") and data.rows == study.QUICK_ROWS
    keys = ["single", "multi", study.HIT_ROWS, study.TAUGHT]  # --quick: descriptors only
    if model_seeds > 1:  # each model's seeds, on the same split
        members = [j for j in plan.jobs if j.key.startswith("single#")]
        assert [j.key for j in members] == ["single#0", "single#1"]
        assert [j.options["seed"] for j in members] == [0, 1]
        assert len({j.data_key for j in plan.jobs}) == 2 and len(plan.jobs) == 8
    jobs = {job.key.partition("#")[0]: job for job in plan.jobs if job.key.endswith(("#0", *keys))}
    assert list(jobs) == keys
    assert jobs["multi"].options["targets"] == ("popularity", "billboard", "hit")
    assert jobs[study.HIT_ROWS].options["targets"] == ("popularity", "billboard", "hit")
    assert jobs[study.HIT_ROWS].options["aux_weight"] == study.HIT_ROWS_AUX_WEIGHT
    assert "targets" not in jobs["single"].options and "targets" not in jobs[study.TAUGHT].options
    assert jobs[study.TAUGHT].options["privileged"] == ("billboard", "hit")
    assert jobs[study.TAUGHT].options["teacher_weight"] == study.TEACHER_WEIGHT
    with_rows = plan.data[jobs[study.HIT_ROWS].data_key]
    assert jobs["single"].data_key == jobs["multi"].data_key == study.NAME
    assert jobs[study.TAUGHT].data_key == study.NAME
    assert with_rows.supplement.source == "musicoset-hit-rows"
    assert dataclasses.replace(with_rows, supplement=None) == data
    writer = plan.recorders[study.NAME].writer
    headline = {"model_a": study.HIT_ROWS, "model_b": "single", "target": "matches"}
    assert writer.meta["headline"] == headline
    # the fits themselves, made cheap, then the finisher's note on the other outputs
    cheap = {"epochs": 2, "ae_epochs": 2, "n_seeds": 1, "quiet": True}
    jobs = [dataclasses.replace(j, options={**j.options, **cheap}) for j in plan.jobs]
    results = list(run_jobs(jobs, plan.data, workers=1))
    assert len({tuple(r.ids) for r in results}) == 1  # paired: the same test songs
    for result in results:
        plan.recorders[study.NAME].model(result)
    for _, finish in plan.finishers:
        finish()
    by_key = {r.job.key.partition("#")[0]: r for r in results}
    members = plan.recorders[study.NAME].members
    assert {key: len(fits) for key, fits in members.items()} == dict.fromkeys(keys, model_seeds)
    table = pd.read_parquet(writer.path / "predictions.parquet")
    single = table[table["model"] == "single"].set_index("id").loc[members["single"][0].ids]
    mean = np.mean([fit.y_pred for fit in members["single"]], axis=0)
    np.testing.assert_allclose(single["y_pred"], mean)
    assert all(r.error is None for r in results)
    # the Hit Predictor rows (sampled to QUICK_ROWS, a held-out artist's dropped) add training
    assert by_key["single"].n_train == by_key["multi"].n_train
    assert by_key["single"].n_train + 1000 < by_key[study.HIT_ROWS].n_train
    for key in ("multi", study.HIT_ROWS):
        notes = [n for n in writer.meta["notes"] if n.startswith(f"{key}:")]
        assert len(notes) == 1 and "billboard R^2" in notes[0] and "hit AUC" in notes[0]
    assert not [n for n in writer.meta["notes"] if n.startswith(f"{study.TAUGHT}:")]  # one output


def test_with_metadata_each_feature_set_has_its_single_multi_and_taught_model() -> None:
    runs = study.multi_target_runs(metadata=True)
    assert [run.key for run in runs] == [
        "single",
        "multi",
        study.HIT_ROWS,
        study.TAUGHT,
        "single+metadata",
        "multi+metadata",
        f"{study.TAUGHT}+metadata",
    ]
    taught = {run.key: run.config for run in runs if run.key.startswith(study.TAUGHT)}
    assert {tuple(o["groups"]) for o in taught.values()} == {study.DESCRIPTORS, study.WITH_METADATA}
    assert all(o["privileged"] == study.EXTRA_TARGETS for o in taught.values())
