"""A bounded window of work in a process pool: memory stays flat whatever the number of items."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, TypeVar

Item = TypeVar("Item")


def in_window(
    pool: Executor, fn: Callable[[Item], Any], items: Iterable[Item], *, window: int
) -> Iterator[tuple[Item, Future]]:
    """Run ``fn(item)`` in ``pool`` with at most ``window`` items in flight.

    Parameters
    ----------
    pool : concurrent.futures.Executor
    fn : callable
        Applied to each item (picklable, for a process pool).
    items : iterable
        Consumed lazily, in order: the next item is submitted when one finishes.
    window : int
        Items in flight at most (at least 1).

    Yields
    ------
    (item, Future)
        Each item with its finished future, in the order they finish; ``future.result()``
        returns ``fn(item)`` or raises what it raised. Submitting to a broken pool raises
        :class:`concurrent.futures.process.BrokenProcessPool` from the generator.
    """
    queue = iter(items)
    pending: dict[Future, Item] = {}
    for item in queue:
        pending[pool.submit(fn, item)] = item
        if len(pending) >= max(1, window):
            break
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            yield pending.pop(future), future
            for item in queue:
                pending[pool.submit(fn, item)] = item
                break
