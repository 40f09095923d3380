"""Gradient-boosted trees as plain arrays: export a fitted HistGradientBoosting, predict in numpy.

scikit-learn can only persist its estimators with pickle, which bundles refuse. A fitted
``HistGradientBoostingRegressor`` / ``HistGradientBoostingClassifier`` is, for prediction, a
baseline plus a sum of small trees, and each tree is a table of nodes (``_predictors[i][k].nodes``,
a structured array with ``feature_idx``, ``num_threshold``, ``missing_go_to_left``, ``left``,
``right``, ``is_leaf``, ``value``). :func:`export_hist_gradient_boosting` copies those columns
of every tree into a handful of flat arrays (safetensors-friendly) and
:class:`TreeEnsemble` evaluates them with scikit-learn's exact rule -- NaN goes to the side
``missing_go_to_left`` says, otherwise ``x <= threshold`` goes left -- summing the trees in
scikit-learn's order, so regression predictions are bit-identical.

Only numeric splits are supported (our tabular features are all numeric); a model fitted with
categorical features is refused with a :class:`~autoenchorder.errors.ModelError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autoenchorder.errors import ModelError

#: scikit-learn link class name -> our name of its inverse
_LINKS = {
    "IdentityLink": "identity",
    "LogLink": "log",
    "LogitLink": "logit",
    "MultinomialLogit": "softmax",
}


@dataclass(frozen=True)
class TreeEnsemble:
    """A boosted tree ensemble stored as flat arrays.

    Attributes
    ----------
    feature : np.ndarray, int64, shape (M,)
        Split feature of each node of every tree, concatenated (M nodes in all).
    threshold : np.ndarray, float64, shape (M,)
        Split threshold (``x <= threshold`` goes left).
    missing_left : np.ndarray, bool, shape (M,)
        Whether a NaN goes left.
    left, right : np.ndarray, int64, shape (M,)
        Child node indices, local to their tree.
    is_leaf : np.ndarray, bool, shape (M,)
    value : np.ndarray, float64, shape (M,)
        Leaf values (raw scale).
    tree_offsets : np.ndarray, int64, shape (n_trees + 1,)
        Tree ``t`` owns nodes ``tree_offsets[t]:tree_offsets[t + 1]``; trees are ordered by
        iteration, then by output (class) ``k``.
    baseline : np.ndarray, float64, shape (K,)
        Raw baseline prediction per output.
    link : str
        Inverse link from raw scores: ``"identity"``, ``"log"`` (exp), ``"logit"`` (binary
        sigmoid) or ``"softmax"``.
    classes : np.ndarray or None
        Class labels of a classifier, else None.
    n_features : int
    """

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    tree_offsets: np.ndarray
    baseline: np.ndarray
    link: str
    classes: np.ndarray | None
    n_features: int

    @property
    def n_outputs(self) -> int:
        """Trees per boosting iteration (1, or the number of classes for multiclass)."""
        return len(self.baseline)

    def raw_predict(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (before the inverse link).

        Parameters
        ----------
        x : np.ndarray, shape (N, n_features)

        Returns
        -------
        np.ndarray, float64, shape (N, K)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ModelError(f"expected features of shape (N, {self.n_features}), got {x.shape}")
        raw = np.zeros((len(x), self.n_outputs), dtype=np.float64)
        raw += self.baseline
        rows = np.arange(len(x))
        for t in range(len(self.tree_offsets) - 1):
            raw[:, t % self.n_outputs] += self._evaluate_tree(x, rows, self.tree_offsets[t])
        return raw

    def _evaluate_tree(self, x: np.ndarray, rows: np.ndarray, start: int) -> np.ndarray:
        node = np.full(len(x), start, dtype=np.int64)
        active = ~self.is_leaf[node]
        while active.any():
            current = node[active]
            values = x[rows[active], self.feature[current]]
            go_left = np.where(
                np.isnan(values), self.missing_left[current], values <= self.threshold[current]
            )
            node[active] = start + np.where(go_left, self.left[current], self.right[current])
            active = ~self.is_leaf[node]
        return self.value[node]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions like the estimator's ``predict`` (values, or class labels).

        Parameters
        ----------
        x : np.ndarray, shape (N, n_features)

        Returns
        -------
        np.ndarray, shape (N,)
        """
        if self.classes is not None:
            return self.classes[np.argmax(self.predict_proba(x), axis=1)]
        raw = self.raw_predict(x).ravel()
        return np.exp(raw) if self.link == "log" else raw

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities of a classifier.

        Parameters
        ----------
        x : np.ndarray, shape (N, n_features)

        Returns
        -------
        np.ndarray, float64, shape (N, C)
        """
        if self.classes is None:
            raise ModelError("predict_proba needs a classifier ensemble")
        raw = self.raw_predict(x)
        if self.link == "logit":
            positive = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def to_state(self, prefix: str = "") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able metadata and named arrays (keys prefixed with ``prefix``)."""
        meta: dict[str, Any] = {"link": self.link, "n_features": self.n_features}
        if self.classes is not None:
            meta["classes"] = self.classes.tolist()
        arrays = {
            "feature": self.feature,
            "threshold": self.threshold,
            "missing_left": self.missing_left.astype(np.uint8),
            "left": self.left,
            "right": self.right,
            "is_leaf": self.is_leaf.astype(np.uint8),
            "value": self.value,
            "tree_offsets": self.tree_offsets,
            "baseline": self.baseline,
        }
        return meta, {prefix + k: np.ascontiguousarray(v) for k, v in arrays.items()}

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], prefix: str = ""
    ) -> TreeEnsemble:
        """Rebuild from :meth:`to_state`; ModelError if arrays are missing or inconsistent."""
        try:
            get = {
                k: np.asarray(arrays[prefix + k])
                for k in (
                    "feature",
                    "threshold",
                    "missing_left",
                    "left",
                    "right",
                    "is_leaf",
                    "value",
                    "tree_offsets",
                    "baseline",
                )
            }
            classes = meta.get("classes")
            ensemble = cls(
                feature=get["feature"].astype(np.int64),
                threshold=get["threshold"].astype(np.float64),
                missing_left=get["missing_left"].astype(bool),
                left=get["left"].astype(np.int64),
                right=get["right"].astype(np.int64),
                is_leaf=get["is_leaf"].astype(bool),
                value=get["value"].astype(np.float64),
                tree_offsets=get["tree_offsets"].astype(np.int64),
                baseline=get["baseline"].astype(np.float64),
                link=str(meta["link"]),
                classes=None if classes is None else np.asarray(classes),
                n_features=int(meta["n_features"]),
            )
        except KeyError as exc:
            raise ModelError(f"tree ensemble state lacks {exc}") from None
        ensemble.validate()
        return ensemble

    def validate(self) -> None:
        """Check that every child index and split feature is in range (no out-of-bounds reads)."""
        n = len(self.feature)
        same = {
            len(a)
            for a in (
                self.threshold,
                self.missing_left,
                self.left,
                self.right,
                self.is_leaf,
                self.value,
            )
        }
        offsets = self.tree_offsets
        if same != {n} or offsets[0] != 0 or offsets[-1] != n or np.any(np.diff(offsets) < 1):
            raise ModelError("tree ensemble arrays have inconsistent lengths")
        if self.link not in _LINKS.values():
            raise ModelError(f"unknown link {self.link!r}")
        if (len(offsets) - 1) % self.n_outputs:
            raise ModelError("number of trees is not a multiple of the number of outputs")
        sizes = np.repeat(np.diff(offsets), np.diff(offsets))
        split = ~self.is_leaf
        for child in (self.left, self.right):
            if np.any(split & ((child < 1) | (child >= sizes))):
                raise ModelError("tree ensemble has a child index outside its tree")
        if np.any(split & ((self.feature < 0) | (self.feature >= self.n_features))):
            raise ModelError("tree ensemble splits on a feature index out of range")


