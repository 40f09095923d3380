"""Models stage of autoenchorder: every popularity model behind one registry.

``make_model(name, **config)`` builds an estimator (``fit(train, val=None)`` / ``predict(ds)``);
see :mod:`autoenchorder.models.base` for the contract every model follows.
"""

from autoenchorder.models.base import Model, ModelConfig
from autoenchorder.models.registry import (
    available_models,
    make_model,
    model_class,
    model_from_state,
    register_model,
)

__all__ = [
    "Model",
    "ModelConfig",
    "available_models",
    "make_model",
    "model_class",
    "model_from_state",
    "register_model",
]
