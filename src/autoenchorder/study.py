"""The whole study end to end, offline: what ``autoenchorder demo`` (and ``make demo``) runs.

1. **Procedural audio** -- generate a corpus whose popularity is known by construction, extract
   the 207 low-level features and the musicnn sequences, and train and test the baselines, the
   HitMusicNet replica on time-averaged audio features, Autoen-chorder and the alternates on one
   artist-grouped holdout split; plus a learning curve over training-set size.
2. **MusicOSet** -- real Spotify popularity with descriptors and metadata: the descriptor models
   (HitMusicNet with and without metadata, gradient boosting, baselines) on an artist-grouped
   holdout: how much do artist and metadata carry?
3. The report (``OUT/report.html``) and the headline tables on the terminal.
4. The user path: a trained Autoen-chorder bundle scores a few held-out songs with ``predict``.

Every step writes files the next one reads, so a re-run resumes where an interrupted one
stopped: generation and extraction skip what is done, and every fitted model is kept in
``OUT/jobs/`` (keyed by its complete configuration and data) and not fitted again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.data.splits import Split
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.train.job_cache import JobCache
from autoenchorder.train.jobs import FitJob, FitResult, StudyData, loaded, run_jobs

#: The model whose bundle scores songs at the end (an ensemble of seeds).
ENSEMBLE_MODEL = "autoenchorder"
#: Models refitted on shares of the training rows for the learning curve.
LEARNING_CURVE_MODELS: tuple[str, ...] = ("hitmusicnet", "autoenchorder")


@dataclass(frozen=True)
class ModelRun:
    """One model of a study: the key it is reported under, the registry name, its options."""

    key: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    cost: float = 1.0


@dataclass
class DemoSettings:
    """Sizes and options of the demo (``quick()`` gives the smoke-test variant).

    Attributes
    ----------
    out : Path
        Run directory; ``report.html`` is written there.
    n_songs : int
        Songs in the procedural corpus.
    min_duration, max_duration : float
        Song lengths in seconds.
    seed : int
        Seeds the corpus, the splits and every model.
    workers : int
        Processes for corpus generation and feature extraction.
    embedder : str
        Sequence embedder for the audio models.
    epochs_scale : float
        Multiplies every model's epoch limits (early stopping usually ends sooner).
    learning_curve : tuple of float
        Training-set fractions for the learning curve (empty: none).
    musicoset_root : Path or None
        The MusicOSet folder (skipped with a note when absent).
    musicoset_rows : int or None
        Train and test on a seeded sample of this many MusicOSet songs (None: all).
    models : tuple of str or None
        Keys of the models to run in each study (None: all of them).
    n_predict : int
        Held-out songs scored by the predictor at the end.
    ensemble : int
        Seeds of Autoen-chorder in the predictor's bundle (their spread is the uncertainty).
    torch_threads : int
        Threads torch uses for training (the models are small: 1 is fastest on 2 cores).
    """

    out: Path
    n_songs: int = 4000
    min_duration: float = 10.0
    max_duration: float = 30.0
    seed: int = 0
    workers: int = 2
    embedder: str = "musicnn-msd"
    epochs_scale: float = 1.0
    learning_curve: tuple[float, ...] = (0.33, 0.67)
    musicoset_root: Path | None = None
    musicoset_rows: int | None = None
    models: tuple[str, ...] | None = None
    n_predict: int = 5
    ensemble: int = 3
    torch_threads: int = 1

    @classmethod
    def quick(cls, out: Path, **overrides: Any) -> DemoSettings:
        """A smoke-test run: a small corpus, short songs, few epochs, no learning curve."""
        values: dict[str, Any] = dict(
            n_songs=120,
            min_duration=9.0,
            max_duration=12.0,
            epochs_scale=0.25,
            learning_curve=(),
            n_predict=3,
            ensemble=2,
            musicoset_rows=3000,
            models=(
                "mean",
                "random-normal",
                "gbdt",
                "gbdt+metadata",
                "hitmusicnet",
                "autoenchorder",
            ),
        )
        values.update(overrides)
        return cls(out=out, **values)


def procedural_models(settings: DemoSettings) -> list[ModelRun]:
    """The models of the procedural-audio study, in report order."""
    return [
        ModelRun("mean", "mean", label="Training mean"),
        ModelRun("random-normal", "random-normal", label="Random N(mean, sd)"),
        ModelRun(
            "gbdt", "gbdt", {"groups": ("lowlevel",)}, label="Gradient boosting (207 features)"
        ),
        ModelRun(
            "hitmusicnet",
            "hitmusicnet",
            {"setting": "faithful", "groups": ("lowlevel",)},
            label="HitMusicNet replica (207 features)",
        ),
        ModelRun(
            "hitmusicnet-default",
            "hitmusicnet",
            {"setting": "default", "groups": ("lowlevel",)},
            label="HitMusicNet, our defaults",
        ),
        ModelRun("autoenchorder", "autoenchorder", label="Autoen-chorder", cost=4.0),
        ModelRun(
            "autoenchorder-faithful",
            "autoenchorder",
            {"setting": "faithful"},
            label="Autoen-chorder, the study's recipe",
            cost=3.0,
        ),
        ModelRun(
            "autoenchorder-transformer",
            "autoenchorder",
            {"sequence_encoder": "transformer"},
            label="Autoen-chorder, transformer encoder",
            cost=4.0,
        ),
        ModelRun("single-ae", "single-ae", label="Single autoencoder"),
        ModelRun("rnn", "rnn", label="RNN head"),
        ModelRun("hmn-embedding", "hmn-embedding", label="HMN + embedding"),
        ModelRun("lossnet", "lossnet", label="LossNet (HMN + correction)"),
    ]


def musicoset_models() -> list[ModelRun]:
    """The descriptor models of the MusicOSet study, in report order."""
    desc, meta = ("descriptors",), ("descriptors", "metadata")
    return [
        ModelRun("mean", "mean", label="Training mean"),
        ModelRun("random-normal", "random-normal", label="Random N(mean, sd)"),
        ModelRun("gbdt", "gbdt", {"groups": desc}, label="Gradient boosting, descriptors"),
        ModelRun("gbdt+metadata", "gbdt", {"groups": meta}, label="Gradient boosting + metadata"),
        ModelRun(
            "hitmusicnet",
            "hitmusicnet",
            {"setting": "faithful", "groups": desc},
            label="HitMusicNet replica, descriptors",
        ),
        ModelRun(
            "hitmusicnet-default",
            "hitmusicnet",
            {"setting": "default", "groups": desc},
            label="HitMusicNet (our defaults), descriptors",
        ),
        ModelRun(
            "hitmusicnet+metadata",
            "hitmusicnet",
            {"setting": "default", "groups": meta},
            label="HitMusicNet (our defaults) + metadata",
        ),
    ]


def _chosen(runs: list[ModelRun], settings: DemoSettings) -> list[ModelRun]:
    if settings.models is None:
        return runs
    return [r for r in runs if r.key in settings.models]


def _scaled_epochs(model: str, scale: float) -> dict[str, int]:
    if scale == 1.0:
        return {}
    from autoenchorder.models.registry import model_class  # noqa: PLC0415

    fields = model_class(model).config_class.__dataclass_fields__
    out = {}
    for name in ("epochs", "ae_epochs", "finetune_epochs"):
        if name in fields and isinstance(fields[name].default, int):
            out[name] = max(2, int(round(fields[name].default * scale)))
    return out


def fit_job(
    study: str,
    run: ModelRun,
    *,
    seed: int,
    epochs_scale: float = 1.0,
    fraction: float | None = None,
    keep_state: bool = False,
    key: str | None = None,
) -> FitJob:
    """The job fitting ``run`` in ``study``: its config over the seed and scaled epoch limits."""
    options = {"seed": seed, **_scaled_epochs(run.model, epochs_scale), **run.config}
    cost = run.cost * (fraction if fraction is not None else 1.0)
    return FitJob(
        study,
        key or run.key,
        run.model,
        options,
        fraction=fraction,
        keep_state=keep_state,
        cost=cost,
    )


class StudyRecorder:
    """Writes the results of one study's jobs into its run directory as they arrive.

    The models are registered up front in report order, so the report's tables keep that order
    whatever order the jobs finish in; a model that fails is dropped with a note.
    """

    def __init__(
        self,
        writer: RunWriter,
        runs: Sequence[ModelRun],
        console: Console | None = None,
        *,
        curve_keys: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.writer, self.console, self.curve_keys = writer, console, curve_keys
        self.runs = {run.key: run for run in runs}
        for run in runs:
            writer.add_model(run.key, label=run.label)

    def model(self, result: FitResult) -> None:
        """Record a model of the study's table (its test predictions, timings and history)."""
        key = result.job.key
        if result.error is not None:
            self.failed(key, result.error)
            return
        self.writer.add_model(
            key,
            label=self.runs[key].label,
            config=result.config,
            fit_seconds=result.fit_seconds,
            predict_seconds=result.predict_seconds,
            history=result.history,
        )
        self.writer.add_predictions(
            key, ids=result.ids, y_true=result.y_true, y_pred=result.y_pred, proba=result.proba
        )
        if key in self.curve_keys:
            self.curve_point(result)
        if self.console:
            mae = float(np.mean(np.abs(result.y_pred - result.y_true)))
            note = "  (cached)" if result.cached else ""  # fitted by an earlier run
            self.console.print(
                f"  {self.writer.meta['name']:<10} {key:<26} fit {result.fit_seconds:5.1f} s"
                f"  test MAE {mae:5.2f}{note}"
            )

    def ensemble(self, key: str, members: Sequence[FitResult]) -> None:
        """Record the mean of the members' test predictions (their sd as the uncertainty)."""
        ids = members[0].ids
        if any(not np.array_equal(m.ids, ids) for m in members):
            self.failed(key, "the ensemble members scored different test rows")
            return
        predictions = np.stack([m.y_pred for m in members])
        self.writer.add_model(
            key,
            label=self.runs[key].label,
            config={"members": [m.config for m in members]},
            fit_seconds=sum(m.fit_seconds for m in members),
            predict_seconds=sum(m.predict_seconds for m in members),
        )
        self.writer.add_predictions(
            key,
            ids=ids,
            y_true=members[0].y_true,
            y_pred=predictions.mean(0),
            y_std=predictions.std(0),
        )

    def curve_point(self, result: FitResult) -> None:
        """Add a learning-curve point (a fit on a share of the training rows, or all of them)."""
        from autoenchorder.evaluate.metrics import regression_metrics  # noqa: PLC0415

        if result.error is not None:
            self.writer.add_note(f"learning curve: {result.job.key} failed: {result.error}")
            return
        if self.writer.meta["task"] != "regression":
            return
        scores = regression_metrics(result.y_true, result.y_pred)
        self.writer.add_learning_curve(
            [
                {
                    "model": result.job.key,
                    "n_train": result.n_train,
                    "seed": result.job.options.get("seed", 0),
                    **{k: v for k, v in scores.items() if isinstance(v, (int, float))},
                }
            ]
        )

    def failed(self, key: str, reason: str) -> None:
        """Drop a model that could not be trained, with a note saying why."""
        if self.console:
            self.console.print(f"  [red]{key} failed: {reason}")
        self.writer.meta["models"].pop(key, None)
        self.writer.add_note(f"{key} could not be trained: {reason}")


