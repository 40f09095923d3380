"""Where a new song sits among the model's training songs: its nearest ones, its percentile."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from autoenchorder.models.codes import TrainingIndex

#: Neighbours returned by default.
DEFAULT_NEIGHBOURS: int = 5


class TrainingSongs:
    """The training songs of a bundle (its :class:`~autoenchorder.models.codes.TrainingIndex`).

    Parameters
    ----------
    index : TrainingIndex
    """

    def __init__(self, index: TrainingIndex) -> None:
        self.index = index
        self._codes = np.asarray(index.codes, dtype=np.float32)
        self._sorted = np.sort(np.asarray(index.training_popularity, dtype=np.float64))

    def nearest(
        self, coordinates: Sequence[float], *, k: int = DEFAULT_NEIGHBOURS
    ) -> list[dict[str, Any]]:
        """The ``k`` indexed songs nearest a song, nearest first.

        Parameters
        ----------
        coordinates : sequence of float, length D
            The song's raw coordinates in the model's code space (from the scoring process).
        k : int

        Returns
        -------
        list of dict
            ``id``, ``popularity`` (true, 0-100), ``distance`` (Euclidean, in standard
            deviations of the training codes), ``similarity`` (0-1: 1 the same place, about
            0.37 two songs drawn at random).
        """
        query = self.index.standardise(np.asarray(coordinates, dtype=np.float32))
        if query.shape[-1] != self._codes.shape[1]:
            return []
        distance = np.sqrt(((self._codes - query) ** 2).sum(axis=1))
        order = np.argsort(distance, kind="stable")[:k]
        # standardised codes: two random songs lie about sqrt(2 D) apart
        typical = float(np.sqrt(2.0 * self._codes.shape[1])) or 1.0
        return [
            {
                "id": self.index.ids[i],
                "popularity": round(float(self.index.popularity[i]), 2),
                "distance": round(float(distance[i]), 3),
                "similarity": round(float(np.exp(-((distance[i] / typical) ** 2))), 3),
            }
            for i in order
        ]

    def percentile(self, popularity: float) -> float | None:
        """Share (0-100) of training songs whose true popularity is below ``popularity``.

        Ties count half, so a score equal to every training song is at the 50th percentile.
        """
        if not np.isfinite(popularity) or self._sorted.size == 0:
            return None
        below = np.searchsorted(self._sorted, popularity, side="left")
        at_or_below = np.searchsorted(self._sorted, popularity, side="right")
        return round(100.0 * (below + at_or_below) / (2.0 * self._sorted.size), 1)
