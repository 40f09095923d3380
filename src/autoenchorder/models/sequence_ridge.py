"""Ridge regression on statistics of a song's sequence over time (``"sequence-ridge"``).

Made for the ``lowlevel-sections`` embedder (the 207 low-level features of each 15 s section,
:mod:`autoenchorder.audio.embed.sections`) and usable on any embedder's frames. A song's frames
``[T, D]`` become one row of :func:`sequence_statistics`: for every column -- and, for every
column that is non-negative on all training frames (powers and magnitudes such as the mel
bands), also its square root and its log10 -- the mean, standard deviation, maximum, minimum
and slope over the song (the least-squares slope against time rescaled to [-1, 1]; 0 for a
one-frame song). So a layer that only the song's end plays shows in the slope and the maximum,
choruses louder than verses in the spread, where the whole-song features only see averages.

The rows are standardised on the training songs (a ``"standard"``
:class:`~autoenchorder.models.scaling.ColumnScaler`: a column constant up to float rounding
keeps scale 1), and a ridge regression is fitted on them with its penalty chosen by efficient
leave-one-out over a log grid (scikit-learn's ``RidgeCV``, the generalised cross-validation
shortcut). Only the training rows are used; ``val`` is not needed
(no early stopping). How it was chosen, and what it reaches: docs/models.md ("Full-length
songs").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.base import Model, ModelConfig, clip_popularity
from autoenchorder.models.registry import register_model
from autoenchorder.models.scaling import ColumnScaler

#: The statistics over time, in the order of :func:`sequence_statistics`'s blocks.
STATISTICS: tuple[str, ...] = ("mean", "std", "max", "min", "slope")
#: log10 offset of a non-negative column: this share of its mean over the training frames.
LOG_OFFSET_SHARE = 1e-3
#: prefix of the rows' scaler in the state's arrays
ROWS = "rows"


def expand_columns(frames: np.ndarray, nonnegative: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """The frames with the square root and log10 of their non-negative columns appended.

    Parameters
    ----------
    frames : np.ndarray, shape (T, D)
    nonnegative : np.ndarray of bool, shape (D,)
        The columns to expand.
    offset : np.ndarray, shape (K,)
        Added before the log of each of the K expanded columns (> 0).

    Returns
    -------
    np.ndarray, float64, shape (T, D + 2K)
        Values below 0 in an expanded column (unseen in training) are taken as 0.
    """
    frames = np.asarray(frames, dtype=np.float64)
    chosen = np.maximum(frames[:, nonnegative], 0.0)
    return np.hstack([frames, np.sqrt(chosen), np.log10(chosen + offset)])


def sequence_statistics(frames: np.ndarray) -> np.ndarray:
    """Mean, standard deviation, maximum, minimum and slope of each column over time.

    Parameters
    ----------
    frames : np.ndarray, shape (T, C)
        One song's frames in time order, T >= 1.

    Returns
    -------
    np.ndarray, float64, shape (5 * C,)
        The five blocks of C values in :data:`STATISTICS` order. The slope is the least-squares
        slope against time rescaled to [-1, 1] (the change from start to end is twice it); 0
        when T is 1.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or len(frames) == 0:
        raise ModelError(f"a sequence must be [T, C] with T >= 1, got shape {frames.shape}")
    mean = frames.mean(axis=0)
    if len(frames) > 1:
        t = np.linspace(-1.0, 1.0, len(frames))
        slope = t @ (frames - mean) / (t @ t)
    else:
        slope = np.zeros_like(mean)
    return np.concatenate([mean, frames.std(axis=0), frames.max(axis=0), frames.min(axis=0), slope])


@dataclass
class SequenceRidgeConfig(ModelConfig):
    """Options of ``sequence-ridge``.

    Attributes
    ----------
    expand : bool
        Add the square root and log10 of the non-negative columns before the statistics.
    alpha_min, alpha_max : float
        Range of the penalty grid (log-spaced).
    n_alphas : int
        Points of the grid.
    """

    expand: bool = True
    alpha_min: float = 1e-2
    alpha_max: float = 1e5
    n_alphas: int = 29


