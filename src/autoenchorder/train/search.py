"""Hyper-parameter search with Optuna: the study's exact grid, or a budgeted TPE search.

One *study* lives in an Optuna storage -- a SQLite file by default, or a PostgreSQL database
(``postgresql://user@host/db``) that workers on many machines can reach -- so any number of
worker processes can work on it at once: each runs :func:`run_worker` with the same
:class:`SearchSpec`.

Workers that die
----------------
Each trial runs inside ``study.optimize`` with a heartbeat
(:mod:`autoenchorder.train.search_storage`). A worker killed mid-trial leaves its trial
RUNNING; once its heartbeat is ``grace_seconds`` old, a surviving worker marks it FAIL and
queues a copy with the same parameters (WAITING), which the next free worker runs. A worker
that has nothing left to start keeps waiting while trials are RUNNING, so even the last trial
of a dead worker is run again.

How duplicate work is avoided: claims
-------------------------------------
A *claim* is a trial that holds its point: COMPLETE, RUNNING, WAITING, FAIL from the objective
(user attr ``error``: re-running it would fail again), or FAIL because its worker died when no
retry names it (its retries are used up). A trial is PRUNED at once, unevaluated, if

- ``grid``: a lower-numbered claim already has the same parameters, or
- (any sampler) lower-numbered claims already fill the budget.

Trial numbers are handed out by the storage in creation order, so of two workers that take the
same point at once, the later trial yields. Optuna's :class:`~optuna.samplers.GridSampler`
gives trial number ``i`` grid point ``i`` for ``i < grid size`` and an unvisited point after
that; a retried trial keeps its point. So every grid point is completed exactly once.
``tpe``: the same budget rule with ``n_trials`` as the budget; TPE proposals are seeded per
worker (``seed + worker``) so workers do not propose in lock-step.

Workers are local processes (:func:`run_workers`), Ray actors (``engine=EngineSpec("ray")``;
each must reach the storage: PostgreSQL on a cluster), or anything that runs
:func:`run_worker` with the same spec: a command started on each machine.

The objective receives the trial's parameters as a dict and returns a dict of metrics; the
search minimises (or maximises) ``spec.metric`` of it. :class:`ModelObjective` fits a
registered model on seeded training rows of a dataset, stops it early on other rows and returns
the metrics of a third set of rows; the test part of the dataset is dropped before anything is
fitted.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import multiprocessing
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from autoenchorder.config import ConfigError, dumps_toml
from autoenchorder.errors import AutoenchorderError, ModelError
from autoenchorder.progress import counting_progress
from autoenchorder.published import STUDY_GRID
from autoenchorder.train.search_storage import heartbeat_storage

if TYPE_CHECKING:
    import pandas as pd

    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.data.sources.registry import DataSpec
    from autoenchorder.data.splits import Split
    from autoenchorder.engine import EngineSpec

Objective = Callable[[dict[str, Any]], Mapping[str, float]]
SAMPLERS = ("grid", "tpe")
#: metric name -> optimisation direction
DIRECTIONS = {
    "mae": "minimize",
    "mse": "minimize",
    "rmse": "minimize",
    "r2": "maximize",
    "spearman": "maximize",
    "accuracy": "maximize",
    "macro_f1": "maximize",
}
#: what results_table says of a trial whose worker died
LOST_WORKER = "its worker died (no heartbeat)"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSpec:
    """Which study to work on and how to sample it.

    Attributes
    ----------
    space : dict of str to tuple
        Parameter name -> candidate values (default: the Autoen-chorder study's grid,
        :data:`autoenchorder.published.STUDY_GRID`).
    sampler : str
        ``"grid"`` (every combination once) or ``"tpe"`` (a budgeted Bayesian search over the
        same candidates).
    n_trials : int or None
        Total budget across all workers; required for ``"tpe"``; for ``"grid"`` it may cap
        the grid (default: the grid size).
    storage : str
        URL of the study storage: ``"sqlite:///runs/search/study.db"`` (one machine) or
        ``"postgresql://user@host:5432/db"`` (workers on many machines).
    study_name : str
    seed : int
        Seeds the grid order, the TPE sampler and the objective's split.
    metric : str
        Key of the objective's result to optimise, e.g. ``"mae"``.
    heartbeat_seconds : int
        A running trial records a heartbeat this often.
    grace_seconds : int
        A RUNNING trial whose heartbeat is this old belongs to a dead worker: it is marked
        FAIL and its point queued again.
    max_retry : int
        Times one point is queued again after its worker died; then it is recorded FAIL.
    """

    space: dict[str, tuple[Any, ...]] = field(default_factory=lambda: dict(STUDY_GRID))
    sampler: str = "grid"
    n_trials: int | None = None
    storage: str = "sqlite:///study.db"
    study_name: str = "autoenchorder"
    seed: int = 0
    metric: str = "mae"
    heartbeat_seconds: int = 10
    grace_seconds: int = 30
    max_retry: int = 2

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}; use {' or '.join(SAMPLERS)}")
        if self.sampler == "tpe" and not self.n_trials:
            raise ConfigError("a TPE search needs a budget: n_trials")
        if self.metric not in DIRECTIONS:
            raise ConfigError(f"unknown metric {self.metric!r}; use one of {', '.join(DIRECTIONS)}")
        for name, values in self.space.items():
            if not values:
                raise ConfigError(f"search parameter {name!r} has no candidate values")
        if not (isinstance(self.heartbeat_seconds, int) and self.heartbeat_seconds >= 1):
            raise ConfigError("heartbeat_seconds must be a whole number of seconds, at least 1")
        if not (
            isinstance(self.grace_seconds, int) and self.grace_seconds > self.heartbeat_seconds
        ):
            raise ConfigError(
                "grace_seconds must be a whole number of seconds longer than heartbeat_seconds"
            )
        if self.max_retry < 0:
            raise ConfigError("max_retry must be 0 or more")

    @property
    def grid_size(self) -> int:
        """Number of combinations in ``space``."""
        return math.prod(len(v) for v in self.space.values())

    @property
    def budget(self) -> int:
        """Trials the study should complete (or fail) in the end."""
        if self.sampler == "grid":
            return min(self.grid_size, self.n_trials or self.grid_size)
        return int(self.n_trials or 0)

    @property
    def direction(self) -> str:
        """``"minimize"`` or ``"maximize"``, from ``metric``."""
        return DIRECTIONS[self.metric]

    @property
    def poll_seconds(self) -> float:
        """How often a waiting worker looks for dead workers' trials."""
        return min(float(self.heartbeat_seconds), 2.0)


