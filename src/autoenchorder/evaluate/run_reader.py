"""Read a run directory back: its studies, their predictions, curves and metadata."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoenchorder.errors import DataError
from autoenchorder.evaluate.run_format import (
    FAMILIES,
    FORMAT,
    PREDICTION_COLUMNS,
    UNKNOWN_FAMILY,
    VERSION,
)


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
        """Return the model's family as run.json records it (else :data:`UNKNOWN_FAMILY`)."""
        family = self.meta.get("models", {}).get(model, {}).get("family")
        return family if family in FAMILIES else UNKNOWN_FAMILY

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
