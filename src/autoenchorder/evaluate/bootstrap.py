"""Paired bootstrap confidence intervals for metrics and for differences between models.

All models are scored on the *same* resampled test rows, so the interval of a difference
``metric(A) - metric(B)`` accounts for the songs both models find easy or hard: a claimed win is
a measured one. Resamples are drawn in fixed blocks of :data:`BLOCK` rows of indices, each block
from its own seeded generator, so two calls with the same ``seed`` and test size use identical
resamples whatever they compute, and each block is scored by one vectorised call.

Intervals are percentile intervals by default; ``method="bca"`` gives bias-corrected and
accelerated intervals (Efron 1987), the acceleration taken from the leave-one-out jackknife.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from autoenchorder.errors import EvaluationError
from autoenchorder.metrics import Metric, check_pair, metrics_for, pearson

#: Resamples drawn per generator block (the unit of seeding and of vectorised scoring).
BLOCK: int = 100
#: Most row indices scored per call (100 resamples of 10,000 songs); larger test sets are
#: scored in parts of a block, so memory stays bounded.
MAX_CELLS: int = 1_000_000

#: A statistic of resampled rows: index array [B, n] -> values [B, ...].
Statistic = Callable[[np.ndarray], np.ndarray]


def iter_resample_blocks(n: int, *, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield the bootstrap resamples of ``n`` rows, one block of row indices at a time.

    Parameters
    ----------
    n : int
        Number of rows.
    n_boot : int
        Number of resamples.
    seed : int
        Seed; block ``k`` is drawn from ``np.random.default_rng([seed, k])``.

    Yields
    ------
    np.ndarray of int64, shape (<= BLOCK, n)
    """
    for k, start in enumerate(range(0, n_boot, BLOCK)):
        size = min(BLOCK, n_boot - start)
        yield np.random.default_rng([seed, k]).integers(0, n, size=(size, n))


def resample_blocks(n: int, *, n_boot: int, seed: int) -> list[np.ndarray]:
    """Draw every block of :func:`iter_resample_blocks` at once (a list)."""
    return list(iter_resample_blocks(n, n_boot=n_boot, seed=seed))


