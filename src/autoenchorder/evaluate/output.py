"""Write a run's report: the HTML page and every number as CSV/JSON beside it.

:mod:`.report` analyses the studies, :mod:`.html` renders them; this module runs both and
writes the files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autoenchorder.atomic import write_atomic, write_text_atomic
from autoenchorder.errors import DataError, EvaluationError
from autoenchorder.evaluate.html import render_report
from autoenchorder.evaluate.report import ReportSettings, StudyReport, analyse_study
from autoenchorder.evaluate.run_reader import Study, read_run


@dataclass
class ReportOutput:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    html : Path
        The report.
    data_dir : Path
        Folder of the CSV/JSON files.
    studies : list of StudyReport
    skipped : dict of str to str
        Studies that could not be scored, with the reason.
    """

    html: Path
    data_dir: Path
    studies: list[StudyReport]
    skipped: dict[str, str] = field(default_factory=dict)


def write_tables(report: StudyReport, folder: Path) -> list[Path]:
    """Write every table of a study as CSV (and its headline as JSON) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "metrics": report.metrics,
        "differences": report.differences,
        "win_rates": report.win_rates,
        "win_by_range": report.win_by_range,
        "error_by_range": report.by_range,
        "error_by_decile": report.by_decile,
        "calibration": report.calibration,
        "models": models_table(report.study),
    }
    if report.study.learning_curve is not None:
        tables["learning_curve"] = report.study.learning_curve
    written = []
    for name, table in tables.items():
        if table is not None and not table.empty:
            path = folder / f"{name}.csv"
            write_atomic(path, lambda tmp, t=table: t.to_csv(tmp, index=False, float_format="%.6g"))
            written.append(path)
    extra = {"headline": report.headline, "confusion": report.confusion}
    path = folder / "headline.json"
    write_text_atomic(path, json.dumps(extra, indent=2, default=_json_safe))
    written.append(path)
    return written


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def models_table(study: Study) -> pd.DataFrame:
    """One row per model: family, label, timings, and its config as JSON text."""
    rows = []
    for model in study.models:
        meta = study.meta.get("models", {}).get(model, {})
        rows.append(
            {
                "model": model,
                "label": study.label(model),
                "family": study.family(model),
                "fit_seconds": meta.get("fit_seconds"),
                "predict_seconds": meta.get("predict_seconds"),
                "config": json.dumps(meta.get("config", {}), sort_keys=True, default=str),
                "info": json.dumps(meta.get("info", {}), sort_keys=True, default=str),
            }
        )
    return pd.DataFrame(rows)


def write_report(
    run_dir: str | Path,
    *,
    out: str | Path | None = None,
    settings: ReportSettings | None = None,
    progress: Callable[[Study], None] | None = None,
) -> ReportOutput:
    """Analyse every study of a run and write ``report.html`` plus its CSV/JSON files.

    Parameters
    ----------
    run_dir : str or Path
        A run directory (see ``docs/run-directory.md``).
    out : str or Path, optional
        The HTML file (default ``RUN_DIR/report.html``); the numbers go to ``<stem>_data/``
        beside it, one sub-folder per study, and ``summary.json``.
    settings : ReportSettings, optional
    progress : callable, optional
        Called with each study before it is analysed (for a progress bar).

    Returns
    -------
    ReportOutput
    """
    run_dir = Path(run_dir)
    html_path = Path(out) if out else run_dir / "report.html"
    data_dir = html_path.with_name(f"{html_path.stem}_data")
    settings = settings or ReportSettings()
    studies, skipped = [], {}
    for study in read_run(run_dir):
        if progress is not None:
            progress(study)
        try:
            studies.append(analyse_study(study, settings))
        except (DataError, EvaluationError) as exc:  # one unusable study must not hide others
            skipped[study.name] = str(exc)
    if not studies:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped.items())
        raise DataError(f"{run_dir}: no study could be scored ({reasons})")
    for report in studies:
        write_tables(report, data_dir / report.study.name)
    summary = {
        "run": str(run_dir),
        "skipped": skipped,
        "settings": settings.__dict__,
        "studies": [r.headline for r in studies],
        "machine": studies[0].study.meta.get("machine") if studies else None,
    }
    write_text_atomic(data_dir / "summary.json", json.dumps(summary, indent=2, default=_json_safe))
    write_text_atomic(
        html_path,
        render_report(
            studies,
            settings=settings,
            run_name=run_dir.name,
            data_dir=data_dir,
            html_path=html_path,
            skipped=skipped,
        ),
    )
    return ReportOutput(html=html_path, data_dir=data_dir, studies=studies, skipped=skipped)
