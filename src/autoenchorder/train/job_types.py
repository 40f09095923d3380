"""What a fit job is: the data it trains on, the job, its result (shared by jobs and the cache).

:class:`StudyData` says how any process rebuilds one study's rows, :class:`FitJob` which model
to fit on them, :class:`FitResult` what came back. :mod:`autoenchorder.train.jobs` runs jobs and
:mod:`autoenchorder.train.job_cache` stores their results; both import these types from here, so
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.data.splits import Split, holdout_split
from autoenchorder.train.parts import split_parts, with_supplement


@dataclass(frozen=True)
class StudyData:
    """How any process rebuilds one study's rows: a dataset, an optional sample, the split.

    Attributes
    ----------
    spec : DataSpec
        The dataset.
    seed : int
        Seeds the sample, the test split and the validation split.
    test_size, val_size : float
        Test share of the dataset; validation share of the remaining training rows.
    rows : int or None
        Use a seeded sample of this many rows (None: all).
    supplement : DataSpec or None
        Further training-only rows (e.g. ``musicoset-hit-rows``: Hit Predictor's songs known by
        their hit label alone), joined to every fit's training part by
        :func:`~autoenchorder.train.parts.with_supplement` (a held-out artist's rows dropped);
        sampled like the dataset when ``rows`` is set. None: none.
    """

    spec: DataSpec
    seed: int = 0
    test_size: float = 0.15
    val_size: float = 0.15
    rows: int | None = None
    supplement: DataSpec | None = None

    def load(self) -> tuple[PopularityDataset, Split]:
        """Return the (sampled) dataset and its holdout split."""
        ds = load_dataset(self.spec)
        if self.rows and self.rows < len(ds):
            rng = np.random.default_rng(self.seed)
            ds = ds.take(np.sort(rng.choice(len(ds), self.rows, replace=False)))
        return ds, holdout_split(ds, test_size=self.test_size, seed=self.seed)

    def parts(
        self, ds: PopularityDataset, split: Split, fraction: float | None = None
    ) -> tuple[PopularityDataset, PopularityDataset, PopularityDataset]:
        """Return (train, val, test) (:func:`~autoenchorder.train.parts.split_parts`).

        ``fraction`` keeps a seeded share of the training rows; the validation rows are carved
        out of the kept ones, so the test rows are never seen by anything fitted.
        """
        train, val, test = split_parts(
            ds, split, val_size=self.val_size, seed=self.seed, fraction=fraction
        )
        extra = loaded_supplement(self)
        if extra is not None:
            train = with_supplement(train, extra, held_out=(val, test))
        return train, val, test

    def load_supplement(self) -> PopularityDataset | None:
        """Return the supplement's rows (a seeded sample of ``rows`` when set), or None."""
        if self.supplement is None:
            return None
        extra = load_dataset(self.supplement)
        if self.rows and self.rows < len(extra):
            rng = np.random.default_rng(self.seed + 1)
            extra = extra.take(np.sort(rng.choice(len(extra), self.rows, replace=False)))
        return extra


@dataclass(frozen=True)
class FitJob:
    """One model to fit.

    Attributes
    ----------
    study : str
        The study the result is reported in (and, unless ``data`` says otherwise, the key of
        the :class:`StudyData` the job trains on).
    key : str
        Name the result is reported under (e.g. ``"autoenchorder"``).
    model : str
        Registry name of the model.
    options : dict
        Config overrides, the seed included (``quiet`` is forced on in workers).
    fraction : float or None
        Train on this seeded share of the training rows (learning curves); None: all.
    keep_state : bool
        Return the fitted model's state (to bundle it).
    cost : float
        Rough relative cost; the pool starts the costliest jobs first.
    data : str or None
        Key of the :class:`StudyData` the job trains on, when it is not ``study`` (one study
        fitting a model on several datasets of the same songs, e.g. previews and whole songs).
    """

    study: str
    key: str
    model: str
    options: Mapping[str, Any] = field(default_factory=dict)
    fraction: float | None = None
    keep_state: bool = False
    cost: float = 1.0
    data: str | None = None

    @property
    def data_key(self) -> str:
        """Key of the :class:`StudyData` the job trains on."""
        return self.data if self.data is not None else self.study


@dataclass
class FitResult:
    """What a fitted job sends back.

    Attributes
    ----------
    job : FitJob
    ids : np.ndarray of str, shape (n_test,)
    y_true, y_pred : np.ndarray, shape (n_test,)
        Popularity 0-100, or class labels (what the model predicts; see
        :func:`~autoenchorder.train.fit.predict_scored`).
    n_train, n_val : int
        Rows the model was fitted on and stopped early with.
    config : dict
        The model's full configuration.
    history : list of dict
        Per-epoch training records (empty for non-network models).
    fit_seconds, predict_seconds : float
    state : tuple of (dict, dict of str to np.ndarray) or None
        ``model.to_state()`` when the job asked for it.
    error : str or None
        Why the fit failed (then the arrays are empty).
    proba : np.ndarray, shape (n_test, C), or None
        Class probabilities of a classifier.
    cached : bool
        Read from a :class:`~autoenchorder.train.job_cache.JobCache` instead of fitted.
    """

    job: FitJob
    ids: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    n_train: int = 0
    n_val: int = 0
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    state: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None
    error: str | None = None
    cached: bool = False
    proba: np.ndarray | None = None


# Datasets loaded by this process, by StudyData (a worker serves many jobs of one study).
_LOADED: dict[StudyData, tuple[PopularityDataset, Split]] = {}


_SUPPLEMENTS: dict[StudyData, PopularityDataset | None] = {}


def loaded(data: StudyData) -> tuple[PopularityDataset, Split]:
    """Return ``data.load()``, loading it only once per process (whatever its supplement)."""
    key = replace(data, supplement=None)
    if key not in _LOADED:
        _LOADED[key] = key.load()
    return _LOADED[key]


def loaded_supplement(data: StudyData) -> PopularityDataset | None:
    """Return ``data.load_supplement()``, loading it only once per process."""
    if data not in _SUPPLEMENTS:
        _SUPPLEMENTS[data] = data.load_supplement()
    return _SUPPLEMENTS[data]
