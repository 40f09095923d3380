"""Render analysed studies as one self-contained HTML page (inline CSS, base64 PNG figures).

The page is assembled here from the summary cards (:mod:`.summary`), the tables (:mod:`.tables`)
and the stylesheet (:mod:`.styles`); numbers are written as :mod:`.formatting` says, and the
published figures they are compared with come from :mod:`autoenchorder.published`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoenchorder import __version__
from autoenchorder.evaluate.formatting import FORMATS, LABELS, STUDY_WIN_TEXT
from autoenchorder.evaluate.styles import CSS
from autoenchorder.evaluate.summary import facts_line, summary_card, summary_sentence
from autoenchorder.evaluate.tables import (
    by_range_table,
    calibration_table,
    differences_table,
    metrics_table,
    models_section,
    win_rate_table,
)
from autoenchorder.published import (
    BAND_EDGES,
    HITMUSICNET_ACCURACY,
    HITMUSICNET_MACRO_F1,
    HITMUSICNET_MAE_01,
    STUDY_HIGH_TAIL_ABOVE,
    STUDY_LOW_TAIL_BELOW,
    STUDY_MIDDLE,
)

if TYPE_CHECKING:
    from autoenchorder.evaluate.report import ReportSettings, StudyReport

#: Kept importable from here for the terminal tables (their home is :mod:`.formatting`).
__all__ = ["FORMATS", "LABELS", "render_report", "study_section", "machine_line"]


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _figure(report: StudyReport, name: str, caption: str) -> str:
    if name not in report.figures:
        return ""
    return (
        f"<figure>{_img(report.figures[name], caption)}<figcaption>{caption}</figcaption></figure>"
    )


def study_section(report: StudyReport, *, level: float) -> str:
    """One study's full section: headline, tables, figures, models, notes."""
    study = report.study
    anchor = escape(study.name)
    ref = escape(report.study.label(report.reference)) if report.reference else None
    pct = f"{100 * level:.0f} %"
    out = [f"<h2 id='{anchor}'>{escape(str(study.meta.get('title') or study.name))}</h2>"]
    if study.meta.get("description"):
        out.append(f"<p class='sub'>{escape(study.meta['description'])}</p>")
    out.append(f"<p>{facts_line(report)}</p><p>{summary_sentence(report, level)}</p>")
    low, high = (f"{edge:g}" for edge in BAND_EDGES)
    scale = (
        "Popularity 0-100 unless marked 0-1 (HitMusicNet's published scale; its best test MAE was "
        f"{HITMUSICNET_MAE_01:g}). "
        if study.task == "regression"
        else f"Classes low (&lt; {low}), mid ({low}-{BAND_EDGES[1] - 1:g}), high (&ge; {high}); "
        f"HitMusicNet published accuracy {HITMUSICNET_ACCURACY:g}, "
        f"macro-F1 {HITMUSICNET_MACRO_F1:g}. "
    )
    out.append(
        f"<h3>Metrics on the test set</h3><p class='note'>{scale}Brackets: paired bootstrap "
        f"{pct} interval. Best value per column in bold.</p>"
    )
    out.append(metrics_table(report))
    if ref:
        out.append(
            f"<h3>Differences against {ref}</h3><p class='note'>Model minus {ref} on the same "
            "resampled songs; green where the interval shows the model better, red where it shows "
            "it worse.</p>"
        )
        out.append(differences_table(report))
    if not report.win_rates.empty:
        out.append(
            f"<h3>Song-by-song win rate against {ref}</h3><p class='note'>Share of test songs "
            "where the model's absolute error is smaller than the reference's (ties: equal "
            "errors). The bar shows the share and its interval; grey line 50 %, red line the "
            f"study's {STUDY_WIN_TEXT}.</p>"
        )
        out.append(
            win_rate_table(
                report.win_rates[report.win_rates["model_b"] == report.reference], report
            )
        )
    if not report.by_range.empty:
        out.append(
            "<h3>Error by popularity range</h3><p class='note'>The study found Autoen-chorder "
            f"better in the middle ({STUDY_MIDDLE[0] / 100:g}-{STUDY_MIDDLE[1] / 100:g}) and "
            f"HitMusicNet better on the tails (&lt; {STUDY_LOW_TAIL_BELOW / 100:g}, "
            f"&gt; {STUDY_HIGH_TAIL_ABOVE / 100:g}). MAE per band, "
            "bias = mean(predicted - true).</p>"
        )
        out.append(by_range_table(report.by_range, report))
        if not report.win_by_range.empty:
            first = report.win_by_range.iloc[0]
            out.append(
                f"<p class='note'>Win rate of {escape(study.label(first['model_a']))} against "
                f"{escape(study.label(first['model_b']))} within each band:</p>"
            )
            out.append(win_rate_table(report.win_by_range, report, first_column="band"))
    if not report.calibration.empty:
        out.append(
            "<h3>Uncertainty calibration</h3><p class='note'>For models that give a predictive "
            "standard deviation: the share of test songs whose true popularity lies within 1 sd "
            "(68.3 % if calibrated) and 1.96 sd (95 %) of the prediction; z-RMS is the root mean "
            "square of error / sd (1 if calibrated, above 1 if over-confident).</p>"
        )
        out.append(calibration_table(report))
    if "pred_vs_true" in report.figures:
        out.append("<h3>Predicted vs true</h3>")
    out.append(
        _figure(
            report,
            "pred_vs_true",
            "Predicted against true popularity on the test set (dashed: perfect).",
        )
    )
    if not report.by_decile.empty:
        out.append("<h3>Error by popularity decile</h3>")
        out.append(
            _figure(report, "error_by_decile", "MAE and bias per decile of the true popularity.")
        )
        out.append(
            "<details><summary>decile table</summary>"
            f"{by_range_table(report.by_decile, report)}</details>"
        )
    if "distributions" in report.figures:
        out.append("<h3>Target and predicted distributions</h3>")
        out.append(
            _figure(
                report,
                "distributions",
                "True popularity (filled) and each model's predictions (line).",
            )
        )
    if "confusion" in report.figures:
        out.append("<h3>Confusion matrices</h3>")
        out.append(_figure(report, "confusion", "Counts; colour is the share of each true class."))
    if "training_curves" in report.figures:
        out.append("<h3>Training curves</h3>")
        out.append(
            _figure(
                report, "training_curves", "Loss per epoch, each training stage in its own panel."
            )
        )
    if "learning_curve" in report.figures:
        out.append("<h3>Learning curve</h3>")
        out.append(
            _figure(
                report,
                "learning_curve",
                "Test metric against the number of training songs "
                "(mean over seeds, band: min-max).",
            )
        )
    out.append("<h3>Models</h3>" + models_section(report))
    notes = study.meta.get("notes") or []
    timings = study.meta.get("timings") or {}
    if notes or timings:
        out.append(
            "<h3>Notes</h3><ul>"
            + "".join(f"<li>{escape(n)}</li>" for n in notes)
            + "".join(f"<li>{escape(k)}: {v:.1f} s</li>" for k, v in timings.items())
            + "</ul>"
        )
    return "\n".join(out)


