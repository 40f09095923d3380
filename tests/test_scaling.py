"""ColumnScaler: columns constant up to float rounding are shifted, never magnified."""

from __future__ import annotations

import numpy as np
import pytest

from autoenchorder.models.scaling import CONSTANT_SPREAD, ColumnScaler


def _columns(rng: np.random.Generator) -> np.ndarray:
    """Three columns (200, 3): a real feature, a float32-constant unit, a tiny real feature."""
    real = rng.normal(50.0, 10.0, 200)
    rounding = (0.25 + rng.normal(0.0, 1e-8, 200)).astype(np.float32)
    tiny = rng.uniform(1e-5, 2e-4, 200)
    return np.column_stack([real, rounding, tiny])


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_a_column_constant_up_to_rounding_is_not_magnified(kind: str) -> None:
    rng = np.random.default_rng(0)
    train = _columns(rng)
    scaler = ColumnScaler(kind).fit(train)
    assert scaler.scale_[1] == 1.0
    # a validation row where that unit moves by 0.01 moves by 0.01 after scaling, not by 1e6
    row = train[:1].copy()
    row[0, 1] += 0.01
    assert abs(scaler.transform(row)[0, 1] - scaler.transform(train[:1])[0, 1]) == pytest.approx(
        0.01
    )


@pytest.mark.parametrize("kind", ["minmax", "standard"])
def test_small_but_real_columns_are_still_scaled(kind: str) -> None:
    rng = np.random.default_rng(1)
    train = _columns(rng)
    scaled = ColumnScaler(kind).fit(train).transform(train)
    for column in (0, 2):
        spread = np.ptp(scaled[:, column]) if kind == "minmax" else scaled[:, column].std()
        assert spread == pytest.approx(1.0)


def test_a_centred_column_near_zero_uses_the_absolute_floor() -> None:
    centred = np.random.default_rng(2).normal(0.0, CONSTANT_SPREAD / 100, (300, 1))
    assert ColumnScaler("standard").fit(centred).scale_[0] == 1.0
