"""Train one model end to end from Python: load a source, split, fit, score, bundle.

>>> from autoenchorder.train.api import DataSpec, load_dataset, train_model
>>> ds = load_dataset(DataSpec("musicoset"))  # its folder: docs/datasets.md  # doctest: +SKIP
>>> result = train_model("hitmusicnet", ds, {"setting": "default"}, seed=0)  # doctest: +SKIP
>>> result.metrics["test"]["mae"]  # doctest: +SKIP

The split is a holdout of the whole dataset (grouped by artist when the dataset knows artists,
stratified by popularity); the model's validation rows for early stopping are carved out of the
training part with the same procedure, so the test rows are never seen by anything fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.sources.registry import (  # noqa: F401 -- re-exported
    SOURCES,
    DataSpec,
    attach_sequences,
    load_dataset,
)
from autoenchorder.data.splits import Split, holdout_split
from autoenchorder.models.base import Model
from autoenchorder.train.fit import fit_and_score


@dataclass
class TrainResult:
    """What :func:`train_model` produced.

    Attributes
    ----------
    model : Model
        Fitted on the training part (minus its validation carve-out).
    metrics : dict
        ``{"split", "seed", "n_train", "n_val", "n_test", "val": {...}, "test": {...},
        "fit_seconds"}``; regression metrics are on 0-100 (plus ``*_01`` on 0-1).
    split : Split
        The outer train/test split.
    test_predictions : np.ndarray, shape (n_test,)
        Predictions of the test rows, in ``split.test_ids`` order: popularity 0-100, or class
        labels when ``task`` is ``"classification"``.
    task : str
        What the model predicts (a HitMusicNet asked for ``task="classification"`` predicts
        popularity classes of a regression dataset).
    test_truth : np.ndarray, shape (n_test,)
        The truth the test predictions were scored against (popularity or class labels).
    test_proba : np.ndarray, shape (n_test, C), or None
        Class probabilities of a classifier.
    class_names : list of str or None
    """

    model: Model
    metrics: dict[str, Any]
    split: Split
    test_predictions: np.ndarray = field(repr=False)
    task: str = "regression"
    test_truth: np.ndarray | None = field(default=None, repr=False)
    test_proba: np.ndarray | None = field(default=None, repr=False)
    class_names: list[str] | None = None


def train_model(
    name: str,
    dataset: PopularityDataset,
    config: Mapping[str, Any] | None = None,
    split: Split | None = None,
    *,
    seed: int = 0,
    test_size: float = 0.15,
    val_size: float = 0.15,
) -> TrainResult:
    """Split, fit and score one model (with :func:`~autoenchorder.train.fit.fit_and_score`).

    Parameters
    ----------
    name : str
        Registered model name (see :func:`autoenchorder.models.available_models`).
    dataset : PopularityDataset
    config : mapping or None
        The model's config fields (``seed`` defaults to ``seed``).
    split : Split or None
        The outer split; default a stratified holdout of ``test_size`` grouped by artist when
        the dataset knows artists.
    seed : int
        Seeds the split, the validation carve-out and the model.
    test_size, val_size : float
        Shares of the dataset held out for testing, and of the training part for validation.

    Returns
    -------
    TrainResult
    """
    split = split or holdout_split(dataset, test_size=test_size, seed=seed)
    outcome = fit_and_score(
        name, dataset, split, config={"seed": seed, **(config or {})}, seed=seed, val_size=val_size
    )
    metrics = {
        "split": split.kind,
        "seed": seed,
        "n_train": outcome.n_train,
        "n_val": outcome.n_val,
        "n_test": len(outcome.test_ids),
        "fit_seconds": round(outcome.fit_seconds, 3),
        **outcome.metrics,
    }
    return TrainResult(
        model=outcome.model,
        metrics=metrics,
        split=split,
        test_predictions=outcome.y_pred,
        task=outcome.task,
        test_truth=outcome.y_true,
        test_proba=outcome.proba,
        class_names=outcome.class_names,
    )
