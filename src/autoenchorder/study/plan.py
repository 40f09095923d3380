"""The demo's plan: every fit as a job, and the studies' run directories set up to receive them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import find_root, not_found_message
from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.data.splits import Split
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study.recorder import SeedAveragingRecorder, StudyRecorder
from autoenchorder.study.settings import (
    ENSEMBLE_KEY,
    ENSEMBLE_MODEL,
    LEARNING_CURVE_MODELS,
    DemoSettings,
    ModelRun,
    chosen,
    is_alternate,
    lstm_step_precision,
    musicoset_models,
    procedural_models,
    scaled_epochs,
)
from autoenchorder.train.jobs import FitJob, StudyData, loaded


def study_job(
    study: str,
    run: ModelRun,
    *,
    seed: int,
    epochs_scale: float = 1.0,
    fraction: float | None = None,
    keep_state: bool = False,
    key: str | None = None,
    data: str | None = None,
) -> FitJob:
    """The job fitting ``run`` in ``study``: its config over the seed and scaled epoch limits.

    ``data`` names the dataset of the plan the job trains on when it is not ``study``'s own.
    """
    options = {"seed": seed, **scaled_epochs(run.model, epochs_scale), **run.config}
    cost = run.cost * (fraction if fraction is not None else 1.0)
    return FitJob(
        study,
        key or run.key,
        run.model,
        options,
        fraction=fraction,
        keep_state=keep_state,
        cost=cost,
        data=data,
    )


def seed_averaged_jobs(
    study: str,
    recorder: SeedAveragingRecorder,
    *,
    seed: int,
    epochs_scale: float = 1.0,
    keep_state: bool = False,
    data: Mapping[str, str] | None = None,
) -> list[FitJob]:
    """The jobs of a study whose models are each the mean of ``recorder.n_members`` fits.

    Member ``k`` of a model is fitted with model seed ``seed + k`` (same split) under
    ``recorder.job_key(key, k)``; with one member the jobs are the plain ``study_job`` ones.
    ``data`` names, by model key, the dataset of the plan a model trains on when it is not
    ``study``'s own.
    """
    return [
        study_job(
            study,
            run,
            seed=seed + member,
            epochs_scale=epochs_scale,
            keep_state=keep_state,
            key=recorder.job_key(run.key, member),
            data=(data or {}).get(run.key),
        )
        for run in recorder.runs.values()
        for member in range(recorder.n_members)
    ]


def model_seeds_sentence(model_seeds: int) -> str:
    """A study description's sentence on what its intervals cover, given the model seeds."""
    if model_seeds == 1:
        return (
            "Each model is fitted with one model seed: the intervals cover the test songs' "
            "sampling, not the seed (--model-seeds N averages N fits per model)."
        )
    return (
        f"Each model is the mean of {model_seeds} fits that differ only in the model seed "
        "(--model-seeds); the intervals cover the test songs' sampling."
    )


def procedural_writer(settings: DemoSettings, ds: PopularityDataset) -> RunWriter:
    """The run directory of study 1 (the procedural corpus), with its description and notes."""
    report = ds.info.get("corpus", {}).get("report", {})
    writer = RunWriter(
        settings.out,
        study="procedural",
        order=0,
        title="Procedural audio corpus",
        description=(
            "Songs rendered by autoenchorder's generator, whose popularity is a known function "
            "of song-level attributes and of temporal structure (hook return, energy build, "
            f"first-chorus time) plus an artist effect and noise. Oracle R^2 (noise ceiling): "
            f"{report.get('oracle_r2', float('nan')):.3f}; share of variance only "
            f"temporal structure explains: {report.get('temporal_share', float('nan')):.3f}."
        ),
    )
    for key in ("oracle_r2", "temporal_share"):
        if key in report:
            writer.add_note(f"corpus {key.replace('_', ' ')}: {report[key]:.3f}")
    if ds.sequence_dim:
        precision = ds.info.get("embedder_precision", "float32")
        writer.add_note(f"{settings.embedder} sequences computed in {precision}")
    writer.add_note(
        f"Autoen-chorder's LSTM training steps in {lstm_step_precision(settings)} "
        "(validation and prediction in float32)"
    )
    writer.set_headline("autoenchorder", "hitmusicnet")
    return writer


def musicoset_writer(settings: DemoSettings, runs: Sequence[ModelRun]) -> RunWriter:
    """The run directory of study 2 (MusicOSet); its headline is "with vs without metadata"."""
    writer = RunWriter(
        settings.out,
        study="musicoset",
        order=1,
        title="MusicOSet: descriptors and metadata",
        description=(
            "Real Spotify popularity of 20k songs with Spotify's 13 audio descriptors and "
            "metadata (artist followers and popularity, genre, year ...). Artist-grouped split: "
            "no artist is on both sides, so the models cannot memorise artists. "
            f"{model_seeds_sentence(settings.model_seeds)}"
        ),
    )
    keys = {r.key for r in runs}
    for with_metadata, without in (
        ("hitmusicnet+metadata", "hitmusicnet-default"),
        ("gbdt+metadata", "gbdt"),
    ):
        if {with_metadata, without} <= keys:
            writer.set_headline(with_metadata, without)
            break
    return writer


def describe_data(
    writer: RunWriter, data: StudyData, ds: PopularityDataset, split: Split, **info: Any
) -> None:
    """Record a study's dataset (its scalar ``info`` and ``info``) and the sizes of its split."""
    train, val, test = data.parts(ds, split)
    writer.set_dataset(
        ds.name,
        n=len(ds),
        info={**{k: v for k, v in ds.info.items() if isinstance(v, (int, float, str))}, **info},
    )
    writer.set_split(
        split.kind, seed=data.seed, n_train=len(train), n_val=len(val), n_test=len(test)
    )


