"""The jobs cache is keyed by the code that fits a job: edited code never reuses a stale fit."""

from __future__ import annotations

import shutil

import pytest

from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.data.splits import holdout_split
from autoenchorder.train import job_types
from autoenchorder.train.job_cache import PACKAGE, JobCache, code_fingerprint, package_code
from autoenchorder.train.jobs import FitJob, StudyData, run_jobs
from synthetic_popularity import learnable_dataset


@pytest.fixture
def package_copy(tmp_path):
    copy = tmp_path / "autoenchorder"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return copy


def test_the_code_fingerprint_follows_the_fit_code_only(package_copy):
    before = code_fingerprint(package_copy)
    report = package_copy / "evaluate" / "report.py"  # not part of a fit
    report.write_text(report.read_text() + "\n# a comment\n")
    assert code_fingerprint(package_copy) == before
    for edit in (
        "models/base.py",
        "data/splits.py",
        "train/fit.py",
        "config.py",
        "metrics.py",
        "published.py",
    ):
        path = package_copy / edit
        original = path.read_text()
        path.write_text(original + "\n# changed\n")
        assert code_fingerprint(package_copy) != before, edit
        path.write_text(original)
    assert code_fingerprint(package_copy) == before
    (package_copy / "models" / "new_model.py").write_text("X = 1\n")
    assert code_fingerprint(package_copy) != before


def test_a_fit_of_other_code_is_a_miss(tmp_path, monkeypatch):
    ds = learnable_dataset(60, seed=2, with_sequences=False)
    data = StudyData(DataSpec("procedural", root="unused"), seed=0)
    monkeypatch.setitem(job_types._LOADED, data, (ds, holdout_split(ds, seed=0)))
    job = FitJob("s", "mean", "mean", {"seed": 0})
    old_code = JobCache(tmp_path / "jobs", code="old")
    (fitted,) = run_jobs([job], {"s": data}, cache=old_code)
    assert not fitted.cached and old_code.get(job, data) is not None
    assert JobCache(tmp_path / "jobs", code="new").get(job, data) is None
    assert JobCache(tmp_path / "jobs").code == package_code() and len(package_code()) == 64
    assert JobCache(tmp_path / "jobs").get(job, data) is None
