"""Results of a study's fit jobs into its run directory, in report order, as they arrive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from rich.console import Console

from autoenchorder.evaluate.rundir import RunWriter
from autoenchorder.metrics import regression_metrics
from autoenchorder.models.registry import model_class
from autoenchorder.study.settings import ModelRun
from autoenchorder.train.jobs import FitResult


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
        ensembles: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.writer, self.console, self.curve_keys = writer, console, curve_keys
        self.runs = {run.key: run for run in runs}
        for run in runs:
            # the family is the model class's (a later add_model of the same key keeps it)
            writer.add_model(run.key, family=model_class(run.model).family, label=run.label)
        self.ensembles = {key: tuple(jobs) for key, jobs in (ensembles or {}).items()}
        self._ensemble_of = {job: key for key, jobs in self.ensembles.items() for job in jobs}
        self.members: dict[str, list[FitResult]] = {}
        self._arrived: dict[str, dict[str, FitResult]] = {}

    def model(self, result: FitResult) -> None:
        """Record a model of the study's table, or a member of one of its ensembles.

        A job whose key is a model of the table is recorded as that model (its test
        predictions, timings and history); a job that is a member of an ensemble (it may be
        both) waits for the others, see :meth:`ensemble_member`.
        """
        key = result.job.key
        if key in self.runs or key not in self._ensemble_of:
            self._record(result)
        if key in self._ensemble_of:
            self.ensemble_member(result)

    def _record(self, result: FitResult) -> None:
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

    def ensemble_member(self, result: FitResult) -> None:
        """Keep a member of an ensemble; record the ensemble once all its members arrived.

        ``members[ensemble]`` keeps the members of an ensemble all of whose fits succeeded, in
        the order given (:meth:`fitted_members`: those fitted so far, whatever the others did).
        An ensemble of the table with several members is recorded as their mean
        (:meth:`ensemble`); one with a failed member fails, with the first reason. An ensemble
        of one job is that job's model, recorded as it is; one that is not a model of the table
        is only kept.
        """
        key = self._ensemble_of[result.job.key]
        jobs = self.ensembles[key]
        arrived = self._arrived.setdefault(key, {})
        arrived[result.job.key] = result
        if len(arrived) < len(jobs):
            return
        done = [arrived[job] for job in jobs]
        recorded = key in self.runs and len(jobs) > 1
        errors = [r.error for r in done if r.error is not None]
        if errors:
            if recorded:
                self.failed(key, f"{len(errors)} of {len(jobs)} members failed: {errors[0]}")
            return
        self.members[key] = done
        if recorded:
            self.ensemble(key, done)

    def fitted_members(self, key: str) -> list[FitResult]:
        """The members of ensemble ``key`` fitted so far, in its order (failed ones left out)."""
        arrived = self._arrived.get(key, {})
        done = (arrived.get(job) for job in self.ensembles[key])
        return [r for r in done if r is not None and r.error is None]

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
        if self.console:
            self.console.print(
                f"  {self.writer.meta['name']:<10} {key:<26} mean of {len(members)} fits"
            )

    def curve_point(self, result: FitResult) -> None:
        """Add a learning-curve point (a fit on a share of the training rows, or all of them)."""
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


class KeepingRecorder(StudyRecorder):
    """A :class:`StudyRecorder` that also keeps each successful result, for a finisher."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003, D107
        super().__init__(*args, **kwargs)
        self.results: dict[str, FitResult] = {}

    def model(self, result: FitResult) -> None:  # noqa: D102
        super().model(result)
        if result.error is None:
            self.results[result.job.key] = result


#: separates a model's key from its member number in the key of a seed-averaged model's job
MEMBER_MARK = "#"


def member_key(key: str, member: int) -> str:
    """The job key of member ``member`` (0, 1, ...) of model ``key`` (``"single#1"``)."""
    return f"{key}{MEMBER_MARK}{member}"


class SeedAveragingRecorder(StudyRecorder):
    """Records each model as the mean of ``members`` fits that differ only in the model seed.

    The jobs are keyed :meth:`job_key`; once every member of a model has arrived, the model is
    recorded as their averaged predictions (:meth:`StudyRecorder.ensemble`), and
    ``members[key]`` keeps the members' results (with their states) in member order. A model
    with a failed member fails with its reason. With ``members=1`` the jobs carry the model's
    own key and it is recorded as it is.

    Parameters
    ----------
    writer : RunWriter
    runs : sequence of ModelRun
    console : Console or None
    members : int
        Fits per model (>= 1).
    """

    def __init__(
        self,
        writer: RunWriter,
        runs: Sequence[ModelRun],
        console: Console | None = None,
        *,
        members: int = 1,
    ) -> None:
        if members < 1:
            raise ValueError(f"members must be >= 1, not {members}")
        self.n_members = members
        ensembles = {run.key: [self.job_key(run.key, k) for k in range(members)] for run in runs}
        super().__init__(writer, runs, console, ensembles=ensembles)

    def job_key(self, key: str, member: int) -> str:
        """The key of member ``member``'s job (the model's own key with one member)."""
        return key if self.n_members == 1 else member_key(key, member)
