"""The run directory: what training writes and ``autoenchorder evaluate`` reads.

A run holds one or more *studies* (for the demo: ``procedural`` and ``musicoset``); each study is
a folder with ``run.json``, ``predictions.parquet``, ``curves/<model>.json`` and optionally
``learning_curve.parquet``. A folder that itself has ``run.json`` is a single study. The format
is described in ``docs/run-directory.md``; :class:`RunWriter` writes it, :func:`read_run` reads it.
"""

from __future__ import annotations

import json
import os
import platform
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoenchorder import __version__
from autoenchorder.atomic import write_atomic, write_text_atomic
from autoenchorder.errors import DataError

#: Value of ``run.json["format"]``.
FORMAT = "autoenchorder-run"
#: Version of the layout; readers refuse newer major versions.
VERSION = 1
#: Model families, in the order the report's tables list them.
FAMILIES: tuple[str, ...] = ("baseline", "hitmusicnet", "autoenchorder", "alternate", "other")
#: Columns of predictions.parquet (``y_std`` and ``proba_<k>`` columns are optional).
PREDICTION_COLUMNS: tuple[str, ...] = ("id", "model", "y_true", "y_pred", "set")
_FAMILY_HINTS: tuple[tuple[str, str], ...] = (
    ("random", "baseline"),
    ("mean", "baseline"),
    ("gbdt", "baseline"),
    ("boost", "baseline"),
    ("baseline", "baseline"),
    ("lossnet", "alternate"),
    ("single", "alternate"),
    ("rnn", "alternate"),
    ("transformer", "alternate"),
    ("hmn+", "alternate"),
    ("hmn-embed", "alternate"),
    ("hitmusicnet", "hitmusicnet"),
    ("autoenchorder", "autoenchorder"),
)


def guess_family(model: str) -> str:
    """Guess the report family (``"baseline"``, ``"hitmusicnet"`` ...) of a model from its name."""
    lowered = model.lower()
    for hint, family in _FAMILY_HINTS:
        if hint in lowered:
            return family
    return "other"


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


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _check_name(kind: str, name: str) -> str:
    if not _SAFE_NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} must be letters, digits and . _ + - (it names a file)"
        )
    return name


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
        self.path = Path(root) / _check_name("study", study) if study else Path(root)
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
            One of :data:`FAMILIES`; guessed from ``name`` if not given.
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
        _check_name("model", name)
        family = family or guess_family(name)
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
    ) -> None:
        """Append one model's predictions on one set (``"test"`` or ``"val"``).

        Parameters
        ----------
        model : str
            A name given to :meth:`add_model` (or added now with a guessed family).
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
        """
        if model not in self.meta["models"]:
            self.add_model(model)
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

    def set_headline(self, model_a: str, model_b: str) -> None:
        """Name the comparison "A vs B" that the report's summary states first."""
        self.meta["headline"] = {"model_a": model_a, "model_b": model_b}
        self.save()

    def record_timing(self, step: str, seconds: float) -> None:
        """Wall-clock time of a step of the run (extraction, training ...)."""
        self.meta["timings"][step] = float(seconds)
        self.save()

    def add_note(self, text: str) -> None:
        """Add a sentence shown in the study's section (a caveat, a data loss ...)."""
        self.meta["notes"].append(text)
        self.save()


