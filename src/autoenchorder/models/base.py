"""What every model is: a config dataclass, ``fit`` / ``predict``, and a pickle-free state.

Conventions every model follows (scikit-learn style)
----------------------------------------------------
- ``__init__(config=None, **overrides)`` only stores a config dataclass (a subclass of
  :class:`ModelConfig`); ``overrides`` replace single fields. A config may name a ``setting``
  (e.g. HitMusicNet's ``"faithful"`` / ``"default"``): the setting picks the defaults, explicit
  overrides win.
- Config fields are JSON-able scalars, strings, ``None`` or *tuples* (never lists), so a config
  survives a JSON round trip (:meth:`ModelConfig.from_dict` turns lists back into tuples).
- ``fit(train, val=None)`` returns ``self``; everything learned is an attribute ending in ``_``
  (``history_`` holds one record per training epoch). Anything fitted -- scalers, autoencoders,
  trees -- sees the rows of ``train`` only (``val`` only steers early stopping).
- ``predict(ds)`` returns popularity 0-100 of shape (N,) for regression, or class labels
  (int64 indices into ``class_names_``) of shape (N,) for classification;
  ``predict_proba(ds)`` returns the class probabilities of shape (N, C) (classification only),
  as scikit-learn's estimators do.
- ``required_parts`` lists the dataset parts (column groups, ``"sequences"``, ``"artist"``) a
  model needs; ``fit`` and ``predict`` check them with ``ds.require`` so a missing part is a
  :class:`~autoenchorder.errors.DataError` that names it.
- ``to_state() -> (meta, arrays)`` gives JSON-able metadata (model name, config, scaler
  parameters, feature names) and named numpy arrays (weights); ``Model.from_state(meta, arrays)``
  rebuilds a fitted model that predicts identically. ``bundle.py`` stores the pair as
  JSON + safetensors.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from autoenchorder.data.splits import holdout_split
from autoenchorder.errors import ModelError
from autoenchorder.published import BAND_EDGES, BAND_NAMES

if TYPE_CHECKING:
    from autoenchorder.data.dataset import PopularityDataset

#: Popularity class boundaries and names of HitMusicNet's 3-class task (low < 25 <= mid < 65
#: <= high), from :mod:`autoenchorder.published`.
CLASS_BOUNDARIES: tuple[float, float] = BAND_EDGES
CLASS_NAMES: tuple[str, str, str] = BAND_NAMES
#: Report families a registered model belongs to (its ``family`` class attribute).
MODEL_FAMILIES: tuple[str, ...] = ("baseline", "hitmusicnet", "autoenchorder", "alternate")


@dataclass
class ModelConfig:
    """Options every model has.

    Attributes
    ----------
    seed : int
        Seeds every random choice of ``fit`` (weights, shuffling, dropout, validation carve-out).
    device : str
        ``"cpu"`` or ``"cuda"`` (torch models; ignored by the others).
    quiet : bool
        Hide the training progress bar.
    """

    seed: int = 0
    device: str = "cpu"
    quiet: bool = False

    #: Named settings of a model with a ``setting`` field: each maps to the options that differ
    #: from the dataclass defaults; the first one is used when none is asked for.
    SETTINGS: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    @classmethod
    def for_setting(cls, setting: str | None = None) -> Self:
        """Return the config of a named setting (models without settings accept only ``None``)."""
        if not cls.SETTINGS:
            if setting is not None:
                raise ModelError(f"{cls.__name__} has no setting {setting!r}")
            return cls()
        setting = setting or next(iter(cls.SETTINGS))
        if setting not in cls.SETTINGS:
            raise ModelError(
                f"unknown {cls.__name__} setting {setting!r}; use {' or '.join(cls.SETTINGS)}"
            )
        return cls(setting=setting, **cls.SETTINGS[setting])

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """Rebuild a config from its JSON form (lists become tuples; unknown keys refused)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ModelError(f"{cls.__name__} has no option(s) {', '.join(unknown)}")
        return cls(**{k: _tuplify(v) for k, v in values.items()})

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a JSON-able dict."""
        return dataclasses.asdict(self)


def _tuplify(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    return value


class Model(ABC):
    """Base class of every popularity model (see the module docstring for the contract).

    Subclasses set ``name``, ``family`` and ``config_class`` and implement ``_fit``, ``_predict``,
    ``_state`` and ``_load_state``.

    Parameters
    ----------
    config : ModelConfig or dict or None
        The options; ``None`` takes the defaults (of ``overrides["setting"]`` if given).
    **overrides
        Single config fields to replace, e.g. ``seed=3``.
    """

    name: ClassVar[str] = ""
    #: report family, one of :data:`MODEL_FAMILIES` (every registered model sets it)
    family: ClassVar[str] = ""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: dataset tasks the model can fit
    tasks: ClassVar[tuple[str, ...]] = ("regression", "classification")

    def __init__(self, config: ModelConfig | Mapping[str, Any] | None = None, **overrides: Any):
        if config is None:
            config = self.config_class.for_setting(overrides.get("setting"))
        elif isinstance(config, Mapping):
            config = self.config_class.from_dict(config)
        elif not isinstance(config, self.config_class):
            raise ModelError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        try:
            self.config = dataclasses.replace(config, **overrides)
        except TypeError as exc:
            raise ModelError(f"{type(self).__name__}: {exc}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ---------------------------------------------------------------- public API
    @property
    def required_parts(self) -> tuple[str, ...]:
        """Dataset parts the model needs (column groups, ``"sequences"``); see ``ds.require``."""
        return ()

    @property
    def uses_rows_without_popularity(self) -> bool:
        """Whether training rows without popularity (``ds.partial_popularity``) are usable.

        Only a model trained on several targets learns from them (through its other outputs);
        every other model refuses such a dataset.
        """
        return False

    def fit(self, train: PopularityDataset, val: PopularityDataset | None = None) -> Self:
        """Fit on ``train``; ``val`` (optional) steers early stopping only.

        Parameters
        ----------
        train : PopularityDataset
            Training rows; every fitted component sees these rows only.
        val : PopularityDataset or None
            Validation rows for early stopping. Without it, neural models carve a seeded
            fraction out of ``train`` (see their ``val_fraction``).

        Returns
        -------
        Model
            ``self``, fitted.
        """
        if len(train) == 0:
            raise ModelError(f"{self.name}: cannot fit on an empty dataset")
        if train.task not in self.tasks:
            raise ModelError(f"{self.name} cannot fit a {train.task} task")
        train.require(*self.required_parts)
        unknown = int((~train.popularity_known()).sum())
        if unknown and not self.uses_rows_without_popularity:
            raise ModelError(
                f"{self.name}: {unknown} training rows have no popularity (rows known only by "
                "their extra targets); only a model trained on several targets uses them "
                "(e.g. hitmusicnet with targets=popularity,billboard,hit)"
            )
        if val is not None:
            val.require(*self.required_parts)
            if val.task != train.task:
                raise ModelError(f"{self.name}: train is {train.task} but val is {val.task}")
            if not val.popularity_known().all():
                raise ModelError(f"{self.name}: validation rows must all have popularity")
        self.task_ = train.task
        self.history_: list[dict[str, Any]] = []
        self._fit(train, val)
        return self

    def predict(self, ds: PopularityDataset) -> np.ndarray:
        """Predict popularity 0-100, or class labels (scikit-learn's contract).

        Parameters
        ----------
        ds : PopularityDataset
            Rows to score (their ``y`` is never read).

        Returns
        -------
        np.ndarray, shape (N,)
            Regression: popularity 0-100, float64. Classification: the most probable class of
            each row, int64 in ``0 .. n_classes_ - 1`` (the index into ``class_names_``, the
            coding of a classification dataset's ``y``); :meth:`predict_proba` gives the
            probabilities.
        """
        if self._is_classifier():
            return np.argmax(self.predict_proba(ds), axis=1).astype(np.int64)
        return self._checked_predict(ds)

    def predict_proba(self, ds: PopularityDataset) -> np.ndarray:
        """Class probabilities of a classification fit (ModelError for a regression fit).

        Parameters
        ----------
        ds : PopularityDataset

        Returns
        -------
        np.ndarray, float64, shape (N, n_classes_)
            Rows sum to 1; column ``k`` is class ``class_names_[k]``.
        """
        if not self._is_classifier():
            raise ModelError(
                f"{self.name} was fitted for regression: predict_proba is for classification; "
                "use predict"
            )
        return self._checked_predict(ds)

    def _is_classifier(self) -> bool:
        self.check_fitted()
        return self.task_ == "classification"

    def _checked_predict(self, ds: PopularityDataset) -> np.ndarray:
        ds.require(*self.required_parts)
        if len(ds) == 0:
            return np.zeros((0, self.n_classes_) if self.task_ == "classification" else (0,))
        return check_finite(self._predict(ds), ds, model=self.name)

    def check_fitted(self) -> None:
        """Raise ModelError unless ``fit`` (or ``from_state``) has run."""
        if not hasattr(self, "task_"):
            raise ModelError(f"{self.name} is not fitted: call fit() first")

    @property
    def n_classes_(self) -> int:
        """Number of classes of a classification fit."""
        return len(getattr(self, "class_names_", CLASS_NAMES))

    def to_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Everything needed to rebuild the fitted model, without pickle.

        Returns
        -------
        meta : dict
            JSON-able: ``model`` (registry name), ``config``, ``task`` and model-specific state.
        arrays : dict of str to np.ndarray
            Named arrays (network weights and the like).
        """
        self.check_fitted()
        state, arrays = self._state()
        meta = {
            "model": self.name,
            "config": self.config.to_dict(),
            "task": self.task_,
            "history": self.history_,
            "state": state,
        }
        return meta, {k: np.ascontiguousarray(v) for k, v in arrays.items()}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Self:
        """Rebuild a fitted model from :meth:`to_state`'s output."""
        if meta.get("model") != cls.name:
            raise ModelError(f"state is of model {meta.get('model')!r}, not {cls.name!r}")
        model = cls(cls.config_class.from_dict(meta["config"]))
        model.task_ = meta["task"]
        model.history_ = list(meta.get("history", []))
        try:
            model._load_state(meta["state"], arrays)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{cls.name}: state does not fit the model: {exc}") from None
        return model

    # ---------------------------------------------------------- for subclasses
    @abstractmethod
    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None: ...

    @abstractmethod
    def _predict(self, ds: PopularityDataset) -> np.ndarray: ...

    @abstractmethod
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @abstractmethod
    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None: ...


def split_validation(
    train: PopularityDataset,
    val: PopularityDataset | None,
    *,
    fraction: float,
    seed: int,
) -> tuple[PopularityDataset, PopularityDataset]:
    """Return ``(train, val)``, carving a seeded ``fraction`` of ``train`` when ``val`` is None.

    When the rows have artists, the carve-out is the project's grouped, stratified holdout
    (:func:`~autoenchorder.data.splits.holdout_split`): no artist is on both sides, so early
    stopping is not steered by songs whose artist the network is fitting. Without artists
    (or when all rows share one artist, so there is nothing to group by) it is a plain seeded
    permutation.

    Parameters
    ----------
    train : PopularityDataset
    val : PopularityDataset or None
    fraction : float
        Share of ``train`` held out, in (0, 1); at least one row is held out and one kept.
    seed : int

    Returns
    -------
    tuple of PopularityDataset
    """
    if val is not None:
        return train, val
    n = len(train)
    if n < 2:
        raise ModelError("need at least 2 training rows to carve a validation split")
    if not 0.0 < fraction < 1.0:
        raise ModelError(f"val_fraction must be in (0, 1), got {fraction}")
    if train.artist is not None and _artist_groups(train.artist) >= 2:
        return holdout_split(train, test_size=fraction, seed=seed, group="artist").apply(train)
    n_val = min(max(1, round(fraction * n)), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return train.take(np.sort(order[n_val:])), train.take(np.sort(order[:n_val]))


def _artist_groups(artist: np.ndarray) -> int:
    """Number of artist groups (each unknown artist, ``""``, is a group of its own)."""
    known = artist[artist != ""]
    return len(np.unique(known)) + int((artist == "").sum())


def check_finite(raw: np.ndarray, ds: PopularityDataset, *, model: str) -> np.ndarray:
    """Return ``raw`` as float64, or raise ModelError naming the rows whose output is not finite.

    A network whose output is NaN or infinite for a song is broken for that song; clipping
    would turn NaN into a plausible popularity (0 or 100) and hide it.

    Parameters
    ----------
    raw : np.ndarray, shape (N,) or (N, C)
        A model's raw output for the rows of ``ds``, before any clipping.
    ds : PopularityDataset
        The rows scored (their ids name the bad rows).
    model : str
        Name used in the message.

    Returns
    -------
    np.ndarray, float64
        ``raw``, unchanged.
    """
    raw = np.asarray(raw, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(raw.reshape(len(raw), -1)).all(axis=1))
    if len(bad):
        shown = ", ".join(f"{ds.ids[i]} (row {i})" for i in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise ModelError(
            f"{model} gave a non-finite output (NaN or inf) for {len(bad)} of {len(raw)} "
            f"rows: {shown}{more}"
        )
    return raw


def clip_popularity(raw: np.ndarray, ds: PopularityDataset, *, model: str) -> np.ndarray:
    """Clip a finite popularity prediction (N,) into 0-100 (ModelError on non-finite rows)."""
    return np.clip(check_finite(raw, ds, model=model), 0.0, 100.0)


def popularity_classes(y: np.ndarray) -> np.ndarray:
    """HitMusicNet's classes of popularity 0-100: 0 if < 25, 1 if 25-64, 2 if >= 65.

    Parameters
    ----------
    y : np.ndarray, shape (N,)

    Returns
    -------
    np.ndarray, int64, shape (N,)
    """
    return np.searchsorted(np.asarray(CLASS_BOUNDARIES), np.asarray(y), side="right").astype(
        np.int64
    )


def resolve_groups(ds: PopularityDataset, groups: tuple[str, ...] | str | None) -> tuple[str, ...]:
    """Return the column groups a tabular model uses on ``ds``.

    Parameters
    ----------
    ds : PopularityDataset
    groups : tuple of str, str or None
        ``None`` (or ``"all"``): every group ``ds`` has, in its order; ``"audio-only"``: the
        207 low-level features (``("lowlevel",)``); a tuple: exactly those groups.

    Returns
    -------
    tuple of str
    """
    if groups is None or groups == "all":
        found = tuple(ds.column_groups)
        if not found:
            raise ModelError("the dataset has no tabular column groups")
        return found
    if groups == "audio-only":
        return ("lowlevel",)
    if isinstance(groups, str):
        return (groups,)
    return tuple(groups)
