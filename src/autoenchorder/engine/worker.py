"""Worker side of both engines: build the item function once, cap its threads, call it.

What a worker sends back is a plain value or a :class:`Raised` (the exception its function or
its factory raised), so the driver re-raises exactly what the worker raised.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable
from typing import Any


class Raised:
    """An exception raised in a worker, carried back to the driver to be raised there.

    Parameters
    ----------
    error : BaseException
        What was raised.
    """

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __reduce__(self) -> tuple:
        # An exception that cannot cross processes still arrives, as its type and message.
        try:
            pickle.dumps(self.error)
            error = self.error
        except Exception:  # noqa: BLE001
            error = RuntimeError(f"{type(self.error).__name__}: {self.error}")
        return (Raised, (error,))

    def reraise(self) -> None:
        """Raise the worker's exception in this process."""
        raise self.error


def limit_threads(threads: int) -> None:
    """Cap BLAS / OpenMP pools (and torch, if loaded) at ``threads`` in this process.

    Workers share the cores: without a cap each would start one thread per core.
    """
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    # Kept alive for the life of the process: the limit holds while the object lives.
    _THREAD_LIMITS.append(threadpool_limits(threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


_THREAD_LIMITS: list = []


def start_worker(
    make_worker: Callable[[], Callable[[Any], Any]], threads: int | None
) -> Callable[[Any], Any] | Raised:
    """Build the worker's item function once (weights are loaded here), threads capped.

    Parameters
    ----------
    make_worker : callable
        Returns the function applied to each item.
    threads : int or None
        Thread cap, or None to leave this process's pools as they are.

    Returns
    -------
    callable or Raised
        The item function, or what ``make_worker`` raised (every item then returns it).
    """
    if threads:
        limit_threads(threads)
    try:
        fn = make_worker()
    except Exception as exc:  # noqa: BLE001  reported to the driver, raised there
        return Raised(exc)
    if threads and "torch" in sys.modules:
        # make_worker may have imported torch after the first cap.
        sys.modules["torch"].set_num_threads(threads)
    return fn


def call_worker(fn: Callable[[Any], Any] | Raised, item: Any) -> Any:
    """``fn(item)``, or a :class:`Raised` with what it (or the worker's factory) raised."""
    if isinstance(fn, Raised):
        return fn
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001  reported to the driver, raised there
        return Raised(exc)


def unwrap(result: Any) -> Any:
    """The driver's side of :func:`call_worker`: the value, or the worker's exception raised."""
    if isinstance(result, Raised):
        result.reraise()
    return result
