"""Pretrained audio embedders behind one registry: ``get_embedder(name, **options)``."""

from autoenchorder.audio.embed.base import (
    Embedder,
    Embedding,
    available_embedders,
    get_embedder,
    register_embedder,
)

__all__ = ["Embedder", "Embedding", "available_embedders", "get_embedder", "register_embedder"]
