"""How sure a prediction is: the spread of an ensemble, or of MC dropout passes.

- **Ensemble** (several bundles, e.g. one per seed): the standard deviation of the members'
  song-level predictions.
- **MC dropout** (one bundle whose network has dropout, e.g. HitMusicNet's 0.25): dropout is
  kept on at prediction time for ``passes`` seeded forward passes; the standard deviation of the
  passes' song-level predictions.
- Otherwise none is available (NaN, method ``"none"``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models.base import Model

NO_UNCERTAINTY: tuple[float, str] = (float("nan"), "none")


def ensemble_spread(member_predictions: np.ndarray) -> tuple[float, str]:
    """The spread of an ensemble's song-level predictions.

    Parameters
    ----------
    member_predictions : np.ndarray, shape (M,)
        Each member's prediction of the song (M >= 2).

    Returns
    -------
    uncertainty : float
        Standard deviation (ddof 1), popularity points.
    method : str
    """
    values = np.asarray(member_predictions, dtype=np.float64)
    return float(values.std(ddof=1)), f"ensemble of {values.size} bundles"


def mc_dropout_spread(
    model: Model, ds: PopularityDataset, *, passes: int, seed: int
) -> tuple[float, str]:
    """The spread of ``passes`` seeded forward passes with dropout kept on.

    Parameters
    ----------
    model : Model
        One fitted model.
    ds : PopularityDataset
        The song's input rows; a pass's song-level prediction is the mean over them.
    passes : int
        Forward passes (< 2: no uncertainty).
    seed : int
        Seeds the passes (torch's global generator is restored afterwards).

    Returns
    -------
    uncertainty : float
        Standard deviation (ddof 1) of the passes, popularity points; NaN when the model
        has no dropout.
    method : str
    """
    if passes < 2:
        return NO_UNCERTAINTY
    import torch  # noqa: PLC0415

    with mc_dropout([model]) as n_layers:
        if n_layers == 0:
            return NO_UNCERTAINTY
        generator_state = torch.get_rng_state()
        torch.manual_seed(seed)
        try:
            values = np.array([np.mean(model.predict(ds)) for _ in range(passes)])
        finally:
            torch.set_rng_state(generator_state)
    return float(values.std(ddof=1)), f"MC dropout, {passes} passes"


@contextlib.contextmanager
def mc_dropout(models: Sequence[Model]) -> Iterator[int]:
    """Keep every dropout layer of the models active, even in eval mode, inside the block.

    Yields
    ------
    int
        Number of dropout layers with ``p > 0`` found (0: MC dropout has no effect).
    """
    import torch.nn.functional as F  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    layers = [
        m
        for module in _torch_modules(models)
        for m in module.modules()
        if isinstance(m, nn.Dropout) and m.p > 0
    ]
    for layer in layers:
        layer.forward = lambda x, p=layer.p: F.dropout(x, p, training=True)  # type: ignore[method-assign]
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward


def _torch_modules(objects: Iterable[Any], seen: set[int] | None = None) -> list[Any]:
    """Find the torch modules held by models (and by models inside them, like LossNet's HMN)."""
    from torch import nn  # noqa: PLC0415

    from autoenchorder.models.base import Model  # noqa: PLC0415

    seen = set() if seen is None else seen
    found = []
    for obj in objects:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for attribute in vars(obj).values():
            # A model may hold modules directly, in a list (several heads), or inside a model.
            values = attribute if isinstance(attribute, list | tuple) else [attribute]
            for value in values:
                if isinstance(value, nn.Module):
                    found.append(value)
                elif isinstance(value, Model):
                    found.extend(_torch_modules([value], seen))
    return found
