"""The demo's steps in order: corpus and features, every fit, the report, songs scored."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.markup import escape

from autoenchorder.study.extras import StudyContext, plan_extra_studies
from autoenchorder.study.plan import DemoPlan, plan_demo
from autoenchorder.study.settings import ENSEMBLE_KEY, ENSEMBLE_MODEL, DemoSettings
from autoenchorder.train.job_cache import JobCache
from autoenchorder.train.jobs import FitJob, FitResult, loaded, run_jobs


def make_procedural_features(settings: DemoSettings, console: Console) -> tuple[Path, Path]:
    """Generate the corpus and extract its features (both resumable); return (corpus, store)."""
    from autoenchorder.data.extract import extract_corpus  # noqa: PLC0415
    from autoenchorder.data.procedural.generate import CorpusConfig, write_corpus  # noqa: PLC0415
    from autoenchorder.data.store import FeatureStore, stored_precision  # noqa: PLC0415

    corpus = settings.out / "corpus"
    store = settings.out / "store"
    config = CorpusConfig(
        n=settings.n_songs,
        seed=settings.seed,
        min_duration=settings.min_duration,
        max_duration=settings.max_duration,
    )
    console.rule("[bold]1 - procedural corpus")
    started = time.perf_counter()
    with _Progress(console, "render songs", settings.n_songs) as advance:
        summary = write_corpus(
            config, corpus, workers=settings.workers, on_song=lambda _: advance()
        )
    report = summary.report
    console.print(
        f"{summary.n_songs} songs ({summary.rendered} rendered now), "
        f"{summary.seconds / 60:.1f} min of audio in {time.perf_counter() - started:.0f} s; "
        f"popularity mean {report['mean']:.1f}, sd {report['sd']:.1f}; "
        f"oracle R^2 {report['oracle_r2']:.3f}"
    )
    console.rule("[bold]2 - features: 207 low-level + " + settings.embedder)
    extracted = extract_corpus(
        corpus / "audio",
        store,
        workers=settings.workers,
        embedder=settings.embedder,
        embedder_options={"precision": settings.precision},
        progress=True,
    )
    precision = stored_precision(FeatureStore(store).manifest, settings.embedder) or "float32"
    console.print(
        f"extract: {extracted.done} done, {extracted.skipped} already stored, "
        f"{extracted.failed} failed, {extracted.seconds:.0f} s; "
        f"{settings.embedder} in {precision}"
    )
    return corpus, store


def run_plan(plan: DemoPlan, settings: DemoSettings, console: Console) -> dict[str, FitResult]:
    """Fit every job of the plan in ``settings.workers`` processes, recording as they finish.

    Returns
    -------
    dict of str to FitResult
        The ensemble members' results (with their fitted states), in seed order.
    """
    fit_seconds = dict.fromkeys(plan.recorders, 0.0)
    cached = dict.fromkeys(plan.recorders, 0)
    started = time.perf_counter()
    with _Progress(console, "train models", len(plan.jobs), unit="models") as advance:
        for result in run_jobs(
            on_device(plan.jobs, settings.device),
            plan.data,
            workers=settings.workers,
            threads=settings.torch_threads,
            cache=JobCache(settings.out / "jobs"),
            engine=settings.engine,
        ):
            job, recorder = result.job, plan.recorders[result.job.study]
            fit_seconds[job.study] += result.fit_seconds
            cached[job.study] += result.cached
            if job.fraction is not None:
                recorder.curve_point(result)
            else:
                recorder.model(result)
            advance(f"{job.study} {job.key}")
    wall = time.perf_counter() - started
    for study, recorder in plan.recorders.items():
        recorder.writer.record_timing("model fits, summed", fit_seconds[study])
        recorder.writer.record_timing(f"training, all studies ({_fitted_by(settings)}, wall)", wall)
        if cached[study]:
            recorder.writer.add_note(
                f"{cached[study]} fits were read from an earlier run ({settings.out / 'jobs'}); "
                "their fit times are the earlier run's, the wall time is this run's"
            )
    procedural = plan.recorders.get("procedural")
    if procedural is None or ENSEMBLE_KEY not in procedural.ensembles:
        return {}
    # the members fitted, even if another one failed
    return {m.job.key: m for m in procedural.fitted_members(ENSEMBLE_KEY)}


def finish_studies(plan: DemoPlan, console: Console | None) -> None:
    """Run each study's finishing steps; one that fails costs its notes, not the report.

    Every fit is in (and cached) by now, so a failing step (e.g. a cached model state an
    older version wrote) is reported on the console and as a note of its study, and the
    other steps and the report go on.
    """
    for study, finish in plan.finishers:
        try:
            finish()
        except Exception as exc:  # noqa: BLE001 -- the finished fits must still be reported
            reason = f"{type(exc).__name__}: {exc}"
            if console:
                console.print(f"[yellow]{study}: a finishing step failed ({escape(reason)})")
            recorder = plan.recorders.get(study)
            if recorder is not None:
                recorder.writer.add_note(f"a finishing step of this study failed: {reason}")


def on_device(jobs: list[FitJob], device: str) -> list[FitJob]:
    """The jobs with ``device`` in their options (unchanged on the CPU, the default)."""
    if device == "cpu":
        return list(jobs)
    return [dataclasses.replace(job, options={**job.options, "device": device}) for job in jobs]


def _fitted_by(settings: DemoSettings) -> str:
    if settings.engine is not None and settings.engine.name == "ray":
        return f"{settings.engine.workers} Ray workers"
    return f"{settings.workers} processes"


def score_held_out_songs(
    settings: DemoSettings,
    plan: DemoPlan,
    members: dict[str, FitResult],
    console: Console,
) -> None:
    """The user path: bundle Autoen-chorder, then score a few held-out songs from their files.

    The bundle is an ensemble of the study's model and ``ensemble - 1`` more seeds, fitted on
    the same training rows, so each prediction comes with the ensemble's spread.
    """
    from autoenchorder.bundle import feature_spec_from_dataset, save_bundle  # noqa: PLC0415
    from autoenchorder.models.codes import build_training_index  # noqa: PLC0415
    from autoenchorder.models.registry import model_from_state  # noqa: PLC0415
    from autoenchorder.predict import Predictor  # noqa: PLC0415
    from autoenchorder.terminal import results_table  # noqa: PLC0415

    if ENSEMBLE_MODEL not in members:
        return
    console.rule("[bold]5 - scoring held-out songs with the trained bundle")
    ds, split = loaded(plan.data["procedural"])
    folder = settings.out / "bundles" / ENSEMBLE_MODEL
    train_rows, _ = split.apply(ds)
    together = _ensemble_metrics(list(members.values()), seed=settings.seed)
    for result in members.values():
        seed = result.job.options["seed"]
        model = model_from_state(*result.state)
        save_bundle(
            model,
            folder / f"seed-{seed}",
            metrics={**_test_metrics(result, seed=seed), "ensemble": together},
            feature_spec=feature_spec_from_dataset(ds, groups=["lowlevel"]),
            extra={
                "dataset": "procedural",
                "split": split.kind,
                "seed": seed,
                "n_rows": len(ds.ids),
            },
            training_index=build_training_index(model, train_rows, seed=seed),
        )
    corpus = Path(plan.data["procedural"].spec.root)
    audio = {p.with_suffix("").name: p for p in (corpus / "audio").rglob("*.*")}
    truth = dict(zip(ds.ids, ds.y, strict=True))
    # A few held-out songs spread over the popularity range, low to high.
    test_ids = sorted((i for i in split.test_ids if i in audio), key=lambda i: truth[i])
    picks = np.unique(np.linspace(0, len(test_ids) - 1, settings.n_predict).round().astype(int))
    songs = [audio[test_ids[k]] for k in picks]
    predictor = Predictor.load(folder)
    predictions = [predictor.predict(song) for song in songs]
    console.print(results_table(predictions))
    for song, prediction in zip(songs, predictions, strict=True):
        console.print(
            f"  {song.name}: predicted {prediction.popularity:.1f} "
            f"+- {prediction.uncertainty:.1f} ({prediction.uncertainty_method}), "
            f"true {truth[song.with_suffix('').name]:.1f}"
        )
    console.print(f"bundles: {folder}   (try: autoenchorder predict SONG --model {folder})")


def _test_metrics(result: FitResult, *, seed: int) -> dict[str, Any]:
    """A member's test metrics with their 95 % bootstrap intervals, for its bundle's card."""
    y, p = np.asarray(result.y_true, float), np.asarray(result.y_pred, float)
    return _metrics_of(y, p, result, seed=seed)


def _ensemble_metrics(members: list[FitResult], *, seed: int) -> dict[str, Any]:
    """The test metrics of the members' mean prediction (what the bundle's predictor answers).

    Every member was tested on the same songs in the same order (one split); ``n_members``
    lets a reader check that it loaded the whole ensemble.
    """
    ids = np.asarray(members[0].ids)
    if any(not np.array_equal(np.asarray(m.ids), ids) for m in members):
        raise ValueError("the ensemble's members were tested on different songs")
    y = np.asarray(members[0].y_true, float)
    p = np.mean([np.asarray(m.y_pred, float) for m in members], axis=0)
    return {**_metrics_of(y, p, members[0], seed=seed), "n_members": len(members)}


def _metrics_of(y: np.ndarray, p: np.ndarray, result: FitResult, *, seed: int) -> dict[str, Any]:
    """Metrics of predictions ``p`` (n,) of true ``y`` (n,), with 95 % bootstrap intervals."""
    from autoenchorder.evaluate.bootstrap import metric_intervals  # noqa: PLC0415
    from autoenchorder.metrics import metrics_for  # noqa: PLC0415

    task = "regression"
    return {
        "test": {name: float(m.function(y, p)) for name, m in metrics_for(task).items()},
        "test_ci": metric_intervals(y, p, task, seed=seed),
        "n_train": result.n_train,
        "n_val": result.n_val,
        "n_test": len(y),
    }


def run_demo(settings: DemoSettings, console: Console | None = None) -> Path:
    """Run the whole study; return the path of the HTML report."""
    from autoenchorder.evaluate.output import write_report  # noqa: PLC0415
    from autoenchorder.terminal import print_headlines  # noqa: PLC0415

    console = console or Console()
    settings.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    made: list[tuple[Path, Path]] = []
    features_seconds = 0.0

    def procedural_features() -> tuple[Path, Path]:  # made once, for every study needing it
        nonlocal features_seconds
        if not made:
            begun = time.perf_counter()
            made.append(make_procedural_features(settings, console))
            features_seconds = time.perf_counter() - begun
        return made[0]

    plan = plan_demo(settings, console, procedural_features)
    plan_extra_studies(StudyContext(settings, console, plan, procedural_features))
    if "procedural" in plan.recorders:
        plan.recorders["procedural"].writer.record_timing("features", features_seconds)
    console.rule(f"[bold]3 - every model: {', '.join(plan.recorders) or 'no study'}")
    members = run_plan(plan, settings, console)
    finish_studies(plan, console)
    console.rule("[bold]4 - report")
    output = write_report(settings.out)
    print_headlines(output.studies, console)
    score_held_out_songs(settings, plan, members, console)
    console.print(f"\nreport: {output.html}   ({time.perf_counter() - started:.0f} s in all)")
    return output.html


class _Progress:
    """A one-task progress bar: ``with _Progress(console, label, total) as advance``.

    ``advance(note)`` counts one item and shows ``note``.
    """

    def __init__(self, console: Console, label: str, total: int, *, unit: str = "songs") -> None:
        from autoenchorder.progress import counting_progress  # noqa: PLC0415

        self._bar = counting_progress(label, unit=unit, console=console)
        self._task = self._bar.add_task(label, total=total, note="")

    def __enter__(self) -> Callable[..., None]:
        self._bar.start()
        return lambda note="": self._bar.update(self._task, advance=1, note=note)

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
