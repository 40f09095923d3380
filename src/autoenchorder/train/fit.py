"""Fit one model on one split and score it: the single path every fit of the train stage takes.

``autoenchorder train`` (:func:`autoenchorder.train.api.train_model`), the demo's jobs
(:func:`autoenchorder.train.jobs.fit_job`) and the search's trials
(:class:`autoenchorder.train.search.ModelObjective`) all call :func:`fit_and_score`: it cuts the
rows with :func:`~autoenchorder.train.parts.split_parts`, builds the model from its config,
fits it (the validation rows only steer early stopping), predicts the test rows and scores
them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import Split
from autoenchorder.errors import ModelError
from autoenchorder.models.base import Model
from autoenchorder.models.registry import make_model
from autoenchorder.train.parts import split_parts


@dataclass
class FitOutcome:
    """What :func:`fit_and_score` produced.

    Attributes
    ----------
    model : Model
        Fitted on ``n_train`` rows, stopped early on ``n_val`` others.
    n_train, n_val : int
    test_ids : np.ndarray of str, shape (n_test,)
    y_true : np.ndarray, shape (n_test,)
        The test rows' truth.
    y_pred : np.ndarray, shape (n_test,) or (n_test, C)
        The model's predictions of the test rows (popularity 0-100, or class probabilities).
    metrics : dict
        ``{"test": {...}}`` and, when scored, ``{"val": {...}}`` (see :func:`score`).
    fit_seconds, predict_seconds : float
        Wall time of ``fit`` and of predicting the test rows.
    """

    model: Model
    n_train: int
    n_val: int
    test_ids: np.ndarray = field(repr=False)
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    metrics: dict[str, Any]
    fit_seconds: float
    predict_seconds: float


def build_model(name: str, config: Mapping[str, Any] | None = None) -> Model:
    """An unfitted registered model from its config fields (lists, from TOML or JSON, as tuples).

    Parameters
    ----------
    name : str
        Registered model name.
    config : mapping or None
        Config fields of the model.

    Returns
    -------
    Model
    """
    return make_model(name, **{k: _tuplify(v) for k, v in (config or {}).items()})


def _tuplify(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuplify(v) for v in value)
    return value


def fit_and_score(
    model: str | Model,
    ds: PopularityDataset,
    split: Split,
    *,
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    val_size: float = 0.15,
    fraction: float | None = None,
    score_validation: bool = True,
) -> FitOutcome:
    """Fit a model on ``split``'s training rows and score it on its test rows.

    Parameters
    ----------
    model : str or Model
        A registered model name (built from ``config``) or an unfitted model.
    ds : PopularityDataset
    split : Split
        The outer split: the model is scored on its test rows.
    config : mapping or None
        The model's config fields when ``model`` is a name (its ``seed`` included).
    seed : int
        Seeds the rows' cut (see :func:`~autoenchorder.train.parts.split_parts`).
    val_size : float
        Share of the training rows that steers early stopping.
    fraction : float or None
        Fit on this seeded share of the training rows (learning curves).
    score_validation : bool
        Also predict and score the validation rows (``metrics["val"]``).

    Returns
    -------
    FitOutcome
    """
    if isinstance(model, str):
        model = build_model(model, config)
    elif config:
        raise ModelError("give a config with a model name, not with a built model")
    train, val, test = split_parts(ds, split, val_size=val_size, seed=seed, fraction=fraction)
    started = time.perf_counter()
    model.fit(train, val)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    prediction = np.asarray(model.predict(test))
    predict_seconds = time.perf_counter() - started
    metrics = {"test": score(test, prediction)}
    if score_validation:  # predicted after the test rows, as ever: a model's draws stay put
        metrics = {"val": score(val, model.predict(val)), **metrics}
    return FitOutcome(
        model=model,
        n_train=len(train),
        n_val=len(val),
        test_ids=test.ids,
        y_true=test.y,
        y_pred=prediction,
        metrics=metrics,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
    )


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
