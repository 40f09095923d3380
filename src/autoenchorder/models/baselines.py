"""Baselines a practitioner tries first: the training mean, a random normal, boosted trees.

- ``"mean"``: predicts the training mean (classification: the training class shares).
- ``"random-normal"``: draws from N(training mean, training sd), clipped to 0-100 -- the
  Autoen-chorder study's baseline (N(40.02, 16.79) on its data). Draws are seeded per call.
- ``"gbdt"``: scikit-learn's HistGradientBoostingRegressor / Classifier on the tabular column
  groups. Its trees are exported to plain arrays (:mod:`autoenchorder.models.tree_export`) and
  evaluated in numpy, so a fitted GBDT survives a pickle-free bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.base import Model, ModelConfig, clip_popularity, resolve_groups
from autoenchorder.models.registry import register_model
from autoenchorder.models.tree_export import TreeEnsemble, export_hist_gradient_boosting


@register_model
class MeanBaseline(Model):
    """Predict the training mean popularity (or the training class shares)."""

    name = "mean"
    family = "baseline"

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
    family = "baseline"
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
    family = "baseline"
    config_class = GBDTConfig

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        if hasattr(self, "groups_"):
            return self.groups_
        groups = self.config.groups
        return tuple(groups) if isinstance(groups, tuple | list) else ()

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
        else:
            fitted = HistGradientBoostingClassifier(**options).fit(x, train.y)
            self.class_names_ = list(train.class_names or map(str, fitted.classes_))
            if not np.array_equal(fitted.classes_, np.arange(len(self.class_names_))):
                raise ModelError("gbdt needs every class present in the training rows")
        self.trees_ = export_hist_gradient_boosting(fitted)
        self.history_ = [
            {"stage": "gbdt", "epoch": i + 1, "train_loss": float(-s)}
            for i, s in enumerate(getattr(fitted, "train_score_", [])[1:])
        ]

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        ds.require(*self.groups_)
        if ds.feature_names(self.groups_) != self.feature_names_:
            raise ModelError("the dataset's feature columns differ from the training columns")
        x = ds.features(self.groups_)
        if self.task_ == "classification":
            return self.trees_.predict_proba(x)
        return clip_popularity(self.trees_.predict(x) * 100.0, ds, model=self.name)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        trees_meta, arrays = self.trees_.to_state(prefix="trees.")
        state = {
            "groups": list(self.groups_),
            "feature_names": self.feature_names_,
            "class_names": getattr(self, "class_names_", None),
            "trees": trees_meta,
        }
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.groups_ = tuple(state["groups"])
        self.feature_names_ = list(state["feature_names"])
        if state.get("class_names") is not None:
            self.class_names_ = list(state["class_names"])
        self.trees_ = TreeEnsemble.from_state(state["trees"], arrays, prefix="trees.")