@dataclass
class DemoPlan:
    """Everything the demo fits: the jobs, the data they name, where each result goes."""

    data: dict[str, StudyData] = field(default_factory=dict)
    jobs: list[FitJob] = field(default_factory=list)
    recorders: dict[str, StudyRecorder] = field(default_factory=dict)
    #: (study, step) run once every fit is in: notes that need all of a study's results
    finishers: list[tuple[str, Callable[[], None]]] = field(default_factory=list)


def plan_demo(
    settings: DemoSettings,
    console: Console,
    procedural_features: Callable[[], tuple[Path, Path]],
) -> DemoPlan:
    """Write the headers of the standard studies chosen and list their fits (see run_jobs).

    ``procedural_features()`` gives the procedural corpus folder and its feature store (made
    when first asked for). The extra studies (study/extras.py) add themselves to the plan.
    """
    plan = DemoPlan()
    if "procedural" in settings.studies:
        plan_procedural(plan, settings, *procedural_features(), console)
    if "musicoset" in settings.studies:
        plan_musicoset(plan, settings, console)
    return plan


def plan_procedural(
    plan: DemoPlan, settings: DemoSettings, corpus: Path, store: Path, console: Console
) -> None:
    """Study 1: every model on the procedural corpus, the ensemble, the learning curve."""
    seed, scale = settings.seed, settings.epochs_scale
    spec = DataSpec("procedural", root=str(corpus), store=str(store), embedder=settings.embedder)
    plan.data["procedural"] = StudyData(spec, seed=seed)
    ds, split = loaded(plan.data["procedural"])
    writer = procedural_writer(settings, ds)
    report = ds.info.get("corpus", {}).get("report", {})
    describe_data(
        writer,
        plan.data["procedural"],
        ds,
        split,
        **{k: report[k] for k in ("oracle_r2", "temporal_share") if k in report},
    )
    every_run = procedural_models(settings)
    runs = chosen(every_run, settings)
    left_out = [r.label or r.key for r in every_run if r not in runs and is_alternate(r)]
    if left_out and settings.models is None:
        writer.add_note(
            f"Not fitted in this run: the alternatives beyond the studies ({', '.join(left_out)}); "
            "`autoenchorder demo --alternates` adds them to this table"
        )
    curve_runs = (
        [r for r in runs if r.key in LEARNING_CURVE_MODELS] if settings.learning_curve else []
    )
    by_key = {run.key: run for run in runs}
    if ENSEMBLE_MODEL in by_key and settings.ensemble > 1:
        runs.insert(
            runs.index(by_key[ENSEMBLE_MODEL]) + 1,
            ModelRun(
                ENSEMBLE_KEY,
                ENSEMBLE_MODEL,
                label=f"Autoen-chorder, {settings.ensemble} seeds averaged (the predictor)",
            ),
        )
    member_keys = [ENSEMBLE_MODEL] + [
        f"{ENSEMBLE_MODEL}.seed-{seed + k}" for k in range(1, settings.ensemble)
    ]
    plan.recorders["procedural"] = StudyRecorder(
        writer,
        runs,
        console,
        curve_keys={r.key for r in curve_runs},
        ensembles={ENSEMBLE_KEY: member_keys} if ENSEMBLE_MODEL in by_key else None,
    )
    for run in runs:
        if run.key == ENSEMBLE_KEY:
            continue  # the mean of the members' predictions, recorded when they are all done
        keep = run.key == ENSEMBLE_MODEL
        plan.jobs.append(
            study_job("procedural", run, seed=seed, epochs_scale=scale, keep_state=keep)
        )
    if ENSEMBLE_MODEL in by_key:
        plan.jobs += [
            study_job(
                "procedural",
                by_key[ENSEMBLE_MODEL],
                seed=seed + k,
                epochs_scale=scale,
                keep_state=True,
                key=key,
            )
            for k, key in enumerate(member_keys[1:], start=1)
        ]
    for fraction in settings.learning_curve:
        for run in curve_runs:
            plan.jobs.append(
                study_job("procedural", run, seed=seed, epochs_scale=scale, fraction=fraction)
            )


def plan_musicoset(plan: DemoPlan, settings: DemoSettings, console: Console) -> None:
    """Study 2: the descriptor models on MusicOSet (skipped, saying why, without the data)."""
    seed, scale = settings.seed, settings.epochs_scale
    root = find_root("musicoset", settings.musicoset_root)
    if root is None:  # the procedural study runs anywhere; the real-data one needs the data
        note = escape(not_found_message("musicoset"))
        console.print(f"[yellow]Skipping the MusicOSet study. {note}")
        return
    plan.data["musicoset"] = StudyData(
        DataSpec("musicoset", root=str(Path(root).resolve())),
        seed=seed,
        rows=settings.musicoset_rows,
    )
    runs = chosen(musicoset_models(), settings)
    writer = musicoset_writer(settings, runs)
    describe_data(writer, plan.data["musicoset"], *loaded(plan.data["musicoset"]))
    recorder = SeedAveragingRecorder(writer, runs, console, members=settings.model_seeds)
    plan.recorders["musicoset"] = recorder
    plan.jobs += seed_averaged_jobs("musicoset", recorder, seed=seed, epochs_scale=scale)
