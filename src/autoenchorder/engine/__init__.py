"""The batch engine: a stage's per-item work on a local process pool or a Ray cluster.

``map_items(EngineSpec("local", workers=4), make_worker, items)`` and
``map_items(EngineSpec("ray", address="auto"), make_worker, items)`` yield the same
``(item, result)`` pairs; the driver alone writes what a stage stores. Ray is imported only
when the Ray engine runs.
"""

from autoenchorder.engine.items import CRASH_RETRIES, map_items
from autoenchorder.engine.spec import ENGINES, EngineError, EngineSpec, WorkerCrash

__all__ = ["CRASH_RETRIES", "ENGINES", "EngineError", "EngineSpec", "WorkerCrash", "map_items"]


def ray_session(address: str | None = None):  # noqa: ANN201  (a context manager)
    """Join Ray for a block (see :func:`autoenchorder.engine.ray_backend.ray_session`)."""
    from autoenchorder.engine.ray_backend import ray_session as session  # noqa: PLC0415

    return session(address)
