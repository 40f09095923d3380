"""Write a study of a run directory, file by file, atomically, as results arrive."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from autoenchorder import __version__
from autoenchorder.atomic import write_atomic, write_text_atomic
from autoenchorder.evaluate.run_format import (
    FAMILIES,
    FORMAT,
    UNKNOWN_FAMILY,
    VERSION,
    check_name,
)
from autoenchorder.evaluate.run_reader import read_study


def machine_info() -> dict[str, Any]:
    """Describe this machine: CPU, cores, memory, OS, Python and library versions."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "autoenchorder": __version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    try:
        import torch  # noqa: PLC0415

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict  # noqa: PLC0415

        return asdict(value)
    return str(value)


def _dump_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, default=_json_default, allow_nan=True))


def _as_dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if hasattr(config, "__dataclass_fields__"):
        from dataclasses import asdict  # noqa: PLC0415

        return asdict(config)
    return dict(config)


class RunWriter:
    """Write one study of a run directory, file by file, as results arrive.

    Every method updates the files at once (atomically), so a run stopped half-way still
    leaves a readable study with the models finished so far.

    Parameters
    ----------
    root : str or Path
        The run directory (e.g. ``runs/demo``).
    study : str or None
        Sub-folder of this study (e.g. ``"procedural"``); ``None`` writes into ``root`` itself.
    title : str
        Heading of the study in the report.
    task : {"regression", "classification"}
    class_names : sequence of str, optional
        Class names in label order (classification).
    description : str
        A sentence or two shown under the heading.
    order : int
        Position of the study in the report (lower first; then by name).
    resume : bool
        If the study folder already holds a run, keep its models and predictions and add to
        them (for runs written by several processes one after the other); otherwise start anew.

    Examples
    --------
    >>> run = RunWriter("runs/demo", study="musicoset", title="MusicOSet descriptors")
    >>> run.set_dataset("musicoset", n=20405)
    >>> run.set_split("grouped-by-artist holdout 85/15 seed 0", seed=0, n_train=17344, n_test=3061)
    >>> run.add_model("gbdt", config={"max_iter": 300}, fit_seconds=4.2)
    >>> run.add_predictions("gbdt", ids=ids, y_true=y, y_pred=pred)
    """

    def __init__(
        self,
        root: str | Path,
        *,
        study: str | None = None,
        title: str = "",
        task: str = "regression",
        class_names: Sequence[str] | None = None,
        description: str = "",
        order: int = 0,
        resume: bool = False,
    ) -> None:
        if task not in ("regression", "classification"):
            raise ValueError(f"unknown task {task!r}")
        self.path = Path(root) / check_name("study", study) if study else Path(root)
        self.meta: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": study or self.path.name,
            "title": title or (study or self.path.name),
            "description": description,
            "order": order,
            "task": task,
            "class_names": list(class_names) if class_names else None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {},
            "split": {},
            "models": {},
            "headline": None,
            "timings": {},
            "notes": [],
            "machine": machine_info(),
        }
        self._predictions: list[pd.DataFrame] = []
        self._learning: list[dict[str, Any]] = []
        if resume and (self.path / "run.json").exists():
            self._resume()
        self.save()

    def _resume(self) -> None:
        previous = read_study(self.path)
        for key in ("dataset", "split", "models", "headline", "timings", "notes", "created"):
            if previous.meta.get(key):
                self.meta[key] = previous.meta[key]
        self._predictions = [
            group for _, group in previous.predictions.groupby(["model", "set"], sort=False)
        ]
        if previous.learning_curve is not None:
            self._learning = previous.learning_curve.to_dict("records")

    def save(self) -> None:
        """Write ``run.json`` (called by every other method)."""
        self.meta["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        _dump_json(self.path / "run.json", self.meta)

    def set_dataset(self, name: str, *, n: int, info: Mapping[str, Any] | None = None) -> None:
        """Record the dataset: its name, its number of rows, and anything else worth showing."""
        self.meta["dataset"] = {"name": name, "n": int(n), "info": dict(info or {})}
        self.save()

    def set_split(self, kind: str, *, seed: int, n_train: int, n_test: int, n_val: int = 0) -> None:
        """Record the split; its ``kind`` is shown verbatim ("grouped-by-artist holdout 85/15")."""
        self.meta["split"] = {
            "kind": kind,
            "seed": int(seed),
            "n_train": int(n_train),
            "n_val": int(n_val),
            "n_test": int(n_test),
        }
        self.save()

    def add_model(
        self,
        name: str,
        *,
        family: str | None = None,
        label: str | None = None,
        config: Mapping[str, Any] | None = None,
        fit_seconds: float | None = None,
        predict_seconds: float | None = None,
        history: Sequence[Mapping[str, Any]] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Record a trained model: its config, timings and per-epoch history (``model.history_``).

        Parameters
        ----------
        name : str
            Key of the model in every file (letters, digits, ``._+-``).
        family : str, optional
            One of :data:`FAMILIES`, the model class's ``family`` attribute
            (``type(model).family``). Required the first time a model is recorded; a later call
            for the same model may leave it out to keep the recorded one.
        label : str, optional
            Name shown in the report (default ``name``).
        config : mapping, optional
            The model's configuration (JSON-able; dataclasses are converted).
        fit_seconds, predict_seconds : float, optional
            Wall-clock times.
        history : sequence of mapping, optional
            Per-epoch records ``{"stage", "epoch", "train_loss", "val_loss", ...}``; written to
            ``curves/<name>.json``.
        info : mapping, optional
            Anything else (parameter count, best epoch ...).
        """
        check_name("model", name)
        recorded = self.meta["models"].get(name, {}).get("family")
        family = family or recorded
        if family is None:
            raise ValueError(f"model {name!r}: say its family (one of {FAMILIES})")
        if family not in FAMILIES:
            raise ValueError(f"family {family!r} is not one of {FAMILIES}")
        self.meta["models"][name] = {
            "family": family,
            "label": label or name,
            "config": _as_dict(config),
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,
            "info": dict(info or {}),
        }
        if history:
            _dump_json(self.path / "curves" / f"{name}.json", [dict(r) for r in history])
        self.save()

    def add_predictions(
        self,
        model: str,
        *,
        ids: Sequence[str] | np.ndarray,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        set_name: str = "test",
        y_std: np.ndarray | None = None,
        proba: np.ndarray | None = None,
        family: str | None = None,
    ) -> None:
        """Append one model's predictions on one set (``"test"`` or ``"val"``).

        Parameters
        ----------
        model : str
            A name given to :meth:`add_model` (or recorded now, of family ``family``).
        ids : sequence of str, shape (n,)
            Track ids, unique.
        y_true, y_pred : np.ndarray, shape (n,)
            Popularity 0-100 (class labels for classification).
        set_name : {"test", "val"}
            Which rows these are (the ``set`` column).
        y_std : np.ndarray, shape (n,), optional
            Predictive standard deviation (0-100 scale) if the model gives one.
        proba : np.ndarray, shape (n, C), optional
            Class probabilities (classification), written as ``proba_0 .. proba_{C-1}``.
        family : str, optional
            The family of a model not yet recorded with :meth:`add_model` (default
            :data:`UNKNOWN_FAMILY`, listed under "Other models").
        """
        if model not in self.meta["models"]:
            self.add_model(model, family=family or UNKNOWN_FAMILY)
        if set_name not in ("test", "val"):
            raise ValueError(f"set must be 'test' or 'val', not {set_name!r}")
        frame = pd.DataFrame(
            {
                "id": np.asarray(ids).astype(str),
                "model": model,
                "y_true": np.asarray(y_true, dtype=np.float64),
                "y_pred": np.asarray(y_pred, dtype=np.float64),
                "set": set_name,
            }
        )
        if frame["id"].duplicated().any():
            raise ValueError(f"duplicate ids in the {set_name} predictions of {model!r}")
        if y_std is not None:
            frame["y_std"] = np.asarray(y_std, dtype=np.float64)
        if proba is not None:
            for k in range(np.asarray(proba).shape[1]):
                frame[f"proba_{k}"] = np.asarray(proba)[:, k]
        self._predictions = [
            p
            for p in self._predictions
            if not ((p["model"].iloc[0] == model) & (p["set"].iloc[0] == set_name))
        ] + [frame]
        table = pd.concat(self._predictions, ignore_index=True)
        write_atomic(
            self.path / "predictions.parquet", lambda tmp: table.to_parquet(tmp, index=False)
        )

    def add_learning_curve(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append learning-curve points: ``{"model", "n_train", "seed", <metric>: value ...}``."""
        for row in rows:
            missing = {"model", "n_train"} - set(row)
            if missing:
                raise ValueError(f"learning-curve row lacks {sorted(missing)}")
            self._learning.append(dict(row))
        table = pd.DataFrame(self._learning)
        write_atomic(
            self.path / "learning_curve.parquet", lambda tmp: table.to_parquet(tmp, index=False)
        )

    def set_headline(
        self,
        model_a: str,
        model_b: str,
        *,
        metric: str | None = None,
        target: Literal["beats", "matches"] = "beats",
    ) -> None:
        """Name the comparison "A vs B" that the report's summary states first.

        ``metric`` compares them on another metric than the task's primary one (R² for
        regression), e.g. ``"spearman"`` for a study of ranking objectives. ``target`` is what
        the report checks of the pair: ``"beats"``, A above B (the interval of the difference
        lies above 0), or ``"matches"``, A at least as good as B (the interval reaches 0 or
        above), for a study whose question is whether A costs anything.
        """
        if target not in ("beats", "matches"):
            raise ValueError(f"target must be 'beats' or 'matches', not {target!r}")
        self.meta["headline"] = {"model_a": model_a, "model_b": model_b}
        if metric is not None:
            self.meta["headline"]["metric"] = metric
        if target != "beats":
            self.meta["headline"]["target"] = target
        self.save()

    def record_timing(self, step: str, seconds: float) -> None:
        """Wall-clock time of a step of the run (extraction, training ...)."""
        self.meta["timings"][step] = float(seconds)
        self.save()

    def add_note(self, text: str) -> None:
        """Add a sentence shown in the study's section (a caveat, a data loss ...)."""
        self.meta["notes"].append(text)
        self.save()