def sqlite_url(path: str | Path) -> str:
    """The SQLAlchemy URL of a SQLite file (absolute, so every worker finds the same file)."""
    return f"sqlite:///{Path(path).resolve().as_posix()}"


def open_study(spec: SearchSpec, *, worker: int = 0) -> optuna.Study:
    """Create the study in its storage, or load it when it exists.

    Parameters
    ----------
    spec : SearchSpec
    worker : int
        Worker index (seeds the TPE sampler differently per worker).

    Returns
    -------
    optuna.Study

    Raises
    ------
    StudyStorageError
        The storage's driver is missing or its server cannot be reached.
    """
    # a trial that fails is recorded in the study (and trials.csv); no traceback per trial
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    if spec.sampler == "grid":
        sampler: optuna.samplers.BaseSampler = _BudgetGridSampler(
            {k: list(v) for k, v in spec.space.items()}, seed=spec.seed
        )
    else:
        sampler = _HeartbeatTPESampler(seed=spec.seed + worker)
    storage = heartbeat_storage(
        spec.storage,
        heartbeat_seconds=spec.heartbeat_seconds,
        grace_seconds=spec.grace_seconds,
        max_retry=spec.max_retry,
    )
    return optuna.create_study(
        storage=storage,
        study_name=spec.study_name,
        sampler=sampler,
        direction=spec.direction,
        load_if_exists=True,
    )


