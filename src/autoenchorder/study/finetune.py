"""Study "finetune": Autoen-chorder on frozen musicnn embeddings, or with musicnn trained in series.

On songs of the demo's procedural corpus (all of the quick corpus; a seeded sample of
:data:`FULL_SONGS` otherwise), the study makes its own feature store holding exactly those
songs -- their low-level rows and frozen ``musicnn-msd`` sequences copied from the demo's
store, plus musicnn's log-mel patches (``musicnn-logmel``, cached once, resumable) -- and fits,
on the same rows, split and seed:

- ``autoenchorder-frozen``: Autoen-chorder on the stored (frozen) musicnn-msd embeddings;
- ``autoenchorder-finetune``: the same model whose sequence branch runs musicnn (the PyPI
  weights) on the cached patches, musicnn's back-end trained end to end with it at a lower
  learning rate (:mod:`autoenchorder.models.autoenchorder_finetune`).

The headline is fine-tuned vs frozen (paired intervals). The fine-tune's cost in time is in the
table (fit seconds) and in a note added once both fits are recorded; the patch caching is a
timing of its own.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.errors import DataError
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study.extras import StudyContext
from autoenchorder.study.plan import describe_data, study_job
from autoenchorder.study.recorder import StudyRecorder
from autoenchorder.study.settings import ModelRun
from autoenchorder.train.jobs import StudyData, loaded

NAME = "finetune"
ORDER = 3
#: Songs of the demo's corpus the full study uses (a seeded sample; the quick one takes all):
#: each fine-tuned fit runs musicnn's frozen layers over every song once (~45x real time per
#: CPU core), which sets the study's time (docs/models.md).
FULL_SONGS = 800
FROZEN, TUNED = "autoenchorder-frozen", "autoenchorder-finetune"
#: keys of the study's two datasets in the plan: same songs, frozen frames or log-mel patches
FROZEN_DATA, PATCH_DATA = "finetune", "finetune-patches"


def finetune_runs() -> list[ModelRun]:
    """The study's two models, in report order."""
    return [
        ModelRun(
            FROZEN,
            "autoenchorder",
            label="Autoen-chorder on frozen musicnn-msd embeddings",
            cost=4.0,
        ),
        ModelRun(
            TUNED,
            "autoenchorder-finetune",
            label="Autoen-chorder with musicnn's back-end fine-tuned in series",
            cost=8.0,
        ),
    ]


def study_songs(corpus: Path, store: Path, *, n: int | None, seed: int) -> list[str]:
    """A seeded sample of ``n`` labelled songs of the store (all of them when ``n`` is None).

    Returns
    -------
    list of str
        Track ids, sorted.
    """
    ds = load_dataset(DataSpec("procedural", root=str(corpus), store=str(store)))
    ids = np.sort(ds.ids)
    if n is not None and n < len(ids):
        ids = np.sort(np.random.default_rng(seed).choice(ids, n, replace=False))
    return [str(i) for i in ids]


def plan_study(context: StudyContext) -> None:
    """Prepare the study's store (rows copied, patches cached) and add its two fits to the plan.

    Parameters
    ----------
    context : StudyContext
    """
    from autoenchorder.data.patches import PATCH_EMBEDDER, cache_patches, subset_store  # noqa: PLC0415

    settings, console, plan = context.settings, context.console, context.plan
    corpus, demo_store = context.procedural()
    started = time.perf_counter()
    songs = study_songs(
        corpus, demo_store, n=None if settings.smoke else FULL_SONGS, seed=settings.seed
    )
    store = settings.out / f"{NAME}-store"
    subset_store(demo_store, store, songs, embedders=(settings.embedder,))
    summary = cache_patches(
        corpus / "audio", store, track_ids=set(songs), workers=settings.workers, progress=True
    )
    prepared = time.perf_counter() - started
    console.print(
        f"{NAME}: {len(songs)} songs; log-mel patches {summary.done} cached now, "
        f"{summary.skipped} already, {summary.failed} failed ({prepared:.0f} s)"
    )
    frozen = StudyData(
        DataSpec("procedural", root=str(corpus), store=str(store), embedder=settings.embedder),
        seed=settings.seed,
    )
    patches = StudyData(
        DataSpec("procedural", root=str(corpus), store=str(store), embedder=PATCH_EMBEDDER),
        seed=settings.seed,
    )
    ds, split = loaded(frozen)
    check_same_rows(loaded(frozen), loaded(patches))
    plan.data[FROZEN_DATA], plan.data[PATCH_DATA] = frozen, patches
    writer = RunWriter(
        settings.out,
        study=NAME,
        order=ORDER,
        title="musicnn fine-tuned in series",
        description=(
            f"Autoen-chorder on frozen {settings.embedder} embeddings, or with musicnn run "
            "inside its sequence branch on cached log-mel patches and musicnn's back-end "
            "(dense 1506 -> 200) trained end to end with it at a tenth of the learning rate. "
            f"Same {len(songs)} songs of the procedural corpus, same split and seed."
        ),
    )
    describe_data(writer, frozen, ds, split, songs_of_demo_corpus=len(songs))
    writer.record_timing("study store and log-mel patches", prepared)
    writer.set_headline(TUNED, FROZEN, target="matches")  # the target: tuned >= frozen
    runs = finetune_runs()
    recorder = StudyRecorder(writer, runs, console)
    plan.recorders[NAME] = recorder
    plan.jobs += [
        study_job(
            NAME,
            run,
            seed=settings.seed,
            epochs_scale=settings.epochs_scale,
            data=PATCH_DATA if run.key == TUNED else FROZEN_DATA,
        )
        for run in runs
    ]
    plan.finishers.append((NAME, lambda: note_cost(writer)))


def check_same_rows(a: tuple, b: tuple) -> None:
    """Raise DataError unless two (dataset, split) pairs hold the same songs and test rows."""
    (ds_a, split_a), (ds_b, split_b) = a, b
    if not np.array_equal(ds_a.ids, ds_b.ids):
        raise DataError(
            f"the {NAME} study's two datasets differ ({len(ds_a)} vs {len(ds_b)} songs): "
            "a song lacks its frozen embedding or its log-mel patches"
        )
    if list(split_a.test_ids) != list(split_b.test_ids):
        raise DataError(f"the {NAME} study's two datasets were split differently")


def note_cost(writer: RunWriter) -> str | None:
    """Add a note with the fine-tune's cost in time (its fit against the frozen model's).

    Returns
    -------
    str or None
        The note (None when a fit is missing).
    """
    models = writer.meta["models"]
    tuned, frozen = (models.get(k, {}).get("fit_seconds") for k in (TUNED, FROZEN))
    if not tuned or not frozen:
        return None
    scoring = [models.get(k, {}).get("predict_seconds") or 0.0 for k in (TUNED, FROZEN)]
    note = (
        f"time: the fine-tuned fit took {tuned:.0f} s against {frozen:.0f} s frozen "
        f"({tuned / frozen:.1f}x, +{tuned - frozen:.0f} s), most of it running musicnn's "
        "frozen layers over every training song once (the frozen model reads stored "
        f"embeddings); scoring the test songs {scoring[0]:.1f} s against {scoring[1]:.1f} s"
    )
    writer.add_note(note)
    writer.record_timing("fine-tuned fit", tuned)
    writer.record_timing("frozen fit", frozen)
    return note
