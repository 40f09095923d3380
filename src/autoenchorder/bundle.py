r"""Save and load a trained model as a bundle: a directory of safetensors weights + JSON, no pickle.

Layout of a bundle directory (format version 1)::

    <bundle>/
      weights.safetensors   every named array of Model.to_state() (safetensors, header-only
                            metadata, no code)
      bundle.json           everything else, human-readable:
        format              "autoenchorder-bundle"
        format_version      1
        model               registry name, e.g. "hitmusicnet"
        state               Model.to_state() metadata: config, task, history, scaler parameters,
                            feature names ... (model-specific)
        feature_spec        the columns the model reads, in order, per group; sequence dim;
                            embedder name and version, audio_input: the part of each file the
                            training features came from ({"kind": "whole_file"} or {"kind":
                            "window", "seconds": 30.0, "offset": 0.0 or null = unknown}); a
                            bundle without it (older, or trained on a source without audio
                            features) is read as the whole file (what a Predictor must compute)
        metrics             e.g. {"test": {"mae": ..., "mse": ..., "r2": ...}}
        extra               caller's JSON-able notes (dataset, split kind, seed ...)
        training_index      (optional) {"file", "sha256", "space", "n_indexed", "n_training"}:
                            the model's training songs in its code space, in the file named
                            (see below); older bundles have none
                            (non-finite floats in any JSON field are stored as null, so the file
                            is standard JSON that any tool reads)
        libraries           versions of python, autoenchorder, torch, numpy, librosa, sklearn ...
        created             ISO-8601 UTC time of saving
        weights_sha256      sha256 of weights.safetensors
        content_sha256      sha256 of (canonical JSON of every other field) + b"\\n" + the weights

      training_index.safetensors   (optional) a compact index of the training songs:
                            ``codes`` (N, D) float16, ``popularity`` (N,), ``shift`` and
                            ``scale`` (D,), ``training_popularity`` (M,) of every training song;
                            the N track ids as JSON in the header's metadata (``ids``)

The canonical JSON is ``json.dumps(doc, sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` of the document without the two hash fields, UTF-8 encoded. The hashes
detect corruption and edits (an edited weight file, a changed config value); they are not a
signature -- anyone who edits a bundle can recompute them -- so load bundles from people you
trust. Loading never unpickles or executes anything: arrays come from safetensors, everything
else from JSON, and the model class from the registry by name.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoenchorder.atomic import write_bytes_atomic, write_text_atomic
from autoenchorder.errors import ModelError

if TYPE_CHECKING:
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models.base import Model
    from autoenchorder.models.codes import TrainingIndex

BUNDLE_FORMAT = "autoenchorder-bundle"
FORMAT_VERSION = 1
#: versions this code can read
SUPPORTED_VERSIONS = (1,)
WEIGHTS_FILE = "weights.safetensors"
JSON_FILE = "bundle.json"
INDEX_FILE = "training_index.safetensors"
_HASH_FIELDS = ("weights_sha256", "content_sha256")
#: distributions whose versions a bundle records (missing ones are skipped)
_LIBRARIES = (
    "autoenchorder",
    "torch",
    "numpy",
    "scipy",
    "librosa",
    "scikit-learn",
    "pandas",
    "safetensors",
    "optuna",
)


def save_bundle(
    model: Model,
    path: str | Path,
    *,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    feature_spec: Mapping[str, Any] | None = None,
    training_index: TrainingIndex | None = None,
) -> Path:
    """Write a fitted model to a bundle directory (created; its files are replaced).

    Parameters
    ----------
    model : Model
        A fitted model (anything with ``to_state()`` and a registered ``name``).
    path : str or Path
        The bundle directory.
    metrics : mapping or None
        JSON-able training / test metrics.
    extra : mapping or None
        JSON-able notes (dataset, split kind, seed ...).
    feature_spec : mapping or None
        What the model reads (see :func:`feature_spec_from_dataset`).
    training_index : TrainingIndex or None
        The training songs in the model's code space
        (:func:`~autoenchorder.models.codes.build_training_index`), for "songs that sound like
        yours" and the percentile of a score.

    Returns
    -------
    Path
        The bundle directory.

    Raises
    ------
    ModelError
        The model is not fitted, its state holds arrays safetensors cannot store, or the
        metadata is not JSON-able.
    """
    from safetensors.numpy import save  # noqa: PLC0415

    meta, arrays = model.to_state()
    name = str(meta.get("model") or getattr(model, "name", ""))
    if not name:
        raise ModelError("the model has no registry name; cannot bundle it")
    for key, array in arrays.items():
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
            raise ModelError(f"state array {key!r} is not a numeric numpy array; cannot bundle it")
    weights = save({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    doc = _jsonable(
        {
            "format": BUNDLE_FORMAT,
            "format_version": FORMAT_VERSION,
            "model": name,
            "state": meta,
            "feature_spec": dict(feature_spec or {}),
            "metrics": dict(metrics or {}),
            "extra": dict(extra or {}),
            "libraries": library_versions(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    index_bytes = None
    if training_index is not None:
        index_bytes = _index_bytes(training_index)
        doc["training_index"] = {
            "file": INDEX_FILE,
            "sha256": hashlib.sha256(index_bytes).hexdigest(),
            "space": training_index.space,
            "n_indexed": len(training_index.ids),
            "n_training": int(training_index.training_popularity.size),
        }
    doc["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    doc["content_sha256"] = _content_hash(doc, weights)

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(root / WEIGHTS_FILE, weights)
    if index_bytes is not None:
        write_bytes_atomic(root / INDEX_FILE, index_bytes)
    elif (root / INDEX_FILE).exists():  # an older index would not belong to this model
        (root / INDEX_FILE).unlink()
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    write_text_atomic(root / JSON_FILE, text)
    return root


def load_bundle(path: str | Path) -> Model:
    """Load a bundle written by :func:`save_bundle`, after checking its version and hashes.

    Parameters
    ----------
    path : str or Path
        The bundle directory (or its ``bundle.json``).

    Returns
    -------
    Model
        The fitted model; ``model.bundle_info_`` holds the bundle's JSON document.

    Raises
    ------
    ModelError
        Missing files, not a bundle, an unknown format version, edited weights, edited JSON,
        an unknown model name, or a state that does not fit the model.
    """
    from safetensors import SafetensorError  # noqa: PLC0415
    from safetensors.numpy import load  # noqa: PLC0415

    from autoenchorder.models.registry import model_class  # noqa: PLC0415

    doc, weights = read_bundle_files(path)
    root = Path(path).parent if Path(path).name == JSON_FILE else Path(path)
    version = doc.get("format_version")
    if doc.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{root}: not an autoenchorder bundle (format {doc.get('format')!r})")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(
            f"{root}: bundle format version {version!r} is not supported; this autoenchorder "
            f"reads version(s) {', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    if doc.get("weights_sha256") != hashlib.sha256(weights).hexdigest():
        raise ModelError(
            f"{root}: {WEIGHTS_FILE} does not match the hash recorded in {JSON_FILE} "
            "(the weights were modified or corrupted)"
        )
    if doc.get("content_sha256") != _content_hash(doc, weights):
        raise ModelError(
            f"{root}: {JSON_FILE} does not match its recorded content hash "
            "(the JSON was modified or corrupted)"
        )
    name = doc.get("model")
    meta = doc.get("state")
    if not isinstance(name, str) or not isinstance(meta, dict) or meta.get("model") != name:
        raise ModelError(f"{root}: the bundle's model name and state disagree")
    cls = model_class(name)  # ModelError naming the known models if unknown
    try:
        arrays = load(weights)
    except SafetensorError as exc:
        raise ModelError(f"{root}: {WEIGHTS_FILE} is not a valid safetensors file: {exc}") from None
    model = cls.from_state(meta, arrays)
    model.bundle_info_ = {k: v for k, v in doc.items() if k != "state"}
    return model


def load_training_index(path: str | Path) -> TrainingIndex | None:
    """Read a bundle's index of its training songs (None for a bundle written without one).

    Parameters
    ----------
    path : str or Path
        The bundle directory (or its ``bundle.json``).

    Returns
    -------
    TrainingIndex or None

    Raises
    ------
    ModelError
        The index file is missing, edited or not an index.
    """
    from safetensors import SafetensorError, safe_open  # noqa: PLC0415

    from autoenchorder.models.codes import TrainingIndex  # noqa: PLC0415

    doc, _ = read_bundle_files(path)
    entry = doc.get("training_index")
    if not isinstance(entry, dict):
        return None
    root = Path(path).parent if Path(path).name == JSON_FILE else Path(path)
    file = root / str(entry.get("file") or INDEX_FILE)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ModelError(f"{root}: cannot read the training index {file.name}: {exc}") from None
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise ModelError(f"{root}: {file.name} does not match the hash recorded in {JSON_FILE}")
    try:
        with safe_open(str(file), framework="numpy") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            ids = json.loads((f.metadata() or {}).get("ids", "[]"))
        return TrainingIndex(
            ids=[str(i) for i in ids],
            popularity=arrays["popularity"],
            codes=arrays["codes"],
            shift=arrays["shift"],
            scale=arrays["scale"],
            training_popularity=arrays["training_popularity"],
            space=str(entry.get("space", "")),
        )
    except (SafetensorError, KeyError, ValueError) as exc:
        raise ModelError(f"{root}: {file.name} is not a training index ({exc})") from None


def _index_bytes(index: TrainingIndex) -> bytes:
    """A training index as safetensors bytes (the ids as JSON in the header's metadata)."""
    from safetensors.numpy import save  # noqa: PLC0415

    arrays = {
        "codes": index.codes.astype(np.float16),
        "popularity": index.popularity.astype(np.float32),
        "shift": index.shift.astype(np.float32),
        "scale": index.scale.astype(np.float32),
        "training_popularity": index.training_popularity.astype(np.float32),
    }
    if len(index.ids) != len(index.popularity) or len(index.ids) != len(index.codes):
        raise ModelError("a training index needs one id, popularity and code row per song")
    return save(
        {k: np.ascontiguousarray(v) for k, v in arrays.items()},
        metadata={"ids": json.dumps(list(index.ids))},
    )


def read_bundle_files(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """Read a bundle's JSON document and raw weight bytes without checking them.

    Parameters
    ----------
    path : str or Path
        The bundle directory (or its ``bundle.json``).

    Returns
    -------
    doc : dict
    weights : bytes
    """
    root = Path(path)
    if root.name == JSON_FILE and root.is_file():
        root = root.parent
    if not root.is_dir():
        raise ModelError(f"{root}: no such bundle directory")
    try:
        text = (root / JSON_FILE).read_text(encoding="utf-8")
        weights = (root / WEIGHTS_FILE).read_bytes()
    except FileNotFoundError as exc:
        raise ModelError(f"{root}: not a bundle, {Path(exc.filename).name} is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{root}: cannot read the bundle: {exc}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{root}: {JSON_FILE} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{root}: {JSON_FILE} is not a JSON object")
    return doc, weights


def feature_spec_from_dataset(
    ds: PopularityDataset,
    *,
    groups: list[str] | tuple[str, ...] | None = None,
    embedder: Mapping[str, Any] | None = None,
    lowlevel_compat: str | None = None,
    audio_input: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Describe the inputs a model trained on ``ds`` reads, for a bundle's ``feature_spec``.

    Parameters
    ----------
    ds : PopularityDataset
    groups : sequence of str or None
        The column groups the model uses (default: all groups of ``ds``).
    embedder : mapping or None
        ``{"name": ..., "version": ...}`` of the embedder that produced the sequences
        (default: from ``ds.info["embedder"]`` (a name) and ``ds.info["embedder_version"]``).
    lowlevel_compat : str or None
        How the low-level features were computed (``"spotgentrack"`` or ``"fixed"``; the
        feature store's ``compat``), so a Predictor computes them the same way.
    audio_input : mapping or None
        The part of each file the features came from, as
        :meth:`~autoenchorder.audio.processor.InputSpec.to_dict` writes it (default:
        ``ds.info["audio_input"]``, which the loaders of sources with audio features record),
        so a Predictor scores new audio on the same part.

    Returns
    -------
    dict
        ``columns`` (group -> names in order), ``sequence_dim`` (or None), ``embedder``,
        ``lowlevel_compat`` and ``audio_input`` (when known), ``task`` and ``class_names``.
    """
    chosen = list(groups) if groups is not None else list(ds.column_groups)
    used = embedder if embedder is not None else ds.info.get("embedder")
    if isinstance(used, str):  # loaders record the embedder's registry name
        used = {"name": used, "version": ds.info.get("embedder_version")}
    if used and embedder is None and ds.info.get("embedder_precision"):  # made in bfloat16
        used = {**used, "precision": ds.info["embedder_precision"]}
    spec = {
        "columns": {g: list(ds.column_groups[g]) for g in chosen if g in ds.column_groups},
        "sequence_dim": ds.sequence_dim,
        "embedder": dict(used) if used else None,
        "task": ds.task,
        "class_names": ds.class_names,
    }
    compat = lowlevel_compat or ds.info.get("lowlevel_compat")
    if compat:
        spec["lowlevel_compat"] = compat
    made_from = audio_input if audio_input is not None else ds.info.get("audio_input")
    if made_from:
        spec["audio_input"] = dict(made_from)
    return spec


def library_versions() -> dict[str, str]:
    """Python's and the installed versions of the libraries a model's numbers depend on."""
    versions = {"python": platform.python_version()}
    for dist in _LIBRARIES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _content_hash(doc: Mapping[str, Any], weights: bytes) -> str:
    body = {k: v for k, v in doc.items() if k not in _HASH_FIELDS}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8") + b"\n" + weights).hexdigest()


def _jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars / arrays, paths, tuples converted; NaN, inf -> null."""
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelError(f"bundle metadata keys must be strings, got {key!r}")
            out[key] = _jsonable(item)
        return out
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, Path):
        return value.as_posix()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise ModelError(f"bundle metadata holds a {type(value).__name__}, which JSON cannot store")
