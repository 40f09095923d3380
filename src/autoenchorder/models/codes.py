"""A model's code space, and a compact index of its training songs in it.

"Songs that sound like yours" are the training songs nearest to a new song in the space the
model itself reads songs in:

- a model with an autoencoder (HitMusicNet, Autoen-chorder) exposes ``codes(ds)``: its scaled
  code, the regressor's input;
- any other model is placed by its scaled inputs: the tabular features it reads (and the mean
  embedding frame of a sequence model), standardised.

Either way the coordinates are standardised with the indexed training songs' mean and standard
deviation (kept in the index), so every axis weighs the same in a Euclidean distance.

A :class:`TrainingIndex` holds at most ``cap`` training songs (a seeded sample of a larger
training set), their true popularity, and the popularity of *every* training song (for the
percentile of a new score). :mod:`autoenchorder.bundle` stores it beside the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from autoenchorder.errors import ModelError

if TYPE_CHECKING:
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models.base import Model

#: Training songs an index keeps at most (float16 codes: 5,000 x 40 is 400 KB).
DEFAULT_CAP: int = 5000
#: Names of the two kinds of code space.
AUTOENCODER_SPACE = "autoencoder code"
INPUT_SPACE = "scaled inputs"


@dataclass(frozen=True)
class TrainingIndex:
    """The training songs of a model in its code space.

    Attributes
    ----------
    ids : list of str, length N
        Track ids of the indexed songs.
    popularity : np.ndarray, float32, shape (N,)
        Their true popularity 0-100.
    codes : np.ndarray, float16, shape (N, D)
        Their standardised coordinates.
    shift, scale : np.ndarray, float32, shape (D,)
        The standardisation: ``(raw - shift) / scale``.
    training_popularity : np.ndarray, float32, shape (M,)
        The true popularity of every training song (M >= N), sorted.
    space : str
        :data:`AUTOENCODER_SPACE` or :data:`INPUT_SPACE`.
    """

    ids: list[str]
    popularity: np.ndarray
    codes: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    training_popularity: np.ndarray
    space: str

    def standardise(self, raw: np.ndarray) -> np.ndarray:
        """Place raw coordinates (from :func:`song_coordinates`) in the index's space.

        Parameters
        ----------
        raw : np.ndarray, shape (R, D) or (D,)

        Returns
        -------
        np.ndarray, float32, same shape
        """
        return ((np.asarray(raw, np.float32) - self.shift) / self.scale).astype(np.float32)


def code_space(model: Model) -> str:
    """The name of the space a model places songs in (see the module docstring)."""
    return AUTOENCODER_SPACE if callable(getattr(model, "codes", None)) else INPUT_SPACE


def song_coordinates(model: Model, ds: PopularityDataset) -> np.ndarray:
    """Raw (unstandardised) coordinates of the rows of ``ds`` in the model's code space.

    Parameters
    ----------
    model : Model
        A fitted model.
    ds : PopularityDataset
        Rows holding the parts the model reads.

    Returns
    -------
    np.ndarray, float32, shape (N, D)

    Raises
    ------
    ModelError
        The model reads nothing that can place a song (no tabular group, no sequences).
    """
    if code_space(model) == AUTOENCODER_SPACE:
        return np.asarray(model.codes(ds), dtype=np.float32)
    parts = []
    groups = [g for g in model.required_parts if g in ds.column_groups]
    if groups:
        parts.append(np.asarray(ds.features(groups), dtype=np.float32))
    if "sequences" in model.required_parts and ds.sequences is not None:
        dim = ds.sequence_dim or 0
        parts.append(
            np.stack([s.mean(0) if len(s) else np.zeros(dim, np.float32) for s in ds.sequences])
        )
    if not parts:
        raise ModelError(f"{model.name} reads nothing that places a song in a code space")
    # a missing feature sits at the training mean (0 once standardised)
    return np.hstack(parts).astype(np.float32)


def build_training_index(
    model: Model, train: PopularityDataset, *, cap: int = DEFAULT_CAP, seed: int = 0
) -> TrainingIndex:
    """Index a model's training songs in its code space.

    Parameters
    ----------
    model : Model
        The fitted model.
    train : PopularityDataset
        Its training rows (a regression dataset: popularity 0-100).
    cap : int
        Songs indexed at most; a larger training set is sampled (seeded).
    seed : int

    Returns
    -------
    TrainingIndex
    """
    if len(train) == 0:
        raise ModelError("cannot index an empty training set")
    rows = np.arange(len(train))
    if len(train) > cap:
        rows = np.sort(np.random.default_rng(seed).choice(len(train), size=cap, replace=False))
    chosen = train.take(rows)
    raw = song_coordinates(model, chosen)
    finite = np.where(np.isfinite(raw), raw, np.nan)
    shift = np.nan_to_num(np.nanmean(finite, axis=0)).astype(np.float32)
    spread = np.nan_to_num(np.nanstd(finite, axis=0))
    # a nearly constant axis (a unit dead on the training songs, alive on a new one) would
    # turn noise into distance: no axis counts more than twice a typical one
    floor = max(1e-6, 0.5 * float(np.median(spread)))
    scale = np.maximum(spread, floor).astype(np.float32)
    codes = np.nan_to_num((finite - shift) / scale)
    return TrainingIndex(
        ids=[str(i) for i in chosen.ids],
        popularity=np.asarray(chosen.y, dtype=np.float32),
        codes=codes.astype(np.float16),
        shift=shift,
        scale=scale,
        training_popularity=np.sort(np.asarray(train.y, dtype=np.float32)),
        space=code_space(model),
    )
