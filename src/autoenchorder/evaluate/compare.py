"""Song-by-song comparison of two models and errors by popularity range.

The reference study reported that Autoen-chorder beat its HitMusicNet replica on most test songs
(:data:`~autoenchorder.published.STUDY_WIN_SHARE`), better in the middle of the popularity range
and worse on its tails (:data:`~autoenchorder.published.STUDY_MIDDLE` and the tail bounds beside
it). :func:`win_rate` measures the first claim with a bootstrap interval, :func:`win_rate_by_range`
and :func:`error_by_range` the second, on the 0-100 scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from autoenchorder.evaluate.bootstrap import bootstrap_replicates, confidence_interval
from autoenchorder.metrics import check_pair, regression_metrics
from autoenchorder.published import STUDY_HIGH_TAIL_ABOVE, STUDY_LOW_TAIL_BELOW, STUDY_MIDDLE


@dataclass(frozen=True)
class Band:
    """A popularity range on the 0-100 scale.

    Attributes
    ----------
    label : str
        Name shown in tables.
    lower, upper : float
        Bounds.
    lower_inclusive, upper_inclusive : bool
        Whether each bound belongs to the band.
    """

    label: str
    lower: float
    upper: float
    lower_inclusive: bool = True
    upper_inclusive: bool = False

    def mask(self, y: np.ndarray) -> np.ndarray:
        """Which of the popularity values ``y`` (shape (n,)) fall in the band (bool, shape (n,))."""
        above = y >= self.lower if self.lower_inclusive else y > self.lower
        below = y <= self.upper if self.upper_inclusive else y < self.upper
        return above & below


#: The study's ranges: its models differed in the middle and on the tails (see
#: :mod:`autoenchorder.published`); the gaps between them belong to no band, as in the study.
STUDY_BANDS: tuple[Band, ...] = (
    Band(f"low tail (< {STUDY_LOW_TAIL_BELOW:g})", 0.0, STUDY_LOW_TAIL_BELOW, True, False),
    Band(f"middle ({STUDY_MIDDLE[0]:g}-{STUDY_MIDDLE[1]:g})", *STUDY_MIDDLE, True, True),
    Band(f"high tail (> {STUDY_HIGH_TAIL_ABOVE:g})", STUDY_HIGH_TAIL_ABOVE, 100.0, False, True),
)


@dataclass(frozen=True)
class WinRate:
    """How often model A's absolute error is smaller than model B's, song by song.

    Attributes
    ----------
    model_a, model_b : str
    n : int
        Songs compared.
    a_better, b_better, ties : int
        Songs where A's error is smaller, larger, or equal (within ``tol``).
    share : float
        ``a_better / n`` -- the study's figure is
        :data:`~autoenchorder.published.STUDY_WIN_SHARE`.
    low, high : float
        Bootstrap interval of ``share``.
    share_decided : float
        ``a_better / (a_better + b_better)``, ties left out (NaN if every song is a tie).
    level : float
        Interval coverage.
    """

    model_a: str
    model_b: str
    n: int
    a_better: int
    b_better: int
    ties: int
    share: float
    low: float
    high: float
    share_decided: float
    level: float

    def to_dict(self) -> dict:
        """Plain-dict form for JSON/CSV."""
        return asdict(self)


def win_rate(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    names: tuple[str, str] = ("A", "B"),
    tol: float = 1e-9,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> WinRate:
    """Share of songs where A's absolute error is smaller than B's, with a bootstrap interval.

    Parameters
    ----------
    y_true, pred_a, pred_b : np.ndarray, shape (n,)
        Targets and the two models' predictions on the same songs.
    names : (str, str)
        Names of A and B for the result.
    tol : float
        Absolute errors closer than this count as a tie.
    n_boot, level, seed
        Bootstrap settings (see :func:`autoenchorder.evaluate.bootstrap.paired_bootstrap`).

    Returns
    -------
    WinRate
    """
    y_true, pred_a = check_pair(y_true, pred_a)
    _, pred_b = check_pair(y_true, pred_b)
    gap = np.abs(pred_b - y_true) - np.abs(pred_a - y_true)
    a_wins = gap > tol
    b_wins = gap < -tol
    n = int(y_true.size)
    share = float(a_wins.mean())
    replicates = bootstrap_replicates(
        lambda index: a_wins[index].mean(axis=-1), n, n_boot=n_boot, seed=seed
    )
    low, high = confidence_interval(replicates, np.asarray(share), level=level)
    decided = int(a_wins.sum() + b_wins.sum())
    return WinRate(
        model_a=names[0],
        model_b=names[1],
        n=n,
        a_better=int(a_wins.sum()),
        b_better=int(b_wins.sum()),
        ties=n - decided,
        share=share,
        low=float(low),
        high=float(high),
        share_decided=float(a_wins.sum() / decided) if decided else float("nan"),
        level=level,
    )


def win_rate_by_range(
    y_true: np.ndarray,
    pred_a: np.ndarray,
    pred_b: np.ndarray,
    *,
    names: tuple[str, str] = ("A", "B"),
    bands: Sequence[Band] = STUDY_BANDS,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`win_rate` within each popularity band (the study's middle vs tails by default).

    Parameters
    ----------
    y_true, pred_a, pred_b : np.ndarray, shape (n,)
    names : (str, str)
    bands : sequence of Band
    n_boot, level, seed
        Bootstrap settings.

    Returns
    -------
    pd.DataFrame
        One row per band with at least one song: ``band`` and the :class:`WinRate` fields.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    rows = []
    for band in bands:
        inside = band.mask(y_true)
        if inside.any():
            result = win_rate(
                y_true[inside],
                np.asarray(pred_a)[inside],
                np.asarray(pred_b)[inside],
                names=names,
                n_boot=n_boot,
                level=level,
                seed=seed,
            )
            rows.append({"band": band.label, **result.to_dict()})
    return pd.DataFrame(rows)


def error_by_range(
    y_true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    bands: Sequence[Band] = STUDY_BANDS,
) -> pd.DataFrame:
    """Mean absolute error and mean signed error (bias) of each model within each band.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
        Popularity 0-100.
    predictions : mapping of str to np.ndarray, each shape (n,)
    bands : sequence of Band

    Returns
    -------
    pd.DataFrame
        Columns ``band, lower, upper, n, model, mae, bias`` (bias = mean of prediction - truth;
        negative means the model predicts too low). Bands without songs have ``n = 0`` and NaNs.
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    rows = []
    for band in bands:
        inside = band.mask(y_true)
        for model, pred in predictions.items():
            error = np.asarray(pred, dtype=np.float64)[inside] - y_true[inside]
            rows.append(
                {
                    "band": band.label,
                    "lower": band.lower,
                    "upper": band.upper,
                    "n": int(inside.sum()),
                    "model": model,
                    "mae": float(np.abs(error).mean()) if error.size else float("nan"),
                    "bias": float(error.mean()) if error.size else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def quantile_bands(y_true: np.ndarray, *, n_bins: int = 10) -> list[Band]:
    """Bands holding about equal numbers of songs (deciles of the target by default).

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
    n_bins : int

    Returns
    -------
    list of Band
        Consecutive left-closed bands (the last one closed on both ends); duplicate edges from
        tied targets are merged, so there may be fewer than ``n_bins``.
    """
    edges = np.unique(
        np.quantile(np.asarray(y_true, dtype=np.float64), np.linspace(0, 1, n_bins + 1))
    )
    if edges.size == 1:
        return [Band(f"{edges[0]:.0f}", float(edges[0]), float(edges[0]), True, True)]
    decimals = next((d for d in range(4) if len({f"{e:.{d}f}" for e in edges}) == edges.size), 4)
    return [
        Band(
            f"{lo:.{decimals}f}-{hi:.{decimals}f}", float(lo), float(hi), True, i == edges.size - 2
        )
        for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True))
    ]


