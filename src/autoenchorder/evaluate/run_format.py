"""The run directory's format: names, version, model families and prediction columns.

A run holds one or more *studies* (for the demo: ``procedural`` and ``musicoset``); each study is
a folder with ``run.json``, ``predictions.parquet``, ``curves/<model>.json`` and optionally
``learning_curve.parquet``. A folder that itself has ``run.json`` is a single study. The format
is described in ``docs/run-directory.md``; :mod:`.run_writer` writes it, :mod:`.run_reader`
reads it.
"""

from __future__ import annotations

import re

#: Value of ``run.json["format"]``.
FORMAT = "autoenchorder-run"
#: Version of the layout; readers refuse newer major versions.
VERSION = 1
#: Model families, in the order the report's tables list them: a model class's ``family``
#: attribute (:mod:`autoenchorder.models`), which the writer's caller passes in.
FAMILIES: tuple[str, ...] = ("baseline", "hitmusicnet", "autoenchorder", "alternate", "other")
#: The family of a model whose run.json entry has none (runs written before families were
#: recorded) or an unknown one.
UNKNOWN_FAMILY = "other"
#: Columns of predictions.parquet (``y_std`` and ``proba_<k>`` columns are optional).
PREDICTION_COLUMNS: tuple[str, ...] = ("id", "model", "y_true", "y_pred", "set")

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def check_name(kind: str, name: str) -> str:
    """Return ``name`` if it can name a file (letters, digits and ``._+-``); else raise."""
    if not _SAFE_NAME.match(name):
        raise ValueError(
            f"{kind} name {name!r} must be letters, digits and . _ + - (it names a file)"
        )
    return name
