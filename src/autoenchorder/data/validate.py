"""Validation shared by every dataset source: columns, ids, targets, feature values, joins.

Policy (``on_bad``) for bad rows, applied by :func:`validate_table`:

============================  ==========================  ===================  =========
problem                       ``"drop"`` (default)        ``"impute"``         ``"fail"``
============================  ==========================  ===================  =========
missing / empty id            row dropped                 row dropped          DataError
duplicate id                  later copies dropped        later copies dropped DataError
target missing / non-numeric  row dropped                 row dropped          DataError
target outside 0-100          row dropped                 clipped to 0-100     DataError
(or not a class label)        row dropped                 row dropped          DataError
NaN / non-numeric feature     row dropped                 kept as NaN          DataError
============================  ==========================  ===================  =========

``"impute"`` does not fill feature values here: a median over all rows would carry the test
rows' values into the training rows. Bad values (NaN, non-numeric, infinite) stay in the table
as NaN, counted per column in the report's ``missing_kept``, and each model fills them with
medians of its own training rows when it is fitted (the input scaling of
:mod:`autoenchorder.models.scaling`; the gradient-boosted trees handle NaN natively).

Whatever the policy, every count (and a few example ids with their reasons) goes into the
report, which loaders store as ``ds.info["validation"]``; join losses go into
``ds.info["join_losses"]``. Missing columns are never a row problem: :func:`require_columns`
raises one :class:`~autoenchorder.errors.DataError` naming all of them, and a join that
matches nothing raises too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoenchorder.errors import DataError

POLICIES = ("drop", "impute", "fail")
#: how many example ids a report keeps per problem
N_EXAMPLES = 5


def check_policy(on_bad: str) -> str:
    """Return ``on_bad`` if it is a known policy, else raise DataError."""
    if on_bad not in POLICIES:
        raise DataError(f"on_bad must be one of {POLICIES}, got {on_bad!r}")
    return on_bad


def require_columns(columns: Iterable[str], required: Sequence[str], *, where: str) -> None:
    """Check that every required column is present.

    Parameters
    ----------
    columns : iterable of str
        The columns a table has.
    required : sequence of str
        The columns it must have.
    where : str
        The table or file, for the message.

    Raises
    ------
    DataError
        One error naming every missing column.
    """
    have = set(columns)
    missing = [c for c in required if c not in have]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(map(repr, missing))}")


def read_table(
    path: Path,
    required: Sequence[str],
    *,
    sep: str = ",",
    usecols: Sequence[str] | None = None,
    dtype: Any = None,
) -> pd.DataFrame:
    """Read a delimited text file after checking its header.

    Parameters
    ----------
    path : Path
    required : sequence of str
        Columns that must be in the header (all missing ones are named in one error).
    sep : str
        Field separator.
    usecols : sequence of str or None
        Read only these columns (default: all).
    dtype : dict or None
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    pd.DataFrame

    Raises
    ------
    DataError
        If the file is missing, unreadable or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        header = pd.read_csv(path, sep=sep, nrows=0).columns
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    require_columns(header, required, where=str(path))
    if usecols is not None:
        usecols = [c for c in usecols if c in set(header)]
    try:
        return pd.read_csv(path, sep=sep, usecols=usecols, dtype=dtype)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse ({exc})") from exc


