"""Hyper-parameter search with Optuna: the study's exact grid, or a budgeted TPE search.

One *study* lives in an Optuna storage -- a SQLite file by default, or any SQLAlchemy URL
(``postgresql://user@host/db``) -- so any number of worker processes, on one machine or many,
can work on it at once: each runs :func:`run_worker` with the same :class:`SearchSpec`.

How duplicate work is avoided
-----------------------------
- ``grid``: Optuna's :class:`~optuna.samplers.GridSampler` gives trial number ``i`` grid point
  ``i`` of its (seeded) shuffled grid for ``i < grid size``; trial numbers are handed out by the
  storage, so they are unique across workers. A worker stops asking once the study holds as
  many trials as the grid has points. Two workers that check at the same moment may create one
  trial too many; such a trial (number >= grid size) is marked PRUNED at once, without
  suggesting or evaluating anything. So every grid point is evaluated exactly once.
- ``tpe``: the same budget rule with ``n_trials`` as the budget; TPE proposals are seeded per
  worker (``seed + worker``) so workers do not propose in lock-step.

The objective receives the trial's parameters as a dict and returns a dict of metrics; the
search minimises (or maximises) ``spec.metric`` of it. :class:`ModelObjective` fits a
registered model on seeded training rows of a dataset, stops it early on other rows and returns
the metrics of a third set of rows; the test part of the dataset is dropped before anything is
fitted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna

from autoenchorder.config import ConfigError, dumps_toml
from autoenchorder.errors import ModelError
from autoenchorder.progress import counting_progress
from autoenchorder.published import STUDY_GRID

if TYPE_CHECKING:
    import pandas as pd

    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.data.sources.registry import DataSpec
    from autoenchorder.data.splits import Split

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
        SQLAlchemy URL of the study storage, e.g. ``"sqlite:///runs/search/study.db"``.
    study_name : str
    seed : int
        Seeds the grid order, the TPE sampler and the objective's split.
    metric : str
        Key of the objective's result to optimise, e.g. ``"mae"``.
    """

    space: dict[str, tuple[Any, ...]] = field(default_factory=lambda: dict(STUDY_GRID))
    sampler: str = "grid"
    n_trials: int | None = None
    storage: str = "sqlite:///study.db"
    study_name: str = "autoenchorder"
    seed: int = 0
    metric: str = "mae"

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

    @property
    def grid_size(self) -> int:
        """Number of combinations in ``space``."""
        return math.prod(len(v) for v in self.space.values())

    @property
    def budget(self) -> int:
        """Trials the study should hold in the end."""
        if self.sampler == "grid":
            return min(self.grid_size, self.n_trials or self.grid_size)
        return int(self.n_trials or 0)

    @property
    def direction(self) -> str:
        """``"minimize"`` or ``"maximize"``, from ``metric``."""
        return DIRECTIONS[self.metric]


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
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if spec.sampler == "grid":
        sampler: optuna.samplers.BaseSampler = _BudgetGridSampler(
            {k: list(v) for k, v in spec.space.items()}, seed=spec.seed
        )
    else:
        sampler = optuna.samplers.TPESampler(seed=spec.seed + worker)
    return optuna.create_study(
        storage=_storage(spec.storage),
        study_name=spec.study_name,
        sampler=sampler,
        direction=spec.direction,
        load_if_exists=True,
    )


class _BudgetGridSampler(optuna.samplers.GridSampler):
    """GridSampler whose end of grid is left to :func:`run_worker`'s budget rule.

    ``GridSampler.after_trial`` calls ``study.stop()``, which is only allowed inside
    ``study.optimize``; our workers use ask / tell and stop by counting trials instead.
    """

    def after_trial(self, study, trial, state, values) -> None:  # noqa: ANN001, D102
        return None


def _storage(url: str) -> optuna.storages.BaseStorage:
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # several processes write to one file: wait for the lock instead of failing at once
        engine_kwargs["connect_args"] = {"timeout": 60}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)


def run_worker(
    spec: SearchSpec, objective: Objective, *, worker: int = 0, progress: bool = False
) -> int:
    """Evaluate trials of the study until its budget is used up.

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
        Trials this worker evaluated.
    """
    with _progress_bar(spec, enabled=progress) as advance:
        return _work(spec, objective, worker=worker, after_trial=advance)


def _work(
    spec: SearchSpec, objective: Objective, *, worker: int, after_trial: Callable[[Any], None]
) -> int:
    from autoenchorder.errors import AutoenchorderError  # noqa: PLC0415

    study = open_study(spec, worker=worker)
    done = 0
    while len(study.get_trials(deepcopy=False)) < spec.budget:
        after_trial(study)
        trial = study.ask()
        if trial.number >= spec.budget:  # lost a race for the last slot
            trial.set_user_attr("note", "budget already used up by other workers")
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            break
        params = {
            name: trial.suggest_categorical(name, list(values))
            for name, values in spec.space.items()
        }
        trial.set_user_attr("worker", worker)
        try:
            result = dict(objective(params))
        except AutoenchorderError as exc:  # bad data or config for this point: record, go on
            trial.set_user_attr("error", str(exc))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        except BaseException as exc:  # a bug or an interrupt: never leave the trial RUNNING
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        if spec.metric not in result:
            raise ModelError(f"the objective returned no {spec.metric!r} (got {sorted(result)})")
        for key, value in result.items():
            trial.set_user_attr(key, value)
        study.tell(trial, float(result[spec.metric]))
        done += 1
    after_trial(study)
    return done


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
            finished = sum(t.state.is_finished() for t in trials)
            values = [t.value for t in trials if t.value is not None]
            best = ""
            if values:
                pick = min if spec.direction == "minimize" else max
                best = f"best {spec.metric} {pick(values):.4g}"
            bar.update(task, completed=min(finished, spec.budget), note=best)

        yield update


def run_workers(
    spec: SearchSpec, objective: Objective, *, workers: int = 1, progress: bool = False
) -> optuna.Study:
    """Run ``workers`` local worker processes on one study and wait for them.

    The study is created here first (so the processes never race to create the schema); each
    process then runs :func:`run_worker`. ``objective`` must be picklable (a module-level
    function or a dataclass such as :class:`ModelObjective`); it is sent to the child
    processes of this machine only.

    Parameters
    ----------
    spec : SearchSpec
    objective : callable
    workers : int
        Number of processes; 1 runs in this process.
    progress : bool
        Show a progress bar of finished trials (and the best value so far).

    Returns
    -------
    optuna.Study
        The study, reloaded after all workers finished.
    """
    study = open_study(spec)
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
            time.sleep(1.0)
        update(study)
    for process in processes:
        process.join()
    failed = [i for i, p in enumerate(processes) if p.exitcode != 0]
    if failed:
        raise ModelError(f"search worker(s) {failed} exited with an error; see their output")
    return open_study(spec)


def results_table(study: optuna.Study) -> pd.DataFrame:
    """One row per finished trial: number, state, parameters, metrics, worker, seconds.

    Returns
    -------
    pd.DataFrame
        Sorted best first (completed trials), then failed ones.
    """
    import pandas as pd  # noqa: PLC0415

    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
            continue
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name,
                **t.params,
                "value": t.value,
                **t.user_attrs,
                "seconds": seconds,
            }
        )
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
