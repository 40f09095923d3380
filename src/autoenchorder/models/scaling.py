"""Column scalers that are fitted on training rows and stored as plain arrays (no pickle).

They also impute: a dataset loaded with ``on_bad="impute"`` keeps its bad feature values as NaN
(see :mod:`autoenchorder.data.validate`), and every model scales its inputs with a
:class:`ColumnScaler` fitted on its training rows only, so the medians that fill the gaps come
from those rows and never from validation or test rows.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from autoenchorder.errors import ModelError

SCALER_KINDS = ("minmax", "standard", "none")
#: fill values are medians of at most this many evenly spaced training rows (exact below it):
#: frame scalers see hundreds of thousands of frames, and their exact medians cost seconds
MEDIAN_ROWS = 10_000
#: A column whose spread (range or sd) is at most this share of its largest magnitude -- or
#: at most this much, for a column near 0 -- is constant up to float32 rounding: it is
#: shifted but not scaled. (musicnn-msd has a unit that is constant to ~1e-8 on most songs;
#: divided by that spread, a validation song's 1e-2 became 1e6 and drowned every loss.)
CONSTANT_SPREAD = 1e-6


@dataclass
class ColumnScaler:
    """Per-column affine scaling ``(x - shift_) / scale_``, fitted on training rows only.

    Missing values (NaN or infinite) are imputed with the column's median over the fitted rows
    (``fill_``): in the fitted rows before their statistics are taken, and in whatever
    :meth:`transform` is given later.

    Parameters
    ----------
    kind : str
        ``"minmax"`` (to [0, 1] on the fitted rows, like scikit-learn's MinMaxScaler),
        ``"standard"`` (zero mean, unit variance, population sd) or ``"none"``.
        Constant columns -- up to float rounding, see ``CONSTANT_SPREAD`` -- get scale 1.

    Attributes
    ----------
    shift_, scale_ : np.ndarray, float64, shape (F,)
    fill_ : np.ndarray, float64, shape (F,), or None
        Median of each column over the fitted rows (0 for a column with no finite value);
        None in a scaler rebuilt from arrays saved before imputation existed (NaN then stays).
    """

    kind: str = "minmax"
    shift_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)
    fill_: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in SCALER_KINDS:
            raise ModelError(f"unknown scaler {self.kind!r}; choose from {', '.join(SCALER_KINDS)}")

    def fit(self, x: np.ndarray) -> ColumnScaler:
        """Learn the column medians and statistics of ``x`` of shape (N, F) (or (N,)).

        Non-finite values are filled with the column medians first, so they do not count.
        """
        x = np.asarray(x, dtype=np.float64)
        if len(x) == 0:
            raise ModelError("cannot fit a scaler on zero rows")
        columns = x.reshape(len(x), -1)
        self.fill_ = column_medians(columns)
        columns = self._filled(columns)
        if self.kind == "minmax":
            shift, scale = columns.min(axis=0), np.ptp(columns, axis=0)
        elif self.kind == "standard":
            shift, scale = columns.mean(axis=0), columns.std(axis=0)
        else:
            shift, scale = np.zeros(columns.shape[1]), np.ones(columns.shape[1])
        self.shift_ = shift
        floor = CONSTANT_SPREAD * np.maximum(1.0, np.abs(columns).max(axis=0))
        self.scale_ = np.where(scale > floor, scale, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Impute and scale ``x`` of shape (N, F) (or (N,)); returns float64 of the same shape."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        columns = self._filled(x.reshape(len(x), -1))
        return ((columns - self.shift_) / self.scale_).reshape(x.shape)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        return (x.reshape(len(x), -1) * self.scale_ + self.shift_).reshape(x.shape)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return the statistics as arrays ``<prefix>.shift``, ``.scale`` and ``.fill``."""
        self._check()
        arrays = {f"{prefix}.shift": self.shift_, f"{prefix}.scale": self.scale_}
        if self.fill_ is not None:
            arrays[f"{prefix}.fill"] = self.fill_
        return arrays

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict[str, np.ndarray], prefix: str) -> ColumnScaler:
        """Rebuild a fitted scaler from :meth:`to_arrays` (``.fill`` is optional)."""
        fill = arrays.get(f"{prefix}.fill")
        return cls(
            kind,
            np.asarray(arrays[f"{prefix}.shift"], np.float64),
            np.asarray(arrays[f"{prefix}.scale"], np.float64),
            None if fill is None else np.asarray(fill, np.float64),
        )

    def _check(self) -> None:
        if self.shift_ is None or self.scale_ is None:
            raise ModelError("scaler is not fitted")

    def _filled(self, columns: np.ndarray) -> np.ndarray:
        """``columns`` (N, F) with non-finite values replaced by ``fill_`` (no copy if none)."""
        finite = np.isfinite(columns)
        if self.fill_ is None or finite.all():
            return columns
        return np.where(finite, columns, self.fill_)


def column_medians(columns: np.ndarray, *, max_rows: int = MEDIAN_ROWS) -> np.ndarray:
    """Median of the finite values of each column, from at most ``max_rows`` rows.

    Parameters
    ----------
    columns : np.ndarray, float64, shape (N, F)
    max_rows : int
        Above this many rows the median is taken over ``max_rows``-odd evenly spaced rows
        (every ``ceil(N / max_rows)``-th row, first row included).

    Returns
    -------
    np.ndarray, float64, shape (F,)
        0 for a column without any finite value.
    """
    step = max(1, math.ceil(len(columns) / max_rows))
    sample = columns[::step]
    finite = np.isfinite(sample)
    if finite.all():
        return np.median(sample, axis=0)
    with warnings.catch_warnings():  # all-NaN columns: handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(np.where(finite, sample, np.nan), axis=0)
        for j in np.flatnonzero(np.isnan(medians)):  # no finite value among the sampled rows
            column = columns[:, j]
            kept = column[np.isfinite(column)]
            medians[j] = np.median(kept) if kept.size else 0.0
    return medians
