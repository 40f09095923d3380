"""Train one model end to end from Python: load a source, split, fit, score, bundle.

>>> from autoenchorder.train.api import DataSpec, load_dataset, train_model
>>> ds = load_dataset(DataSpec("musicoset", root="../shared/data/musicoset"))  # doctest: +SKIP
>>> result = train_model("hitmusicnet", ds, {"setting": "default"}, seed=0)  # doctest: +SKIP
>>> result.metrics["test"]["mae"]  # doctest: +SKIP

The split is a holdout of the whole dataset (grouped by artist when the dataset knows artists,
stratified by popularity); the model's validation rows for early stopping are carved out of the
training part with the same procedure, so the test rows are never seen by anything fitted.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import Split, holdout_split
from autoenchorder.errors import DataError
from autoenchorder.models.base import Model
from autoenchorder.models.registry import make_model

#: source name -> (module under autoenchorder.data.sources, loader function, DataSpec fields
#: passed positionally (required), DataSpec fields passed by keyword when set)
SOURCES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "musicoset": ("musicoset", "load_musicoset", ("root",), ()),
    "hit-predictor": ("hit_predictor", "load_hit_predictor", ("root",), ()),
    "spotgentrack": ("spotgentrack", "load_spotgentrack", ("root",), ()),
    "catalog": ("catalog", "load_catalog", ("root", "labels", "store"), ("embedder",)),
    "procedural": ("procedural", "load_procedural", ("root",), ("store", "embedder")),
}


@dataclass(frozen=True)
class DataSpec:
    """Where a dataset comes from (everything needed to load it again in another process).

    Attributes
    ----------
    source : str
        One of :data:`SOURCES`.
    root : str or None
        The source's directory (for ``catalog``: the audio directory; for ``procedural``: the
        corpus directory).
    store : str or None
        Feature store of extracted features (``catalog``, ``procedural``).
    labels : str or None
        Labels CSV of a ``catalog``.
    embedder : str or None
        Attach this embedder's sequences from ``store`` when the loader did not.
    """

    source: str
    root: str | None = None
    store: str | None = None
    labels: str | None = None
    embedder: str | None = None


def load_dataset(spec: DataSpec) -> PopularityDataset:
    """Load the dataset a :class:`DataSpec` names.

    Parameters
    ----------
    spec : DataSpec

    Returns
    -------
    PopularityDataset
        ``info["data_spec"]`` records ``spec``.

    Raises
    ------
    DataError
        Unknown source, a missing argument, or whatever the loader reports.
    """
    if spec.source not in SOURCES:
        raise DataError(f"unknown data source {spec.source!r}; choose from {', '.join(SOURCES)}")
    module_name, function, needed, optional = SOURCES[spec.source]
    missing = [arg for arg in needed if getattr(spec, arg) is None]
    if missing:
        flags = ", ".join(f"--{m}" for m in missing)
        raise DataError(f"data source {spec.source!r} needs {flags}")
    try:
        module = importlib.import_module(f"autoenchorder.data.sources.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"autoenchorder.data.sources.{module_name}":
            raise
        raise DataError(f"data source {spec.source!r} is not available in this build") from None
    loader = getattr(module, function)
    args = [getattr(spec, arg) for arg in needed]
    kwargs = {arg: getattr(spec, arg) for arg in optional if getattr(spec, arg) is not None}
    ds: PopularityDataset = loader(*args, **kwargs)
    if spec.embedder is not None and ds.sequences is None:
        ds = attach_sequences(ds, store=spec.store, embedder=spec.embedder)
    ds.info["data_spec"] = {k: v for k, v in vars(spec).items() if v is not None}
    return ds


def attach_sequences(
    ds: PopularityDataset, *, store: str | Path | None, embedder: str
) -> PopularityDataset:
    """Return ``ds`` with ``embedder``'s sequences from a feature store, rows it lacks dropped.

    Parameters
    ----------
    ds : PopularityDataset
    store : str or Path or None
        The feature store root.
    embedder : str
        Embedder name the store holds sequences for.

    Returns
    -------
    PopularityDataset
        The rows that have a sequence; ``info["sequences_missing"]`` counts the others.
    """
    if store is None:
        raise DataError(f"sequences of {embedder!r} asked for, but no --store given")
    from autoenchorder.data.store import FeatureStore  # noqa: PLC0415

    found = FeatureStore(store).read_sequences(embedder)
    keep = np.array([track in found for track in ds.ids])
    if not keep.any():
        raise DataError(f"the store {store} has no {embedder!r} sequences for this dataset")
    ds = ds.take(keep)
    embeddings = [found[track] for track in ds.ids]
    ds = ds.with_sequences([e.frames for e in embeddings], [e.times for e in embeddings])
    ds.info["sequences_missing"] = int((~keep).sum())
    ds.info["embedder"] = {"name": embedder}
    return ds


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
