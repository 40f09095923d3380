"""Error metrics for popularity predictions, batched so that bootstrap resamples cost one call.

A foundation shared by the stages: ``train`` scores its fits with them, ``evaluate`` reports
them with intervals, ``predict`` names popularity bands.

Every metric function takes ``y_true`` and ``y_pred`` of shape ``(..., n)`` and reduces the last
axis, so the same code scores one test set (shape ``(n,)``) or a stack of bootstrap resamples
(shape ``(n_boot, n)``). Popularity is on Spotify's 0-100 scale; :func:`regression_metrics` also
reports the errors on the 0-1 scale (``/ 100``) that HitMusicNet published (its best test MAE:
:data:`autoenchorder.published.HITMUSICNET_MAE_01`). R^2 and Spearman's rho do not depend on the
scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from autoenchorder.errors import EvaluationError
from autoenchorder.published import BAND_EDGES, BAND_NAMES


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean absolute error over the last axis.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (..., n)

    Returns
    -------
    np.ndarray, shape (...)
    """
    return np.mean(np.abs(y_pred - y_true), axis=-1)


def mse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Mean squared error over the last axis; shapes as :func:`mae`."""
    return np.mean((y_pred - y_true) ** 2, axis=-1)


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Root mean squared error over the last axis; shapes as :func:`mae`."""
    return np.sqrt(mse(y_true, y_pred))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (scikit-learn's ``r2_score``).

    NaN where ``y_true`` is constant (``SS_tot == 0``), where scikit-learn would return a
    convention value instead. Shapes as :func:`mae`.
    """
    y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
    ss_res = np.sum((y_true - y_pred) ** 2, axis=-1)
    ss_tot = np.sum((y_true - np.mean(y_true, axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)


def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation (average ranks for ties, as ``scipy.stats.spearmanr``).

    NaN where either side is constant. Shapes as :func:`mae`.
    """
    y_true, y_pred = np.broadcast_arrays(y_true, y_pred)
    return pearson(rankdata(y_true, axis=-1), rankdata(y_pred, axis=-1))


def pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson's correlation over the last axis (NaN where either side is constant).

    Parameters
    ----------
    a, b : np.ndarray, shape (..., n)

    Returns
    -------
    np.ndarray, shape (...)
    """
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    denominator = np.sqrt(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            denominator > 0,
            np.sum(a * b, axis=-1) / np.where(denominator > 0, denominator, 1.0),
            np.nan,
        )


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Confusion matrices: rows are true classes, columns predicted classes.

    Parameters
    ----------
    y_true, y_pred : np.ndarray of int, shape (..., n)
        Class labels in ``0 .. n_classes - 1``.
    n_classes : int

    Returns
    -------
    np.ndarray of int64, shape (..., n_classes, n_classes)
    """
    y_true, y_pred = np.broadcast_arrays(
        np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    )
    lead = y_true.shape[:-1]
    rows = int(np.prod(lead)) if lead else 1
    flat_true = y_true.reshape(rows, -1)
    flat_pred = y_pred.reshape(rows, -1)
    cell = flat_true * n_classes + flat_pred + (np.arange(rows)[:, None] * n_classes * n_classes)
    counts = np.bincount(cell.ravel(), minlength=rows * n_classes * n_classes)
    return counts.reshape(*lead, n_classes, n_classes)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Share of exactly right class labels over the last axis; shapes as :func:`mae`."""
    return np.mean(np.asarray(y_true) == np.asarray(y_pred), axis=-1)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int | None = None) -> np.ndarray:
    """Macro-averaged F1 over the classes present in ``y_true`` or ``y_pred``.

    The same as ``sklearn.metrics.f1_score(average="macro")`` with its default labels: a class
    that appears in neither the truth nor the predictions is left out of the average.

    Parameters
    ----------
    y_true, y_pred : np.ndarray of int, shape (..., n)
    n_classes : int or None
        Number of classes (default: the largest label + 1).

    Returns
    -------
    np.ndarray, shape (...)
    """
    if n_classes is None:
        n_classes = int(max(np.max(y_true), np.max(y_pred))) + 1
    counts = confusion_counts(y_true, y_pred, n_classes)
    tp = np.diagonal(counts, axis1=-2, axis2=-1).astype(np.float64)
    fp = counts.sum(axis=-2) - tp
    fn = counts.sum(axis=-1) - tp
    present = (tp + fp + fn) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(present, 2 * tp / np.where(present, 2 * tp + fp + fn, 1.0), 0.0)
    return f1.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1)


def popularity_band(popularity: np.ndarray) -> np.ndarray:
    """HitMusicNet's classes: 0 = low, 1 = mid, 2 = high (edges: :data:`BAND_EDGES`).

    Parameters
    ----------
    popularity : np.ndarray, shape (n,)
        Popularity on the 0-100 scale.

    Returns
    -------
    np.ndarray of int64, shape (n,)
    """
    return np.searchsorted(
        np.asarray(BAND_EDGES), np.asarray(popularity, dtype=np.float64), side="right"
    ).astype(np.int64)


@dataclass(frozen=True)
class Metric:
    """A named metric and how to read it.

    Attributes
    ----------
    name : str
        Column name in tables (``"mae"``, ``"r2"`` ...).
    label : str
        Name for people (``"MAE"``, ``"R²"`` ...).
    function : callable
        ``function(y_true, y_pred) -> values``, batched over leading axes.
    higher_is_better : bool
    scale_power : int
        How the metric changes when popularity is divided by 100: it is divided by
        ``100 ** scale_power`` (1 for MAE / RMSE, 2 for MSE, 0 for R^2 and Spearman).
    rank_based : bool
        The metric is Pearson's correlation of average ranks (Spearman), which the bootstrap
        computes from resample counts instead of sorting every resample.
    task : str
        ``"regression"`` or ``"classification"``.
    """

    name: str
    label: str
    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    higher_is_better: bool
    scale_power: int = 0
    task: str = "regression"
    rank_based: bool = False


#: The regression metrics, in report order.
REGRESSION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mae", "MAE", mae, higher_is_better=False, scale_power=1),
        Metric("rmse", "RMSE", rmse, higher_is_better=False, scale_power=1),
        Metric("mse", "MSE", mse, higher_is_better=False, scale_power=2),
        Metric("r2", "R²", r2, higher_is_better=True),
        Metric("spearman", "Spearman ρ", spearman, higher_is_better=True, rank_based=True),
    )
}

#: The classification metrics, in report order (macro-F1 counts the classes seen in each sample).
CLASSIFICATION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "accuracy", accuracy, higher_is_better=True, task="classification"),
        Metric("macro_f1", "macro-F1", macro_f1, higher_is_better=True, task="classification"),
    )
}


def metrics_for(task: str) -> dict[str, Metric]:
    """Return the metrics of a task (``"regression"`` or ``"classification"``)."""
    if task == "regression":
        return REGRESSION_METRICS
    if task == "classification":
        return CLASSIFICATION_METRICS
    raise ValueError(f"unknown task {task!r}; expected 'regression' or 'classification'")


def to_unit_scale(metric: str, value: float | np.ndarray) -> float | np.ndarray:
    """Convert a 0-100-scale metric value to the 0-1 scale (HitMusicNet's published scale).

    Parameters
    ----------
    metric : str
        A name in :data:`REGRESSION_METRICS`.
    value : float or np.ndarray
        Value(s) computed on popularity 0-100.

    Returns
    -------
    float or np.ndarray
    """
    return value / 100.0 ** REGRESSION_METRICS[metric].scale_power


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, MSE, R^2 and Spearman on 0-100, plus MAE / RMSE / MSE on 0-1.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n,)
        Popularity on the 0-100 scale.

    Returns
    -------
    dict
        ``{"n", "mae", "rmse", "mse", "r2", "spearman", "mae_01", "rmse_01", "mse_01"}``.
    """
    y_true, y_pred = check_pair(y_true, y_pred)
    out: dict[str, float] = {"n": int(y_true.size)}
    for name, metric in REGRESSION_METRICS.items():
        out[name] = float(metric.function(y_true, y_pred))
    for name in ("mae", "rmse", "mse"):
        out[f"{name}_01"] = float(to_unit_scale(name, out[name]))
    return out


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, class_names: list[str] | tuple[str, ...] = BAND_NAMES
) -> dict[str, object]:
    """Accuracy, macro-F1 and the confusion matrix of class labels.

    Parameters
    ----------
    y_true, y_pred : np.ndarray of int, shape (n,)
        Labels in ``0 .. len(class_names) - 1``.
    class_names : sequence of str
        Names of the classes in label order.

    Returns
    -------
    dict
        ``{"n", "accuracy", "macro_f1", "confusion": list of lists (rows = true)}``.
    """
    y_true, y_pred = (v.astype(np.int64) for v in check_pair(y_true, y_pred))
    n_classes = len(class_names)
    return {
        "n": int(y_true.size),
        "accuracy": float(accuracy(y_true, y_pred)),
        "macro_f1": float(macro_f1(y_true, y_pred, n_classes=n_classes)),
        "confusion": confusion_counts(y_true, y_pred, n_classes).tolist(),
    }


def check_pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check that targets and predictions can be scored, and return them as float arrays.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
        Targets and predictions (popularity or class labels).

    Returns
    -------
    y_true, y_pred : np.ndarray of float64, shape (n,)

    Raises
    ------
    EvaluationError
        Not 1-d, of different lengths, empty, not numbers, or holding NaN or infinite values.
    """
    y_true = _as_numbers("y_true", y_true)
    y_pred = _as_numbers("y_pred", y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise EvaluationError(
            f"y_true and y_pred must be 1-d of one length; got {y_true.shape} and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise EvaluationError("no rows to score")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise EvaluationError(
                f"{name} holds {int(bad.sum())} NaN or infinite values of {values.size} "
                f"(first at row {int(np.argmax(bad))})"
            )
    return y_true, y_pred


def _as_numbers(name: str, values: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EvaluationError(f"{name} must be numbers ({exc})") from exc
