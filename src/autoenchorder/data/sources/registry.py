"""The one registry of dataset sources: a :class:`DataSpec` names a dataset, one call loads it.

>>> from autoenchorder.data.sources.registry import DataSpec, load_dataset
>>> ds = load_dataset(DataSpec("musicoset"))  # doctest: +SKIP

Sources whose folder has a known home (``musicoset``, ``hit-predictor``, ``spotgentrack``)
need no ``root``: it is found by :mod:`autoenchorder.data.locations` (``$AUTOENCHORDER_DATA``,
``./data``, ``../shared/data``). Every command, the training API and the studies load through
:func:`load_dataset`, so a source is added here once.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import KNOWN_SOURCES, require_root
from autoenchorder.errors import DataError

#: source name -> (module under autoenchorder.data.sources, loader function, DataSpec fields
#: passed positionally (required), DataSpec fields passed by keyword when set)
SOURCES: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {
    "musicoset": ("musicoset", "load_musicoset", ("root",), ("on_bad", "extra_targets")),
    "hit-predictor": ("hit_predictor", "load_hit_predictor", ("root",), ("on_bad",)),
    "musicoset-hit-rows": ("musicoset_hit_rows", "load_musicoset_hit_rows", (), ("root", "on_bad")),
    "spotgentrack": ("spotgentrack", "load_spotgentrack", ("root",), ("feature_sets", "on_bad")),
    "catalog": ("catalog", "load_catalog", ("root", "labels", "store"), ("embedder", "on_bad")),
    "procedural": ("procedural", "load_procedural", ("root",), ("store", "embedder", "on_bad")),
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
        corpus directory). None for a source of :data:`~autoenchorder.data.locations.
        KNOWN_SOURCES`: found by :func:`~autoenchorder.data.locations.require_root`.
    store : str or None
        Feature store of extracted features (``catalog``, ``procedural``).
    labels : str or None
        Labels CSV of a ``catalog``.
    embedder : str or None
        Attach this embedder's sequences from ``store`` when the loader did not.
    feature_sets : tuple of str or None
        Column groups or aliases (``spotgentrack``; default all).
    on_bad : str or None
        Bad-row policy (``"drop"``, ``"impute"``, ``"fail"``; default the loader's ``"drop"``).
    extra_targets : tuple of str or None
        Further targets to attach as ``ds.extra_targets`` (``musicoset``: ``"billboard"``,
        ``"billboard_hit"``, ``"hit"``); None: none.
    """

    source: str
    root: str | None = None
    store: str | None = None
    labels: str | None = None
    embedder: str | None = None
    feature_sets: tuple[str, ...] | None = None
    on_bad: str | None = None
    extra_targets: tuple[str, ...] | None = None


def load_dataset(spec: DataSpec) -> PopularityDataset:
    """Load the dataset a :class:`DataSpec` names.

    Parameters
    ----------
    spec : DataSpec

    Returns
    -------
    PopularityDataset
        ``info["data_spec"]`` records ``spec`` (with the root that was found).

    Raises
    ------
    DataError
        Unknown source, a missing argument, a source folder not found, or whatever the loader
        reports.
    """
    if spec.source not in SOURCES:
        raise DataError(f"unknown data source {spec.source!r}; choose from {', '.join(SOURCES)}")
    if spec.source in KNOWN_SOURCES:
        spec = replace(spec, root=str(require_root(spec.source, spec.root)))
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
    from autoenchorder.data.store import FeatureStore, stored_precision  # noqa: PLC0415

    source = FeatureStore(store)
    found = source.read_sequences(embedder)
    keep = np.array([track in found for track in ds.ids])
    if not keep.any():
        raise DataError(f"the store {store} has no {embedder!r} sequences for this dataset")
    ds = ds.take(keep)
    embeddings = [found[track] for track in ds.ids]
    ds = ds.with_sequences([e.frames for e in embeddings], [e.times for e in embeddings])
    ds.info["sequences_missing"] = int((~keep).sum())
    ds.info["embedder"] = {"name": embedder}
    precision = stored_precision(source.manifest, embedder)
    if precision:  # predict embeds new songs in it too
        ds.info["embedder_precision"] = precision
    return ds