def bootstrap_replicates(
    statistic: Statistic, n: int, *, n_boot: int = 2000, seed: int = 0, max_cells: int = MAX_CELLS
) -> np.ndarray:
    """Evaluate a statistic on every bootstrap resample.

    Parameters
    ----------
    statistic : callable
        ``statistic(index)`` with ``index`` of shape (B, n) returns values of shape (B, ...);
        each row must be scored on its own (rows may be passed in any grouping).
    n : int
        Number of rows.
    n_boot : int
        Number of resamples.
    seed : int
        See :func:`iter_resample_blocks`.
    max_cells : int
        At most this many indices per call (bounds memory on large test sets: a block is
        split into several calls; the resamples stay the same).

    Returns
    -------
    np.ndarray, shape (n_boot, ...)
    """
    rows = max(1, max_cells // max(n, 1))
    return np.concatenate(
        [
            statistic(block[start : start + rows])
            for block in iter_resample_blocks(n, n_boot=n_boot, seed=seed)
            for start in range(0, len(block), rows)
        ]
    )


def jackknife_replicates(statistic: Statistic, n: int, *, block: int | None = None) -> np.ndarray:
    """Evaluate a statistic with each row left out in turn.

    Parameters
    ----------
    statistic : callable
        As in :func:`bootstrap_replicates`.
    n : int
        Number of rows (at least 2).
    block : int, optional
        Leave-one-out samples scored per call (default: as many as :data:`MAX_CELLS` allows).

    Returns
    -------
    np.ndarray, shape (n, ...)
    """
    base = np.arange(n - 1)
    block = block or max(1, MAX_CELLS // max(n, 1))
    out = []
    for start in range(0, n, block):
        left_out = np.arange(start, min(n, start + block))[:, None]
        out.append(statistic(base + (base >= left_out)))
    return np.concatenate(out)


def confidence_interval(
    replicates: np.ndarray,
    estimate: np.ndarray,
    *,
    level: float = 0.95,
    method: str = "percentile",
    jackknife: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided bootstrap interval for each element of a statistic.

    Parameters
    ----------
    replicates : np.ndarray, shape (n_boot, ...)
        Bootstrap values; NaN replicates (an undefined statistic) are ignored.
    estimate : np.ndarray, shape (...)
        The statistic on the full sample.
    level : float
        Coverage, e.g. 0.95.
    method : {"percentile", "bca"}
    jackknife : np.ndarray, shape (n, ...), optional
        Leave-one-out values; required for ``"bca"``.

    Returns
    -------
    low, high : np.ndarray, shape (...)
    """
    tail = (1.0 - level) / 2.0
    replicates = np.asarray(replicates, dtype=np.float64)
    shape = replicates.shape[1:]
    flat = replicates.reshape(replicates.shape[0], -1)
    if method == "percentile":
        quantiles = np.broadcast_to(np.array([tail, 1.0 - tail])[:, None], (2, flat.shape[1]))
    elif method == "bca":
        if jackknife is None:
            raise ValueError("method='bca' needs the jackknife replicates")
        quantiles = _bca_quantiles(
            flat,
            np.asarray(estimate, dtype=np.float64).reshape(-1),
            np.asarray(jackknife, dtype=np.float64).reshape(len(jackknife), -1),
            tail,
        )
    else:
        raise ValueError(f"unknown interval method {method!r}; expected 'percentile' or 'bca'")
    low = np.full(flat.shape[1], np.nan)
    high = np.full(flat.shape[1], np.nan)
    for j in range(flat.shape[1]):
        column = flat[:, j]
        column = column[np.isfinite(column)]
        if column.size and np.all(np.isfinite(quantiles[:, j])):
            low[j], high[j] = np.quantile(column, quantiles[:, j])
    return low.reshape(shape), high.reshape(shape)


def metric_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    task: str,
    *,
    seed: int,
    n_boot: int = 1000,
    level: float = 0.95,
) -> dict[str, list[float]]:
    """Percentile-bootstrap intervals of every metric of ``task`` on one set of test songs.

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n,)
        The test songs' truth and the model's predictions (class labels for classification).
    task : {"regression", "classification"}
    seed : int
        Seeds the resampling of the songs.
    n_boot : int
    level : float

    Returns
    -------
    dict of str to list of float
        ``{metric name: [low, high]}``; empty for fewer than two songs.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if len(y) < 2:
        return {}
    intervals: dict[str, list[float]] = {}
    for name, metric in metrics_for(task).items():
        replicates = bootstrap_replicates(
            lambda index, f=metric.function: f(y[index], p[index]), len(y), n_boot=n_boot, seed=seed
        )
        low, high = confidence_interval(replicates, metric.function(y, p), level=level)
        intervals[name] = [float(low), float(high)]
    return intervals


def _bca_quantiles(
    flat: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray, tail: float
) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        valid = np.isfinite(flat)
        below = np.sum((flat < estimate) & valid, axis=0) + 0.5 * np.sum(
            (flat == estimate) & valid, axis=0
        )
        z0 = norm.ppf(below / np.maximum(valid.sum(axis=0), 1))
        centred = np.nanmean(jackknife, axis=0) - jackknife
        acceleration = np.nansum(centred**3, axis=0) / (6.0 * np.nansum(centred**2, axis=0) ** 1.5)
        acceleration = np.where(np.isfinite(acceleration), acceleration, 0.0)
        z = norm.ppf(np.array([tail, 1.0 - tail]))[:, None]
        return norm.cdf(z0 + (z0 + z) / (1.0 - acceleration * (z0 + z)))


class ResampledRanks:
    """Average ranks (ties shared, as ``scipy.stats.rankdata``) of resampled values, by counting.

    A resample draws rows of one fixed sample, so the rank of a drawn value follows from how
    many times each distinct value was drawn: one ``bincount`` and one ``cumsum`` per block of
    resamples, instead of sorting every resample.

    Parameters
    ----------
    values : np.ndarray, shape (n,)
        The sample.
    """

    def __init__(self, values: np.ndarray) -> None:
        distinct, self.group = np.unique(np.asarray(values), return_inverse=True)
        self.n_groups = distinct.size

    def ranks(self, index: np.ndarray) -> np.ndarray:
        """Rank the values at ``index`` within each resample.

        Parameters
        ----------
        index : np.ndarray of int, shape (B, m)
            Row indices of B resamples.

        Returns
        -------
        np.ndarray, float64, shape (B, m)
            1-based average ranks within each row.
        """
        rows, g = index.shape[0], self.n_groups
        drawn = self.group[index]
        counts = np.bincount((drawn + g * np.arange(rows)[:, None]).ravel(), minlength=rows * g)
        counts = counts.reshape(rows, g)
        average = np.cumsum(counts, axis=1) - (counts - 1) / 2.0
        return np.take_along_axis(average, drawn, axis=1)


@dataclass(frozen=True)
class BootstrapResult:
    """Metric intervals per model and difference intervals per pair of models.

    Attributes
    ----------
    metrics : pd.DataFrame
        One row per (model, metric): ``model, metric, estimate, low, high, se``.
    differences : pd.DataFrame
        One row per (pair, metric): ``model_a, model_b, metric, estimate, low, high,
        a_better_share`` where ``estimate = metric(A) - metric(B)`` and ``a_better_share`` is the
        share of resamples in which A scores better (lower error, higher R^2 ...).
    replicates : dict
        ``{model: np.ndarray [n_boot, n_metrics]}`` in the order of ``metric_names``.
    metric_names : list of str
    """

    metrics: pd.DataFrame
    differences: pd.DataFrame
    replicates: dict[str, np.ndarray]
    metric_names: list[str]


def paired_bootstrap(
    y_true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    pairs: Sequence[tuple[str, str]] = (),
    task: str = "regression",
    metrics: Sequence[str] | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    method: str = "percentile",
    seed: int = 0,
) -> BootstrapResult:
    """Bootstrap every metric of every model, and every requested difference, on shared resamples.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
        Targets (popularity 0-100, or class labels for ``task="classification"``).
    predictions : mapping of str to np.ndarray, each shape (n,)
        Each model's predictions on the same rows (class labels for classification).
    pairs : sequence of (str, str)
        Pairs ``(A, B)`` whose difference ``metric(A) - metric(B)`` gets an interval.
    task : {"regression", "classification"}
    metrics : sequence of str, optional
        Metric names (default: all of the task's metrics).
    n_boot : int
        Number of resamples (2000 by default).
    level : float
        Interval coverage.
    method : {"percentile", "bca"}
    seed : int
        Seed of the resamples.

    Returns
    -------
    BootstrapResult
    """
    available = metrics_for(task)
    chosen: list[Metric] = [available[m] for m in (metrics or list(available))]
    names = list(predictions)
    if not names:
        raise EvaluationError("no model's predictions to score")
    for name in names:  # one length, finite numbers: the resampling below takes both for granted
        try:
            check_pair(y_true, predictions[name])
        except EvaluationError as exc:
            raise EvaluationError(f"predictions of {name!r}: {exc}") from exc
    y = np.asarray(y_true)
    stacked = np.stack([np.asarray(predictions[m]) for m in names])  # [M, n]
    for a, b in pairs:
        if a not in predictions or b not in predictions:
            raise ValueError(f"pair ({a!r}, {b!r}) names a model without predictions")

    rank_true = ResampledRanks(y) if any(m.rank_based for m in chosen) else None
    rank_pred = [ResampledRanks(p) for p in stacked] if rank_true is not None else []

    def statistic(index: np.ndarray) -> np.ndarray:  # [B, n] -> [B, M, K]
        yt = y[index][None]
        yp = stacked[:, index]
        values = []
        for metric in chosen:
            if metric.rank_based:
                rt = rank_true.ranks(index)
                values.append(np.stack([pearson(rt, r.ranks(index)) for r in rank_pred]))
            else:
                values.append(metric.function(yt, yp))
        return np.stack(values, axis=-1).transpose(1, 0, 2)

    n = y.shape[0]
    estimate = statistic(np.arange(n)[None])[0]  # [M, K]
    replicates = bootstrap_replicates(statistic, n, n_boot=n_boot, seed=seed)  # [B, M, K]
    jackknife = jackknife_replicates(statistic, n) if method == "bca" else None
    low, high = confidence_interval(
        replicates, estimate, level=level, method=method, jackknife=jackknife
    )
    with warnings.catch_warnings():  # an undefined metric (Spearman of a constant) is all NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.nanstd(replicates, axis=0, ddof=1)
    metric_rows = [
        {
            "model": model,
            "metric": metric.name,
            "estimate": estimate[i, k],
            "low": low[i, k],
            "high": high[i, k],
            "se": se[i, k],
        }
        for i, model in enumerate(names)
        for k, metric in enumerate(chosen)
    ]
    difference_rows = []
    for a, b in pairs:
        ia, ib = names.index(a), names.index(b)
        diff_rep = replicates[:, ia] - replicates[:, ib]
        diff_est = estimate[ia] - estimate[ib]
        diff_jack = None if jackknife is None else jackknife[:, ia] - jackknife[:, ib]
        d_low, d_high = confidence_interval(
            diff_rep, diff_est, level=level, method=method, jackknife=diff_jack
        )
        for k, metric in enumerate(chosen):
            sign = 1.0 if metric.higher_is_better else -1.0
            difference_rows.append(
                {
                    "model_a": a,
                    "model_b": b,
                    "metric": metric.name,
                    "estimate": diff_est[k],
                    "low": d_low[k],
                    "high": d_high[k],
                    "a_better_share": float(np.nanmean(sign * diff_rep[:, k] > 0)),
                }
            )
    return BootstrapResult(
        metrics=pd.DataFrame(
            metric_rows, columns=["model", "metric", "estimate", "low", "high", "se"]
        ),
        differences=pd.DataFrame(
            difference_rows,
            columns=["model_a", "model_b", "metric", "estimate", "low", "high", "a_better_share"],
        ),
        replicates={model: replicates[:, i] for i, model in enumerate(names)},
        metric_names=[m.name for m in chosen],
    )
