"""The arithmetic a network runs in: float32 (exact) or bfloat16 (faster).

Two users: the embedders (musicnn, VGGish: the network that makes the stored sequences) and
Autoen-chorder's training steps (its sequence autoencoder's LSTMs, option ``precision``; see
:mod:`autoenchorder.models.blocks`).

float32 is the default and the published networks' own precision. ``"bfloat16"`` runs the
convolutions and matrix products under :func:`torch.autocast` (weights stay float32; activations
are rounded to 8 significant bits between layers). On a CPU with native bfloat16 instructions
(AVX512-BF16 or AMX) musicnn runs 1.5-2x faster on one core with outputs within ~1 % of
float32's (cosine >= 0.9999; ``benchmarks/embeddings.py`` measures both). Without them torch
emulates bfloat16 and is several times *slower*: :func:`resolve_precision` warns, and ``"auto"``
picks float32 there.

The precision changes the numbers an embedder stores, so a store and the bundles trained on it
record it, and ``predict`` embeds a new song in the precision its model was trained on. A model
trained with bfloat16 steps keeps float32 weights and predicts in float32.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch

from autoenchorder.errors import ModelError

#: The precisions an embedder accepts; ``"auto"`` resolves to one of them.
PRECISIONS = ("float32", "bfloat16")
#: The default: the published networks' own arithmetic.
DEFAULT_PRECISION = "float32"


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 convolutions natively (not emulated).

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    bool
        CUDA: the GPU supports bfloat16; CPU: AVX512-BF16 or AMX tiles are present.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    """A precision name checked and made concrete for ``device``.

    Parameters
    ----------
    precision : {"float32", "bfloat16", "auto"}
        ``"auto"``: bfloat16 where ``device`` runs it natively, else float32.
    device : torch.device
        Where the network runs.

    Returns
    -------
    str
        ``"float32"`` or ``"bfloat16"``.

    Raises
    ------
    ModelError
        An unknown name.
    """
    if precision == "auto":
        return "bfloat16" if native_bfloat16(device) else "float32"
    if precision not in PRECISIONS:
        raise ModelError(
            f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)} or auto"
        )
    if precision == "bfloat16" and not native_bfloat16(device):
        warnings.warn(
            f"bfloat16 asked for, but this {device.type.upper()} has no native bfloat16 "
            "instructions: torch emulates them, several times slower than float32 "
            "(the numbers are still bfloat16's)",
            RuntimeWarning,
            stacklevel=3,
        )
    return precision


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Run the block's network calls in ``precision`` (float32: unchanged).

    Parameters
    ----------
    precision : {"float32", "bfloat16"}
        A value of :func:`resolve_precision`.
    device : torch.device
        Where the network runs.
    """
    if precision == "float32":
        yield
        return
    with torch.autocast(device.type, dtype=torch.bfloat16):
        yield
