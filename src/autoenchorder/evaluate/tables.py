"""The report's HTML tables: metrics by family, differences, win rates, errors by range, models."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from autoenchorder.evaluate.formatting import (
    HIGHER_IS_BETTER,
    LABELS,
    STUDY_WIN_TEXT,
    ci_span,
    fmt,
    fmt_signed,
    percent,
    verdict,
)
from autoenchorder.evaluate.run_format import FAMILIES
from autoenchorder.published import STUDY_WIN_SHARE

if TYPE_CHECKING:
    from autoenchorder.evaluate.report import StudyReport

FAMILY_TITLES: dict[str, str] = {
    "baseline": "Baselines",
    "hitmusicnet": "HitMusicNet replica",
    "autoenchorder": "Autoen-chorder",
    "alternate": "Alternates",
    "other": "Other models",
}


def html_table(header: Sequence[str], rows: Iterable[str]) -> str:
    """A table with a header row, in a box that scrolls sideways on narrow screens."""
    head = "".join(f"<th>{h}</th>" for h in header)
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def metrics_table(report: StudyReport) -> str:
    """The per-model metric table, grouped by family, with CIs and the best value in bold."""
    task = report.study.task
    metrics = (
        ["mae", "rmse", "r2", "spearman", "mae_01", "mse_01"]
        if task == "regression"
        else ["accuracy", "macro_f1"]
    )
    table = report.metrics
    best: dict[str, float] = {}
    for metric in metrics:
        values = table.loc[table["metric"] == metric, "estimate"]
        values = values[np.isfinite(values)]
        if len(values):
            best[metric] = values.max() if HIGHER_IS_BETTER[metric] else values.min()
    rows = []
    models_meta = report.study.meta.get("models", {})
    for family in FAMILIES:
        members = [m for m in report.predictions if report.study.family(m) == family]
        if not members:
            continue
        rows.append(
            f"<tr class='group'><td colspan='{len(metrics) + 2}'>{FAMILY_TITLES[family]}</td></tr>"
        )
        for model in members:
            cells = [f"<td>{escape(report.study.label(model))}</td>"]
            for metric in metrics:
                row = report.value(model, metric)
                is_best = metric in best and np.isclose(row["estimate"], best[metric])
                cells.append(
                    f"<td class='{'best' if is_best else ''}'>{fmt(metric, row['estimate'])}"
                    f"{ci_span(metric, row['low'], row['high'])}</td>"
                )
            seconds = models_meta.get(model, {}).get("fit_seconds")
            cells.append(f"<td>{'—' if seconds is None else f'{seconds:.1f} s'}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
    return html_table(["model", *[LABELS[m] for m in metrics], "fit time"], rows)


def differences_table(report: StudyReport) -> str:
    """Each model minus the reference, per metric, coloured where the interval excludes 0."""
    if report.differences.empty:
        return "<p class='note'>Only one model: nothing to compare.</p>"
    metrics = (
        ["mae", "rmse", "r2", "spearman"]
        if report.study.task == "regression"
        else ["accuracy", "macro_f1"]
    )
    rows = []
    for model in [m for m in report.predictions if m != report.reference]:
        cells = [f"<td>{escape(report.study.label(model))}</td>"]
        for metric in metrics:
            d = report.differences
            d = d[
                (d["model_a"] == model)
                & (d["model_b"] == report.reference)
                & (d["metric"] == metric)
            ]
            if d.empty:
                cells.append("<td>—</td>")
                continue
            d = d.iloc[0]
            kind, _ = verdict(metric, d["low"], d["high"])
            cells.append(
                f"<td class='{kind if kind != 'flat' else ''}'>{fmt_signed(metric, d['estimate'])}"
                f"{ci_span(metric, d['low'], d['high'], signed=True)}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return html_table(["model", *[f"Δ {LABELS[m]}" for m in metrics]], rows)


def _win_bar(share: float, low: float, high: float) -> str:
    return (
        "<div class='bar'>"
        f"<div class='fill' style='width:{100 * share:.1f}%'></div>"
        f"<div class='ci' style='left:{100 * low:.1f}%;"
        f"width:{100 * max(high - low, 0.002):.1f}%'></div>"
        "<div class='half'></div>"
        f"<div class='ref' style='left:{100 * STUDY_WIN_SHARE:.1f}%' "
        f"title='study: {STUDY_WIN_TEXT}'></div></div>"
    )


def win_rate_table(table: pd.DataFrame, report: StudyReport, *, first_column: str = "model") -> str:
    """Wins, losses, ties and the share of wins with its interval, drawn as a bar."""
    rows = []
    for _, r in table.iterrows():
        label = r["band"] if first_column == "band" else report.study.label(r["model_a"])
        rows.append(
            f"<tr><td>{escape(str(label))}</td><td>{r['n']}</td><td>{r['a_better']}</td><td>{r['b_better']}</td>"
            f"<td>{r['ties']}</td><td>{percent(r['share'])}"
            f"<span class='ci'>[{percent(r['low'])}, {percent(r['high'])}]"
            f"</span></td><td>{_win_bar(r['share'], r['low'], r['high'])}</td></tr>"
        )
    return html_table([first_column, "songs", "wins", "losses", "ties", "share of wins", ""], rows)


def by_range_table(table: pd.DataFrame, report: StudyReport) -> str:
    """MAE and bias of every model (rows) within each popularity band (columns).

    The best MAE of each band is in bold; the header gives the band's number of songs.
    """
    bands = list(dict.fromkeys(table["band"]))
    wide = table.set_index(["model", "band"])
    counts = table.groupby("band", sort=False)["n"].first()
    best = table.groupby("band", sort=False)["mae"].min()
    rows = []
    for model in report.predictions:
        cells = [f"<td>{escape(report.study.label(model))}</td>"]
        for band in bands:
            mae_value, bias = wide.loc[(model, band), "mae"], wide.loc[(model, band), "bias"]
            is_best = np.isfinite(mae_value) and np.isclose(mae_value, best[band])
            cells.append(
                f"<td class='{'best' if is_best else ''}'>{fmt('mae', mae_value)}"
                + (
                    f"<span class='ci'>bias {fmt_signed('mae', bias)}</span>"
                    if np.isfinite(bias)
                    else ""
                )
                + "</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = [
        f"{escape(str(band))}<span class='ci'>{int(counts[band])} songs</span>" for band in bands
    ]
    return html_table(["model · MAE (bias)", *header], rows)


def calibration_table(report: StudyReport) -> str:
    """Interval coverage of the models that recorded a predictive sd."""
    rows = [
        f"<tr><td>{escape(report.study.label(r['model']))}</td><td>{r['n']}</td>"
        f"<td>{r['mean_sd']:.2f}</td><td>{percent(r['within_1sd'])}</td>"
        f"<td>{percent(r['within_1_96sd'])}</td><td>{r['z_rmse']:.2f}</td></tr>"
        for _, r in report.calibration.iterrows()
    ]
    return html_table(["model", "songs", "mean sd", "within 1 sd", "within 1.96 sd", "z-RMS"], rows)


def models_section(report: StudyReport) -> str:
    """Timings and the full config of each model, folded."""
    meta = report.study.meta.get("models", {})
    items = []
    for model in report.predictions:
        m = meta.get(model, {})
        config = json.dumps(m.get("config", {}), indent=2, sort_keys=True, default=str)
        info = json.dumps(m.get("info", {}), indent=2, sort_keys=True, default=str)
        timing = ", ".join(
            f"{k.replace('_seconds', '')} {m[k]:.2f} s"
            for k in ("fit_seconds", "predict_seconds")
            if m.get(k) is not None
        )
        items.append(
            f"<details><summary>{escape(report.study.label(model))} "
            f"<span class='note'>({escape(report.study.family(model))}"
            f"{'; ' + timing if timing else ''})</span></summary><pre>{escape(config)}</pre>"
            f"{'' if info == '{}' else f'<pre>{escape(info)}</pre>'}</details>"
        )
    return "".join(items)
