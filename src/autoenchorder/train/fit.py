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

from autoenchorder.config import typed_values
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import Split
from autoenchorder.errors import ModelError
from autoenchorder.metrics import classification_metrics, regression_metrics
from autoenchorder.models.base import Model, popularity_classes
from autoenchorder.models.registry import make_model, model_class
from autoenchorder.train.parts import split_parts, with_supplement


@dataclass
class FitOutcome:
    """What :func:`fit_and_score` produced.

    Attributes
    ----------
    model : Model
        Fitted on ``n_train`` rows, stopped early on ``n_val`` others.
    n_train, n_val : int
    test_ids : np.ndarray of str, shape (n_test,)
    task : str
        What the model predicts: ``"regression"`` (popularity) or ``"classification"``
        (classes; of a regression dataset: HitMusicNet's popularity classes).
    y_true : np.ndarray, shape (n_test,)
        The test rows' truth as the model predicts it: popularity 0-100 or class labels.
    y_pred : np.ndarray, shape (n_test,)
        The model's predictions of the test rows: popularity 0-100 or class labels.
    proba : np.ndarray, shape (n_test, C), or None
        Class probabilities of a classifier.
    class_names : list of str or None
        A classifier's class names, in label order.
    metrics : dict
        ``{"test": {...}}`` and, when scored, ``{"val": {...}}`` (see :meth:`Scored.metrics`).
    fit_seconds, predict_seconds : float
        Wall time of ``fit`` and of predicting the test rows.
    """

    model: Model
    n_train: int
    n_val: int
    test_ids: np.ndarray = field(repr=False)
    task: str
    y_true: np.ndarray = field(repr=False)
    y_pred: np.ndarray = field(repr=False)
    proba: np.ndarray | None = field(repr=False)
    class_names: list[str] | None
    metrics: dict[str, Any]
    fit_seconds: float
    predict_seconds: float


def model_options(name: str, config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A model's config fields checked and converted to their types (one converter for all).

    Parameters
    ----------
    name : str
        Registered model name; the types are its config dataclass's.
    config : mapping or None
        Config fields, e.g. from ``--set`` / TOML (lists become tuples where fields are tuples).

    Returns
    -------
    dict

    Raises
    ------
    ConfigError
        An unknown field or a value of the wrong type, e.g. ``--set finetune=no``.
    """
    return typed_values(model_class(name).config_class, config or {}, where=name)


def build_model(name: str, config: Mapping[str, Any] | None = None) -> Model:
    """An unfitted registered model from its config fields (see :func:`model_options`).

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
    return make_model(name, **model_options(name, config))


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
    supplement: PopularityDataset | None = None,
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
    supplement : PopularityDataset or None
        Further training-only rows joined to the training part
        (:func:`~autoenchorder.train.parts.with_supplement`: a held-out artist's rows dropped);
        ``n_train`` counts them.

    Returns
    -------
    FitOutcome
    """
    if isinstance(model, str):
        model = build_model(model, config)
    elif config:
        raise ModelError("give a config with a model name, not with a built model")
    train, val, test = split_parts(ds, split, val_size=val_size, seed=seed, fraction=fraction)
    if supplement is not None:
        train = with_supplement(train, supplement, held_out=(val, test))
    started = time.perf_counter()
    model.fit(train, val)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    test_scored = predict_scored(model, test)
    predict_seconds = time.perf_counter() - started
    metrics = {"test": test_scored.metrics()}
    if score_validation:  # predicted after the test rows, as ever: a model's draws stay put
        metrics = {"val": predict_scored(model, val).metrics(), **metrics}
    return FitOutcome(
        model=model,
        n_train=len(train),
        n_val=len(val),
        test_ids=test.ids,
        task=test_scored.task,
        y_true=test_scored.y_true,
        y_pred=test_scored.y_pred,
        proba=test_scored.proba,
        class_names=test_scored.class_names,
        metrics=metrics,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
    )


@dataclass
class Scored:
    """A fitted model's predictions of some rows, beside the truth they are scored against.

    Attributes
    ----------
    task : str
        ``"regression"`` or ``"classification"``: what the model predicts, which may differ
        from the dataset's task (HitMusicNet's ``task="classification"`` bins popularity).
    y_true, y_pred : np.ndarray, shape (N,)
        Popularity 0-100, or class labels.
    proba : np.ndarray, shape (N, C), or None
        Class probabilities of a classifier.
    class_names : list of str or None
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    class_names: list[str] | None = None

    def metrics(self) -> dict[str, Any]:
        """Regression metrics on 0-100, or accuracy / macro-F1 / confusion of the labels."""
        if self.task == "classification":
            names = self.class_names or [str(c) for c in range(int(self.y_true.max()) + 1)]
            return classification_metrics(self.y_true, self.y_pred, class_names=names)
        return regression_metrics(self.y_true, self.y_pred)


def predict_scored(model: Model, ds: PopularityDataset) -> Scored:
    """Predict ``ds`` with a fitted model and pair it with the truth the model predicts.

    A classifier's truth is the dataset's labels, or -- for a classifier fitted on a
    regression dataset -- the popularity classes it was fitted on
    (:func:`~autoenchorder.models.base.popularity_classes`). Its labels are the arg-max of its
    ``predict_proba`` (what its ``predict`` returns), so the rows are predicted once.

    Parameters
    ----------
    model : Model
        Fitted.
    ds : PopularityDataset

    Returns
    -------
    Scored
    """
    task = getattr(model, "task_", ds.task)
    if task != "classification":
        return Scored("regression", ds.y, np.asarray(model.predict(ds)))
    if ds.task == "classification":
        truth = np.asarray(ds.y).astype(np.int64)
    else:
        truth = popularity_classes(ds.y)
    proba = np.asarray(model.predict_proba(ds))
    labels = np.argmax(proba, axis=1).astype(np.int64)  # = model.predict(ds), predicted once
    names = getattr(model, "class_names_", None) or ds.class_names
    return Scored("classification", truth, labels, proba, list(names) if names else None)
