"""What ``autoenchorder serve`` is asked to do: the bundle, the address, the limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Bytes in one of ``--max-upload-mb``'s megabytes.
MEGABYTE: int = 1024 * 1024


@dataclass(frozen=True)
class ServeSettings:
    """Options of the server.

    Attributes
    ----------
    bundles : tuple of Path
        The bundle (or several bundles / a folder of bundles: an ensemble).
    host : str
        Address to bind; 127.0.0.1 keeps the server on this machine.
    port : int
    workers : int
        Scoring processes.
    queue : int
        Requests that may wait for a scoring process; more get 503 with Retry-After.
    max_upload_mb : float
        Largest upload, in MB (2**20 bytes), per file.
    max_minutes : float
        Longest song, in minutes.
    token : str or None
        When set, every ``/api/`` request must carry it (``Authorization: Bearer T`` or
        ``X-Token: T``).
    mc_passes : int
        MC dropout passes for the uncertainty of a single bundle.
    windows : int
        Windows of the timeline view per long song.
    """

    bundles: tuple[Path, ...]
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    queue: int = 4
    max_upload_mb: float = 100.0
    max_minutes: float = 15.0
    token: str | None = None
    mc_passes: int = 30
    windows: int = 3

    @property
    def max_upload_bytes(self) -> int:
        """The largest upload, in bytes."""
        return int(self.max_upload_mb * MEGABYTE)

    @property
    def max_seconds(self) -> float:
        """The longest song, in seconds."""
        return float(self.max_minutes) * 60.0
