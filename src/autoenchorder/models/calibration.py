"""Calibration of ranking scores to popularity: a strictly increasing map fitted after training.

A network trained on a ranking loss alone (:class:`~autoenchorder.models.losses.Objective`
``"ranking"``) orders songs but predicts on an arbitrary scale. :class:`ScoreCalibration` maps
its scores to popularity 0-100 with *centred isotonic regression* (Oron and Flournoy 2017):
the pool-adjacent-violators fit of the training targets on the training scores, then straight
lines between the centres of its blocks. Plain isotonic regression is a step function: it
would give every song of a block the same popularity and throw away the order the network
learnt; the centred version is strictly increasing between the first and the last centre, so
the calibrated predictions keep the scores' order (Spearman unchanged) while matching the
training targets' scale (for R^2 and MAE). Beyond the end centres it continues the end
segments' slopes, clipped to 0-100.

The map is two float64 arrays (knots), stored in a bundle beside the weights (no pickle).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from autoenchorder.errors import ModelError


class ScoreCalibration:
    """A strictly increasing piecewise-linear map from scores to popularity 0-100.

    Parameters
    ----------
    knots_x : np.ndarray, shape (K,)
        Strictly increasing scores (K >= 1).
    knots_y : np.ndarray, shape (K,)
        Strictly increasing popularity at those scores.
    """

    def __init__(self, knots_x: np.ndarray, knots_y: np.ndarray):
        self.knots_x = np.asarray(knots_x, dtype=np.float64)
        self.knots_y = np.asarray(knots_y, dtype=np.float64)
        if (
            self.knots_x.ndim != 1
            or self.knots_x.shape != self.knots_y.shape
            or len(self.knots_x) == 0
            or not np.all(np.isfinite(self.knots_x))
            or not np.all(np.isfinite(self.knots_y))
        ):
            raise ModelError("calibration knots must be two finite (K,) arrays, K >= 1")

    @classmethod
    def fit(cls, scores: np.ndarray, targets: np.ndarray) -> ScoreCalibration:
        """Fit centred isotonic regression of ``targets`` on ``scores``.

        Parameters
        ----------
        scores : np.ndarray, shape (N,)
            The model's raw outputs on its training rows.
        targets : np.ndarray, shape (N,)
            Their popularity 0-100.

        Returns
        -------
        ScoreCalibration
        """
        x = np.asarray(scores, dtype=np.float64)
        y = np.asarray(targets, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1 or len(x) == 0:
            raise ModelError(f"calibration needs two equal (N,) arrays; got {x.shape}, {y.shape}")
        # equal scores are one point (their mean target, weighted by their count)
        unique, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts
        values, weights, centres = _pool_adjacent_violators(unique, means, counts.astype(float))
        return cls(centres, values)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Popularity 0-100 of ``scores`` (N,): float64, shape (N,)."""
        s = np.asarray(scores, dtype=np.float64)
        x, y = self.knots_x, self.knots_y
        if len(x) == 1:
            return np.clip(np.full(s.shape, y[0]), 0.0, 100.0)
        out = np.interp(s, x, y)
        low_slope = (y[1] - y[0]) / (x[1] - x[0])
        high_slope = (y[-1] - y[-2]) / (x[-1] - x[-2])
        out = np.where(s < x[0], y[0] + low_slope * (s - x[0]), out)
        out = np.where(s > x[-1], y[-1] + high_slope * (s - x[-1]), out)
        return np.clip(out, 0.0, 100.0)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """``{prefix + "_x": knots_x, prefix + "_y": knots_y}`` for a bundle."""
        return {f"{prefix}_x": self.knots_x, f"{prefix}_y": self.knots_y}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> ScoreCalibration:
        """Rebuild from :meth:`to_arrays`'s output (KeyError when the arrays are missing)."""
        return cls(arrays[f"{prefix}_x"], arrays[f"{prefix}_y"])


def _pool_adjacent_violators(
    x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool adjacent violators on points sorted by strictly increasing ``x`` (all (N,)).

    Returns the blocks' values (strictly increasing: equal neighbours are pooled too), their
    total weights, and their centres (the weighted mean ``x`` of each block; strictly
    increasing because the blocks are disjoint runs of increasing ``x``), each shape (K,).
    """
    values: list[float] = []
    weights: list[float] = []
    sums_x: list[float] = []
    for xi, yi, wi in zip(x, y, w, strict=True):
        values.append(float(yi))
        weights.append(float(wi))
        sums_x.append(float(xi * wi))
        while len(values) > 1 and values[-2] >= values[-1]:
            value, weight, sum_x = values.pop(), weights.pop(), sums_x.pop()
            total = weights[-1] + weight
            values[-1] = (values[-1] * weights[-1] + value * weight) / total
            weights[-1] = total
            sums_x[-1] += sum_x
    weight_array = np.asarray(weights)
    return np.asarray(values), weight_array, np.asarray(sums_x) / weight_array
