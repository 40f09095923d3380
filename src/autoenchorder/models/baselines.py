"""Baselines a practitioner tries first: the training mean, a random normal, boosted trees.

- ``"mean"``: predicts the training mean (classification: the training class shares).
- ``"random-normal"``: draws from N(training mean, training sd), clipped to 0-100 -- the
  Autoen-chorder study's baseline (N(40.02, 16.79) on its data). Draws are seeded per call.
- ``"gbdt"``: scikit-learn's HistGradientBoostingRegressor / Classifier on the tabular column
  groups. Its trees are stored as plain arrays (node feature, threshold, children, leaf values)
  and evaluated here, so a fitted GBDT survives a pickle-free bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.base import Model, ModelConfig, resolve_groups
from autoenchorder.models.registry import register_model


@register_model
class MeanBaseline(Model):
    """Predict the training mean popularity (or the training class shares)."""

    name = "mean"

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        if train.task == "regression":
            self.mean_ = float(np.mean(train.y))
        else:
            n_classes = len(train.class_names) if train.class_names else int(train.y.max()) + 1
            self.class_names_ = list(train.class_names or map(str, range(n_classes)))
            self.priors_ = np.bincount(train.y, minlength=n_classes) / len(train.y)

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        if self.task_ == "regression":
            return np.full(len(ds), self.mean_)
        return np.tile(self.priors_, (len(ds), 1))

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        if self.task_ == "regression":
            return {"mean": self.mean_}, {}
        return {"class_names": self.class_names_}, {"priors": self.priors_}

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        if self.task_ == "regression":
            self.mean_ = float(state["mean"])
        else:
            self.class_names_ = list(state["class_names"])
            self.priors_ = np.asarray(arrays["priors"], dtype=np.float64)


@register_model
class RandomNormalBaseline(Model):
    """Draw predictions from N(training mean, training sd), clipped to 0-100.

    Every ``predict`` call restarts the generator at ``config.seed``, so the same dataset gets
    the same predictions run to run.
    """

    name = "random-normal"
    tasks = ("regression",)

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        self.mean_ = float(np.mean(train.y))
        self.sd_ = float(np.std(train.y))

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        rng = np.random.default_rng(self.config.seed)
        return np.clip(rng.normal(self.mean_, self.sd_, size=len(ds)), 0.0, 100.0)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return {"mean": self.mean_, "sd": self.sd_}, {}

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.mean_, self.sd_ = float(state["mean"]), float(state["sd"])


@dataclass
class GBDTConfig(ModelConfig):
    """Options of the boosted-trees baseline (scikit-learn's HistGradientBoosting names).

    Attributes
    ----------
    groups : tuple of str, str or None
        Column groups used (None: all the dataset has; ``"audio-only"``: the low-level group).
    max_iter, max_leaf_nodes, min_samples_leaf : int
    learning_rate, l2_regularization : float
    early_stopping : bool
        Stop on a seeded 10 % split of the training rows (scikit-learn's own).
    """

    groups: tuple[str, ...] | str | None = None
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    early_stopping: bool = True


@register_model
class GBDTBaseline(Model):
    """Histogram gradient-boosted trees on the tabular features (regression or classification)."""

    name = "gbdt"
    config_class = GBDTConfig

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        if hasattr(self, "groups_"):
            return self.groups_
        groups = self.config.groups
        return groups if isinstance(groups, tuple) else ()

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        self.groups_ = resolve_groups(train, cfg.groups)
        train.require(*self.groups_)
        self.feature_names_ = train.feature_names(self.groups_)
        options = dict(
            max_iter=cfg.max_iter,
            learning_rate=cfg.learning_rate,
            max_leaf_nodes=cfg.max_leaf_nodes,
            min_samples_leaf=cfg.min_samples_leaf,
            l2_regularization=cfg.l2_regularization,
            early_stopping=cfg.early_stopping,
            random_state=cfg.seed,
        )
        x = train.features(self.groups_)
        if train.task == "regression":
            fitted = HistGradientBoostingRegressor(**options).fit(x, train.y / 100.0)
            self.link_ = "identity"
        else:
            fitted = HistGradientBoostingClassifier(**options).fit(x, train.y)
            self.class_names_ = list(train.class_names or map(str, fitted.classes_))
            if not np.array_equal(fitted.classes_, np.arange(len(self.class_names_))):
                raise ModelError("gbdt needs every class present in the training rows")
            self.link_ = "logistic" if fitted.n_trees_per_iteration_ == 1 else "softmax"
        self.trees_ = _flatten_trees(fitted)
        self.history_ = [
            {"stage": "gbdt", "epoch": i + 1, "train_loss": float(-s)}
            for i, s in enumerate(getattr(fitted, "train_score_", [])[1:])
        ]

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        ds.require(*self.groups_)
        if ds.feature_names(self.groups_) != self.feature_names_:
            raise ModelError("the dataset's feature columns differ from the training columns")
        raw = _raw_predict(self.trees_, ds.features(self.groups_))
        if self.link_ == "identity":
            return np.clip(raw[:, 0] * 100.0, 0.0, 100.0)
        if self.link_ == "logistic":
            p1 = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.column_stack([1.0 - p1, p1])
        raw = raw - raw.max(axis=1, keepdims=True)
        return np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "groups": list(self.groups_),
            "feature_names": self.feature_names_,
            "link": self.link_,
            "class_names": getattr(self, "class_names_", None),
        }
        return state, {f"trees.{k}": v for k, v in self.trees_.items()}

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.groups_ = tuple(state["groups"])
        self.feature_names_ = list(state["feature_names"])
        self.link_ = state["link"]
        if state.get("class_names") is not None:
            self.class_names_ = list(state["class_names"])
        self.trees_ = {k: np.asarray(arrays[f"trees.{k}"]) for k in _TREE_FIELDS}


_TREE_FIELDS = (
    "feature",
    "threshold",
    "missing_left",
    "left",
    "right",
    "is_leaf",
    "value",
    "roots",
    "output",
    "baseline",
)


def _flatten_trees(fitted: Any) -> dict[str, np.ndarray]:
    """Return the fitted ensemble's trees as flat node arrays (children indices made global)."""
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _TREE_FIELDS[:7]}
    roots, outputs, offset = [], [], 0
    for iteration in fitted._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise ModelError("gbdt: categorical splits are not supported")
            parts["feature"].append(nodes["feature_idx"].astype(np.int64))
            parts["threshold"].append(nodes["num_threshold"].astype(np.float64))
            parts["missing_left"].append(nodes["missing_go_to_left"].astype(bool))
            parts["left"].append(nodes["left"].astype(np.int64) + offset)
            parts["right"].append(nodes["right"].astype(np.int64) + offset)
            parts["is_leaf"].append(nodes["is_leaf"].astype(bool))
            parts["value"].append(nodes["value"].astype(np.float64))
            roots.append(offset)
            outputs.append(k)
            offset += len(nodes)
    trees = {k: np.concatenate(v) for k, v in parts.items()}
    trees["roots"] = np.asarray(roots, dtype=np.int64)
    trees["output"] = np.asarray(outputs, dtype=np.int64)
    trees["baseline"] = np.asarray(fitted._baseline_prediction, dtype=np.float64).reshape(-1)
    return trees


def _raw_predict(trees: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Sum of leaf values plus the baseline, shape (N, K), as scikit-learn's raw prediction.

    A row goes left when its value is <= the node threshold, or when it is NaN and the node
    sends missing values left.
    """
    raw = np.tile(trees["baseline"], (len(x), 1))
    rows = np.arange(len(x))
    for root, k in zip(trees["roots"], trees["output"], strict=True):
        node = np.full(len(x), root)
        active = ~trees["is_leaf"][node]
        while active.any():
            at = node[active]
            values = x[rows[active], trees["feature"][at]]
            go_left = np.where(
                np.isnan(values), trees["missing_left"][at], values <= trees["threshold"][at]
            )
            node[active] = np.where(go_left, trees["left"][at], trees["right"][at])
            active = ~trees["is_leaf"][node]
        raw[:, k] += trees["value"][node]
    return raw
