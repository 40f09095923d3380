"""The scoring processes and the bounded queue in front of them.

``--workers`` processes each load the bundle once (:mod:`.worker`); at most ``--queue`` more
requests wait for one. ``--workers 0`` scores in the server's own process instead (one song at
a time, in a thread: the least memory, for a laptop or a test). A request beyond that is
refused at once with 503 and a Retry-After of the expected wait, instead of piling up: a
server that queues without bound answers everyone late and runs out of memory.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from autoenchorder.errors import ModelError
from autoenchorder.serve import worker
from autoenchorder.serve.problems import Problem

#: Seconds a scoring process may take to load the bundle.
START_TIMEOUT: float = 300.0


class ScoringPool:
    """``workers`` scoring processes behind a queue of ``queue`` places.

    Parameters
    ----------
    bundles : sequence of str
        Bundle folders (an ensemble when several).
    workers : int
        Scoring processes; 0 scores in this process, one song at a time.
    queue : int
        Requests that may wait; more are refused (:meth:`run` raises a 503 :class:`Problem`).
    options : dict
        Predictor options (``mc_passes``, ``max_windows``).
    """

    def __init__(
        self, bundles: Sequence[str], *, workers: int, queue: int, options: dict[str, Any]
    ) -> None:
        if workers < 0:
            raise ModelError(f"--workers must be 0 or more, not {workers}")
        if queue < 0:
            raise ModelError(f"--queue must be 0 or more, not {queue}")
        self.bundles = [str(b) for b in bundles]
        self.workers = int(workers)
        self.queue = int(queue)
        self.options = dict(options)
        self.in_flight = 0
        self.served = 0
        self._seconds = 0.0
        self._executor: Executor | None = None

    @property
    def capacity(self) -> int:
        """Requests accepted at once: being scored plus waiting."""
        return self.scorers + self.queue

    @property
    def scorers(self) -> int:
        """Songs scored at the same time."""
        return max(1, self.workers)

    def start(self) -> list[int]:
        """Start the processes and wait until each has loaded the bundle.

        Returns
        -------
        list of int
            The processes' ids.

        Raises
        ------
        ModelError
            A process could not load the bundle (the loader's message).
        """
        if self.workers == 0:
            worker.start(self.bundles, self.options, threads=0)
            answer = worker.ready()
            if answer.get("error"):
                raise ModelError(answer["error"])
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring")
            return [os.getpid()]
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        # spawn, not fork: the server's threads (uvicorn's loop) must not be forked
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.start,
            initargs=(self.bundles, self.options, threads),
        )
        futures = [self._executor.submit(worker.ready) for _ in range(self.workers)]
        answers = [f.result(timeout=START_TIMEOUT) for f in futures]
        errors = [a["error"] for a in answers if a.get("error")]
        if errors:
            self.close()
            raise ModelError(errors[0])
        return self.pids()

    def pids(self) -> list[int]:
        """Ids of the scoring processes alive now."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(int(pid) for pid in processes)

    def retry_after(self) -> int:
        """Seconds a refused client should wait: the queue's expected time to drain."""
        mean = self._seconds / self.served if self.served else 2.0
        return max(1, math.ceil(mean * max(1, self.in_flight) / self.scorers))

    async def run(self, function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
        """Run a :mod:`.worker` function in a scoring process, or refuse when the queue is full.

        Raises
        ------
        Problem
            503 with Retry-After when every process is busy and the queue is full; 503 when a
            scoring process died (it is replaced).
        """
        if self._executor is None:
            raise Problem(503, "The server is starting; try again in a moment.")
        if self.in_flight >= self.capacity:
            wait = self.retry_after()
            raise Problem(
                503,
                f"The server is busy scoring other songs. Try again in about {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        self.in_flight += 1
        started = time.perf_counter()
        try:
            executor = self._executor
            future = executor.submit(function, *args)
            answer = await asyncio.wrap_future(future)
        except BrokenProcessPool:
            await asyncio.to_thread(self._restart, executor)
            raise Problem(
                503,
                "The scoring process stopped unexpectedly (out of memory?). Try again.",
                headers={"Retry-After": "5"},
            ) from None
        finally:
            self.in_flight -= 1
        self.served += 1
        self._seconds += time.perf_counter() - started
        return answer

    def _restart(self, broken: Executor) -> None:
        """Replace a broken set of processes (once, however many requests saw it break)."""
        if self._executor is not broken:
            return
        self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)
        self.start()

    def close(self) -> None:
        """Stop the processes (running work is cancelled)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
