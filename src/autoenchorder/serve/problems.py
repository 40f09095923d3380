"""The one way a request fails: :class:`Problem`, with a message a musician can act on.

The reasons the audio stage gives (the same ones ``predict`` prints per file) are technical;
:func:`musician_message` says the same thing in the words of someone exporting a mix. No
message ever carries a path of the server or a stack trace.
"""

from __future__ import annotations

import re


class Problem(Exception):  # noqa: N818 -- an HTTP problem, not a programming error
    """A request that cannot be served: its HTTP status and the message shown to the user.

    Parameters
    ----------
    status : int
        HTTP status (4xx: the request's fault; 5xx: the server's).
    message : str
        What went wrong and what to do, in plain words.
    reason : str, optional
        The technical reason (the audio stage's), without server paths.
    headers : dict, optional
        Extra response headers (``Retry-After`` of a 503).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.reason = reason
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        """The JSON body: ``detail`` (the message) and, when known, ``reason``."""
        body = {"detail": self.message}
        if self.reason:
            body["reason"] = self.reason
        return body


#: (pattern in the audio stage's reason, what a musician is told), first match wins.
_MESSAGES: tuple[tuple[str, str], ...] = (
    (
        r"empty file|zero length|no audio (samples|frames)|decoded no samples",
        "The file is empty: it holds no sound. Export the song again and upload that file.",
    ),
    (
        r"silence|silent",
        "The song is silent (no sound at all where the model listens), so there is "
        "nothing to score. Check the export: was the right track or bus rendered?",
    ),
    (
        r"shorter than|too short",
        "The recording is too short to be scored. Upload at least a few seconds of the song.",
    ),
    (
        r"NaN|infinite",
        "The file holds invalid samples (not numbers). Export the song again.",
    ),
    (
        r"sample rate .* too low",
        "The sample rate is too low for the model (it needs more than 12.8 kHz). "
        "Export at 44.1 or 48 kHz.",
    ),
    (
        r"not readable as audio|decoding failed|corrupt|Format not recognised|offset",
        "This file could not be read as audio: it may be damaged or cut short. "
        "Export the song again as WAV, FLAC, MP3 or OGG and upload that file.",
    ),
)


def musician_message(reason: str) -> str:
    """Say an audio stage's reason for refusing a file in a musician's words.

    Parameters
    ----------
    reason : str
        The reason (:attr:`autoenchorder.errors.AudioError.reason`).

    Returns
    -------
    str
    """
    for pattern, message in _MESSAGES:
        if re.search(pattern, reason, flags=re.IGNORECASE):
            return message
    return f"This file could not be scored: {reason}."


def without_paths(text: str, *paths: str, name: str = "the upload") -> str:
    """Replace the server's paths (and any other absolute path) in a message by ``name``."""
    for path in sorted(filter(None, paths), key=len, reverse=True):
        text = text.replace(path, name)
    return re.sub(r"(?<![\w.])/(?:[\w.+-]+/)+[\w.+-]*", name, text)
