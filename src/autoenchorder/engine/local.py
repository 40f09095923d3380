"""The local engine: the items' function in a spawn process pool (or in this process).

A worker process that dies (a segfault in a decoder, the OOM killer, SIGKILL) breaks the whole
pool. The items that were in flight are then suspects: each is run again alone in a new pool,
where a death is its own. An item is given up -- its result is a :class:`WorkerCrash` -- once a
worker died with it ``retries + 1`` times; the others go on.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from autoenchorder.engine.spec import EngineSpec, WorkerCrash
from autoenchorder.engine.worker import call_worker, start_worker, unwrap
from autoenchorder.parallel import in_window

# The item function of this worker process, built once by the pool's initializer.
_WORKER: dict = {}


def _init_process(make_worker: Callable[[], Callable[[Any], Any]], threads: int) -> None:
    _WORKER["fn"] = start_worker(make_worker, threads)


def _call_tagged(tagged: tuple[int, Any]) -> Any:
    return call_worker(_WORKER["fn"], tagged[1])


def map_local(
    engine: EngineSpec,
    make_worker: Callable[[], Callable[[Any], Any]],
    items: Iterable[Any],
    *,
    window: int | None,
    retries: int,
) -> Iterator[tuple[Any, Any]]:
    """Apply the worker's function to each item on this machine (see :func:`map_items`)."""
    workers = engine.local_workers()
    if workers <= 1:
        # In this process: threads are left as the caller set them, unless asked.
        fn = start_worker(make_worker, engine.threads_per_worker)
        for item in items:
            yield item, unwrap(call_worker(fn, item))
        return
    yield from _map_in_pool(
        make_worker, iter(items), workers, engine.local_threads(), window or 4 * workers, retries
    )


def _map_in_pool(
    make_worker: Callable[[], Callable[[Any], Any]],
    queue: Iterator[Any],
    workers: int,
    threads: int,
    window: int,
    retries: int,
) -> Iterator[tuple[Any, Any]]:
    suspects: deque[tuple[Any, int]] = deque()  # (item, workers that died with it in flight)
    tokens = itertools.count()
    while True:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_process,
            initargs=(make_worker, threads),
        )
        in_flight: dict[int, Any] = {}
        broken = False
        try:
            while suspects and not broken:
                item, deaths = suspects[0]
                try:
                    result = pool.submit(_call_tagged, (-1, item)).result()
                except BrokenProcessPool:
                    broken = True
                    deaths += 1
                    if deaths > retries:
                        suspects.popleft()
                        yield item, _crash(deaths)
                    else:
                        suspects[0] = (item, deaths)
                    continue
                suspects.popleft()
                yield item, unwrap(result)
            if broken:
                continue
            feed = _tagged(queue, tokens, in_flight)
            window_run = in_window(pool, _call_tagged, feed, window=window)
            try:
                for (token, item), future in window_run:
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        break
                    del in_flight[token]
                    yield item, unwrap(result)
            except BrokenProcessPool:  # submitting to a pool that just broke
                broken = True
            finally:
                window_run.close()
            if not broken:
                return
            # Every item in flight when a worker died may be the one that killed it.
            suspects.extend((item, 1) for item in in_flight.values())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _tagged(
    queue: Iterator[Any], tokens: Iterator[int], in_flight: dict[int, Any]
) -> Iterator[tuple[int, Any]]:
    """Items with a token each, recorded in ``in_flight`` as they are handed to the pool."""
    for item in queue:
        token = next(tokens)
        in_flight[token] = item
        yield token, item


def _crash(deaths: int) -> WorkerCrash:
    times = "once" if deaths == 1 else f"{deaths} times"
    return WorkerCrash(f"the worker process died on this item ({times}, the last time alone)")
