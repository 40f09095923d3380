"""``demo --study``: only the studies asked for run; an extra study plugs in with plan_study."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

from autoenchorder.cli import main
from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.errors import AutoenchorderError
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study import DemoSettings, ModelRun, StudyRecorder, extras, run_demo
from autoenchorder.study.plan import study_job
from autoenchorder.train.jobs import FitJob, StudyData, loaded, run_jobs


def test_a_job_trains_on_the_dataset_it_names_and_is_reported_in_its_study(musicoset_root):
    spec = DataSpec("musicoset", root=str(musicoset_root))
    data = {"big": StudyData(spec, seed=1, rows=900), "small": StudyData(spec, seed=1, rows=400)}
    jobs = [
        FitJob("study", "on-big", "mean", {"seed": 0}, data="big"),
        FitJob("study", "on-small", "mean", {"seed": 0}, data="small"),
    ]
    results = {r.job.key: r for r in run_jobs(jobs, data)}
    for key, name in (("on-big", "big"), ("on-small", "small")):
        train, val, test = data[name].parts(*loaded(data[name]))
        assert results[key].job.study == "study"
        assert (results[key].n_train, len(results[key].ids)) == (len(train), len(test))
    with pytest.raises(KeyError, match="elsewhere"):
        list(run_jobs([FitJob("study", "x", "mean", data="elsewhere")], data))


def test_unknown_studies_are_refused_and_known_ones_come_in_report_order():
    assert extras.check_studies(("ranking", "procedural", "ranking")) == ("procedural", "ranking")
    with pytest.raises(AutoenchorderError, match="unknown study nonsense; the studies are"):
        extras.check_studies(("nonsense",))


def test_the_cli_refuses_an_unknown_study_before_doing_anything(tmp_path, capsys):
    status = main(["demo", "--quick", "--study", "nonsense", "--out", str(tmp_path / "d")])
    assert status == 2
    assert "nonsense" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def _fake_study(musicoset_root):
    """A study fitting two cheap models on two datasets of the same songs, with a finisher."""

    def plan_study(context: extras.StudyContext) -> None:
        settings, plan = context.settings, context.plan
        spec = DataSpec("musicoset", root=str(musicoset_root))
        plan.data["fake/a"] = StudyData(spec, seed=settings.seed, rows=500)
        plan.data["fake/b"] = StudyData(spec, seed=settings.seed, rows=500)
        writer = RunWriter(settings.out, study="fake", order=7, title="A fake extra study")
        writer.set_headline("gbdt-a", "mean-b")
        runs = [
            ModelRun("gbdt-a", "gbdt", {"groups": ("descriptors",), "max_iter": 15}, label="A"),
            ModelRun("mean-b", "mean", label="B"),
        ]
        plan.recorders["fake"] = StudyRecorder(writer, runs, context.console)
        plan.jobs += [
            study_job("fake", runs[0], seed=settings.seed, data="fake/a"),
            study_job("fake", runs[1], seed=settings.seed, data="fake/b"),
        ]
        plan.finishers.append(("fake", lambda: writer.add_note("the finisher ran after the fits")))

    return types.SimpleNamespace(plan_study=plan_study)


def test_an_extra_study_alone_runs_without_the_procedural_corpus(
    tmp_path, musicoset_root, monkeypatch
):
    monkeypatch.setitem(extras.EXTRA_STUDIES, "fake", "fake_study_for_tests")
    monkeypatch.setitem(
        sys.modules, "autoenchorder.study.fake_study_for_tests", _fake_study(musicoset_root)
    )
    out = tmp_path / "run"
    settings = DemoSettings.quick(out, studies=("fake",), workers=1)
    html = run_demo(settings).read_text()
    assert not (out / "corpus").exists() and not (out / "store").exists()
    assert "A fake extra study" in html and "the finisher ran after the fits" in html
    predictions = pd.read_parquet(out / "fake" / "predictions.parquet")
    ids = {m: set(g["id"]) for m, g in predictions.groupby("model")}
    assert set(ids) == {"gbdt-a", "mean-b"} and ids["gbdt-a"] == ids["mean-b"]


def test_jobs_fitted_in_this_process_use_the_threads_asked_for(monkeypatch):
    """One worker fits in this process: with the worker's thread limit, restored afterwards."""
    import torch

    from autoenchorder.train import jobs as jobs_module

    seen = []
    monkeypatch.setattr(
        jobs_module, "fit_job", lambda job, data: seen.append(torch.get_num_threads()) or job
    )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data = {"d": StudyData(DataSpec("musicoset"))}
        list(run_jobs([FitJob("d", "a", "mean"), FitJob("d", "b", "mean")], data, threads=1))
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_the_alternates_are_fitted_only_when_asked_for(tmp_path):
    from autoenchorder.models.registry import model_class
    from autoenchorder.study.settings import chosen, procedural_models

    def fitted(settings: DemoSettings) -> set[str]:
        return {run.key for run in chosen(procedural_models(settings), settings)}

    every = {run.key: run for run in procedural_models(DemoSettings(out=tmp_path))}
    alternates = {k for k, run in every.items() if model_class(run.model).family == "alternate"}
    assert alternates == {
        "autoenchorder-transformer",
        "single-ae",
        "rnn",
        "hmn-embedding",
        "lossnet",
    }
    default = fitted(DemoSettings(out=tmp_path))
    assert default == set(every) - alternates
    assert {"autoenchorder", "autoenchorder-faithful", "hitmusicnet", "gbdt"} <= default
    assert fitted(DemoSettings(out=tmp_path, alternates=True)) == set(every)
    quick = DemoSettings.quick(tmp_path)
    assert fitted(quick) == set(quick.models) & set(every)
    assert fitted(DemoSettings.quick(tmp_path, alternates=True)) == fitted(quick) | alternates


