"""Where files live: a local path, or a URI of any fsspec file system (``s3://``, ``gs://`` ...).

Stores, song folders and outputs that a cluster shares live on an object store; a laptop's live
on its disk. Every stage that reads or writes such a location goes through this module, which
says whether a string is a URI (:func:`is_uri`), resolves it to a file system and a path
(:func:`filesystem`), lists the files below a folder or prefix (:func:`list_files`), copies a
remote file to a local temporary file for libraries that need a real file
(:func:`local_copy`), and writes whole files atomically (:func:`write_bytes`,
:func:`write_text`, :func:`write_with`).

Atomic writes: a local file is written to a temporary file and renamed into place
(:mod:`autoenchorder.atomic`); an object is written in one PUT (or one multipart upload, which
becomes visible only when it completes), started only once the content is complete, so a
reader sees the old object or the whole new one.

Credentials and endpoints come from the file system's own configuration: for S3, the usual
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_DEFAULT_REGION`` (or
``~/.aws``), and for an S3-compatible server (MinIO, Ceph, moto) its address in fsspec's
``FSSPEC_S3_ENDPOINT_URL`` (fsspec reads ``FSSPEC_<protocol>_<option>`` when it is imported)
or botocore's ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``.

fsspec (and s3fs for ``s3://``, the optional extra ``autoenchorder[s3]``) is imported only
when a URI is used, so local work never loads it.
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from autoenchorder.atomic import write_atomic, write_bytes_atomic, write_text_atomic
from autoenchorder.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from fsspec import AbstractFileSystem

#: ``scheme://`` at the start of a URI; one letter is a Windows drive (``C://`` is not a URI).
_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+)://")

#: The package a URI scheme needs, for the message when it is missing.
_BACKENDS: dict[str, str] = {
    "s3": "s3fs (pip install 'autoenchorder[s3]')",
    "s3a": "s3fs (pip install 'autoenchorder[s3]')",
    "gs": "gcsfs (pip install gcsfs)",
    "gcs": "gcsfs (pip install gcsfs)",
    "az": "adlfs (pip install adlfs)",
    "abfs": "adlfs (pip install adlfs)",
    "abfss": "adlfs (pip install adlfs)",
}

Location = str | Path


def is_uri(location: Location) -> bool:
    """Whether ``location`` is a URI (``scheme://...``) rather than a local path.

    ``file://`` URIs count as URIs too; :func:`local_path` turns them into paths.

    Parameters
    ----------
    location : str or Path

    Returns
    -------
    bool
    """
    return isinstance(location, str) and _URI.match(location) is not None


def scheme(location: Location) -> str | None:
    """The URI scheme of ``location`` (``"s3"``), or ``None`` for a local path."""
    match = _URI.match(location) if isinstance(location, str) else None
    return match.group("scheme").lower() if match else None


def local_path(location: Location) -> Path | None:
    """The local path ``location`` names (a path, or a ``file://`` URI), else ``None``."""
    if not is_uri(location):
        return Path(location)
    if scheme(location) == "file":
        return Path(str(location)[len("file://") :])
    return None


def is_remote(location: Location) -> bool:
    """Whether ``location`` lives on another file system than the local disk."""
    return local_path(location) is None


def as_location(location: Location) -> Location:
    """``location`` as callers keep it: a :class:`Path` for local files, the URI text otherwise."""
    local = local_path(location)
    return location if local is None else local


def filesystem(location: Location) -> tuple[AbstractFileSystem, str]:
    """The fsspec file system of ``location`` and the path within it.

    Parameters
    ----------
    location : str or Path
        A local path or a URI.

    Returns
    -------
    fs : fsspec.AbstractFileSystem
    path : str
        ``location`` without its protocol (``"bucket/key"`` for ``s3://bucket/key``).

    Raises
    ------
    DataError
        The URI's scheme is unknown, or the package that reads it is not installed.
    """
    try:
        import fsspec  # noqa: PLC0415  (only URIs need it)
    except ImportError as exc:  # pragma: no cover - fsspec comes with pandas' extras
        raise DataError(f"{location}: reading URIs needs fsspec (pip install fsspec)") from exc
    text = str(location)
    try:
        fs, path = fsspec.core.url_to_fs(text)
    except ImportError as exc:
        needed = _BACKENDS.get(scheme(text) or "", f"the fsspec backend of {scheme(text)}://")
        raise DataError(f"{text}: {scheme(text)}:// needs {needed} ({exc})") from None
    except ValueError as exc:
        raise DataError(f"{text}: not a file system fsspec knows ({exc})") from None
    return fs, path


def join(base: Location, *parts: str) -> Location:
    """``base`` joined with ``parts``: a :class:`Path` for a local base, a URI for a URI.

    Parameters
    ----------
    base : str or Path
    *parts : str
        Relative parts, posix separators.

    Returns
    -------
    str or Path
    """
    local = local_path(base)
    if local is not None and not is_uri(base):
        return local.joinpath(*parts)
    text = str(base).rstrip("/")
    tail = posixpath.join(*[p.strip("/") for p in parts if p.strip("/")]) if parts else ""
    return f"{text}/{tail}" if tail else text


def name(location: Location) -> str:
    """The last part of ``location`` (a file name)."""
    return (
        posixpath.basename(str(location).rstrip("/")) if is_uri(location) else Path(location).name
    )


def relative(location: Location, root: Location) -> str:
    """``location`` relative to the folder or prefix ``root``, posix.

    Raises
    ------
    ValueError
        ``location`` is not below ``root``.
    """
    if not is_uri(location) and not is_uri(root):
        return Path(location).relative_to(Path(root)).as_posix()
    prefix = str(root).rstrip("/") + "/"
    if not str(location).startswith(prefix):
        raise ValueError(f"{location} is not below {root}")
    return str(location)[len(prefix) :]


def exists(location: Location) -> bool:
    """Whether a file or folder (or a prefix holding objects) exists at ``location``."""
    local = local_path(location)
    if local is not None:
        return local.exists()
    fs, path = filesystem(location)
    fs.invalidate_cache(path)
    return bool(fs.exists(path))


def is_file(location: Location) -> bool:
    """Whether ``location`` is a file (an object)."""
    local = local_path(location)
    if local is not None:
        return local.is_file()
    fs, path = filesystem(location)
    fs.invalidate_cache(path)
    return bool(fs.isfile(path))


def list_files(
    location: Location, *, suffixes: Iterable[str] | None = None, hidden: bool = False
) -> list[Location]:
    """The files below a folder or prefix, recursively, sorted; or ``[location]`` for a file.

    Parameters
    ----------
    location : str or Path
        A local folder or a URI prefix (``s3://bucket/songs``).
    suffixes : iterable of str or None
        Keep only names ending in one of these (lower-case, with the dot); ``None`` keeps all.
    hidden : bool
        Keep files below a part starting with ``.`` (skipped by default).

    Returns
    -------
    list of Path or str
        Paths for a local folder, URIs (same scheme as ``location``) otherwise.

    Raises
    ------
    FileNotFoundError
        Nothing exists at ``location``.
    """
    wanted = None if suffixes is None else {s.lower() for s in suffixes}

    def keep(relative_parts: list[str]) -> bool:
        if not hidden and any(part.startswith(".") for part in relative_parts):
            return False
        return wanted is None or Path(relative_parts[-1]).suffix.lower() in wanted

    local = local_path(location)
    if local is not None and not is_uri(location):
        if local.is_file():
            return [local]
        if not local.is_dir():
            raise FileNotFoundError(str(location))
        found = [
            p for p in local.rglob("*") if p.is_file() and keep(list(p.relative_to(local).parts))
        ]
        return sorted(found)
    fs, path = filesystem(location)
    fs.invalidate_cache(path)
    if fs.isfile(path):
        return [str(location)]
    prefix = path.rstrip("/") + "/"
    found_paths = [p for p in fs.find(path) if p.startswith(prefix)]
    if not found_paths and not fs.isdir(path):
        raise FileNotFoundError(str(location))
    # spelled as the caller spelled the prefix, whatever the file system's own spelling
    base = str(location).rstrip("/")
    uris = [f"{base}/{p[len(prefix) :]}" for p in found_paths if keep(p[len(prefix) :].split("/"))]
    return sorted(uris)


def read_bytes(location: Location) -> bytes:
    """The whole content of a file or object."""
    local = local_path(location)
    if local is not None:
        return local.read_bytes()
    fs, path = filesystem(location)
    return fs.cat_file(path)


def read_text(location: Location, *, encoding: str = "utf-8") -> str:
    """The whole content of a text file or object."""
    return read_bytes(location).decode(encoding)


def open_file(location: Location, mode: str = "rb", *, encoding: str | None = None) -> IO[Any]:
    """Open a file or object for reading, streamed (``with storage.open_file(uri, "r") as f``).

    Parameters
    ----------
    location : str or Path
    mode : {"rb", "r"}
        Binary or text.
    encoding : str or None
        Text mode's encoding (default UTF-8).

    Returns
    -------
    file object
    """
    if mode not in {"rb", "r"}:
        raise ValueError(f"open_file reads only ('rb' or 'r'), not {mode!r}")
    local = local_path(location)
    text_encoding = (encoding or "utf-8") if mode == "r" else None
    if local is not None:
        return open(local, mode, encoding=text_encoding)  # noqa: SIM115  (the caller closes it)
    fs, path = filesystem(location)
    if mode == "r":
        return fs.open(path, "rt", encoding=text_encoding)
    return fs.open(path, "rb")


@contextmanager
def local_copy(location: Location, *, suffix: str | None = None) -> Iterator[Path]:
    """A local file with the content of ``location``, removed when the block ends.

    A local path is yielded as it is (no copy).

    Parameters
    ----------
    location : str or Path
    suffix : str or None
        Ending of the temporary file's name (default that of ``location``), for readers that
        tell the format by it.

    Yields
    ------
    Path
    """
    local = local_path(location)
    if local is not None:
        yield local
        return
    fs, path = filesystem(location)
    ending = suffix if suffix is not None else posixpath.splitext(path)[1]
    fd, tmp_name = tempfile.mkstemp(prefix="autoenchorder-", suffix=ending)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fs.get_file(path, str(tmp))
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def write_with(location: Location, write: Callable[[Path], None], *, fsync: bool = True) -> None:
    """Create or replace a file or object with what ``write(tmp_path)`` writes, atomically.

    Parameters
    ----------
    location : str or Path
    write : callable
        ``write(tmp_path)`` writes the whole content to a local temporary file (whose name ends
        in ``.part``; say the format explicitly to writers that guess it from the name).
    fsync : bool
        Local files: flush to disk (see :func:`autoenchorder.atomic.write_atomic`).
    """
    local = local_path(location)
    if local is not None:
        write_atomic(local, write, fsync=fsync)
        return
    fs, path = filesystem(location)
    fd, tmp_name = tempfile.mkstemp(prefix="autoenchorder-", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # the upload starts only now that the content is whole: one PUT (or one multipart
        # upload, visible when it completes) makes the object appear whole or not at all
        fs.put_file(str(tmp), path)
    finally:
        tmp.unlink(missing_ok=True)
    fs.invalidate_cache(path)


def write_bytes(location: Location, data: bytes, *, fsync: bool = True) -> None:
    """Create or replace a file or object with ``data`` atomically (see :func:`write_with`)."""
    local = local_path(location)
    if local is not None:
        write_bytes_atomic(local, data, fsync=fsync)
        return
    fs, path = filesystem(location)
    fs.pipe_file(path, data)  # one request with the whole content
    fs.invalidate_cache(path)


def write_text(
    location: Location, text: str, *, encoding: str = "utf-8", fsync: bool = True
) -> None:
    """Create or replace a text file or object atomically (see :func:`write_with`)."""
    local = local_path(location)
    if local is not None:
        write_text_atomic(local, text, encoding=encoding, fsync=fsync)
        return
    write_bytes(location, text.encode(encoding))


def remove(location: Location, *, recursive: bool = False) -> None:
    """Remove a file, or with ``recursive`` a folder (every object below a prefix).

    A missing one is no error.
    """
    local = local_path(location)
    if local is not None:
        if local.is_dir() and recursive:
            import shutil  # noqa: PLC0415

            shutil.rmtree(local, ignore_errors=True)
        else:
            local.unlink(missing_ok=True)
        return
    fs, path = filesystem(location)
    with suppress(FileNotFoundError):
        fs.rm(path, recursive=recursive)
    fs.invalidate_cache(path)


def pyarrow_filesystem(location: Location) -> tuple[Any, str]:
    """``(filesystem, path)`` for pyarrow readers and writers: ``(None, path)`` for local files.

    Parameters
    ----------
    location : str or Path

    Returns
    -------
    filesystem : fsspec.AbstractFileSystem or None
        Pass as ``filesystem=`` to ``pyarrow.parquet.read_table`` (it wraps fsspec ones).
    path : str
    """
    local = local_path(location)
    if local is not None:
        return None, str(local)
    return filesystem(location)
