"""The run directory: what training writes and ``autoenchorder evaluate`` reads.

One name for the three modules that define it: :mod:`.run_format` (names, version, families,
columns), :mod:`.run_writer` (:class:`RunWriter`) and :mod:`.run_reader` (:func:`read_run`,
:class:`Study`). The format is described in ``docs/run-directory.md``.
"""

from __future__ import annotations

from autoenchorder.evaluate.run_format import (
    FAMILIES,
    FORMAT,
    PREDICTION_COLUMNS,
    UNKNOWN_FAMILY,
    VERSION,
)
from autoenchorder.evaluate.run_reader import Study, find_studies, read_run, read_study
from autoenchorder.evaluate.run_writer import RunWriter, machine_info

__all__ = [
    "FAMILIES",
    "FORMAT",
    "PREDICTION_COLUMNS",
    "UNKNOWN_FAMILY",
    "VERSION",
    "RunWriter",
    "Study",
    "find_studies",
    "machine_info",
    "read_run",
    "read_study",
]