@pytest.mark.parametrize(("flags", "expected"), [([], False), (["--alternates"], True)])
def test_the_cli_flag_reaches_the_demo_settings(monkeypatch, tmp_path, flags, expected):
    import autoenchorder.commands.demo as demo_command

    seen: list[DemoSettings] = []
    monkeypatch.setattr(demo_command, "run_demo", seen.append)
    assert main(["demo", "--out", str(tmp_path / "d"), *flags]) == 0
    assert [settings.alternates for settings in seen] == [expected]


def test_model_seeds_fit_each_musicoset_model_with_several_seeds(tmp_path, musicoset_root):
    import io

    from rich.console import Console

    from autoenchorder.study.plan import DemoPlan, plan_musicoset

    settings = DemoSettings.quick(
        tmp_path, musicoset_root=str(musicoset_root), model_seeds=3, seed=5
    )
    plan = DemoPlan()
    plan_musicoset(plan, settings, Console(file=io.StringIO()))
    recorder = plan.recorders["musicoset"]
    keys = list(recorder.runs)
    assert [j.key for j in plan.jobs] == [f"{k}#{m}" for k in keys for m in range(3)]
    assert [j.options["seed"] for j in plan.jobs[:3]] == [5, 6, 7]
    assert "mean of 3 fits" in recorder.writer.meta["description"]
    one = DemoPlan()
    plan_musicoset(
        one,
        DemoSettings.quick(tmp_path / "one", musicoset_root=str(musicoset_root)),
        Console(file=io.StringIO()),
    )
    assert [j.key for j in one.jobs] == keys  # one seed: the models' own keys, as before


def test_a_failing_finishing_step_is_a_note_and_the_others_still_run(tmp_path):
    import io

    from rich.console import Console

    from autoenchorder.study.plan import DemoPlan
    from autoenchorder.study.run import finish_studies

    plan = DemoPlan()
    writer = RunWriter(tmp_path, study="s", title="finishers")
    plan.recorders["s"] = StudyRecorder(writer, [ModelRun("m", "mean")])
    ran = []

    def broken():
        raise ValueError("HitMusicNetConfig has no option(s) x")

    plan.finishers += [("s", broken), ("s", lambda: ran.append("after"))]
    out = io.StringIO()
    finish_studies(plan, Console(file=out, width=200))
    assert ran == ["after"]
    assert "s: a finishing step failed (ValueError: HitMusicNetConfig" in out.getvalue()
    assert "a finishing step" in (writer.path / "run.json").read_text()  # saved
    assert writer.meta["notes"] == [
        "a finishing step of this study failed: ValueError: HitMusicNetConfig has no option(s) x"
    ]
