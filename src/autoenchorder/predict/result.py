"""What scoring a song returns: :class:`SongPrediction`, or a :class:`PredictionFailure`."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SongPrediction:
    """One song's prediction.

    Attributes
    ----------
    path : str
    popularity : float
        Predicted popularity 0-100 (NaN for a classification bundle), made from exactly the
        input the model was trained on (``input``).
    band : str
        ``"low"`` (< 25), ``"mid"`` (25-64) or ``"high"`` (>= 65); for a classification bundle
        the predicted class.
    uncertainty : float
        Standard deviation of the prediction in popularity points (NaN if unavailable).
    uncertainty_method : str
        How it was made: ``"ensemble of N bundles"``, ``"MC dropout, N passes"`` or ``"none"``.
    duration : float
        Length of the file, seconds.
    windows : list of dict
        The timeline view: windows spread over the song (``start``, ``end`` in seconds,
        ``popularity`` of that window alone). For a whole-file model they are extra
        information, not the headline.
    window_sd : float
        Standard deviation of the windows' predictions (0 for one window).
    contributions : list of dict
        Per embedder frame of the model's input: ``start``, ``end`` (seconds in the song),
        ``contribution`` (popularity points); empty for models without a sequence part.
    class_probabilities : dict of str to float
        For classification bundles: the probability of each class.
    input : str
        The part of the file the headline was made from (``"whole file"``,
        ``"30 s window at 0 s"`` ...): the part the model's training features came from.
    """

    path: str
    popularity: float
    band: str
    uncertainty: float
    uncertainty_method: str
    duration: float
    windows: list[dict[str, float]] = field(default_factory=list)
    window_sd: float = 0.0
    contributions: list[dict[str, float]] = field(default_factory=list)
    class_probabilities: dict[str, float] = field(default_factory=dict)
    input: str = "whole file"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (NaN becomes None)."""
        return _nan_to_none(asdict(self))

    def summary(self) -> dict[str, Any]:
        """Return one flat row for CSV output."""
        return {
            "path": self.path,
            "popularity": self.popularity,
            "band": self.band,
            "uncertainty": self.uncertainty,
            "uncertainty_method": self.uncertainty_method,
            "duration": self.duration,
            "input": self.input,
            "n_windows": len(self.windows),
            "window_sd": self.window_sd,
            "error": "",
        }


@dataclass(frozen=True)
class PredictionFailure:
    """A file that could not be scored, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-able dict."""
        return {"path": self.path, "error": self.reason}


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