def validate_table(
    df: pd.DataFrame,
    *,
    id_column: str,
    target_column: str,
    feature_columns: Sequence[str],
    task: str = "regression",
    n_classes: int | None = None,
    on_bad: str = "drop",
    where: str = "",
) -> tuple[pd.DataFrame, dict]:
    """Apply the bad-row policy to a joined table.

    Parameters
    ----------
    df : pd.DataFrame, shape (N, ...)
        One row per track.
    id_column, target_column : str
    feature_columns : sequence of str
        Numeric feature columns (non-numeric values count as NaN).
    task : {"regression", "classification"}
        Regression targets must lie in 0-100; classification targets in ``0..n_classes-1``.
    n_classes : int or None
    on_bad : {"drop", "impute", "fail"}
        See the module docstring.
    where : str
        Name of the source, for messages.

    Returns
    -------
    clean : pd.DataFrame, shape (M, ...)
        Good rows (index reset), target and features as float64.
    report : dict
        ``policy``, ``rows_in``, ``rows_out``, per-problem counts, ``nan_by_column``,
        ``missing_kept`` (column -> NaN cells left for the models to impute, ``"impute"``
        only), ``examples`` (problem -> list of ids).

    Raises
    ------
    DataError
        If ``on_bad="fail"`` and any problem was found (the message lists all counts), or no
        row survives.
    """
    check_policy(on_bad)
    require_columns(df.columns, [id_column, target_column, *feature_columns], where=where)
    df = df.reset_index(drop=True).copy()
    n_in = len(df)
    ids = df[id_column].astype("string").str.strip()
    problems: dict[str, np.ndarray] = {}

    problems["missing_id"] = (ids.isna() | (ids == "")).to_numpy()
    problems["duplicate_id"] = (ids.duplicated(keep="first") & ~problems["missing_id"]).to_numpy()

    raw_target = df[target_column]
    target = pd.to_numeric(raw_target, errors="coerce").astype(np.float64)
    problems["missing_target"] = raw_target.isna().to_numpy()
    problems["non_numeric_target"] = (target.isna() & raw_target.notna()).to_numpy()
    finite = target.notna().to_numpy()
    if task == "regression":
        out = finite & ((target < 0) | (target > 100)).to_numpy()
        problems["target_out_of_range"] = out
    else:
        label_ok = np.equal(np.mod(target.fillna(0), 1), 0).to_numpy().copy()
        if n_classes is not None:
            label_ok &= ((target >= 0) & (target < n_classes)).to_numpy()
        problems["bad_label"] = finite & ~label_ok

    features = df[list(feature_columns)].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    nan_cells = ~np.isfinite(features.to_numpy())
    problems["nan_features"] = nan_cells.any(axis=1)
    nan_by_column = {
        c: int(n) for c, n in zip(feature_columns, nan_cells.sum(axis=0), strict=True) if n
    }

    counts = {name: int(mask.sum()) for name, mask in problems.items()}
    examples = {
        name: ids[mask].fillna("<missing>").head(N_EXAMPLES).tolist()
        for name, mask in problems.items()
        if mask.any()
    }
    if on_bad == "fail" and any(counts.values()):
        found = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in counts.items() if n)
        raise DataError(f"{where}: bad rows ({found}); on_bad='fail'")

    drop = problems["missing_id"] | problems["duplicate_id"]
    drop |= problems["missing_target"] | problems["non_numeric_target"]
    missing_kept: dict[str, int] = {}
    clipped = 0
    if task == "regression":
        if on_bad == "impute":
            clipped = int(problems["target_out_of_range"].sum())
            target = target.clip(0, 100)
        else:
            drop |= problems["target_out_of_range"]
    else:
        drop |= problems["bad_label"]
    if on_bad == "impute":
        # marked, not filled: NaN is the mark, and the models impute from training rows only
        features = features.where(np.isfinite(features.to_numpy()))
        missing_kept = {
            c: int(n)
            for c, n in zip(feature_columns, nan_cells[~drop].sum(axis=0), strict=True)
            if n
        }
    else:
        drop |= problems["nan_features"]

    df[list(feature_columns)] = features
    df[target_column] = target
    df[id_column] = ids
    clean = df.loc[~drop].reset_index(drop=True)
    report = {
        "policy": on_bad,
        "rows_in": n_in,
        "rows_out": len(clean),
        "dropped": int(drop.sum()),
        **counts,
        "clipped_targets": clipped,
        "nan_by_column": nan_by_column,
        "missing_kept": missing_kept,
        "examples": examples,
    }
    if len(clean) == 0:
        raise DataError(f"{where}: no valid rows left after validation ({report_line(report)})")
    return clean, report


def join_report(
    left_keys: Iterable[str],
    right_keys: Iterable[str],
    *,
    left: str,
    right: str,
) -> dict:
    """Count what an inner join of two key sets keeps and loses.

    Parameters
    ----------
    left_keys, right_keys : iterable of str
    left, right : str
        Names of the two tables.

    Returns
    -------
    dict
        ``left``, ``right``, ``left_rows``, ``right_rows``, ``matched``, ``left_unmatched``,
        ``right_unmatched`` and up to five ``examples_left`` / ``examples_right`` keys.

    Raises
    ------
    DataError
        If the join matches nothing (an empty join).
    """
    lk = _key_index(left_keys)
    rk = _key_index(right_keys)
    matched = lk.intersection(rk)
    only_left = lk.difference(rk)
    only_right = rk.difference(lk)
    report = {
        "left": left,
        "right": right,
        "left_rows": len(lk),
        "right_rows": len(rk),
        "matched": len(matched),
        "left_unmatched": len(only_left),
        "right_unmatched": len(only_right),
        "examples_left": [str(k) for k in only_left[:N_EXAMPLES]],
        "examples_right": [str(k) for k in only_right[:N_EXAMPLES]],
    }
    if len(matched) == 0:
        raise DataError(
            f"empty join: no key of {left} ({len(lk)}) matches {right} ({len(rk)}); "
            f"e.g. {report['examples_left'][:2]} vs {report['examples_right'][:2]}"
        )
    return report


def _key_index(keys: Iterable[str]) -> pd.Index:
    """Distinct non-missing keys as an Index (vectorised for Series, Index and arrays)."""
    if not isinstance(keys, pd.Series | pd.Index | np.ndarray):
        keys = list(keys)
    series = pd.Series(np.asarray(keys, dtype=object)).dropna().astype(str)
    return pd.Index(series.unique())


def report_line(report: dict) -> str:
    """One-line summary of a :func:`validate_table` report (non-zero counts only)."""
    keys = [
        "missing_id",
        "duplicate_id",
        "missing_target",
        "non_numeric_target",
        "target_out_of_range",
        "bad_label",
        "nan_features",
        "clipped_targets",
    ]
    parts = [f"{report[k]} {k.replace('_', ' ')}" for k in keys if report.get(k)]
    head = f"{report['rows_out']}/{report['rows_in']} rows kept"
    return head + (f" ({', '.join(parts)})" if parts else "")