def _first_heartbeat(study: optuna.Study, trial: FrozenTrial) -> None:
    # Optuna's heartbeat thread starts only once ``ask`` has returned; a worker that died
    # before would leave a RUNNING trial no one can tell from a live one. Beat at once.
    storage = study._storage  # noqa: SLF001  the study's own storage, an RDBStorage
    if isinstance(storage, optuna.storages.RDBStorage) and trial.state == TrialState.RUNNING:
        storage.record_heartbeat(trial._trial_id)  # noqa: SLF001


class _BudgetGridSampler(optuna.samplers.GridSampler):
    """GridSampler that beats a trial's heart at once and leaves the end of the grid to claims.

    ``GridSampler.after_trial`` stops the study when no point is left unvisited; our workers
    stop by the budget of claims instead (a point whose worker died is visited, yet not done).
    """

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:  # noqa: D102
        _first_heartbeat(study, trial)
        super().before_trial(study, trial)

    def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001, D102
        return None


class _HeartbeatTPESampler(optuna.samplers.TPESampler):
    """TPESampler that beats a trial's heart as soon as the trial exists."""

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:  # noqa: D102
        _first_heartbeat(study, trial)
        super().before_trial(study, trial)


# ----------------------------------------------------------------------------- claims


def _retried(trials: Sequence[FrozenTrial]) -> set[int]:
    """Numbers of the trials a retry trial was queued for."""
    return {n for t in trials for n in t.system_attrs.get("retry_history", ())}


def is_claim(trial: FrozenTrial, retried: set[int]) -> bool:
    """Whether ``trial`` holds its point (see the module's docstring).

    Parameters
    ----------
    trial : FrozenTrial
    retried : set of int
        Numbers of the trials that were queued again (:func:`_retried`).
    """
    if trial.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.WAITING):
        return True
    if trial.state == TrialState.FAIL:
        return "error" in trial.user_attrs or trial.number not in retried
    return False


def claims(trials: Sequence[FrozenTrial], *, before: int | None = None) -> list[FrozenTrial]:
    """The claims among ``trials`` (only those numbered below ``before`` when given)."""
    retried = _retried(trials)
    return [t for t in trials if (before is None or t.number < before) and is_claim(t, retried)]


