"""What every embedder is: its declared timing, its output type, and the registry of names."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoenchorder.errors import ModelError


@dataclass(frozen=True)
class Embedding:
    """A sequence of embedding frames with their start times.

    Attributes
    ----------
    frames : np.ndarray, float32, shape (T, D)
        One row per analysis window.
    times : np.ndarray, float64, shape (T,)
        Start time of each window in seconds from the start of the audio.
    """

    frames: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        if self.frames.ndim != 2 or self.times.shape != (self.frames.shape[0],):
            raise ValueError(
                "frames must be [T, D] and times [T]; "
                f"got {self.frames.shape} and {self.times.shape}"
            )


class Embedder(ABC):
    """A pretrained audio embedder: waveform in, ``Embedding`` out.

    Subclasses declare ``name``, ``sample_rate`` (Hz), ``window_seconds``, ``hop_seconds`` and
    ``dim``, load their weights once in ``__init__`` and batch windows internally.
    """

    name: str
    version: str
    sample_rate: int
    window_seconds: float
    hop_seconds: float
    dim: int

    @abstractmethod
    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        """Embed a mono waveform.

        Parameters
        ----------
        y : np.ndarray, float32, shape (n,)
            Mono samples at rate ``sr`` (resampled internally to ``sample_rate``).
        sr : int
            Sample rate of ``y``.

        Returns
        -------
        Embedding
            ``frames`` of shape (T, ``dim``) and their start ``times``.
        """

    def embed_file(self, path: str | Path) -> Embedding:
        """Embed a whole audio file (subclasses may stream it in constant memory).

        Parameters
        ----------
        path : str or Path
            Any file :func:`autoenchorder.audio.io.load_audio` reads.

        Returns
        -------
        Embedding
        """
        from autoenchorder.audio.io import load_audio  # noqa: PLC0415

        y, sr = load_audio(path, mono=True)
        return self.embed(y, sr)


_REGISTRY: dict[str, Callable[..., Embedder]] = {}


def register_embedder(name: str) -> Callable[[Callable[..., Embedder]], Callable[..., Embedder]]:
    """Register a factory under ``name`` (a decorator).

    Parameters
    ----------
    name : str
        The name :func:`get_embedder` accepts, e.g. ``"musicnn-msd"``.
    """

    def decorator(factory: Callable[..., Embedder]) -> Callable[..., Embedder]:
        _REGISTRY[name] = factory
        return factory

    return decorator


def available_embedders() -> list[str]:
    """Names of all registered embedders, sorted."""
    _load_builtin_embedders()
    return sorted(_REGISTRY)


_CACHE: dict[tuple, Embedder] = {}


def get_embedder(name: str, **options: object) -> Embedder:
    """Build (once per process and option set) the embedder registered as ``name``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`available_embedders`).
    **options
        Passed to the embedder's constructor, e.g. ``weights=PATH, postprocess=False``.

    Returns
    -------
    Embedder

    Raises
    ------
    ModelError
        Unknown name, or an option the embedder does not take.
    """
    _load_builtin_embedders()
    if name not in _REGISTRY:
        raise ModelError(f"unknown embedder {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if key not in _CACHE:
        try:
            _CACHE[key] = _REGISTRY[name](**options)
        except TypeError as exc:
            if "unexpected keyword argument" not in str(exc):
                raise
            raise ModelError(f"embedder {name!r} does not take that option: {exc}") from exc
    return _CACHE[key]


def _load_builtin_embedders() -> None:
    # Importing the modules runs their @register_embedder decorators.
    import importlib  # noqa: PLC0415

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


#: Modules whose import registers the built-in embedders.
_BUILTIN_MODULES: list[str] = [
    "autoenchorder.audio.embed.musicnn",
    "autoenchorder.audio.embed.vggish",
    "autoenchorder.audio.embed.clap",
    "autoenchorder.audio.embed.sections",
]
