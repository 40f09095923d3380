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

Every step writes files the next one reads, so a re-run resumes generation and extraction.
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
from autoenchorder.data.splits import Split, holdout_split
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.models.registry import make_model
from autoenchorder.train.api import split_train_val


@dataclass(frozen=True)
class ModelRun:
    """One model of a study: the key it is reported under, the registry name, its options."""

    key: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    label: str | None = None


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
    n_songs: int = 3000
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
        ModelRun("autoenchorder", "autoenchorder", label="Autoen-chorder"),
        ModelRun(
            "autoenchorder-transformer",
            "autoenchorder",
            {"sequence_encoder": "transformer"},
            label="Autoen-chorder, transformer encoder",
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


def _new_model(run: ModelRun, *, seed: int, epochs_scale: float, quiet: bool = False):
    """An unfitted model of ``run``: its config over the seed and the scaled epoch limits."""
    options = {"seed": seed, **_scaled_epochs(run.model, epochs_scale), **run.config}
    if quiet:
        options["quiet"] = True
    return make_model(run.model, **options)


def fit_and_record(
    writer: RunWriter,
    run: ModelRun,
    train: PopularityDataset,
    val: PopularityDataset,
    test: PopularityDataset,
    *,
    seed: int,
    epochs_scale: float = 1.0,
    console: Console | None = None,
):
    """Fit one model, predict the test rows, and write both into the study.

    Returns
    -------
    Model
        The fitted model.
    """
    model = _new_model(run, seed=seed, epochs_scale=epochs_scale)
    started = time.perf_counter()
    model.fit(train, val)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    prediction = model.predict(test)
    predict_seconds = time.perf_counter() - started
    writer.add_model(
        run.key,
        label=run.label,
        config=model.config,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        history=getattr(model, "history_", None),
    )
    writer.add_predictions(run.key, ids=test.ids, y_true=test.y, y_pred=prediction)
    if console:
        mae = float(np.mean(np.abs(prediction - test.y)))
        console.print(f"  {run.key:<28} fit {fit_seconds:6.1f} s   test MAE {mae:6.2f}")
    return model


def run_models(
    writer: RunWriter,
    runs: Sequence[ModelRun],
    ds: PopularityDataset,
    split: Split,
    *,
    seed: int,
    epochs_scale: float,
    console: Console,
    keep: Callable[[str], bool] = lambda key: False,
    dataset_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit every model on one split; return the fitted models ``keep`` asks for, by key.

    ``dataset_info`` adds facts about the dataset to the study (e.g. the corpus's oracle R^2).
    """
    train_all, test = split.apply(ds)
    train, val = split_train_val(train_all, val_size=0.15, seed=seed)
    writer.set_dataset(
        ds.name,
        n=len(ds),
        info={
            **{k: v for k, v in ds.info.items() if isinstance(v, (int, float, str))},
            **(dataset_info or {}),
        },
    )
    writer.set_split(split.kind, seed=seed, n_train=len(train), n_val=len(val), n_test=len(test))
    kept = {}
    for run in runs:
        try:
            model = fit_and_record(
                writer,
                run,
                train,
                val,
                test,
                seed=seed,
                epochs_scale=epochs_scale,
                console=console,
            )
        except Exception as exc:  # noqa: BLE001  one failing model must not end the study
            console.print(f"  [red]{run.key} failed: {type(exc).__name__}: {exc}")
            writer.add_note(f"{run.key} could not be trained: {type(exc).__name__}: {exc}")
            continue
        if keep(run.key):
            kept[run.key] = model
    return kept


def learning_curve(
    writer: RunWriter,
    runs: Sequence[ModelRun],
    ds: PopularityDataset,
    split: Split,
    *,
    fractions: Sequence[float],
    seed: int,
    epochs_scale: float,
) -> None:
    """Refit ``runs`` on seeded fractions of the training rows; score each on the same test rows."""
    from autoenchorder.evaluate.metrics import regression_metrics  # noqa: PLC0415

    train_all, test = split.apply(ds)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train_all))
    for fraction in fractions:
        subset = train_all.take(np.sort(order[: max(10, int(round(fraction * len(train_all))))]))
        train, val = split_train_val(subset, val_size=0.15, seed=seed)
        for run in runs:
            model = _new_model(run, seed=seed, epochs_scale=epochs_scale, quiet=True)
            model.fit(train, val)
            scores = regression_metrics(test.y, model.predict(test))
            writer.add_learning_curve(
                [
                    {
                        "model": run.key,
                        "n_train": len(train),
                        "seed": seed,
                        **{k: v for k, v in scores.items() if isinstance(v, (int, float))},
                    }
                ]
            )


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


def run_procedural_study(settings: DemoSettings, console: Console) -> dict[str, Any]:
    """Study 1: every audio model on the procedural corpus; returns the kept fitted models."""
    from autoenchorder.data.sources.procedural import load_procedural  # noqa: PLC0415

    started = time.perf_counter()
    corpus, store = make_procedural_features(settings, console)
    ds = load_procedural(corpus, store, embedder=settings.embedder)
    split = holdout_split(ds, test_size=0.15, seed=settings.seed)
    corpus_report = ds.info.get("corpus", {}).get("report", {})
    writer = RunWriter(
        settings.out,
        study="procedural",
        order=0,
        title="Procedural audio corpus",
        description=(
            "Songs rendered by autoenchorder's generator, whose popularity is a known function "
            "of song-level attributes and of temporal structure (hook return, energy build, "
            f"first-chorus time) plus an artist effect and noise. Oracle R^2 (noise ceiling): "
            f"{corpus_report.get('oracle_r2', float('nan')):.3f}; share of variance only "
            f"temporal structure explains: {corpus_report.get('temporal_share', float('nan')):.3f}."
        ),
    )
    writer.record_timing("features", time.perf_counter() - started)
    for key in ("oracle_r2", "temporal_share"):
        if key in corpus_report:
            writer.add_note(f"corpus {key.replace('_', ' ')}: {corpus_report[key]:.3f}")
    writer.set_headline("autoenchorder", "hitmusicnet")
    console.rule("[bold]3 - audio models on the procedural corpus")
    started = time.perf_counter()
    runs = _chosen(procedural_models(settings), settings)
    kept = run_models(
        writer,
        runs,
        ds,
        split,
        seed=settings.seed,
        epochs_scale=settings.epochs_scale,
        console=console,
        keep=lambda key: key == "autoenchorder",
        dataset_info={
            k: corpus_report[k] for k in ("oracle_r2", "temporal_share") if k in corpus_report
        },
    )
    writer.record_timing("training", time.perf_counter() - started)
    if settings.learning_curve:
        console.print("learning curve ...")
        started = time.perf_counter()
        curve_runs = [r for r in runs if r.key in ("hitmusicnet", "autoenchorder")]
        learning_curve(
            writer,
            curve_runs,
            ds,
            split,
            fractions=settings.learning_curve,
            seed=settings.seed,
            epochs_scale=settings.epochs_scale,
        )
        writer.record_timing("learning curve", time.perf_counter() - started)
    return {"models": kept, "dataset": ds, "split": split, "corpus": corpus, "store": store}


def run_musicoset_study(settings: DemoSettings, console: Console) -> None:
    """Study 2: the descriptor models on real MusicOSet data, artist-grouped holdout."""
    from autoenchorder.data.sources.musicoset import load_musicoset  # noqa: PLC0415

    root = settings.musicoset_root
    if root is None or not Path(root).is_dir():
        console.print(f"[yellow]MusicOSet not found at {root}; skipping the real-data study")
        return
    console.rule("[bold]4 - descriptor models on MusicOSet (real Spotify popularity)")
    ds = load_musicoset(root)
    if settings.musicoset_rows and settings.musicoset_rows < len(ds):
        rng = np.random.default_rng(settings.seed)
        ds = ds.take(np.sort(rng.choice(len(ds), settings.musicoset_rows, replace=False)))
    split = holdout_split(ds, test_size=0.15, seed=settings.seed)
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
    runs = _chosen(musicoset_models(), settings)
    keys = {r.key for r in runs}
    for with_metadata, without in (
        ("hitmusicnet+metadata", "hitmusicnet-default"),
        ("gbdt+metadata", "gbdt"),
    ):
        if {with_metadata, without} <= keys:
            writer.set_headline(with_metadata, without)
            break
    started = time.perf_counter()
    run_models(
        writer,
        runs,
        ds,
        split,
        seed=settings.seed,
        epochs_scale=settings.epochs_scale,
        console=console,
    )
    writer.record_timing("training", time.perf_counter() - started)


def score_held_out_songs(
    settings: DemoSettings, procedural: dict[str, Any], console: Console
) -> None:
    """The user path: bundle Autoen-chorder, then score a few held-out songs from their files.

    The bundle is an ensemble of the study's model and ``ensemble - 1`` more seeds, fitted on
    the same training rows, so each prediction comes with the ensemble's spread.
    """
    from autoenchorder.bundle import feature_spec_from_dataset, save_bundle  # noqa: PLC0415
    from autoenchorder.predict import Predictor  # noqa: PLC0415
    from autoenchorder.terminal import results_table  # noqa: PLC0415

    model = procedural["models"].get("autoenchorder")
    if model is None:
        return
    console.rule("[bold]5 - scoring held-out songs with the trained bundle")
    ds, split = procedural["dataset"], procedural["split"]
    members = [model]
    if settings.ensemble > 1:
        run = next(r for r in procedural_models(settings) if r.key == "autoenchorder")
        train_all, _ = split.apply(ds)
        train, val = split_train_val(train_all, val_size=0.15, seed=settings.seed)
        for k in range(1, settings.ensemble):
            member = _new_model(
                run, seed=settings.seed + k, epochs_scale=settings.epochs_scale, quiet=True
            )
            members.append(member.fit(train, val))
    folder = settings.out / "bundles" / "autoenchorder"
    for k, member in enumerate(members):
        save_bundle(
            member,
            folder / f"seed-{settings.seed + k}",
            feature_spec=feature_spec_from_dataset(ds, groups=["lowlevel"]),
            extra={"dataset": "procedural", "split": split.kind, "seed": settings.seed + k},
        )
    audio = {p.with_suffix("").name: p for p in (procedural["corpus"] / "audio").rglob("*.*")}
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
    import torch  # noqa: PLC0415

    from autoenchorder.evaluate.output import write_report  # noqa: PLC0415
    from autoenchorder.terminal import print_headlines  # noqa: PLC0415

    console = console or Console()
    settings.out.mkdir(parents=True, exist_ok=True)
    # The models are small: one thread per process beats two contending ones on two cores.
    torch.set_num_threads(settings.torch_threads)
    started = time.perf_counter()
    procedural = run_procedural_study(settings, console)
    run_musicoset_study(settings, console)
    console.rule("[bold]report")
    output = write_report(settings.out)
    print_headlines(output.studies, console)
    score_held_out_songs(settings, procedural, console)
    console.print(f"\nreport: {output.html}   ({time.perf_counter() - started:.0f} s in all)")
    return output.html


class _Progress:
    """A one-task progress bar used as ``with _Progress(console, label, total) as advance``."""

    def __init__(self, console: Console, label: str, total: int) -> None:
        from autoenchorder.progress import counting_progress  # noqa: PLC0415

        self._bar = counting_progress(label, unit="songs", console=console)
        self._task = self._bar.add_task(label, total=total, note="")

    def __enter__(self) -> Callable[[], None]:
        self._bar.start()
        return lambda: self._bar.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()