def _point(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


class _TrialRun:
    """The function ``study.optimize`` runs for one trial: the claim rules, then the objective.

    Attributes
    ----------
    current : int or None
        Number of the trial in hand (None between trials).
    completed : bool
        The last trial was evaluated and COMPLETE.
    fatal : BaseException or None
        An error that must end the worker (raised again after ``optimize``).
    """

    def __init__(self, spec: SearchSpec, objective: Objective, worker: int) -> None:
        self.spec, self.objective, self.worker = spec, objective, worker
        self.current: int | None = None
        self.completed = False
        self.fatal: BaseException | None = None

    def __call__(self, trial: optuna.Trial) -> float:
        spec, study = self.spec, trial.study
        self.current, self.completed = trial.number, False
        held = claims(study.get_trials(deepcopy=False), before=trial.number)
        if len(held) >= spec.budget:  # lost a race for the last slot
            trial.set_user_attr("note", "budget already used up by other workers")
            raise optuna.TrialPruned
        params = {
            name: trial.suggest_categorical(name, list(values))
            for name, values in spec.space.items()
        }
        if spec.sampler == "grid":
            holder = self._holder(study, trial.number, params)
            if holder is not None:
                trial.set_user_attr("note", f"point already claimed by trial {holder}")
                raise optuna.TrialPruned
        trial.set_user_attr("worker", self.worker)
        try:
            result = dict(self.objective(params))
        except AutoenchorderError as exc:  # bad data or config for this point: record, go on
            trial.set_user_attr("error", str(exc))
            raise
        except Exception as exc:  # a bug: recorded, then it ends the worker
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        if spec.metric not in result:
            self.fatal = ModelError(
                f"the objective returned no {spec.metric!r} (got {sorted(result)})"
            )
            trial.set_user_attr("error", str(self.fatal))
            raise self.fatal
        for key, value in result.items():
            trial.set_user_attr(key, value)
        self.completed = True
        return float(result[spec.metric])

    def _holder(self, study: optuna.Study, number: int, params: dict[str, Any]) -> int | None:
        """The lower-numbered claim on this trial's point, if any.

        A lower trial still RUNNING without parameters is looked at again until it has them
        (they are suggested right after it starts) or it ends, ``grace_seconds`` at most.
        """
        point = _point(params)
        deadline = time.monotonic() + self.spec.grace_seconds
        while True:
            trials = study.get_trials(deepcopy=False)
            retried = _retried(trials)
            pending = False
            for other in trials:
                if other.number >= number or not is_claim(other, retried):
                    continue
                if len(other.params) < len(params) and other.state == TrialState.RUNNING:
                    pending = True
                elif _point(other.params) == point:
                    return other.number
            if not pending or time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def _fail_stale(study: optuna.Study) -> None:
    """Mark the trials of dead workers FAIL and queue their points again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


def _requeue(study: optuna.Study, spec: SearchSpec, number: int) -> None:
    """Queue again the point of trial ``number`` (interrupted here, now FAIL)."""
    trial = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    if trial is None or trial.state != TrialState.FAIL or "error" in trial.user_attrs:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=spec.max_retry)(study, trial)


# ----------------------------------------------------------------------------- workers


def run_worker(
    spec: SearchSpec, objective: Objective, *, worker: int = 0, progress: bool = False
) -> int:
    """Evaluate trials of the study until its budget is claimed and no trial is running.

    Parameters
    ----------
    spec : SearchSpec
    objective : callable
        ``objective(params) -> {"mae": ..., ...}``; must contain ``spec.metric``. An
        :class:`~autoenchorder.errors.AutoenchorderError` marks the trial FAIL (recorded with
        its reason) and the worker goes on.
    worker : int
        This worker's index.
    progress : bool
        Show a progress bar of the study's finished trials (all workers').

    Returns
    -------
    int
        Trials this worker completed.
    """
    with _progress_bar(spec, enabled=progress) as advance:
        return _work(spec, objective, worker=worker, after_trial=advance)


def _work(
    spec: SearchSpec, objective: Objective, *, worker: int, after_trial: Callable[[Any], None]
) -> int:
    study = open_study(spec, worker=worker)
    run = _TrialRun(spec, objective, worker)
    done = 0
    while True:
        after_trial(study)
        _fail_stale(study)
        trials = study.get_trials(deepcopy=False)
        waiting = any(t.state == TrialState.WAITING for t in trials)
        if not waiting and len(claims(trials)) >= spec.budget:
            if not any(t.state == TrialState.RUNNING for t in trials):
                break
            # Nothing to start, but a running trial's worker may yet die: its point would be
            # queued again, and someone must be here to run it.
            time.sleep(spec.poll_seconds)
            continue
        run.current = None
        try:
            study.optimize(run, n_trials=1, catch=(AutoenchorderError,))
        except KeyboardInterrupt:
            if run.current is not None:  # the interrupted point is queued again, not lost
                _requeue(study, spec, run.current)
            raise
        except Exception:
            if run.current is None or not _taken_for_dead(study, run.current):
                raise
            # Our heartbeat lagged past grace_seconds (a stalled machine, a database hiccup):
            # another worker failed the trial and queued its point again. That copy counts;
            # this result is dropped, and this worker goes on.
            _log.warning(
                "trial %d was taken for dead (no heartbeat for %d s) and queued again; "
                "its result here is dropped",
                run.current,
                spec.grace_seconds,
            )
            continue
        if run.fatal is not None:
            raise run.fatal
        done += run.completed
        if run.current is not None and not run.completed and _pruned(study, run.current):
            time.sleep(spec.poll_seconds / 4)  # lost a race: let the others' trials settle
    after_trial(study)
    return done


def _taken_for_dead(study: optuna.Study, number: int) -> bool:
    """Whether trial ``number`` was failed by another worker (its heartbeat stale)."""
    return any(
        t.number == number and "error" not in t.user_attrs
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    )


def _pruned(study: optuna.Study, number: int) -> bool:
    return any(
        t.number == number and t.state == TrialState.PRUNED
        for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    )


@contextlib.contextmanager
def _progress_bar(spec: SearchSpec, *, enabled: bool) -> Iterator[Callable[[Any], None]]:
    """Yield ``update(study)``, which shows how many of the budget's trials have finished."""
    if not enabled:
        yield lambda study: None
        return
    with counting_progress(f"search {spec.study_name}", unit="trials") as bar:
        task = bar.add_task(spec.study_name, total=spec.budget, note="")

        def update(study: optuna.Study) -> None:
            trials = study.get_trials(deepcopy=False)
            finished = sum(t.state.is_finished() for t in claims(trials))
            values = [t.value for t in trials if t.value is not None]
            best = ""
            if values:
                pick = min if spec.direction == "minimize" else max
                best = f"best {spec.metric} {pick(values):.4g}"
            bar.update(task, completed=min(finished, spec.budget), note=best)

        yield update


