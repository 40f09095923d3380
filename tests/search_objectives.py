"""Tiny picklable search objectives for the tests of workers that die mid-trial."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class KillOnce:
    """Sleep a little and return a bowl over the params; on ``kill_at`` the first time, die.

    The first process to reach the point ``kill_at`` leaves ``marker`` (created exclusively,
    so exactly one process does) and kills itself with SIGKILL: no ``finally``, no goodbye to
    the study, as when a machine is lost. Every later call on that point evaluates normally.
    """

    marker: str
    kill_at: tuple[tuple[str, object], ...]
    seconds: float = 0.1

    def __call__(self, params: dict) -> dict:
        if tuple(sorted(params.items())) == self.kill_at:
            try:
                Path(self.marker).open("x").close()
            except FileExistsError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(self.seconds)
        value = sum((float(v) - 1.0) ** 2 for v in params.values())
        return {"mae": value, "r2": -value, "pid": os.getpid()}
