"""A study model recorded as the mean of fits that differ only in the model seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study import ModelRun
from autoenchorder.study.recorder import SeedAveragingRecorder, StudyRecorder, member_key
from autoenchorder.train.job_types import FitJob
from autoenchorder.train.jobs import FitResult

IDS = np.array(["a", "b", "c"])
TRUTH = np.array([10.0, 20.0, 30.0])


def _result(key: str, y_pred, *, seed: int, error: str | None = None) -> FitResult:
    job = FitJob("s", key, "mean", {"seed": seed})
    return FitResult(job, ids=IDS, y_true=TRUTH, y_pred=np.asarray(y_pred, float), error=error)


def _recorder(tmp_path, members: int) -> SeedAveragingRecorder:
    writer = RunWriter(tmp_path, study="s", title="seeds")
    runs = [ModelRun("one", "mean"), ModelRun("two", "mean")]
    return SeedAveragingRecorder(writer, runs, members=members)


def _predictions(tmp_path) -> pd.DataFrame:
    return pd.read_parquet(tmp_path / "s" / "predictions.parquet")


def test_a_model_is_recorded_once_all_its_seeds_arrived_as_their_mean(tmp_path) -> None:
    recorder = _recorder(tmp_path, members=3)
    assert [recorder.job_key("one", k) for k in range(3)] == ["one#0", "one#1", "one#2"]
    fits = [[11.0, 20.0, 33.0], [9.0, 23.0, 30.0], [10.0, 17.0, 27.0]]
    # out of order, and interleaved with the other model's
    recorder.model(_result(member_key("one", 2), fits[2], seed=2))
    recorder.model(_result(member_key("two", 0), [1.0, 2.0, 3.0], seed=0))
    recorder.model(_result(member_key("one", 0), fits[0], seed=0))
    assert "one" not in recorder.members and not (tmp_path / "s" / "predictions.parquet").exists()
    recorder.model(_result(member_key("one", 1), fits[1], seed=1))
    table = _predictions(tmp_path)
    one = table[table["model"] == "one"].set_index("id").loc[IDS]
    np.testing.assert_allclose(one["y_pred"], np.mean(fits, axis=0))
    np.testing.assert_allclose(one["y_std"], np.std(fits, axis=0))
    assert [r.job.options["seed"] for r in recorder.members["one"]] == [0, 1, 2]
    assert set(table["model"]) == {"one"}  # "two" waits for its other seeds


def test_a_failed_seed_fails_the_model_with_its_reason(tmp_path) -> None:
    recorder = _recorder(tmp_path, members=2)
    recorder.model(_result(member_key("two", 0), [1.0, 2.0, 3.0], seed=0))
    recorder.model(_result(member_key("two", 1), [0.0] * 3, seed=1, error="out of memory"))
    assert "two" not in recorder.writer.meta["models"] and "two" not in recorder.members
    assert any(
        "two" in n and "1 of 2 members failed: out of memory" in n
        for n in recorder.writer.meta["notes"]
    )


def test_one_seed_keeps_the_models_own_key(tmp_path) -> None:
    recorder = _recorder(tmp_path, members=1)
    assert recorder.job_key("one", 0) == "one"
    recorder.model(_result("one", [12.0, 21.0, 29.0], seed=0))
    table = _predictions(tmp_path)
    np.testing.assert_allclose(table["y_pred"], [12.0, 21.0, 29.0])
    assert "y_std" not in table.columns and len(recorder.members["one"]) == 1
    with pytest.raises(ValueError, match="members"):
        _recorder(tmp_path, members=0)


def _procedural_recorder(tmp_path, *, with_ensemble_row: bool = True) -> StudyRecorder:
    """The procedural study's shape: model "one" is also member 0 of its seed ensemble."""
    writer = RunWriter(tmp_path, study="s", title="ensemble")
    runs = [ModelRun("one", "mean")]
    runs += [ModelRun("one-ensemble", "mean")] if with_ensemble_row else []
    ensembles = {"one-ensemble": ["one", "one.seed-1", "one.seed-2"]}
    return StudyRecorder(writer, runs, ensembles=ensembles)


def test_an_ensemble_whose_first_member_is_a_model_records_both(tmp_path) -> None:
    recorder = _procedural_recorder(tmp_path)
    fits = {"one.seed-2": [9.0, 18.0, 33.0], "one": [12.0, 21.0, 29.0], "one.seed-1": [10, 20, 31]}
    for key, y_pred in fits.items():
        recorder.model(_result(key, y_pred, seed=len(key)))
    table = _predictions(tmp_path)
    assert set(table["model"]) == {"one", "one-ensemble"}  # the other seeds are no rows
    one = table[table["model"] == "one"].set_index("id").loc[IDS]
    np.testing.assert_allclose(one["y_pred"], fits["one"])
    mean = table[table["model"] == "one-ensemble"].set_index("id").loc[IDS]
    np.testing.assert_allclose(mean["y_pred"], np.mean(list(fits.values()), axis=0))
    assert [r.job.key for r in recorder.members["one-ensemble"]] == [
        "one",
        "one.seed-1",
        "one.seed-2",
    ]


def test_a_failed_ensemble_member_keeps_the_fitted_ones(tmp_path) -> None:
    recorder = _procedural_recorder(tmp_path)
    recorder.model(_result("one", [12.0, 21.0, 29.0], seed=0))
    recorder.model(_result("one.seed-1", [0.0] * 3, seed=1, error="diverged"))
    recorder.model(_result("one.seed-2", [9.0, 18.0, 33.0], seed=2))
    assert set(_predictions(tmp_path)["model"]) == {"one"}
    assert "one-ensemble" not in recorder.writer.meta["models"]
    assert any("1 of 3 members failed: diverged" in n for n in recorder.writer.meta["notes"])
    assert "one-ensemble" not in recorder.members
    assert [r.job.key for r in recorder.fitted_members("one-ensemble")] == ["one", "one.seed-2"]


def test_an_ensemble_outside_the_table_is_only_kept(tmp_path) -> None:
    recorder = _procedural_recorder(tmp_path, with_ensemble_row=False)
    for k, key in enumerate(["one", "one.seed-1", "one.seed-2"]):
        recorder.model(_result(key, [10.0 + k, 20.0, 30.0], seed=k))
    assert set(_predictions(tmp_path)["model"]) == {"one"}
    assert len(recorder.members["one-ensemble"]) == 3
