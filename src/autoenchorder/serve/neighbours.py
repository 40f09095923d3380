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
        self.typical = self._typical_neighbour_distance()

    def _typical_neighbour_distance(self, sample: int = 500) -> float:
        """Median distance from a training song to its nearest other training song.

        Closeness is measured against it: a new song that far from a training song is as close
        to it as neighbouring training songs are to each other (a sample of ``sample`` songs
        keeps this cheap for a large index).
        """
        n, dim = self._codes.shape
        if n < 2:
            return float(np.sqrt(2.0 * max(dim, 1)))
        rows = np.random.default_rng(0).permutation(n)[:sample]
        gaps = np.sqrt(((self._codes[rows, None, :] - self._codes[None, :, :]) ** 2).sum(-1))
        gaps[np.arange(len(rows)), rows] = np.inf
        typical = float(np.median(gaps.min(axis=1)))
        return typical if typical > 0 else float(np.sqrt(2.0 * max(dim, 1)))

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
            deviations of the training codes), ``similarity`` (0-1: 1 the same place, halved
            for every typical distance between a training song and its nearest other one).
        """
        query = self.index.standardise(np.asarray(coordinates, dtype=np.float32))
        if query.shape[-1] != self._codes.shape[1]:
            return []
        distance = np.sqrt(((self._codes - query) ** 2).sum(axis=1))
        order = np.argsort(distance, kind="stable")[:k]
        return [
            {
                "id": self.index.ids[i],
                "popularity": round(float(self.index.popularity[i]), 2),
                "distance": round(float(distance[i]), 3),
                "similarity": round(float(0.5 ** (distance[i] / self.typical)), 3),
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
