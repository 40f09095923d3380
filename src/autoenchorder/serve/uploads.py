"""Uploads: the body limit, the type told from the content, the private folder they wait in.

- :class:`BodyLimit` refuses a request body over the limit with 413 while it arrives (from its
  ``Content-Length``, or by counting a chunked body), before it is parsed or stored.
- :func:`sniff_audio` tells the container from the first bytes, never from the file's name:
  text, images, archives and video get a 415 that says so.
- :class:`UploadFolder` is a folder only this process may read (mode 0700); each upload gets a
  random name in it, is scored from there and deleted afterwards. No path the client sends is
  ever opened: its file name is only shown back to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, BinaryIO

from autoenchorder.serve.problems import Problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Bytes read to tell the type.
SNIFF_BYTES: int = 64
#: Room for the multipart boundaries and headers around the files of one request.
MULTIPART_SLACK: int = 256 * 1024
#: Bytes copied at a time.
_CHUNK: int = 1024 * 1024


class _BodyTooLarge(Exception):  # noqa: N818 -- control flow inside BodyLimit
    pass


def too_large(limit_bytes: int) -> Problem:
    """The 413 of an upload over the limit."""
    return Problem(
        413,
        f"The file is too large: the limit is {limit_bytes / 2**20:g} MB per file. "
        "Upload a compressed version (MP3, OGG or FLAC) or a shorter excerpt.",
    )


class BodyLimit:
    """ASGI middleware: a 413 for request bodies larger than ``limit_bytes`` under ``prefix``.

    Parameters
    ----------
    app : ASGI app
    limit_bytes : int
        The largest body accepted.
    file_limit : int
        The per-file limit named in the message.
    prefix : str
        Paths the limit applies to.
    """

    def __init__(
        self, app: ASGIApp, *, limit_bytes: int, file_limit: int, prefix: str = "/api/"
    ) -> None:
        self.app = app
        self.limit_bytes = int(limit_bytes)
        self.file_limit = int(file_limit)
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: D102
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit_bytes:
            await _send_problem(send, too_large(self.file_limit))
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_problem(send, too_large(self.file_limit))


async def _send_problem(send: Send, problem: Problem) -> None:
    import json  # noqa: PLC0415

    body = json.dumps(problem.body()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def sniff_audio(head: bytes) -> str:
    """Tell an audio container from a file's first bytes.

    Parameters
    ----------
    head : bytes
        The first :data:`SNIFF_BYTES` bytes (or fewer) of the file.

    Returns
    -------
    str
        The file ending that names the container (``".wav"``, ``".flac"``, ``".ogg"``,
        ``".mp3"``, ``".aiff"``, ``".au"``, ``".w64"``).

    Raises
    ------
    Problem
        422 for an empty file, 415 for anything that is not audio libsndfile reads.
    """
    if not head:
        raise Problem(422, "The file is empty: it holds no sound.", reason="empty file (0 bytes)")
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return ".mp3"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return ".aiff"
    if head[:4] == b".snd":
        return ".au"
    if head[:4] == b"riff" and head[24:28] == b"wave":
        return ".w64"
    raise Problem(415, _not_audio_message(head), reason="not an audio file")


def _not_audio_message(head: bytes) -> str:
    what = None
    if head[4:8] == b"ftyp":
        what = "an AAC / M4A or video file, which this server cannot decode"
    elif head[:4] == b"PK\x03\x04":
        what = "a ZIP archive"
    elif head[:5] == b"%PDF-":
        what = "a PDF document"
    elif head[:8] == b"\x89PNG\r\n\x1a\n" or head[:3] == b"\xff\xd8\xff":
        what = "an image"
    elif head[:4] == b"\x1aE\xdf\xa3":
        what = "a WebM / Matroska file, which this server cannot decode"
    elif _looks_like_text(head):
        what = "a text file"
    found = f"This looks like {what}, not audio." if what else "This is not an audio file."
    return f"{found} Upload the song as WAV, FLAC, MP3 or OGG."


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


class UploadFolder:
    """A private temporary folder that uploads are stored in while they are scored.

    Parameters
    ----------
    parent : str or Path or None
        Where to make it (the system's temporary folder by default).
    """

    def __init__(self, parent: str | Path | None = None) -> None:
        # mkdtemp makes the folder readable by this user only (mode 0700)
        self.path = Path(tempfile.mkdtemp(prefix="autoenchorder-serve-", dir=parent))

    def store(self, source: BinaryIO, *, limit_bytes: int) -> Path:
        """Copy an upload into the folder under a random name, its ending told by its content.

        Parameters
        ----------
        source : binary file
            The upload as received (read from its start).
        limit_bytes : int
            The largest file accepted.

        Returns
        -------
        Path
            The stored file; the caller deletes it (:meth:`discard`).

        Raises
        ------
        Problem
            413 over the limit; 415 / 422 from :func:`sniff_audio`.
        """
        source.seek(0, os.SEEK_END)
        if source.tell() > limit_bytes:  # the size first: a large file is refused whatever it is
            raise too_large(limit_bytes)
        source.seek(0)
        ending = sniff_audio(source.read(SNIFF_BYTES))
        source.seek(0)
        target = self.path / f"{uuid.uuid4().hex}{ending}"
        written = 0
        try:
            with open(target, "wb") as out:
                while chunk := source.read(_CHUNK):
                    written += len(chunk)
                    if written > limit_bytes:
                        raise too_large(limit_bytes)
                    out.write(chunk)
        except BaseException:
            self.discard(target)
            raise
        return target

    @staticmethod
    def discard(path: Path | None) -> None:
        """Delete a stored upload (no error if it is gone)."""
        if path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def remove(self) -> None:
        """Delete the folder and anything left in it."""
        shutil.rmtree(self.path, ignore_errors=True)