# ---------------------------------------------------------------------------- the studies
def make_procedural_features(settings: DemoSettings, console: Console) -> tuple[Path, Path]:
    """Generate the corpus and extract its features (both resumable); return (corpus, store)."""
    from autoenchorder.data.extract import extract_corpus  # noqa: PLC0415
    from autoenchorder.data.procedural.generate import CorpusConfig, write_corpus  # noqa: PLC0415

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
        corpus / "audio", store, workers=settings.workers, embedder=settings.embedder, progress=True
    )
    console.print(
        f"extract: {extracted.done} done, {extracted.skipped} already stored, "
        f"{extracted.failed} failed, {extracted.seconds:.0f} s"
    )
    return corpus, store


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
            "no artist is on both sides, so the models cannot memorise artists."
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


def _describe_data(
    writer: RunWriter, data: StudyData, ds: PopularityDataset, split: Split, **info: Any
) -> None:
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
    ensemble_keys: tuple[str, ...] = ()


def plan_demo(settings: DemoSettings, corpus: Path, store: Path, console: Console) -> DemoPlan:
    """Write the studies' headers and list every fit of the demo (run them with run_jobs)."""
    plan = DemoPlan()
    seed, scale = settings.seed, settings.epochs_scale
    spec = DataSpec("procedural", root=str(corpus), store=str(store), embedder=settings.embedder)
    plan.data["procedural"] = StudyData(spec, seed=seed)
    ds, split = loaded(plan.data["procedural"])
    writer = procedural_writer(settings, ds)
    report = ds.info.get("corpus", {}).get("report", {})
    _describe_data(
        writer,
        plan.data["procedural"],
        ds,
        split,
        **{k: report[k] for k in ("oracle_r2", "temporal_share") if k in report},
    )
    runs = _chosen(procedural_models(settings), settings)
    curve_runs = (
        [r for r in runs if r.key in LEARNING_CURVE_MODELS] if settings.learning_curve else []
    )
    by_key = {run.key: run for run in runs}
    if ENSEMBLE_MODEL in by_key and settings.ensemble > 1:
        runs.insert(
            runs.index(by_key[ENSEMBLE_MODEL]) + 1,
            ModelRun(
                f"{ENSEMBLE_MODEL}-ensemble",
                ENSEMBLE_MODEL,
                label=f"Autoen-chorder, {settings.ensemble} seeds averaged (the predictor)",
            ),
        )
    plan.recorders["procedural"] = StudyRecorder(
        writer, runs, console, curve_keys={r.key for r in curve_runs}
    )
    for run in runs:
        if run.key == f"{ENSEMBLE_MODEL}-ensemble":
            continue  # the mean of the members' predictions, recorded when they are all done
        keep = run.key == ENSEMBLE_MODEL
        plan.jobs.append(fit_job("procedural", run, seed=seed, epochs_scale=scale, keep_state=keep))
    if ENSEMBLE_MODEL in by_key:
        keys = [ENSEMBLE_MODEL]
        for k in range(1, settings.ensemble):
            key = f"{ENSEMBLE_MODEL}.seed-{seed + k}"
            keys.append(key)
            plan.jobs.append(
                fit_job(
                    "procedural",
                    by_key[ENSEMBLE_MODEL],
                    seed=seed + k,
                    epochs_scale=scale,
                    keep_state=True,
                    key=key,
                )
            )
        plan.ensemble_keys = tuple(keys)
    for fraction in settings.learning_curve:
        for run in curve_runs:
            plan.jobs.append(
                fit_job("procedural", run, seed=seed, epochs_scale=scale, fraction=fraction)
            )

    root = settings.musicoset_root
    if root is None or not Path(root).is_dir():
        console.print(f"[yellow]MusicOSet not found at {root}; skipping the real-data study")
        return plan
    plan.data["musicoset"] = StudyData(
        DataSpec("musicoset", root=str(root)), seed=seed, rows=settings.musicoset_rows
    )
    runs = _chosen(musicoset_models(), settings)
    writer = musicoset_writer(settings, runs)
    _describe_data(writer, plan.data["musicoset"], *loaded(plan.data["musicoset"]))
    plan.recorders["musicoset"] = StudyRecorder(writer, runs, console)
    plan.jobs += [fit_job("musicoset", run, seed=seed, epochs_scale=scale) for run in runs]
    return plan


