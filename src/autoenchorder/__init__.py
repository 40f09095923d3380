"""autoenchorder: predict a song's popularity from its audio alone.

Re-implements HitMusicNet (Martin-Gutierrez et al., 2020) and Autoen-chorder (Ramirez
Echavarria & Varma, 2023), and goes past them. See ``docs/`` and the README.

The public face, one name per stage (imported on first use, so ``import autoenchorder`` and the
command line's ``--help`` stay fast)::

    from autoenchorder import load_audio, extract_lowlevel, get_embedder   # audio
    from autoenchorder import DataSpec, load_dataset                        # data
    from autoenchorder import make_model                                    # models
    from autoenchorder import load_bundle, Predictor                        # bundles, scoring
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_PUBLIC: dict[str, str] = {
    "load_audio": "autoenchorder.audio.io",
    "extract_lowlevel": "autoenchorder.audio.lowlevel",
    "get_embedder": "autoenchorder.audio.embed",
    "DataSpec": "autoenchorder.data.sources.registry",
    "load_dataset": "autoenchorder.data.sources.registry",
    "make_model": "autoenchorder.models.registry",
    "load_bundle": "autoenchorder.bundle",
    "Predictor": "autoenchorder.predict",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name from its stage on first use (PEP 562)."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'autoenchorder' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
