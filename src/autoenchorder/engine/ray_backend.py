"""The Ray engine: the items' function in an actor pool of Ray Data, streamed to the driver.

Each actor builds the function once (its weights load once). Items and results cross as
pickled payloads in a binary column, so any Python value (ragged arrays, dataclasses) comes
back as it left the function; this is transport between our own processes, never a file a user
receives.

A killed actor is restarted by Ray and its task retried. So that an item that kills its actor
every time cannot loop forever, each actor asks a small ledger actor, before running an item,
how often that item was started; past ``retries + 1`` starts the item's result is a
:class:`WorkerCrash` and the run goes on. One item per block makes a retried task exactly one
item. Should Ray still fail a whole execution, the items not yet streamed back run again (the
ledger keeps its counts), a bounded number of times.

Ray is imported inside the functions: ``import autoenchorder`` does not load it. Ray's usage
statistics are off unless the user turned them on (``RAY_USAGE_STATS_ENABLED=1``): this tool
runs offline, and with them on Ray Data's collector polls a Prometheus server from background
threads of the driver, whose logged tracebacks race CPython 3.11's ``ast`` state (a spurious
``SystemError: AST constructor recursion depth mismatch`` in another thread).
"""

from __future__ import annotations

import itertools
import logging
import os
import pickle
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from autoenchorder.engine.spec import EngineError, EngineSpec, WorkerCrash
from autoenchorder.engine.worker import call_worker, start_worker, unwrap

#: object store of a Ray this module starts: results stream out, so a modest one is enough
LOCAL_OBJECT_STORE_BYTES = 512 * 1024**2
#: times the items left of a failed Ray execution are run again before the run stops
EXECUTION_RETRIES = 2
#: items per Ray Data execution when no window is given (one block each; actors load their
#: weights once per execution)
DEFAULT_CHUNK = 1024
#: Ray's switch for its usage statistics ("0" off, "1" on); it also gates Ray Data's collector
USAGE_STATS_VARIABLE = "RAY_USAGE_STATS_ENABLED"


def import_ray() -> Any:
    """``import ray`` (and Ray Data), or an :class:`EngineError` saying how to install it.

    Ray's usage statistics are turned off first, unless ``RAY_USAGE_STATS_ENABLED`` says
    otherwise (the Ray processes started from here inherit the setting).
    """
    os.environ.setdefault(USAGE_STATS_VARIABLE, "0")
    try:
        import ray  # noqa: PLC0415
        import ray.data  # noqa: F401, PLC0415
    except ImportError as exc:
        raise EngineError(
            f"the Ray engine needs Ray Data ({exc}): pip install autoenchorder[ray]"
        ) from exc
    return ray


@contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Join Ray for the duration of a block; stop only a Ray that this block started.

    Parameters
    ----------
    address : str or None
        ``"auto"``, ``"HOST:6379"``, ``"ray://HOST:10001"``; None: start a local Ray (no
        dashboard, a modest object store). A Ray this process already joined
        (``ray.is_initialized()``) is used as it is, whatever the address.

    Yields
    ------
    module
        ``ray``.

    Raises
    ------
    EngineError
        Ray is not installed, or the cluster at ``address`` cannot be reached.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
    try:
        if address is None:
            ray.init(
                address="local",
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **options,
            )
        else:
            ray.init(address=address, **options)
    except Exception as exc:  # noqa: BLE001  any failure to join is the address's
        where = "a new local Ray" if address is None else f"the Ray cluster at {address!r}"
        raise EngineError(f"cannot start or connect to {where}: {exc}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


class _Ledger:
    """How many times each item was started (lives as a 0-CPU actor for one run)."""

    def __init__(self) -> None:
        self.starts: dict[int, int] = {}

    def start(self, key: int) -> int:
        self.starts[key] = self.starts.get(key, 0) + 1
        return self.starts[key]

    def forget(self, keys: list[int]) -> None:
        for key in keys:
            self.starts.pop(key, None)


class _RayWorker:
    """The callable class of ``map_batches``: one per actor, the item function built once."""

    def __init__(
        self,
        make_worker: Callable[[], Callable[[Any], Any]],
        ledger: Any,
        threads: int,
        max_starts: int,
    ) -> None:
        self._fn = start_worker(make_worker, threads)
        self._ledger = ledger
        self._max_starts = max_starts

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa  # noqa: PLC0415
        import ray  # noqa: PLC0415

        keys = batch.column("key").to_pylist()
        out = []
        for key, payload in zip(keys, batch.column("payload").to_pylist(), strict=True):
            starts = ray.get(self._ledger.start.remote(key))
            if starts > self._max_starts:
                result: Any = WorkerCrash(
                    f"the Ray worker died on this item {starts - 1} times (node or actor lost)"
                )
            else:
                result = call_worker(self._fn, pickle.loads(payload))
            out.append(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        return pa.table(
            {"key": pa.array(keys, pa.int64()), "payload": pa.array(out, pa.large_binary())}
        )


def map_ray(
    engine: EngineSpec,
    make_worker: Callable[[], Callable[[Any], Any]],
    items: Iterable[Any],
    *,
    window: int | None,
    retries: int,
) -> Iterator[tuple[Any, Any]]:
    """Apply the worker's function to each item in Ray actors (see :func:`map_items`)."""
    with ray_session(engine.address) as ray, _quiet_ray_data():
        workers = _ray_workers(ray, engine)
        ledger = ray.remote(num_cpus=0)(_Ledger).remote()
        chunk_size = window or DEFAULT_CHUNK
        queue = iter(items)
        keys = itertools.count()
        try:
            while chunk := list(itertools.islice(queue, chunk_size)):
                keyed = {next(keys): item for item in chunk}
                results = _run_chunk(ray, engine, make_worker, keyed, ledger, workers, retries)
                # Raised here, out of _run_chunk's reach: a worker's exception is never taken
                # for a failure of Ray's and run again.
                try:
                    for item, result in results:
                        yield item, unwrap(result)
                finally:
                    results.close()  # stops the Ray execution before the ledger goes
                ledger.forget.remote(list(keyed))
        finally:
            ray.kill(ledger)


def _run_chunk(
    ray: Any,
    engine: EngineSpec,
    make_worker: Callable[[], Callable[[Any], Any]],
    remaining: dict[int, Any],
    ledger: Any,
    workers: tuple[int, int],
    retries: int,
) -> Iterator[tuple[Any, Any]]:
    last_error: Exception | None = None
    for _ in range(EXECUTION_RETRIES + 1):
        rows = [{"key": key, "payload": pickle.dumps(item)} for key, item in remaining.items()]
        with warnings.catch_warnings():
            # Ray 2.60 names no parameter for actor restarts and task retries: they go as
            # remote args, which it flags as deprecated (the pin in pyproject holds the API).
            warnings.simplefilter("ignore", category=DeprecationWarning)
            dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
                _RayWorker,
                fn_constructor_kwargs={
                    "make_worker": make_worker,
                    "ledger": ledger,
                    "threads": engine.ray_threads(),
                    "max_starts": retries + 1,
                },
                batch_size=1,
                batch_format="pyarrow",
                compute=_pool(ray, workers, len(rows)),
                num_cpus=engine.cpus_per_worker,
                num_gpus=engine.gpus_per_worker or None,
                # Ray restarts a dead actor and retries its task; the ledger turns an item
                # that kills its actor every time into a WorkerCrash before these run out.
                max_restarts=-1,
                max_task_retries=retries + 2,
            )
        batches = dataset.iter_batches(batch_size=None, batch_format="pyarrow")
        try:
            for batch in batches:
                keys = batch.column("key").to_pylist()
                for key, payload in zip(keys, batch.column("payload").to_pylist(), strict=True):
                    if key in remaining:  # a retried block may come twice
                        yield remaining.pop(key), pickle.loads(payload)
            return
        except ray.exceptions.RayError as exc:
            last_error = exc
        finally:
            close = getattr(batches, "close", None)
            if close:
                close()
    raise EngineError(
        f"Ray failed {EXECUTION_RETRIES + 1} times on {len(remaining)} items: {last_error}"
    )


def _pool(ray: Any, workers: tuple[int, int], items: int) -> Any:
    wanted, fit = (max(1, min(n, items)) for n in workers)
    if wanted == fit:
        return ray.data.ActorPoolStrategy(size=wanted)
    return ray.data.ActorPoolStrategy(min_size=fit, max_size=wanted)


def _ray_workers(ray: Any, engine: EngineSpec) -> tuple[int, int]:
    """Actors wanted, and how many of them the cluster can hold now.

    The pool starts with the ones that fit (dispatch waits for them, so work spreads over
    all) and grows to the rest if the cluster grows (an autoscaling cluster adds nodes).
    """
    resources = ray.cluster_resources()
    fit = int(resources.get("CPU", 0) // engine.cpus_per_worker)
    if engine.gpus_per_worker:
        fit = min(fit, int(resources.get("GPU", 0) // engine.gpus_per_worker))
    if fit < 1:
        raise EngineError(
            f"the Ray cluster ({resources.get('CPU', 0)} CPUs, {resources.get('GPU', 0)} GPUs) "
            f"cannot hold one worker of {engine.cpus_per_worker} CPUs and "
            f"{engine.gpus_per_worker} GPUs"
        )
    wanted = engine.workers or fit
    return wanted, min(wanted, fit)


@contextmanager
def _quiet_ray_data() -> Iterator[None]:
    """No progress bars or execution banners from Ray Data during our run (restored after)."""
    from ray.data import DataContext  # noqa: PLC0415

    context = DataContext.get_current()
    quiet = {
        "enable_progress_bars": False,
        "enable_operator_progress_bars": False,
        "print_on_execution_start": False,
        "verbose_stats_logs": False,
        # Dispatch only once every actor is up, so work spreads over the whole pool.
        "wait_for_min_actors_s": 600,
    }
    saved = {name: getattr(context, name) for name in quiet}
    for name, value in quiet.items():
        setattr(context, name, value)
    # Ray Data's per-execution INFO lines, and its note that bars are off, are not ours to print.
    loggers = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
