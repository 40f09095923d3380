"""Study "multi-target": HitMusicNet on Spotify popularity alone, or jointly with Billboard.

On MusicOSet (artist-grouped split, the MusicOSet study's seed and rows), the same HitMusicNet
(our defaults) is fitted twice on the same rows: with one output (Spotify popularity), and with
three (Spotify popularity, the song's best Billboard year-end score, Hit Predictor's hit label;
:mod:`autoenchorder.models.multitarget`), on the descriptors and, unless ``--quick``, on
descriptors + metadata too. On the descriptors a third model adds Hit Predictor's own songs to
the training rows (``musicoset-hit-rows``: ~25,000 songs MusicOSet lacks, known by their hit
label alone, a held-out artist's dropped), with the extra targets weighted
:data:`HIT_ROWS_AUX_WEIGHT`: MusicOSet's own songs nearly all charted, so only these rows give
the hit label something to teach. The table compares the Spotify-popularity predictions (the
main output) with paired intervals; the headline is that model against the single-target one.
A finisher adds the other outputs' test scores (Billboard R^2, hit AUC) as notes.

Without MusicOSet the study is skipped with a note saying where to put the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.markup import escape

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import find_root, not_found_message
from autoenchorder.data.sources.registry import DataSpec
from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.study.extras import StudyContext
from autoenchorder.study.plan import describe_data, model_seeds_sentence, seed_averaged_jobs
from autoenchorder.study.recorder import SeedAveragingRecorder
from autoenchorder.study.settings import ModelRun
from autoenchorder.train.jobs import FitResult, StudyData, loaded

NAME = "multi-target"
ORDER = 5
#: the extra outputs of the multi-target model, after Spotify popularity
EXTRA_TARGETS: tuple[str, ...] = ("billboard", "hit")
#: songs of the quick run (a seeded sample, as the MusicOSet study's)
QUICK_ROWS = 3000
DESCRIPTORS, WITH_METADATA = ("descriptors",), ("descriptors", "metadata")
#: the weight of the extra targets with Hit Predictor's rows (chosen by validation R^2 over
#: 0.1, 0.3 and 1.0, three seeds; docs/models.md)
HIT_ROWS_AUX_WEIGHT = 0.1
#: key of the multi-target model trained with Hit Predictor's rows, and of its data
HIT_ROWS = "multi+hit-rows"
#: key of the single-output model taught by a teacher that sees the extra targets
TAUGHT = "taught"
#: the teacher's share of the taught model's target (validation R^2 over 0.3 and 0.5, three
#: model seeds, split seed 0; docs/models.md)
TEACHER_WEIGHT = 0.3


def multi_target_runs(*, metadata: bool) -> list[ModelRun]:
    """The study's models in report order.

    Per feature set: single-target, multi-target, and the single-output model taught with the
    extra targets as privileged information; after the descriptors pair, the multi-target
    model with Hit Predictor's own songs.
    """
    targets = ("popularity", *EXTRA_TARGETS)
    sets = [("", DESCRIPTORS, "descriptors")]
    if metadata:
        sets.append(("+metadata", WITH_METADATA, "descriptors + metadata"))
    runs = []
    for suffix, groups, words in sets:
        base = {"setting": "default", "groups": groups}
        runs += [
            ModelRun(
                f"single{suffix}",
                "hitmusicnet",
                base,
                label=f"HitMusicNet, Spotify popularity alone ({words})",
            ),
            ModelRun(
                f"multi{suffix}",
                "hitmusicnet",
                {**base, "targets": targets},
                label=f"HitMusicNet, + Billboard score and hit label ({words})",
                cost=1.2,
            ),
            ModelRun(
                f"{TAUGHT}{suffix}",
                "hitmusicnet",
                {**base, "teacher_weight": TEACHER_WEIGHT, "privileged": EXTRA_TARGETS},
                label=f"HitMusicNet, taught by a GBDT that also sees Billboard and hit ({words})",
                cost=1.3,
            ),
        ]
    hit_rows = ModelRun(
        HIT_ROWS,
        "hitmusicnet",
        {
            "setting": "default",
            "groups": DESCRIPTORS,
            "targets": targets,
            "aux_weight": HIT_ROWS_AUX_WEIGHT,
        },
        label=(
            "HitMusicNet, + Billboard score and hit label, + Hit Predictor's own songs "
            "(descriptors)"
        ),
        cost=2.5,
    )
    runs.insert(2, hit_rows)  # after the descriptors pair it is measured against
    return runs


def plan_study(context: StudyContext) -> None:
    """Add the multi-target study to the demo's plan (skipped, with a note, without MusicOSet).

    Parameters
    ----------
    context : StudyContext
    """
    settings, console, plan = context.settings, context.console, context.plan
    root = find_root("musicoset", settings.musicoset_root)
    if root is None:
        console.print(
            f"[yellow]Skipping the multi-target study. {escape(not_found_message('musicoset'))}"
        )
        return
    spec = DataSpec("musicoset", root=str(Path(root).resolve()), extra_targets=("billboard", "hit"))
    rows = QUICK_ROWS if settings.smoke else settings.musicoset_rows
    data = StudyData(spec, seed=settings.seed, rows=rows)
    plan.data[NAME] = data
    hit_rows = DataSpec("musicoset-hit-rows", root=spec.root)
    plan.data[f"{NAME}/{HIT_ROWS}"] = replace(data, supplement=hit_rows)
    runs = multi_target_runs(metadata=not settings.smoke)
    writer = RunWriter(
        settings.out,
        study=NAME,
        order=ORDER,
        title="MusicOSet: several targets at once",
        description=(
            "HitMusicNet (our defaults) trained on Spotify popularity alone, or jointly with "
            "the song's best Billboard year-end score and Hit Predictor's hit / non-hit label "
            "(one output each, a masked joint loss: MSE on the scaled scores, cross-entropy on "
            "the label; a song without a target leaves it out). Same songs, split and seed; "
            "the table scores the Spotify-popularity output. The headline model also trains "
            "on Hit Predictor's songs that MusicOSet lacks (their hit label only; no artist of "
            f"a validation or test song), the extra targets weighted {HIT_ROWS_AUX_WEIGHT}. "
            "The taught model has one output and learns, on its training songs, "
            f"{1 - TEACHER_WEIGHT:g} x popularity + {TEACHER_WEIGHT:g} x a gradient-boosting "
            "teacher's prediction from its features, the Billboard score and the hit label "
            "(out of fold, artist-grouped: the extra targets as privileged information, never "
            "an input at prediction). "
            f"{model_seeds_sentence(settings.model_seeds)}"
            + (
                " Here a refit with another seed moves a model's R^2 as much as these models "
                "differ (docs/models.md)."
                if settings.model_seeds == 1
                else ""
            )
        ),
    )
    ds, split = loaded(data)
    describe_data(writer, data, ds, split, **_known_counts(ds))
    writer.set_headline(HIT_ROWS, "single", target="matches")  # the target: multi >= single
    recorder = SeedAveragingRecorder(writer, runs, console, members=settings.model_seeds)
    plan.recorders[NAME] = recorder
    plan.jobs += seed_averaged_jobs(
        NAME,
        recorder,
        seed=settings.seed,
        epochs_scale=settings.epochs_scale,
        keep_state=True,
        data={HIT_ROWS: f"{NAME}/{HIT_ROWS}"},
    )
    plan.finishers.append((NAME, lambda: note_other_outputs(writer, recorder.members, data)))


def note_other_outputs(
    writer: RunWriter, members: dict[str, list[FitResult]], data: StudyData
) -> list[str]:
    """Add a note per multi-target model: its other outputs' test scores.

    Parameters
    ----------
    writer : RunWriter
    members : dict of str to list of FitResult
        Each model's fits (one per model seed) with their fitted states, by key; the outputs
        scored are their mean.
    data : StudyData
        The study's data (rebuilt here, as the jobs did).

    Returns
    -------
    list of str
        The notes added.
    """
    from autoenchorder.models.registry import model_from_state  # noqa: PLC0415

    multi = {
        key: fits
        for key, fits in members.items()
        if fits and all(r.state for r in fits) and _targets(fits[0]) != ("popularity",)
    }
    if not multi:
        return []
    ds, split = loaded(data)
    _, _, test = data.parts(ds, split)
    notes = []
    for key, fits in multi.items():
        outputs = [model_from_state(*r.state).predict_targets(test) for r in fits]
        mean = sum(outputs[1:], outputs[0]) / len(outputs)
        scores = other_output_scores(test, mean, _targets(fits[0])[1:])
        text = ", ".join(scores) if scores else "no test song has the other targets"
        notes.append(f"{key}: other outputs on the test songs: {text}")
        writer.add_note(notes[-1])
    writer.save()
    return notes


def other_output_scores(
    test: PopularityDataset, outputs: pd.DataFrame, names: Sequence[str]
) -> list[str]:
    """``"billboard R^2 0.123 (n=3000)"``, ``"hit AUC 0.61 (n=2200, 12 non-hits)"`` ...

    Parameters
    ----------
    test : PopularityDataset
        Test rows with ``extra_targets``.
    outputs : pd.DataFrame
        :meth:`HitMusicNet.predict_targets` on ``test``.
    names : sequence of str
        The extra targets to score.

    Returns
    -------
    list of str
    """
    from sklearn.metrics import r2_score, roc_auc_score  # noqa: PLC0415

    texts = []
    for name in names:
        if test.extra_targets is None or name not in test.extra_targets.columns:
            continue
        truth = test.extra_targets[name].to_numpy(np.float64)
        known = np.isfinite(truth)
        if not known.any():
            continue
        y, p = truth[known], outputs[name].to_numpy(np.float64)[known]
        if np.isin(y, (0.0, 1.0)).all():
            negatives = int((y == 0).sum())
            auc = roc_auc_score(y, p) if 0 < negatives < len(y) else math.nan
            texts.append(f"{name} AUC {auc:.3f} (n={len(y)}, {negatives} negatives)")
        else:
            r2 = r2_score(y, p)
            texts.append(f"{name} R^2 {r2:.3f} (n={len(y)})")
    return texts


def _targets(result: FitResult) -> tuple[str, ...]:
    return tuple(result.config.get("targets", ("popularity",)))


def _known_counts(ds: PopularityDataset) -> dict[str, int]:
    """Songs that have each extra target (for the dataset's description)."""
    if ds.extra_targets is None:
        return {}
    return {f"n_{name}": int(ds.extra_targets[name].notna().sum()) for name in ds.extra_targets}