def export_hist_gradient_boosting(estimator: Any) -> TreeEnsemble:
    """Copy a fitted HistGradientBoostingRegressor / Classifier into a :class:`TreeEnsemble`.

    Parameters
    ----------
    estimator : sklearn.ensemble.HistGradientBoostingRegressor or ...Classifier
        Fitted on a numeric array (no categorical features, no pandas-dtype preprocessing).

    Returns
    -------
    TreeEnsemble
        Predicts what ``estimator`` predicts (regression: bit-identical).

    Raises
    ------
    ModelError
        Not fitted, fitted with categorical features, or an unsupported loss.
    """
    predictors = getattr(estimator, "_predictors", None)
    if predictors is None:
        raise ModelError("the gradient-boosting model is not fitted")
    if getattr(estimator, "_preprocessor", None) is not None or any(
        bool(p.nodes["is_categorical"].any()) for it in predictors for p in it
    ):
        raise ModelError("gradient-boosting models with categorical features cannot be exported")
    link = _LINKS.get(type(estimator._loss.link).__name__)
    if link is None:
        raise ModelError(f"unsupported loss link {type(estimator._loss.link).__name__}")
    trees = [p.nodes for it in predictors for p in it]
    sizes = np.array([len(nodes) for nodes in trees], dtype=np.int64)
    nodes = np.concatenate(trees)
    classes = getattr(estimator, "classes_", None)
    return TreeEnsemble(
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=nodes["left"].astype(np.int64),
        right=nodes["right"].astype(np.int64),
        is_leaf=nodes["is_leaf"].astype(bool),
        value=nodes["value"].astype(np.float64),
        tree_offsets=np.concatenate([[0], np.cumsum(sizes)]),
        baseline=np.asarray(estimator._baseline_prediction, dtype=np.float64).ravel(),
        link=link,
        classes=None if classes is None else np.asarray(classes),
        n_features=int(estimator.n_features_in_),
    )
