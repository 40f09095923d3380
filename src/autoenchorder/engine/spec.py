"""Which engine runs a batch stage, and the errors an engine reports."""

from __future__ import annotations

import os
from dataclasses import dataclass

from autoenchorder.errors import AutoenchorderError

ENGINES = ("local", "ray")


class EngineError(AutoenchorderError):
    """An engine that cannot run: an unknown name, Ray missing, a cluster out of reach."""


class WorkerCrash(AutoenchorderError):  # noqa: N818  the name other stages code against
    """The worker process died on an item every time it was tried (the item's result).

    Parameters
    ----------
    reason : str
        What happened, in words (how many times the worker died on the item).
    """

    def __init__(self, reason: str) -> None:
        # ``args == (reason,)`` so the exception pickles back to itself across processes.
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class EngineSpec:
    """Where and how wide a batch stage runs.

    Attributes
    ----------
    name : {"local", "ray"}
        ``"local"``: a process pool on this machine; ``"ray"``: an actor pool of Ray Data.
    workers : int
        Local: worker processes (1 = in this process, 0 = one per core). Ray: actors
        (0 = one per ``cpus_per_worker`` CPUs of the cluster).
    address : str or None
        Ray only: ``"auto"`` (the cluster ``ray start`` made on this machine),
        ``"ray://HOST:10001"`` (Ray Client), or None: join the Ray this process already joined,
        else start a local Ray for this run (and stop it after).
    cpus_per_worker : float
        Ray only: CPUs each actor reserves.
    gpus_per_worker : float
        Ray only: GPUs each actor reserves (0: none; 0.5: two actors share one GPU).
    threads_per_worker : int or None
        Torch / BLAS threads in each worker; default: cores // workers locally,
        ``cpus_per_worker`` (at least 1) on Ray.
    """

    name: str = "local"
    workers: int = 1
    address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    threads_per_worker: int | None = None

    def __post_init__(self) -> None:
        if self.name not in ENGINES:
            raise EngineError(f"unknown engine {self.name!r}; choose one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 0:
            raise EngineError(f"workers must be >= 0 (0 = automatic), got {self.workers}")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise EngineError("cpus_per_worker must be > 0 and gpus_per_worker >= 0")
        if self.threads_per_worker is not None and self.threads_per_worker < 1:
            raise EngineError(f"threads_per_worker must be >= 1, got {self.threads_per_worker}")
        if self.name == "local" and self.gpus_per_worker > 0:
            raise EngineError("gpus_per_worker is a Ray setting; locally use the device option")

    def local_workers(self) -> int:
        """Worker processes of the local engine (0 or None: one per core)."""
        return self.workers or (os.cpu_count() or 1)

    def local_threads(self) -> int:
        """Threads each local worker process gets."""
        if self.threads_per_worker:
            return self.threads_per_worker
        return max(1, (os.cpu_count() or 1) // self.local_workers())

    def ray_threads(self) -> int:
        """Threads each Ray actor gets."""
        return self.threads_per_worker or max(1, int(self.cpus_per_worker))
