"""Fit many independent models at once, spread over worker processes.

A study (the demo's model tables, a learning curve, the seeds of an ensemble) is a list of
:class:`FitJob`: which model with which options, on which :class:`StudyData` (a dataset and its
split), and on what share of the training rows. :func:`run_jobs` fits them in ``workers``
processes; each process loads each dataset once, rebuilds the split (deterministically), fits
with one torch thread and sends back the test predictions, the training history and, when
asked, the fitted model's state. A job's result depends only on the job: the same seeds give
the same predictions whether the jobs run in one process or several, in any order, on this
machine or in the actors of a Ray cluster (``engine=EngineSpec("ray", ...)``; each actor
loads each dataset once). The job cache stays with the caller (the driver).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import traceback
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from autoenchorder.parallel import in_window
from autoenchorder.train.fit import fit_and_score
from autoenchorder.train.job_cache import JobCache
from autoenchorder.train.job_types import (
    FitJob,
    FitResult,
    StudyData,
    loaded,
    loaded_supplement,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from autoenchorder.engine import EngineSpec

__all__ = ["FitJob", "FitResult", "StudyData", "fit_job", "loaded", "run_jobs"]


def fit_job(job: FitJob, data: StudyData) -> FitResult:
    """Fit one job in this process; a failure is returned as ``FitResult.error``, not raised."""
    try:
        ds, split = loaded(data)
        outcome = fit_and_score(
            job.model,
            ds,
            split,
            config={**job.options, "quiet": True},
            seed=data.seed,
            val_size=data.val_size,
            fraction=job.fraction,
            score_validation=False,
            supplement=loaded_supplement(data),
        )
    except Exception as exc:  # noqa: BLE001  one failing model must not end the study
        return _failed(job, "".join(traceback.format_exception_only(type(exc), exc)).strip())
    model = outcome.model
    return FitResult(
        job,
        ids=outcome.test_ids,
        y_true=outcome.y_true,
        y_pred=outcome.y_pred,
        n_train=outcome.n_train,
        n_val=outcome.n_val,
        config=dataclasses.asdict(model.config),
        history=list(getattr(model, "history_", []) or []),
        fit_seconds=outcome.fit_seconds,
        predict_seconds=outcome.predict_seconds,
        state=model.to_state() if job.keep_state else None,
        proba=outcome.proba,
    )


def _failed(job: FitJob, reason: str) -> FitResult:
    empty = np.zeros(0)
    return FitResult(job, empty.astype(str), empty, empty, error=reason)


def _init_worker(threads: int) -> None:
    """Pool initializer: the worker keeps to ``threads`` threads for its whole lifetime."""
    limits = ExitStack()
    limits.enter_context(_limited_threads(threads))
    _init_worker.limits = limits  # kept alive, never closed: the worker ends with it


@contextmanager
def _limited_threads(threads: int) -> Iterator[None]:
    """Torch and BLAS use ``threads`` threads in this process inside the block, as before after."""
    import torch  # noqa: PLC0415
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)


def run_jobs(
    jobs: Iterable[FitJob],
    data: Mapping[str, StudyData],
    *,
    workers: int = 1,
    threads: int = 1,
    cache: JobCache | None = None,
    engine: EngineSpec | None = None,
) -> Iterator[FitResult]:
    """Fit every job; yield results as they finish (costliest jobs are started first).

    Parameters
    ----------
    jobs : iterable of FitJob
    data : mapping of str to StudyData
        The studies the jobs name.
    workers : int
        Processes (1: fit in this process, in the given order).
    threads : int
        Torch and BLAS threads per worker process, and of this process while it fits the jobs
        itself (one worker; small networks: 1 is fastest).
    cache : JobCache or None
        Jobs found there are yielded first, without fitting; every successful fit is stored
        there as soon as it is done (so an interrupted run resumes).
    engine : EngineSpec or None
        None: this machine's process pool of ``workers`` processes, ``threads`` each. An
        engine (``EngineSpec("ray", workers=4, address="auto")``) fits each job as one item
        of :func:`autoenchorder.engine.map_items` (``workers`` and ``threads`` are then the
        engine's own); a worker that died on a job fails that job only.

    Yields
    ------
    FitResult
    """
    jobs = list(jobs)
    unknown = sorted({job.data_key for job in jobs} - set(data))
    if unknown:
        raise KeyError(f"jobs name datasets that are not given: {unknown}")

    def fit(to_fit: list[FitJob]) -> Iterator[FitResult]:
        if engine is None:
            return _fit_all(to_fit, data, workers=workers, threads=threads)
        return _fit_on_engine(to_fit, data, engine)

    if cache is None:
        yield from fit(jobs)
        return
    to_fit = []
    for job in jobs:
        hit = cache.get(job, data[job.data_key])
        if hit is None:
            to_fit.append(job)
        else:
            yield hit
    for result in fit(to_fit):
        cache.put(result, data[result.job.data_key])
        yield result


def _fit_all(
    jobs: list[FitJob], data: Mapping[str, StudyData], *, workers: int, threads: int
) -> Iterator[FitResult]:
    if not jobs:
        return
    if workers <= 1 or len(jobs) <= 1:
        with _limited_threads(threads):  # as in a worker: torch's default would oversubscribe
            for job in jobs:
                yield fit_job(job, data[job.data_key])
        return
    ordered = list(enumerate(sorted(jobs, key=lambda job: -job.cost)))
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
    )
    done: set[int] = set()
    try:
        # One job in flight per worker: the next costliest starts when a worker frees up.
        for (index, job), future in in_window(
            pool, partial(_fit_numbered, data), ordered, window=workers
        ):
            done.add(index)
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001  a crashed worker fails one job
                yield _failed(job, f"worker crashed: {exc}")
    except BrokenProcessPool as exc:  # a worker died hard (killed): the rest are not run
        for index, job in ordered:
            if index not in done:
                yield _failed(job, f"not run: the worker pool broke ({exc})")
    finally:
        # Interrupted (Ctrl-C, an exception in the consumer): queued jobs are dropped at once.
        pool.shutdown(wait=False, cancel_futures=True)


def _fit_numbered(data: Mapping[str, StudyData], numbered: tuple[int, FitJob]) -> FitResult:
    return fit_job(numbered[1], data[numbered[1].data_key])


def _fit_on_engine(
    jobs: list[FitJob], data: Mapping[str, StudyData], engine: EngineSpec
) -> Iterator[FitResult]:
    """Fit the jobs as items of the batch engine (costliest first); results as they finish."""
    from autoenchorder.engine import WorkerCrash, map_items  # noqa: PLC0415

    if not jobs:
        return
    ordered = sorted(jobs, key=lambda job: -job.cost)
    # one job in flight per worker locally: the next costliest starts when a worker frees up
    window = engine.local_workers() if engine.name == "local" else None
    for job, result in map_items(engine, partial(job_worker, dict(data)), ordered, window=window):
        if isinstance(result, WorkerCrash):
            yield _failed(job, f"worker crashed: {result.reason}")
        else:
            yield result


def job_worker(data: Mapping[str, StudyData]) -> Callable[[FitJob], FitResult]:
    """The engine's worker factory: fit one job of ``data`` (datasets load once per worker).

    Returns
    -------
    callable
        ``fit(job) -> FitResult`` (a failure is returned as ``FitResult.error``).
    """
    return partial(_fit_of, data)


def _fit_of(data: Mapping[str, StudyData], job: FitJob) -> FitResult:
    return fit_job(job, data[job.data_key])