def study_finished(study: optuna.Study, spec: SearchSpec) -> bool:
    """Whether the budget is claimed and no trial is running or waiting."""
    trials = study.get_trials(deepcopy=False)
    busy = any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    return not busy and len(claims(trials)) >= spec.budget


def run_workers(
    spec: SearchSpec,
    objective: Objective,
    *,
    workers: int = 1,
    progress: bool = False,
    engine: EngineSpec | None = None,
) -> optuna.Study:
    """Run ``workers`` workers on one study and wait for them.

    The study is created here first (so the workers never race to create the schema); each
    worker then runs :func:`run_worker`. ``objective`` must be picklable (a module-level
    function or a dataclass such as :class:`ModelObjective`). A worker that dies (killed)
    does not end the search: its trial is run again by another worker.

    Parameters
    ----------
    spec : SearchSpec
    objective : callable
    workers : int
        Number of workers; locally 1 runs in this process.
    progress : bool
        Show a progress bar of finished trials (and the best value so far).
    engine : EngineSpec or None
        None (or a local engine): processes of this machine. A Ray engine: ``workers`` Ray
        actors (its ``address``, CPUs and GPUs per worker); every one of them must reach
        ``spec.storage`` (a SQLite file serves one machine; a cluster needs PostgreSQL).

    Returns
    -------
    optuna.Study
        The study, reloaded after all workers finished.

    Raises
    ------
    ModelError
        Workers exited with an error and the study is not finished.
    """
    study = open_study(spec)
    if engine is not None and engine.name != "local":
        return _run_on_engine(spec, objective, workers=workers, progress=progress, engine=engine)
    if workers <= 1:
        run_worker(spec, objective, worker=0, progress=progress)
        return open_study(spec)
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=run_worker, args=(spec, objective), kwargs={"worker": i})
        for i in range(workers)
    ]
    for process in processes:
        process.start()
    with _progress_bar(spec, enabled=progress) as update:
        while any(p.is_alive() for p in processes):
            update(study)
            time.sleep(0.5)
        update(study)
    for process in processes:
        process.join()
    failed = [i for i, p in enumerate(processes) if p.exitcode != 0]
    study = open_study(spec)
    if failed:
        if not study_finished(study, spec):
            raise ModelError(f"search worker(s) {failed} exited with an error; see their output")
        _log.warning("search worker(s) %s died; their trials were run by the others", failed)
    return study


