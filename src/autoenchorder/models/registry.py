"""One registry of model names: ``make_model(name, **config)`` and friends.

Built-in models register themselves when their module is imported; the registry imports the
built-in modules lazily (so ``import autoenchorder.models`` does not import torch).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from autoenchorder.errors import ModelError
from autoenchorder.models.base import MODEL_FAMILIES, Model

_REGISTRY: dict[str, type[Model]] = {}

#: modules whose import registers the built-in models
_BUILTIN_MODULES: tuple[str, ...] = (
    "autoenchorder.models.baselines",
    "autoenchorder.models.hitmusicnet",
    "autoenchorder.models.autoenchorder",
    "autoenchorder.models.sequence_alternates",
    "autoenchorder.models.lossnet",
    "autoenchorder.models.autoenchorder_finetune",
    "autoenchorder.models.sequence_ridge",
)


def register_model(cls: type[Model]) -> type[Model]:
    """Register a :class:`Model` subclass under its ``name`` (usable as a class decorator)."""
    if not cls.name:
        raise ModelError(f"{cls.__name__} has no name to register under")
    if cls.family not in MODEL_FAMILIES:
        raise ModelError(
            f"{cls.__name__}.family is {cls.family!r}; use one of {', '.join(MODEL_FAMILIES)}"
        )
    known = _REGISTRY.get(cls.name)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise ModelError(f"model name {cls.name!r} is taken by {known.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin_models() -> None:
    for module in _BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency, not a module not written yet
                raise


def available_models() -> list[str]:
    """Names of all registered models, sorted."""
    _load_builtin_models()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[Model]:
    """Return the class registered as ``name``; ModelError listing the known names otherwise."""
    _load_builtin_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}"
        ) from None


def make_model(name: str, **config: Any) -> Model:
    """Build an unfitted model by name.

    Parameters
    ----------
    name : str
        A registered name (see :func:`available_models`), e.g. ``"hitmusicnet"``.
    **config
        Config fields of that model, e.g. ``setting="faithful", seed=1``.

    Returns
    -------
    Model
    """
    return model_class(name)(**config)


def model_from_state(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Model:
    """Rebuild a fitted model from ``Model.to_state()`` output, dispatching on ``meta["model"]``."""
    return model_class(str(meta.get("model"))).from_state(meta, arrays)