@dataclass
class Study:
    """One study of a run directory, as read back.

    Attributes
    ----------
    path : Path
    meta : dict
        The content of ``run.json``.
    predictions : pd.DataFrame
        ``predictions.parquet``.
    curves : dict of str to list of dict
        Per-model training histories.
    learning_curve : pd.DataFrame or None
    """

    path: Path
    meta: dict[str, Any]
    predictions: pd.DataFrame
    curves: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    learning_curve: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        """The study's name (its folder)."""
        return str(self.meta.get("name") or self.path.name)

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"``."""
        return str(self.meta.get("task", "regression"))

    @property
    def models(self) -> list[str]:
        """Models with test predictions, in report order (by family, then as recorded)."""
        with_test = set(self.predictions.loc[self.predictions["set"] == "test", "model"])
        recorded = [m for m in self.meta.get("models", {}) if m in with_test]
        recorded += sorted(with_test - set(recorded))
        return sorted(recorded, key=lambda m: (FAMILIES.index(self.family(m)), recorded.index(m)))

    def family(self, model: str) -> str:
        """Return the model's family (from run.json, else guessed from its name)."""
        family = self.meta.get("models", {}).get(model, {}).get("family") or guess_family(model)
        return family if family in FAMILIES else "other"

    def label(self, model: str) -> str:
        """Return the model's display name."""
        return str(self.meta.get("models", {}).get(model, {}).get("label") or model)

    def aligned(self, which: str = "test") -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Predictions of every model on the rows they all scored, in one id order.

        Parameters
        ----------
        which : {"test", "val"}
            The set of rows.

        Returns
        -------
        ids : np.ndarray of str, shape (n,)
        y_true : np.ndarray, shape (n,)
        predictions : dict of str to np.ndarray, each shape (n,)

        Raises
        ------
        DataError
            No rows are shared by all models, or two models disagree on a row's target.
        """
        rows = self.predictions[self.predictions["set"] == which]
        models = [m for m in self.models if m in set(rows["model"])]
        if not models:
            raise DataError(f"{self.path}: no {which} predictions")
        repeated = rows.duplicated(["id", "model"])
        if repeated.any():
            example = rows.loc[repeated, ["model", "id"]].iloc[0].tolist()
            raise DataError(
                f"{self.path}: {int(repeated.sum())} repeated (model, id) {which} rows, "
                f"e.g. {example}"
            )
        wide = rows.pivot(index="id", columns="model", values="y_pred")[models].dropna()
        if wide.empty:
            raise DataError(
                f"{self.path}: no {which} rows are scored by every model ({', '.join(models)})"
            )
        truth = rows.pivot(index="id", columns="model", values="y_true").loc[wide.index, models]
        for column, values in (("y_true", truth), ("y_pred", wide)):
            bad = ~np.isfinite(values.to_numpy(np.float64)).all(axis=1)
            if bad.any():
                raise DataError(
                    f"{self.path}: {column} is NaN or infinite for {int(bad.sum())} {which} ids, "
                    f"e.g. {values.index[bad][0]!r}"
                )
        spread = truth.max(axis=1) - truth.min(axis=1)
        if (spread > 1e-9).any():
            raise DataError(
                f"{self.path}: models disagree on y_true for {(spread > 1e-9).sum()} ids"
            )
        ids = wide.index.to_numpy().astype(str)
        return (
            ids,
            truth.iloc[:, 0].to_numpy(np.float64),
            {m: wide[m].to_numpy(np.float64) for m in models},
        )

    def predictive_sd(self, ids: np.ndarray, which: str = "test") -> dict[str, np.ndarray]:
        """Return the ``y_std`` of the models that recorded one, on the rows ``ids``, in order.

        Parameters
        ----------
        ids : np.ndarray of str, shape (n,)
            Rows (as returned by :meth:`aligned`).
        which : {"test", "val"}

        Returns
        -------
        dict of str to np.ndarray, each shape (n,)
            Only models whose ``y_std`` is finite on every one of those rows.
        """
        if "y_std" not in self.predictions:
            return {}
        rows = self.predictions[self.predictions["set"] == which]
        out = {}
        for model, group in rows.groupby("model", sort=False):
            sd = group.set_index("id")["y_std"].reindex(ids).to_numpy(np.float64)
            if np.isfinite(sd).all():
                out[str(model)] = sd
        return out


def read_study(path: str | Path) -> Study:
    """Read one study folder.

    Parameters
    ----------
    path : str or Path
        A folder with ``run.json`` and ``predictions.parquet``.

    Returns
    -------
    Study

    Raises
    ------
    DataError
        Missing or malformed files, or a format this version cannot read.
    """
    path = Path(path)
    try:
        meta = json.loads((path / "run.json").read_text())
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no run.json (not a study folder)") from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"{path / 'run.json'}: not valid JSON ({exc})") from exc
    _check_meta(path / "run.json", meta)
    prediction_file = path / "predictions.parquet"
    if prediction_file.exists():
        predictions = _read_parquet(prediction_file)
    else:  # a study that has no model yet
        predictions = pd.DataFrame({c: pd.Series(dtype=object) for c in PREDICTION_COLUMNS})
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise DataError(f"{prediction_file}: missing columns {missing}")
    predictions["id"] = predictions["id"].astype(str)
    for column in ("y_true", "y_pred"):
        try:
            predictions[column] = pd.to_numeric(predictions[column]).astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{prediction_file}: column {column} is not numbers ({exc})") from exc
    curves = {}
    for curve_file in sorted((path / "curves").glob("*.json")):
        try:
            curves[curve_file.stem] = json.loads(curve_file.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{curve_file}: not valid JSON ({exc})") from exc
    learning_file = path / "learning_curve.parquet"
    learning = _read_parquet(learning_file) if learning_file.exists() else None
    return Study(
        path=path, meta=meta, predictions=predictions, curves=curves, learning_curve=learning
    )


def _check_meta(path: Path, meta: Any) -> None:
    """Refuse a run.json that is not this format, of a newer version, or of an unknown task."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"{path}: not an {FORMAT} file")
    try:
        version = int(meta.get("version", 0))
    except (TypeError, ValueError):
        raise DataError(f"{path}: version {meta.get('version')!r} is not a number") from None
    if version > VERSION:
        raise DataError(f"{path}: version {version} is newer than this reader ({VERSION})")
    if meta.get("task", "regression") not in ("regression", "classification"):
        raise DataError(f"{path}: unknown task {meta.get('task')!r}")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc


def find_studies(root: str | Path) -> list[Path]:
    """List the study folders of a run: ``root`` if it has run.json, else its sub-folders that do.

    Parameters
    ----------
    root : str or Path

    Returns
    -------
    list of Path
        Ordered by each study's ``order``, then name.

    Raises
    ------
    DataError
        ``root`` is missing or holds no study.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such run directory")
    if (root / "run.json").exists():
        return [root]
    found = [p.parent for p in root.glob("*/run.json")]
    if not found:
        raise DataError(
            f"{root}: neither run.json nor any <study>/run.json inside (see docs/run-directory.md)"
        )

    def order(study: Path) -> tuple[int, str]:
        try:
            return int(json.loads((study / "run.json").read_text()).get("order", 0)), study.name
        except (json.JSONDecodeError, ValueError, TypeError, AttributeError):
            return 0, study.name

    return sorted(found, key=order)


def read_run(root: str | Path) -> list[Study]:
    """Read every study of a run directory (see :func:`find_studies`)."""
    return [read_study(p) for p in find_studies(root)]
