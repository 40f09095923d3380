"""One exception hierarchy for the whole package.

Every error a user can cause (bad audio, bad data, missing weights, a model asked for something
it cannot do) is an :class:`AutoenchorderError`, so batch jobs can catch it, record the reason
per item and go on, while programming errors still surface as ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path


class AutoenchorderError(Exception):
    """Base class of every error autoenchorder raises on purpose."""


class AudioError(AutoenchorderError):
    """Audio that cannot be used: unreadable, empty, too short, NaN samples, absurd length.

    Parameters
    ----------
    path : str or Path or None
        The file the problem is in (``None`` for in-memory signals).
    reason : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        where = self.path if self.path is not None else "<signal>"
        super().__init__(f"{where}: {reason}")


class DataError(AutoenchorderError):
    """A dataset, labels file or feature store that is missing, malformed or inconsistent."""


class WeightsError(AutoenchorderError):
    """Pretrained weights that are missing, corrupt or of the wrong layout."""


class ModelError(AutoenchorderError):
    """A model used wrongly: not fitted, missing an input part, an unknown name, a bad bundle."""


class EvaluationError(AutoenchorderError, ValueError):
    """Predictions that cannot be scored: mismatched lengths, no rows, NaN or infinite values.

    Also a :class:`ValueError`, the kind numpy and scikit-learn raise for a bad argument, so code
    that scores predictions as a library can catch it as either.
    """
