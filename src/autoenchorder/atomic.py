"""Atomic file writes: a reader sees the old file or the whole new one, never half of either.

Every writer goes through :func:`write_atomic`: the content goes to a temporary file in the
target's folder (same file system, so the final rename is atomic), is flushed to disk with
``fsync``, and replaces the target with :func:`os.replace`. If writing fails, or the process is
interrupted by an exception, the temporary file is removed and the old target is left as it was.

This module imports nothing from the package, so every stage (audio weights, feature stores,
bundles, run directories) can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

#: Permissions of the files written: readable by everyone (``mkstemp`` alone would give 0600,
#: hiding results and bundles from the other users of a shared machine).
FILE_MODE = 0o644
#: Suffix of the temporary files, so that a glob for the target's extension never matches one
#: left behind by a killed process.
PARTIAL_SUFFIX = ".part"


def write_atomic(
    path: str | Path,
    write: Callable[[Path], None],
    *,
    fsync: bool = True,
    mode: int = FILE_MODE,
) -> Path:
    """Create or replace ``path`` atomically with whatever ``write`` puts in a temporary path.

    Parameters
    ----------
    path : str or Path
        The file to create or replace; its folder is created if missing.
    write : callable
        ``write(tmp_path)`` writes the complete content to ``tmp_path`` (an empty file that
        already exists, in the same folder). Libraries that write to a path themselves fit
        here: ``lambda tmp: pq.write_table(table, tmp)``, ``lambda tmp: save_file(arrays,
        str(tmp))``, ``lambda tmp: sf.write(str(tmp), y, sr, format="WAV")``. The temporary name
        ends in :data:`PARTIAL_SUFFIX`, so a writer that guesses the format from the extension
        needs it said explicitly.
    fsync : bool
        Flush the content and the folder entry to disk before returning, so that the new file
        also survives a power loss. ``False`` keeps only the atomicity against crashes, for
        many small files that can be regenerated (fsync costs about 10 ms a file).
    mode : int
        Permission bits of the new file.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    Exception
        Whatever ``write`` or the file system raises; the target is then unchanged and the
        temporary file removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if fsync:
            _fsync_file(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        _fsync_folder(path.parent)
    return path


def write_bytes_atomic(
    path: str | Path, data: bytes, *, fsync: bool = True, mode: int = FILE_MODE
) -> Path:
    """Create or replace ``path`` atomically with ``data``; see :func:`write_atomic`."""
    return write_atomic(path, lambda tmp: tmp.write_bytes(data), fsync=fsync, mode=mode)


def write_text_atomic(
    path: str | Path,
    text: str,
    *,
    encoding: str = "utf-8",
    fsync: bool = True,
    mode: int = FILE_MODE,
) -> Path:
    """Create or replace ``path`` atomically with ``text``; see :func:`write_atomic`."""
    return write_atomic(
        path, lambda tmp: tmp.write_text(text, encoding=encoding), fsync=fsync, mode=mode
    )


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    # makes the rename itself durable; some file systems (and Windows) cannot open a folder
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
