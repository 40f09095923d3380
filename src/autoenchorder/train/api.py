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

import time
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
from autoenchorder.models.registry import make_model


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
    test_predictions : np.ndarray
        Predictions of the test rows, in ``split.test_ids`` order.
    """

    model: Model
    metrics: dict[str, Any]
    split: Split
    test_predictions: np.ndarray = field(repr=False)


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
    """Split, fit and score one model.

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
    train_all, test = split.apply(dataset)
    train, val = split_train_val(train_all, val_size=val_size, seed=seed)
    options = {"seed": seed, **config_values(config or {})}
    model = make_model(name, **options)
    started = time.perf_counter()
    model.fit(train, val)
    fit_seconds = time.perf_counter() - started
    test_pred = model.predict(test)
    metrics = {
        "split": split.kind,
        "seed": seed,
        "n_train": len(train),
        "n_val": len(val),
        "n_test": len(test),
        "fit_seconds": round(fit_seconds, 3),
        "val": score(val, model.predict(val)),
        "test": score(test, test_pred),
    }
    return TrainResult(model=model, metrics=metrics, split=split, test_predictions=test_pred)


def config_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config fields as models take them: lists (from TOML or JSON) become tuples.

    Parameters
    ----------
    config : mapping

    Returns
    -------
    dict
    """
    return {k: _tuplify(v) for k, v in config.items()}


def _tuplify(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuplify(v) for v in value)
    return value


def split_train_val(
    train: PopularityDataset, *, val_size: float = 0.15, seed: int = 0
) -> tuple[PopularityDataset, PopularityDataset]:
    """Carve validation rows out of ``train`` (stratified, grouped by artist when known).

    Parameters
    ----------
    train : PopularityDataset
    val_size : float
    seed : int

    Returns
    -------
    (PopularityDataset, PopularityDataset)
    """
    inner = holdout_split(train, test_size=val_size, seed=seed)
    return inner.apply(train)


def score(ds: PopularityDataset, prediction: np.ndarray) -> dict[str, Any]:
    """Metrics of predictions of ``ds``: regression on 0-100, or accuracy / macro-F1.

    Parameters
    ----------
    ds : PopularityDataset
    prediction : np.ndarray
        Shape (N,) popularity, or (N, C) class probabilities.

    Returns
    -------
    dict
    """
    from autoenchorder.evaluate.metrics import (  # noqa: PLC0415
        classification_metrics,
        regression_metrics,
    )

    if ds.task == "classification":
        names = ds.class_names or [str(c) for c in range(prediction.shape[1])]
        return classification_metrics(ds.y, np.argmax(prediction, axis=1), class_names=names)
    return regression_metrics(ds.y, prediction)