def _run_on_engine(
    spec: SearchSpec, objective: Objective, *, workers: int, progress: bool, engine: EngineSpec
) -> optuna.Study:
    """One item per worker on the engine; each item is :func:`run_worker` till the end."""
    import dataclasses  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from autoenchorder.engine import WorkerCrash, map_items, ray_session  # noqa: PLC0415

    engine = dataclasses.replace(engine, workers=workers)
    outcome: dict[int, Any] = {}
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            make = functools.partial(search_worker, spec, objective)
            for index, result in map_items(engine, make, range(workers), window=workers):
                outcome[index] = result
        except BaseException as exc:  # noqa: BLE001  raised again in the calling thread
            errors.append(exc)

    # The engine's iterator blocks until the workers finish; the bar is drawn meanwhile. Ray
    # is joined (or started) here, in the main thread; the engine then uses that session.
    with contextlib.ExitStack() as stack:
        if engine.name == "ray":
            ray = stack.enter_context(ray_session(engine.address))
            cpus = ray.cluster_resources().get("CPU", 0)
            if workers * engine.cpus_per_worker > cpus:
                # an autoscaling cluster may yet grow; a fixed one makes the rest wait
                _log.warning(
                    "the Ray cluster has %s CPUs now: %d search workers of %s CPU each do "
                    "not all fit; they wait for the cluster to grow (or use fewer --workers)",
                    cpus,
                    workers,
                    engine.cpus_per_worker,
                )
        thread = threading.Thread(target=drive, name="search-engine", daemon=True)
        thread.start()
        study = open_study(spec)
        with _progress_bar(spec, enabled=progress) as update:
            while thread.is_alive():
                update(study)
                thread.join(timeout=1.0)
            update(study)
    if errors:
        raise errors[0]
    crashed = sorted(i for i, r in outcome.items() if isinstance(r, WorkerCrash))
    study = open_study(spec)
    if crashed and not study_finished(study, spec):
        raise ModelError(f"search worker(s) {crashed} died and the study is not finished")
    return study


def search_worker(spec: SearchSpec, objective: Objective) -> Callable[[int], int]:
    """The engine's worker factory: ``run(index)`` runs :func:`run_worker` as worker ``index``.

    Returns
    -------
    callable
        ``run(index) -> trials completed``.
    """
    return functools.partial(_run_indexed, spec, objective)


def _run_indexed(spec: SearchSpec, objective: Objective, index: int) -> int:
    return run_worker(spec, objective, worker=index)


def results_table(study: optuna.Study) -> pd.DataFrame:
    """One row per finished trial: number, state, parameters, metrics, worker, seconds.

    A FAIL row without an error of the objective is a trial whose worker died (``error`` says
    so, and ``retried_as`` names the trial that ran its point again, if any).

    Returns
    -------
    pd.DataFrame
        Sorted best first (completed trials), then failed ones.
    """
    import pandas as pd  # noqa: PLC0415

    trials = study.get_trials(deepcopy=False)
    retry_of = {
        t.system_attrs["retry_history"][-1]: t.number
        for t in trials
        if t.system_attrs.get("retry_history")
    }
    rows = []
    for t in trials:
        if t.state not in (TrialState.COMPLETE, TrialState.FAIL):
            continue
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        row = {"trial": t.number, "state": t.state.name, **t.params, "value": t.value}
        row.update(t.user_attrs)
        if t.state == TrialState.FAIL and "error" not in t.user_attrs:
            row["error"] = LOST_WORKER
            row["retried_as"] = retry_of.get(t.number)
        rows.append({**row, "seconds": seconds})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    ascending = study.direction == optuna.study.StudyDirection.MINIMIZE
    table["_failed"] = table["state"] != "COMPLETE"
    return (
        table.sort_values(["_failed", "value", "trial"], ascending=[True, ascending, True])
        .drop(columns="_failed")
        .reset_index(drop=True)
    )


