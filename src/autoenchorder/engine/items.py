"""``map_items``: one call for every batch stage, whatever engine runs it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from autoenchorder.engine.spec import EngineSpec

#: times an item is tried again after its worker process died with it
CRASH_RETRIES = 2


def map_items(
    engine: EngineSpec,
    make_worker: Callable[[], Callable[[Any], Any]],
    items: Iterable[Any],
    *,
    window: int | None = None,
    progress_label: str | None = None,
    retries: int = CRASH_RETRIES,
) -> Iterator[tuple[Any, Any]]:
    """Apply a worker's function to every item, on this machine or on a Ray cluster.

    Parameters
    ----------
    engine : EngineSpec
        Which engine, how many workers, where.
    make_worker : callable
        Picklable (a module-level function or a ``functools.partial`` of one), called once per
        worker process or actor (load weights there); returns the function applied to each item.
    items : iterable
        Picklable items, consumed lazily.
    window : int or None
        Items in flight at most (locally: default 4 per worker); on Ray, items per Ray Data
        execution (default 1024; each execution starts its actors anew).
    progress_label : str or None
        Show a progress bar with this label (None: no bar).
    retries : int
        Times an item is tried again after its worker process died with it.

    Yields
    ------
    (item, result)
        In the order items finish. ``result`` is the function's return value, or a
        :class:`WorkerCrash` when the worker process died on the item every time it was tried.
        An exception the function (or ``make_worker``) raised is raised here, in the driver;
        functions that want per-item failures catch them and return them as values.

    Raises
    ------
    EngineError
        Ray missing or out of reach, or failing whole executions repeatedly.
    """
    if engine.name == "ray":
        from autoenchorder.engine.ray_backend import map_ray  # noqa: PLC0415

        results = map_ray(engine, make_worker, items, window=window, retries=retries)
    else:
        from autoenchorder.engine.local import map_local  # noqa: PLC0415

        results = map_local(engine, make_worker, items, window=window, retries=retries)
    if progress_label is None:
        yield from results
        return
    yield from _with_progress(results, progress_label, _length(items))


def _length(items: Iterable[Any]) -> int | None:
    try:
        return len(items)  # type: ignore[arg-type]
    except TypeError:
        return None


def _with_progress(
    results: Iterator[tuple[Any, Any]], label: str, total: int | None
) -> Iterator[tuple[Any, Any]]:
    from autoenchorder.progress import counting_progress  # noqa: PLC0415

    bar = counting_progress(label, unit="items")
    task = bar.add_task(label, total=total, note="")
    bar.start()
    try:
        for pair in results:
            bar.update(task, advance=1)
            yield pair
    finally:
        bar.stop()
