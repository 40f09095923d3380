"""Finished fit jobs kept on disk, so an interrupted study resumes where it stopped.

Each finished :class:`~autoenchorder.train.job_types.FitJob` is written to ``<folder>/<key>/``
(``result.json`` + ``arrays.safetensors``; no pickle), where the key is a SHA-256 of everything
its result depends on: the code that fits it (a hash of the package's sources under
:data:`FIT_CODE`, so an edited model or loader is a different job, whatever the version says),
the model and its *complete* configuration (so a changed default is a different job), the
share of training rows, the study's data spec and split, and a fingerprint of the loaded
rows. A re-run finds the job under the same key and
reads the result instead of fitting again; anything else is a miss. Entries are written to a
temporary folder and renamed, so a kill never leaves half an entry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from autoenchorder import __version__
from autoenchorder.train.job_types import (
    FitJob,
    FitResult,
    StudyData,
    loaded,
    loaded_supplement,
)

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.safetensors"
#: the package's code a fit depends on: folders (every ``*.py`` below them) and single modules
FIT_CODE: tuple[str, ...] = (
    "models",
    "data",
    "train",
    "config.py",
    "errors.py",
    "metrics.py",  # scores the fit
    "published.py",  # the weighted loss's defaults, the band edges
)
#: the installed package's folder
PACKAGE = Path(__file__).resolve().parents[1]


def code_fingerprint(package: str | Path = PACKAGE, parts: tuple[str, ...] = FIT_CODE) -> str:
    """A SHA-256 of the sources a fit depends on: each file's path and bytes, in path order.

    Parameters
    ----------
    package : str or Path
        The package folder (``src/autoenchorder``).
    parts : tuple of str
        Folders and files under ``package`` to hash (missing ones are skipped).

    Returns
    -------
    str
        Hex digest; it changes when any of those files is edited, added, removed or renamed.
    """
    root = Path(package)
    files: list[Path] = []
    for part in parts:
        path = root / part
        if path.is_dir():
            files += path.rglob("*.py")
        elif path.is_file():
            files.append(path)
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.cache
def package_code() -> str:
    """:func:`code_fingerprint` of this installed package, computed once per process."""
    return code_fingerprint(PACKAGE)


class JobCache:
    """Finished jobs in a folder (created when the first one is written).

    Parameters
    ----------
    folder : str or Path
    code : str or None
        Fingerprint of the code that fits the jobs (default: :func:`package_code`).
    """

    def __init__(self, folder: str | Path, *, code: str | None = None) -> None:
        self.folder = Path(folder)
        self.code = code if code is not None else package_code()
        self._fingerprints: dict[StudyData, str] = {}

    def key(self, job: FitJob, data: StudyData) -> str:
        """The entry name of ``job`` on ``data`` (hex SHA-256)."""
        from autoenchorder.train.fit import build_model  # noqa: PLC0415

        if data not in self._fingerprints:
            extra = loaded_supplement(data)
            self._fingerprints[data] = loaded(data)[0].fingerprint() + (
                "" if extra is None else f"+{extra.fingerprint()}"
            )
        config = build_model(job.model, {**job.options, "quiet": True}).config.to_dict()
        identity = {
            "version": __version__,
            "code": self.code,
            "key": job.key,
            "model": job.model,
            "config": config,
            "fraction": job.fraction,
            "keep_state": job.keep_state,
            "data": dataclasses.asdict(data),
            "rows": self._fingerprints[data],
        }
        text = json.dumps(identity, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, job: FitJob, data: StudyData) -> FitResult | None:
        """The stored result of ``job``, or None (also for an unreadable entry)."""
        entry = self.folder / self.key(job, data)
        try:
            doc = json.loads((entry / RESULT_FILE).read_text(encoding="utf-8"))
            arrays = load_file(str(entry / ARRAYS_FILE))
        except Exception:  # noqa: BLE001  any unreadable entry is simply not a hit
            return None
        state = None
        if doc["state_meta"] is not None:
            prefix = "state/"
            state = (
                doc["state_meta"],
                {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)},
            )
        return FitResult(
            job,
            ids=np.asarray(doc["ids"], dtype=str),
            y_true=arrays["y_true"],
            y_pred=arrays["y_pred"],
            n_train=doc["n_train"],
            n_val=doc["n_val"],
            config=doc["config"],
            history=doc["history"],
            fit_seconds=doc["fit_seconds"],
            predict_seconds=doc["predict_seconds"],
            state=state,
            cached=True,
            proba=arrays.get("proba"),
        )

    def put(self, result: FitResult, data: StudyData) -> None:
        """Store a successful result (failures are not stored: a re-run tries again)."""
        if result.error is not None:
            return
        entry = self.folder / self.key(result.job, data)
        arrays: dict[str, np.ndarray] = {
            "y_true": np.ascontiguousarray(result.y_true),
            "y_pred": np.ascontiguousarray(result.y_pred),
        }
        if result.proba is not None:
            arrays["proba"] = np.ascontiguousarray(result.proba)
        meta: dict[str, Any] | None = None
        if result.state is not None:
            meta, state_arrays = result.state
            arrays.update({f"state/{k}": np.ascontiguousarray(v) for k, v in state_arrays.items()})
        doc = {
            "ids": [str(i) for i in result.ids],
            "n_train": result.n_train,
            "n_val": result.n_val,
            "config": result.config,
            "history": result.history,
            "fit_seconds": result.fit_seconds,
            "predict_seconds": result.predict_seconds,
            "state_meta": meta,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.folder, prefix=".partial-"))
        try:
            (staging / RESULT_FILE).write_text(json.dumps(doc, default=_plain), encoding="utf-8")
            save_file(arrays, str(staging / ARRAYS_FILE))
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(staging, entry)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and tuples inside configs and histories."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")