@register_model
class SequenceRidge(Model):
    """Ridge regression on statistics of the sequence over time (see the module docstring)."""

    name = "sequence-ridge"
    family = "baseline"
    config_class = SequenceRidgeConfig
    tasks = ("regression",)

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        return ("sequences",)

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        from sklearn.linear_model import RidgeCV  # noqa: PLC0415

        cfg = self.config
        if not 0 < cfg.alpha_min <= cfg.alpha_max or cfg.n_alphas < 1:
            raise ModelError(
                "sequence-ridge needs 0 < alpha_min <= alpha_max and n_alphas >= 1, got "
                f"{cfg.alpha_min}, {cfg.alpha_max}, {cfg.n_alphas}"
            )
        sequences = _sequences(train)
        self.dim_ = int(sequences[0].shape[1])
        all_frames = np.vstack(sequences).astype(np.float64)
        if cfg.expand:
            self.nonnegative_ = all_frames.min(axis=0) >= 0
        else:
            self.nonnegative_ = np.zeros(self.dim_, dtype=bool)
        means = all_frames[:, self.nonnegative_].mean(axis=0)
        self.offset_ = np.maximum(LOG_OFFSET_SHARE * means, 1e-12)
        x = self._rows(sequences)
        self.scaler_ = ColumnScaler("standard").fit(x)
        alphas = np.logspace(np.log10(cfg.alpha_min), np.log10(cfg.alpha_max), cfg.n_alphas)
        fitted = RidgeCV(alphas=alphas).fit(self.scaler_.transform(x), train.y)
        self.coef_ = np.asarray(fitted.coef_, dtype=np.float64)
        self.intercept_ = float(fitted.intercept_)
        self.alpha_ = float(fitted.alpha_)
        self.history_ = [
            {"stage": "ridge", "epoch": 1, "alpha": self.alpha_, "n_features": x.shape[1]}
        ]

    def _rows(self, sequences: Sequence[np.ndarray]) -> np.ndarray:
        """Statistics of each song, shape (N, 5 * (D + 2K))."""
        rows = []
        for frames in sequences:
            if frames.shape[1] != self.dim_:
                raise ModelError(
                    f"sequence-ridge was fitted on {self.dim_}-d frames, got {frames.shape[1]}-d"
                )
            rows.append(
                sequence_statistics(expand_columns(frames, self.nonnegative_, self.offset_))
            )
        return np.stack(rows)

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        x = self.scaler_.transform(self._rows(_sequences(ds)))
        return clip_popularity(x @ self.coef_ + self.intercept_, ds, model=self.name)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"dim": self.dim_, "alpha": self.alpha_, "intercept": self.intercept_}
        arrays = {
            "nonnegative": self.nonnegative_.astype(np.uint8),
            "offset": self.offset_,
            **self.scaler_.to_arrays(ROWS),
            "coef": self.coef_,
        }
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.dim_ = int(state["dim"])
        self.alpha_ = float(state["alpha"])
        self.intercept_ = float(state["intercept"])
        self.nonnegative_ = np.asarray(arrays["nonnegative"]).astype(bool)
        self.offset_ = np.asarray(arrays["offset"], dtype=np.float64)
        if "center" in arrays:  # saved before the rows' scaler was a ColumnScaler
            arrays = {**arrays, f"{ROWS}.shift": arrays["center"], f"{ROWS}.scale": arrays["scale"]}
        self.scaler_ = ColumnScaler.from_arrays("standard", dict(arrays), ROWS)
        self.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        if self.nonnegative_.shape != (self.dim_,) or self.coef_.shape != self.scaler_.scale_.shape:
            raise ValueError("array shapes do not match the state's frame width")


def _sequences(ds: PopularityDataset) -> list[np.ndarray]:
    """The dataset's sequences, each at least one frame (ModelError naming an empty one)."""
    assert ds.sequences is not None
    for track_id, frames in zip(ds.ids, ds.sequences, strict=True):
        if len(frames) == 0:
            raise ModelError(f"sequence-ridge: the sequence of {track_id} has no frames")
    return list(ds.sequences)
