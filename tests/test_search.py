from __future__ import annotations

import json
import tomllib

import optuna
import pandas as pd
import pytest

from autoenchorder.config import STUDY_GRID, ConfigError
from autoenchorder.train.search import (
    ModelObjective,
    SearchSpec,
    grid_points,
    open_study,
    results_table,
    run_worker,
    run_workers,
    sqlite_url,
    write_results,
)
from synthetic_popularity import BarrierObjective, learnable_dataset

SPACE = {"lr": (0.5, 1.0, 2.0), "n_layers": (7, 9)}


def _finished(study):
    return [t for t in study.get_trials() if t.state == optuna.trial.TrialState.COMPLETE]


def test_two_worker_grid_search_evaluates_each_point_once(tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "study.db"), study_name="g")
    study = run_workers(spec, BarrierObjective(str(barrier)), workers=2)
    done = _finished(study)
    params = [tuple(sorted(t.params.items())) for t in done]
    assert len(done) == 6 == spec.grid_size
    assert len(set(params)) == 6
    assert {tuple(sorted(p.items())) for p in grid_points(SPACE)} == set(params)
    assert {t.user_attrs["worker"] for t in done} == {0, 1}  # both really worked
    # any extra trial is a lost race, marked PRUNED and never evaluated
    extra = [t for t in study.get_trials() if t not in done]
    assert all(t.state == optuna.trial.TrialState.PRUNED and not t.params for t in extra)


def test_a_second_worker_on_a_finished_study_does_nothing(tmp_path):
    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "s.db"), study_name="g")
    objective = BarrierObjective(str(tmp_path), n_workers=1)
    assert run_worker(spec, objective) == 6
    assert run_worker(spec, objective, worker=1) == 0
    assert len(open_study(spec).get_trials()) == 6


def test_tpe_search_stops_at_its_budget(tmp_path):
    space = {"x": (0.0, 0.5, 1.0, 1.5, 2.0), "y": (0.0, 1.0, 3.0)}
    spec = SearchSpec(
        space=space, sampler="tpe", n_trials=7, storage=sqlite_url(tmp_path / "t.db"), seed=3
    )
    study = run_workers(spec, BarrierObjective(str(tmp_path), n_workers=1))
    assert len(study.get_trials()) == len(_finished(study)) == 7
    assert all(
        t.params["x"] in space["x"] and t.params["y"] in space["y"] for t in _finished(study)
    )


def test_grid_budget_caps_the_grid(tmp_path):
    spec = SearchSpec(space=SPACE, n_trials=4, storage=sqlite_url(tmp_path / "c.db"))
    study = run_workers(spec, BarrierObjective(str(tmp_path), n_workers=1))
    assert len(_finished(study)) == 4
    assert len({tuple(sorted(t.params.items())) for t in _finished(study)}) == 4


def test_results_and_best_config_are_written(tmp_path):
    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "r.db"), metric="r2")
    study = run_workers(spec, BarrierObjective(str(tmp_path), n_workers=1))
    summary = write_results(study, tmp_path / "out", base_config={"epochs": 5})
    # r2 = -sum((v - 1)^2): maximal at lr = 1 and the smaller n_layers
    assert summary["params"] == {"lr": 1.0, "n_layers": 7}
    table = pd.read_csv(tmp_path / "out" / "trials.csv")
    assert len(table) == 6 and table["r2"].is_monotonic_decreasing
    best = tomllib.loads((tmp_path / "out" / "best_config.toml").read_text())
    assert best["model"] == {"epochs": 5, "lr": 1.0, "n_layers": 7}
    assert (
        json.loads((tmp_path / "out" / "best_config.json").read_text())["trial"]
        == (summary["trial"])
    )


def test_model_objective_scores_rows_that_neither_fit_nor_stopped_it(tmp_path, monkeypatch):
    from autoenchorder.models.base import Model

    seen = []  # (fitted rows, early-stopping rows) of every fit
    real_fit = Model.fit

    def recording_fit(self, train, val=None):
        seen.append((set(train.ids), set(val.ids)))
        return real_fit(self, train, val)

    monkeypatch.setattr(Model, "fit", recording_fit)
    ds = learnable_dataset(160, seed=4, with_sequences=False)
    objective = ModelObjective("gbdt", dataset=ds, base_config={"max_iter": 20})
    spec = SearchSpec(space={"learning_rate": (0.05, 0.3)}, storage=sqlite_url(tmp_path / "m.db"))
    table = results_table(run_workers(spec, objective))
    assert list(table["state"]) == ["COMPLETE", "COMPLETE"]
    usable, trial_split = objective.rows()
    scored = set(trial_split.test_ids)
    assert (table["n"] == len(scored)).all()
    assert len(seen) == 2
    for fitted, stopping in seen:
        assert stopping and scored and not fitted & stopping
        assert not scored & (fitted | stopping)  # a trial is scored on rows it never used
        assert fitted | stopping | scored == set(usable.ids)
    assert len(usable) < len(ds)  # the outer test part is dropped
    scored_artists = set(usable.subset(trial_split.test_ids).artist)
    assert not scored_artists & set(usable.subset(trial_split.train_ids).artist)


def test_failed_trial_is_recorded_and_search_goes_on(tmp_path):
    ds = learnable_dataset(60, seed=4, with_sequences=False)
    objective = ModelObjective("gbdt", dataset=ds, base_config={"groups": ("missing",)})
    spec = SearchSpec(space={"learning_rate": (0.1,)}, storage=sqlite_url(tmp_path / "f.db"))
    table = results_table(run_workers(spec, objective))
    assert list(table["state"]) == ["FAIL"]
    assert "missing" in table.loc[0, "error"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sampler": "random"}, "unknown sampler"),
        ({"sampler": "tpe"}, "needs a budget"),
        ({"metric": "loss"}, "unknown metric"),
        ({"space": {"lr": ()}}, "no candidate"),
    ],
)
def test_bad_specs_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SearchSpec(**kwargs)


def test_default_space_is_the_study_grid():
    spec = SearchSpec()
    assert spec.space == STUDY_GRID
    assert spec.grid_size == 5 * 3 * 4 * 9 * 4 * 3 * 3