def error_by_decile(
    y_true: np.ndarray, predictions: Mapping[str, np.ndarray], *, n_bins: int = 10
) -> pd.DataFrame:
    """:func:`error_by_range` over the deciles (or ``n_bins`` quantile bins) of the target."""
    return error_by_range(y_true, predictions, bands=quantile_bands(y_true, n_bins=n_bins))


def score_table(y_true: np.ndarray, predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Point estimates of every regression metric for each model (no intervals; fast).

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
        Popularity 0-100.
    predictions : mapping of str to np.ndarray, each shape (n,)

    Returns
    -------
    pd.DataFrame
        One row per model, indexed by model: ``n, mae, rmse, mse, r2, spearman, mae_01,
        rmse_01, mse_01`` (see :func:`~autoenchorder.metrics.regression_metrics`),
        sorted by MAE.
    """
    rows = {model: regression_metrics(y_true, pred) for model, pred in predictions.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").sort_values("mae")


def interval_coverage(
    y_true: np.ndarray, y_pred: np.ndarray, y_std: np.ndarray
) -> dict[str, float]:
    """How often the truth falls inside a model's predictive intervals (calibration).

    Treats ``y_pred +- z * y_std`` as Gaussian central intervals: a calibrated model covers
    about 68.3 % of songs at z = 1 and 95 % at z = 1.96.

    Parameters
    ----------
    y_true, y_pred, y_std : np.ndarray, shape (n,)
        Popularity, prediction and predictive standard deviation (0-100 scale).

    Returns
    -------
    dict
        ``n, mean_sd, within_1sd, within_1_96sd`` and ``z_rmse`` (root mean square of
        ``(y_true - y_pred) / y_std``; 1 when calibrated, above 1 when over-confident).
    """
    y_true, y_pred, y_std = (np.asarray(a, dtype=np.float64) for a in (y_true, y_pred, y_std))
    z = np.abs(y_true - y_pred) / np.maximum(y_std, 1e-12)
    return {
        "n": int(y_true.size),
        "mean_sd": float(y_std.mean()),
        "within_1sd": float(np.mean(z <= 1.0)),
        "within_1_96sd": float(np.mean(z <= 1.96)),
        "z_rmse": float(np.sqrt(np.mean(z**2))),
    }