def run_plan(plan: DemoPlan, settings: DemoSettings, console: Console) -> dict[str, FitResult]:
    """Fit every job of the plan in ``settings.workers`` processes, recording as they finish.

    Returns
    -------
    dict of str to FitResult
        The ensemble members' results (with their fitted states), in seed order.
    """
    members: dict[str, FitResult] = {}
    fit_seconds = dict.fromkeys(plan.recorders, 0.0)
    cached = dict.fromkeys(plan.recorders, 0)
    started = time.perf_counter()
    with _Progress(console, "train models", len(plan.jobs), unit="models") as advance:
        for result in run_jobs(
            plan.jobs,
            plan.data,
            workers=settings.workers,
            threads=settings.torch_threads,
            cache=JobCache(settings.out / "jobs"),
        ):
            job, recorder = result.job, plan.recorders[result.job.study]
            fit_seconds[job.study] += result.fit_seconds
            cached[job.study] += result.cached
            if job.fraction is not None:
                recorder.curve_point(result)
            elif job.key in plan.ensemble_keys and job.key != ENSEMBLE_MODEL:
                if result.error is None:
                    members[job.key] = result
            else:
                recorder.model(result)
                if job.key == ENSEMBLE_MODEL and result.error is None:
                    members[job.key] = result
            advance(f"{job.study} {job.key}")
    wall = time.perf_counter() - started
    done = [members[key] for key in plan.ensemble_keys if key in members]
    if len(plan.ensemble_keys) > 1:
        if len(done) == len(plan.ensemble_keys):
            plan.recorders["procedural"].ensemble(f"{ENSEMBLE_MODEL}-ensemble", done)
        else:
            plan.recorders["procedural"].failed(
                f"{ENSEMBLE_MODEL}-ensemble", "a member of the ensemble failed"
            )
    for study, recorder in plan.recorders.items():
        recorder.writer.record_timing("model fits, summed", fit_seconds[study])
        recorder.writer.record_timing(
            f"training, all studies ({settings.workers} processes, wall)", wall
        )
        if cached[study]:
            recorder.writer.add_note(
                f"{cached[study]} fits were read from an earlier run ({settings.out / 'jobs'}); "
                "their fit times are the earlier run's, the wall time is this run's"
            )
    return {m.job.key: m for m in done}


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
    from autoenchorder.models.registry import model_from_state  # noqa: PLC0415
    from autoenchorder.predict import Predictor  # noqa: PLC0415
    from autoenchorder.terminal import results_table  # noqa: PLC0415

    if ENSEMBLE_MODEL not in members:
        return
    console.rule("[bold]5 - scoring held-out songs with the trained bundle")
    ds, split = loaded(plan.data["procedural"])
    folder = settings.out / "bundles" / ENSEMBLE_MODEL
    for result in members.values():
        seed = result.job.options["seed"]
        save_bundle(
            model_from_state(*result.state),
            folder / f"seed-{seed}",
            feature_spec=feature_spec_from_dataset(ds, groups=["lowlevel"]),
            extra={"dataset": "procedural", "split": split.kind, "seed": seed},
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


def run_demo(settings: DemoSettings, console: Console | None = None) -> Path:
    """Run the whole study; return the path of the HTML report."""
    from autoenchorder.evaluate.output import write_report  # noqa: PLC0415
    from autoenchorder.terminal import print_headlines  # noqa: PLC0415

    console = console or Console()
    settings.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    corpus, store = make_procedural_features(settings, console)
    features_seconds = time.perf_counter() - started
    console.rule("[bold]3 - every model: procedural corpus and MusicOSet")
    plan = plan_demo(settings, corpus, store, console)
    plan.recorders["procedural"].writer.record_timing("features", features_seconds)
    members = run_plan(plan, settings, console)
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
