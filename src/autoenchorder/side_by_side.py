"""Whole operations side by side on worker threads, each running its kernels on one core.

torch (OpenMP / oneDNN) and BLAS split every operation over the cores. On the small operations
of scoring one song -- musicnn's 3 s patches, one window's 207 features -- that scales poorly
(musicnn runs ~1.8x faster on 2 cores than on 1), and two such operations at once oversubscribe
the cores. Scoring a song instead runs its operations side by side: :func:`side_by_side` starts
a pool of threads whose torch and BLAS kernels use one thread each, code of a lower stage finds
it with :func:`current_pool` (the musicnn embedder spreads its patch batches over it) and the
caller submits its own independent work (the features of each span) to the same pool.

Outputs equal those of the same operations run one after another with one-thread kernels; they
may differ in the last float digits from multi-threaded kernels (reduction order).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_CURRENT: ContextVar[SideBySide | None] = ContextVar("autoenchorder_side_by_side", default=None)


class SideBySide:
    """A pool of ``threads`` worker threads whose torch kernels run on one thread each.

    Use :func:`side_by_side`, which also limits BLAS to one thread and makes the pool the
    :func:`current_pool` of the block.

    Parameters
    ----------
    threads : int
        Worker threads (>= 2).
    """

    def __init__(self, threads: int) -> None:
        import torch  # noqa: PLC0415

        self.threads = int(threads)
        process_default = torch.get_num_threads()
        self._executor = ThreadPoolExecutor(
            self.threads, thread_name_prefix="side-by-side", initializer=_one_kernel_thread
        )
        # Start every worker now (each runs the initializer once), then give the process back
        # its default: set_num_threads is also the default of threads torch meets later.
        started = threading.Barrier(self.threads)
        for future in [self._executor.submit(started.wait) for _ in range(self.threads)]:
            future.result()
        torch.set_num_threads(process_default)

    def submit(self, fn: Callable[..., Result], *args: Any) -> Future[Result]:
        """Run ``fn(*args)`` on a worker; the future holds its result or its exception."""
        return self._executor.submit(fn, *args)

    def ordered(
        self, fn: Callable[[Item], Result], items: Iterable[Item], *, window: int | None = None
    ) -> Iterator[Result]:
        """``fn(item)`` for each item, run on the workers, yielded in the items' order.

        Parameters
        ----------
        fn : callable
        items : iterable
            Consumed lazily: at most ``window`` items are in flight (memory stays flat over a
            streamed song).
        window : int, optional
            Default twice the number of workers.

        Yields
        ------
        The results in order; an exception of ``fn`` is raised when its item's turn comes.
        """
        limit = max(1, window or 2 * self.threads)
        in_flight: deque[Future[Result]] = deque()
        for item in items:
            in_flight.append(self._executor.submit(fn, item))
            if len(in_flight) >= limit:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def _one_kernel_thread() -> None:
    """Worker initializer: this thread's torch kernels run on one thread.

    torch sets a thread's count on the thread's first parallel region, from the process
    default; enter one first, so that the count set here is not overwritten later.
    """
    import torch  # noqa: PLC0415

    torch.zeros(1 << 16).sum()
    torch.set_num_threads(1)


@contextmanager
def side_by_side(threads: int) -> Iterator[SideBySide | None]:
    """A :class:`SideBySide` pool for the block, or None for ``threads`` <= 1.

    Inside the block BLAS (NumPy, SciPy) and OpenMP (the caller's torch kernels too) run one
    thread, so that work not spread over the pool does not oversubscribe the cores its workers
    use, and the pool is :func:`current_pool` of this thread; at its end the thread counts are
    restored. The pool of a size is made once per process and kept (its idle threads wait);
    the caller waits for what it submits.

    Parameters
    ----------
    threads : int
        Worker threads; <= 1 runs nothing side by side (the block gets None and kernels keep
        their own thread counts).

    Yields
    ------
    SideBySide or None
    """
    if threads <= 1:
        yield None
        return
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    pool = _shared_pool(int(threads))
    token = _CURRENT.set(pool)
    try:
        with threadpool_limits(limits=1):
            yield pool
    finally:
        _CURRENT.reset(token)


#: One pool per process and size, made on first use: a server scoring song after song reuses
#: its threads (and the memory arenas they hold) instead of starting new ones for every song.
_POOLS: dict[tuple[int, int], SideBySide] = {}
_POOLS_LOCK = threading.Lock()


def _shared_pool(threads: int) -> SideBySide:
    key = (os.getpid(), threads)  # a forked child cannot use its parent's threads
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = SideBySide(threads)
        return _POOLS[key]


def current_pool() -> SideBySide | None:
    """The pool of the innermost :func:`side_by_side` block of this thread, if any."""
    return _CURRENT.get()