def write_results(
    study: optuna.Study, out_dir: str | Path, *, base_config: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``trials.csv``, ``best_config.toml`` and ``best_config.json`` into ``out_dir``.

    Parameters
    ----------
    study : optuna.Study
    out_dir : str or Path
    base_config : mapping or None
        Fixed config the search ran with; merged under the best parameters.

    Returns
    -------
    dict
        ``{"trial", "value", "params", "config"}`` of the best trial.

    Raises
    ------
    ModelError
        No trial completed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = results_table(study)
    table.to_csv(out / "trials.csv", index=False)
    completed = [t for t in study.get_trials(deepcopy=False) if t.value is not None]
    if not completed:
        raise ModelError(f"study {study.study_name!r} has no completed trial")
    best = study.best_trial
    summary = {
        "study": study.study_name,
        "trial": best.number,
        "value": best.value,
        "params": best.params,
        "metrics": best.user_attrs,
        "config": {**dict(base_config or {}), **best.params},
    }
    (out / "best_config.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    (out / "best_config.toml").write_text(dumps_toml({"model": summary["config"]}))
    return summary


def grid_points(space: Mapping[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Every combination of ``space`` as a list of dicts (in ``space``'s order)."""
    names = list(space)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*space.values())]


@dataclass
class ModelObjective:
    """Fit a registered model with the trial's parameters; return metrics of rows it never saw.

    The dataset is loaded from ``data`` once per process (or taken from ``dataset``). The
    outer test part (``holdout_split(test_size, seed)``) is dropped. The rest is cut three
    ways with the same procedure and seed (stratified, grouped by artist when the dataset knows
    artists): the rows the model is fitted on, the rows that stop it early, and the rows the
    trial is scored on (``val_size`` of the rest). Scoring a trial on the rows that stopped it
    would favour the settings that happened to stop well on those very rows.

    Attributes
    ----------
    model : str
        Registered model name.
    data : DataSpec or None
    base_config : dict
        Fixed config fields; the trial's parameters override them.
    param_map : dict
        Search parameter name -> model config field (default: the same name).
    seed : int
    test_size : float
        Share of the dataset dropped as the outer test part.
    val_size : float
        Share of the remaining rows the trial is scored on, and share of the rows left after
        that which stop the fit early.
    dataset : PopularityDataset or None
        An in-memory dataset (not sent to worker processes; use ``data`` for those).
    """

    model: str
    data: DataSpec | None = None
    base_config: dict[str, Any] = field(default_factory=dict)
    param_map: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    test_size: float = 0.15
    val_size: float = 0.15
    dataset: PopularityDataset | None = field(default=None, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # A worker reloads the data from ``data``; never ship the dataset between processes.
        state = dict(self.__dict__)
        state["dataset"] = None
        state.pop("_rows", None)
        return state

    def config_for(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The model config of one trial: base config, the mapped parameters, the seed."""
        mapped = {self.param_map.get(k, k): v for k, v in params.items()}
        return {"seed": self.seed, "quiet": True, **self.base_config, **mapped}

    def __call__(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Fit with ``params``; return the metrics of the scored rows (regression: 0-100)."""
        from autoenchorder.train.fit import fit_and_score  # noqa: PLC0415

        rows, trial_split = self.rows()
        outcome = fit_and_score(
            self.model,
            rows,
            trial_split,
            config=self.config_for(params),
            seed=self.seed,
            val_size=self.val_size,
            score_validation=False,
        )
        metrics = outcome.metrics["test"]
        return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}

    def rows(self) -> tuple[PopularityDataset, Split]:
        """The rows a trial may use (the outer test part dropped) and their scoring split.

        Returns
        -------
        (PopularityDataset, Split)
            The split's test rows score the trial; its training rows are cut again into the
            fitted and the early-stopping rows
            (:func:`~autoenchorder.train.parts.split_parts`).
        """
        found = getattr(self, "_rows", None)
        if found is None:
            from autoenchorder.data.sources.registry import load_dataset  # noqa: PLC0415
            from autoenchorder.data.splits import holdout_split  # noqa: PLC0415

            if self.dataset is None and self.data is None:
                raise ModelError("ModelObjective needs a dataset or a DataSpec")
            ds = self.dataset if self.dataset is not None else load_dataset(self.data)
            outer = holdout_split(ds, test_size=self.test_size, seed=self.seed)
            usable, _ = outer.apply(ds)
            found = (usable, holdout_split(usable, test_size=self.val_size, seed=self.seed))
            self._rows = found
        return found
