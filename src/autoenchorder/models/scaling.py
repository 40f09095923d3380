"""Column scalers that are fitted on training rows and stored as plain arrays (no pickle)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from autoenchorder.errors import ModelError

SCALER_KINDS = ("minmax", "standard", "none")


@dataclass
class ColumnScaler:
    """Per-column affine scaling ``(x - shift_) / scale_``, fitted on training rows only.

    Parameters
    ----------
    kind : str
        ``"minmax"`` (to [0, 1] on the fitted rows, like scikit-learn's MinMaxScaler),
        ``"standard"`` (zero mean, unit variance, population sd) or ``"none"``.
        Constant columns get scale 1.

    Attributes
    ----------
    shift_, scale_ : np.ndarray, float64, shape (F,)
    """

    kind: str = "minmax"
    shift_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in SCALER_KINDS:
            raise ModelError(f"unknown scaler {self.kind!r}; choose from {', '.join(SCALER_KINDS)}")

    def fit(self, x: np.ndarray) -> ColumnScaler:
        """Learn the column statistics of ``x`` of shape (N, F) (or (N,))."""
        x = np.asarray(x, dtype=np.float64)
        columns = x.reshape(len(x), -1)
        if not np.isfinite(columns).all():
            raise ModelError("cannot fit a scaler on NaN or infinite values")
        if self.kind == "minmax":
            shift, scale = columns.min(axis=0), np.ptp(columns, axis=0)
        elif self.kind == "standard":
            shift, scale = columns.mean(axis=0), columns.std(axis=0)
        else:
            shift, scale = np.zeros(columns.shape[1]), np.ones(columns.shape[1])
        self.shift_ = shift
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` of shape (N, F) (or (N,)); returns float64 of the same shape."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        return ((x.reshape(len(x), -1) - self.shift_) / self.scale_).reshape(x.shape)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`transform`."""
        self._check()
        x = np.asarray(x, dtype=np.float64)
        return (x.reshape(len(x), -1) * self.scale_ + self.shift_).reshape(x.shape)

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Return the statistics as named arrays ``<prefix>.shift`` and ``<prefix>.scale``."""
        self._check()
        return {f"{prefix}.shift": self.shift_, f"{prefix}.scale": self.scale_}

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict[str, np.ndarray], prefix: str) -> ColumnScaler:
        """Rebuild a fitted scaler from :meth:`to_arrays`."""
        return cls(
            kind,
            np.asarray(arrays[f"{prefix}.shift"], np.float64),
            np.asarray(arrays[f"{prefix}.scale"], np.float64),
        )

    def _check(self) -> None:
        if self.shift_ is None or self.scale_ is None:
            raise ModelError("scaler is not fitted")