def machine_line(machine: dict[str, Any] | None) -> str:
    """Describe the machine in one line."""
    if not machine:
        return "machine not recorded"
    parts = [
        machine.get("processor"),
        f"{machine.get('usable_cpus') or machine.get('cpu_count')} cores",
        f"{machine.get('memory_gb')} GB RAM" if machine.get("memory_gb") else None,
        machine.get("platform"),
        f"Python {machine.get('python')}",
        f"torch {machine['torch']}" if machine.get("torch") else None,
    ]
    return ", ".join(escape(str(p)) for p in parts if p)


def render_report(
    studies: Sequence[StudyReport],
    *,
    settings: ReportSettings,
    run_name: str,
    data_dir: Path,
    html_path: Path,
    skipped: dict[str, str] | None = None,
) -> str:
    """Build the whole HTML page.

    Parameters
    ----------
    studies : sequence of StudyReport
    settings : ReportSettings
    run_name : str
        Shown in the title.
    data_dir : Path
        Where the CSV/JSON files are (linked relative to the page).
    html_path : Path
        Where the page goes.
    skipped : dict of str to str, optional
        Studies that could not be scored, with the reason (listed under the summary).

    Returns
    -------
    str
    """
    machine = studies[0].study.meta.get("machine") if studies else None
    cards = [summary_card(report, settings.level) for report in studies]
    toc = "".join(
        f"<a href='#{escape(r.study.name)}'>{escape(str(r.headline['title']))}</a>" for r in studies
    )
    relative = os.path.relpath(data_dir, html_path.parent)
    method = "BCa" if settings.method == "bca" else "percentile"
    body = [
        f"<h1>autoenchorder · {escape(run_name)}</h1>",
        f"<p class='sub'>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by autoenchorder "
        f"{__version__} · "
        f"measured on {machine_line(machine)}</p>",
        "<h2 id='summary' style='border-top:none;margin-top:10px'>Summary</h2>",
        f"<div class='cards'>{''.join(cards)}</div>",
        "".join(
            f"<p class='note'>Study <b>{escape(name)}</b> was not scored: {escape(reason)}</p>"
            for name, reason in (skipped or {}).items()
        ),
        f"<nav class='toc'>Studies: {toc}<a href='#machine'>Machine and method</a></nav>",
        *[study_section(r, level=settings.level) for r in studies],
        "<h2 id='machine'>Machine and method</h2>",
        f"<p>{machine_line(machine)}.</p>",
        f"<p>Intervals: paired {method} bootstrap, {settings.n_boot} resamples of the test songs, "
        f"seed {settings.seed}, {100 * settings.level:.0f} % coverage; every model is scored on "
        "the same resamples, so a difference's interval accounts for songs that all models find "
        "easy or hard. Win rate: share of test "
        "songs where model A's absolute error is strictly smaller than model B's.</p>",
        f"<p>Every number on this page is in <code>{escape(relative)}/</code> (CSV per table, "
        "<code>summary.json</code>).</p>",
        f"<footer>autoenchorder {__version__} · report of {escape(run_name)}</footer>",
    ]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>autoenchorder report · {escape(run_name)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>"
    )
