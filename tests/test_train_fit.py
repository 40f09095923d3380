"""One path for every fit: the rows' cut (split_parts) and fit_and_score, used by train and jobs."""

from __future__ import annotations

import numpy as np
import pytest

from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.data.splits import holdout_split
from autoenchorder.train import fit as fit_module
from autoenchorder.train import job_types
from autoenchorder.train.api import train_model
from autoenchorder.train.fit import fit_and_score
from autoenchorder.train.jobs import FitJob, StudyData, fit_job
from autoenchorder.train.parts import split_parts
from synthetic_popularity import learnable_dataset

GBDT = {"max_iter": 20, "quiet": True}


@pytest.fixture
def dataset():
    return learnable_dataset(120, seed=5, with_sequences=False)


@pytest.fixture
def cuts(monkeypatch):
    """Record every cut of rows made through fit_and_score."""
    seen = []
    real = fit_module.split_parts

    def recording(ds, split, **kwargs):
        parts = real(ds, split, **kwargs)
        seen.append(parts)
        return parts

    monkeypatch.setattr(fit_module, "split_parts", recording)
    return seen


def test_split_parts_are_disjoint_and_grouped_by_artist(dataset):
    split = holdout_split(dataset, test_size=0.2, seed=1)
    train, val, test = split_parts(dataset, split, val_size=0.2, seed=1)
    ids = [set(part.ids) for part in (train, val, test)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert ids[0] | ids[1] | ids[2] == set(dataset.ids)
    assert ids[2] == set(split.test_ids)
    assert not set(train.artist) & (set(val.artist) | set(test.artist))
    smaller = split_parts(dataset, split, val_size=0.2, seed=1, fraction=0.5)
    assert set(smaller[0].ids) | set(smaller[1].ids) < ids[0] | ids[1]
    assert list(smaller[2].ids) == list(test.ids)


def test_train_model_and_a_fit_job_take_the_same_path(dataset, cuts, monkeypatch):
    result = train_model("gbdt", dataset, GBDT, seed=3)
    data = StudyData(DataSpec("procedural", root="unused"), seed=3)
    monkeypatch.setitem(job_types._LOADED, data, (dataset, result.split))
    job = fit_job(FitJob("s", "gbdt", "gbdt", {"seed": 3, **GBDT}), data)
    assert job.error is None
    assert len(cuts) == 2  # both cut their rows inside fit_and_score
    for left, right in zip(cuts[0], cuts[1], strict=True):
        assert list(left.ids) == list(right.ids)
    np.testing.assert_array_equal(job.ids, result.split.test_ids)
    np.testing.assert_array_equal(job.y_pred, result.test_predictions)
    assert (job.n_train, job.n_val) == (result.metrics["n_train"], result.metrics["n_val"])


def test_fit_and_score_scores_the_test_rows_and_stops_on_others(dataset):
    split = holdout_split(dataset, test_size=0.2, seed=0)
    outcome = fit_and_score("gbdt", dataset, split, config=GBDT, seed=0)
    assert list(outcome.test_ids) == list(split.test_ids)
    truth = dataset.subset(split.test_ids).y
    assert outcome.metrics["test"]["mae"] == pytest.approx(np.abs(truth - outcome.y_pred).mean())
    assert outcome.metrics["val"]["n"] == outcome.n_val
    assert outcome.n_train + outcome.n_val + len(outcome.test_ids) == len(dataset)


def test_a_search_trial_takes_the_same_path(dataset, cuts):
    from autoenchorder.train.search import ModelObjective

    objective = ModelObjective("gbdt", dataset=dataset, base_config={"max_iter": 20}, seed=2)
    metrics = objective({"learning_rate": 0.1})
    assert len(cuts) == 1
    train, val, scored = cuts[0]
    assert metrics["n"] == len(scored) and not set(scored.ids) & (set(train.ids) | set(val.ids))
