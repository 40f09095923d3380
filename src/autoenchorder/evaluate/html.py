"""Render analysed studies as one self-contained HTML page (inline CSS, base64 PNG figures)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoenchorder import __version__
from autoenchorder.evaluate.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from autoenchorder.evaluate.rundir import FAMILIES
from autoenchorder.published import (
    BAND_EDGES,
    HITMUSICNET_ACCURACY,
    HITMUSICNET_MACRO_F1,
    HITMUSICNET_MAE_01,
    STUDY_HIGH_TAIL_ABOVE,
    STUDY_LOW_TAIL_BELOW,
    STUDY_MIDDLE,
    STUDY_TEST_SONGS,
    STUDY_WIN_PERCENT,
    STUDY_WIN_SHARE,
    STUDY_WINS,
)

if TYPE_CHECKING:
    from autoenchorder.evaluate.report import ReportSettings, StudyReport

FAMILY_TITLES: dict[str, str] = {
    "baseline": "Baselines",
    "hitmusicnet": "HitMusicNet replica",
    "autoenchorder": "Autoen-chorder",
    "alternate": "Alternates",
    "other": "Other models",
}

#: Display format of each metric.
FORMATS: dict[str, str] = {
    "mae": "{:.2f}",
    "rmse": "{:.2f}",
    "mse": "{:.1f}",
    "r2": "{:.3f}",
    "spearman": "{:.3f}",
    "mae_01": "{:.4f}",
    "rmse_01": "{:.4f}",
    "mse_01": "{:.5f}",
    "accuracy": "{:.3f}",
    "macro_f1": "{:.3f}",
}
LABELS: dict[str, str] = {
    **{k: m.label for k, m in REGRESSION_METRICS.items()},
    **{k: m.label for k, m in CLASSIFICATION_METRICS.items()},
    "mae_01": "MAE (0-1)",
    "rmse_01": "RMSE (0-1)",
    "mse_01": "MSE (0-1)",
}
HIGHER_IS_BETTER: dict[str, bool] = {
    **{k: m.higher_is_better for k, m in REGRESSION_METRICS.items()},
    **{k: m.higher_is_better for k, m in CLASSIFICATION_METRICS.items()},
    "mae_01": False,
    "rmse_01": False,
    "mse_01": False,
}
#: The study's win rate as it wrote it, and in full, for the sentences of the report.
STUDY_WIN_TEXT = f"{STUDY_WIN_PERCENT:.1f} %"
STUDY_WIN_IN_FULL = f"{STUDY_WIN_TEXT} ({STUDY_WINS} of {STUDY_TEST_SONGS:,})"

CSS = """
:root { --ink:#1d2330; --muted:#5f6b7a; --line:#e3e7ee; --bg:#f6f8fb; --card:#fff;
  --accent:#0b63c5; --good:#0f7b4f; --bad:#b3261e; --goodbg:#e6f4ec; --badbg:#fbe9e7; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",
  Arial,sans-serif; color:var(--ink); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:32px 28px 64px; }
h1 { font-size:28px; margin:0 0 4px; letter-spacing:-.01em; }
h2 { font-size:22px; margin:48px 0 6px; padding-top:14px; border-top:3px solid var(--ink); }
h3 { font-size:16px; margin:30px 0 8px; }
p, li { max-width:80ch; }
.sub { color:var(--muted); margin:0 0 20px; }
.cards { display:grid; grid-template-columns:1fr; gap:16px; margin:18px 0; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
  box-shadow:0 1px 2px rgba(20,30,50,.04); }
.card h3 { margin:0 0 6px; font-size:15px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
ul.checks { list-style:none; padding:0; margin:6px 0; font-size:13.5px; }
ul.checks li { margin:2px 0; }
ul.checks .mark { display:inline-block; width:1.2em; font-weight:700; }
ul.checks li.met .mark { color:var(--good); } ul.checks li.unmet .mark { color:var(--bad); }
.card .words { font-size:14px; margin:10px 0 6px; color:#2c3545; }
.card h3 a { color:inherit; text-decoration:none; }
.tiles { display:flex; flex-wrap:wrap; gap:10px; }
.tile { flex:1 1 150px; background:#f4f7fb; border-radius:8px; padding:8px 12px; }
.tile .label { font-size:12px; color:var(--muted); }
.tile .value { font-size:24px; font-weight:700; letter-spacing:-.01em; }
.tile .value .pill { font-size:11px; vertical-align:middle; }
.tile .detail { font-size:12px; color:var(--muted); }
.card .facts { color:var(--muted); font-size:13px; margin:8px 0 0; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
.pill.good { background:var(--goodbg); color:var(--good); } .pill.bad { background:var(--badbg); color:var(--bad); }
.pill.flat { background:#eef0f4; color:var(--muted); }
nav.toc { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px 18px; }
nav.toc a { color:var(--accent); text-decoration:none; margin-right:18px; }
table { border-collapse:collapse; background:var(--card); margin:8px 0 6px; font-size:13.5px;
  border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { padding:6px 11px; text-align:right; border-bottom:1px solid var(--line); vertical-align:top; }
.scroll { max-width:100%; overflow-x:auto; }
th .ci { display:block; font-weight:400; color:var(--muted); font-size:11.5px; }
th { background:#eef2f7; font-weight:600; font-size:12.5px; color:#3a4556; }
td:first-child, th:first-child { text-align:left; }
tr.group td { background:#f7f9fc; font-weight:600; color:var(--muted); text-align:left; font-size:12px;
  text-transform:uppercase; letter-spacing:.05em; }
td .ci { display:block; color:var(--muted); font-size:11.5px; white-space:nowrap; }
td.best { font-weight:700; } td.best .ci { font-weight:400; }
td.good { background:var(--goodbg); } td.bad { background:var(--badbg); }
.bar { position:relative; width:180px; height:14px; background:#eef0f4; border-radius:3px; margin-top:3px; }
.bar .fill { position:absolute; left:0; top:0; bottom:0; background:#7fb0e6; border-radius:3px; }
.bar .ci { position:absolute; top:6px; height:2px; background:var(--ink); }
.bar .ref { position:absolute; top:-2px; bottom:-2px; width:2px; background:var(--bad); }
.bar .half { position:absolute; top:-2px; bottom:-2px; width:1px; background:#777; left:50%; }
figure { margin:12px 0 18px; background:var(--card); border:1px solid var(--line); border-radius:10px; padding:10px; }
figure img { max-width:100%; display:block; margin:0 auto; }
figcaption { color:var(--muted); font-size:13px; margin-top:6px; }
.note { color:var(--muted); font-size:13px; }
details { margin:6px 0; } summary { cursor:pointer; color:var(--accent); }
pre { background:#f1f3f7; padding:10px; border-radius:6px; font-size:12px; overflow:auto; }
footer { margin-top:48px; color:var(--muted); font-size:12.5px; border-top:1px solid var(--line); padding-top:12px; }
"""  # noqa: E501  (CSS rules read best one per line)


def fmt(metric: str, value: float) -> str:
    """Format a metric value for display (``—`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "—"
    return FORMATS.get(metric.replace("diff_", ""), "{:.3g}").format(value)


def _signed(metric: str, value: float) -> str:
    text = fmt(metric, value)
    return text if text.startswith("-") or text == "—" else "+" + text


def _ci(metric: str, low: float, high: float, *, signed: bool = False) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "<span class='ci'>undefined</span>"
    show = _signed if signed else fmt
    return f"<span class='ci'>[{show(metric, low)}, {show(metric, high)}]</span>"


def _pct(value: float) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.1f} %"


def _img(png: bytes, alt: str) -> str:
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _figure(report: StudyReport, name: str, caption: str) -> str:
    if name not in report.figures:
        return ""
    return (
        f"<figure>{_img(report.figures[name], caption)}<figcaption>{caption}</figcaption></figure>"
    )


def _table(header: Sequence[str], rows: Iterable[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _verdict(metric: str, low: float, high: float) -> tuple[str, str]:
    """Classify a difference A - B from its interval: ('good'|'bad'|'flat', words)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "flat", "undefined"
    better_high = HIGHER_IS_BETTER.get(metric, False)
    if (low > 0 and better_high) or (high < 0 and not better_high):
        return "good", "better"
    if (high < 0 and better_high) or (low > 0 and not better_high):
        return "bad", "worse"
    return "flat", "no clear difference"


def summary_sentence(report: StudyReport, level: float) -> str:
    """State the study's headline result in words, with its confidence intervals (HTML)."""
    h = report.headline
    labels = report.labels
    metric = h["primary"]
    name = LABELS[metric]
    pct = f"{100 * level:.0f} %"
    best = h["best"]
    parts = [
        f"Best {name}: <b>{escape(labels[best['model']])}</b> with {fmt(metric, best['estimate'])} "
        f"({pct} CI {fmt(metric, best['low'])} to {fmt(metric, best['high'])})."
    ]
    comparison = h.get("comparison")
    if comparison:
        a, b = labels[comparison["model_a"]], labels[comparison["model_b"]]
        ra, rb, d = comparison["a"], comparison["b"], comparison["difference"]
        kind, words = _verdict(metric, d["low"], d["high"])
        parts.append(
            f"<b>{escape(a)}</b> vs <b>{escape(b)}</b>: {name} {fmt(metric, ra['estimate'])} vs "
            f"{fmt(metric, rb['estimate'])}, difference {_signed(metric, d['estimate'])} "
            f"({pct} CI {_signed(metric, d['low'])} to {_signed(metric, d['high'])}) "
            f"<span class='pill {kind}'>{words}</span>."
        )
        wins = comparison.get("win_rate")
        if wins:
            parts.append(
                f"{escape(a)} is closer to the true popularity on {wins['a_better']} of "
                f"{wins['n']} test songs "
                f"({_pct(wins['share'])}, {pct} CI {_pct(wins['low'])} to {_pct(wins['high'])}; "
                f"{wins['ties']} ties)"
                + (
                    f"; the reference study reported {STUDY_WIN_IN_FULL}."
                    if _study_pair(report, comparison)
                    else "."
                )
            )
    oracle = h.get("oracle_r2")
    if oracle and metric == "r2":
        model = comparison["model_a"] if comparison else best["model"]
        value = comparison["a"]["estimate"] if comparison else best["estimate"]
        parts.append(
            f"The noise ceiling (oracle R²) is {oracle:.3f}: {escape(labels[model])} reaches "
            f"{100 * value / oracle:.0f} % of it."
        )
    return " ".join(parts)


def _tile(label: str, value: str, detail: str) -> str:
    return (
        f"<div class='tile'><div class='label'>{label}</div><div class='value'>{value}</div>"
        f"<div class='detail'>{detail}</div></div>"
    )


def headline_words(report: StudyReport, level: float) -> str:
    """State the headline comparison in one plain sentence, with its intervals (HTML)."""
    h = report.headline
    comparison = h.get("comparison")
    if not comparison:
        return summary_sentence(report, level)
    labels = report.labels
    metric = h["primary"]
    a, b = escape(labels[comparison["model_a"]]), escape(labels[comparison["model_b"]])
    d = comparison["difference"]
    kind, _ = _verdict(metric, d["low"], d["high"])
    pct = f"{100 * level:.0f} % CI"
    opening = {
        "good": f"<b>{a}</b> predicts popularity better than <b>{b}</b>",
        "bad": f"<b>{a}</b> predicts popularity worse than <b>{b}</b>",
        "flat": f"No clear difference between <b>{a}</b> and <b>{b}</b>",
    }[kind]
    sentence = (
        f"{opening}: {LABELS[metric]} {fmt(metric, comparison['a']['estimate'])} vs "
        f"{fmt(metric, comparison['b']['estimate'])}, a difference of "
        f"{_signed(metric, d['estimate'])} "
        f"({pct} {_signed(metric, d['low'])} to {_signed(metric, d['high'])})"
    )
    wins = comparison.get("win_rate")
    if wins:
        sentence += (
            f"; {a} is closer to the true popularity on {_pct(wins['share'])} of the test songs "
            f"({pct} {_pct(wins['low'])} to {_pct(wins['high'])})"
        )
    return sentence + "."


def checks_list(report: StudyReport) -> str:
    """The study's target checks as a list of ✓ / ✗ lines (empty string if none)."""
    checks = report.headline.get("checks") or []
    if not checks:
        return ""
    items = "".join(
        f"<li class='{'met' if c['met'] else 'unmet'}'><span class='mark'>"
        f"{'✓' if c['met'] else '✗'}</span> {escape(c['check'])} "
        f"<span class='note'>{escape(c['detail'])}</span></li>"
        for c in checks
    )
    return f"<ul class='checks'>{items}</ul>"


def summary_card(report: StudyReport, level: float) -> str:
    """One study's card at the top: the headline as big numbers, in words, and the facts."""
    h = report.headline
    labels = report.labels
    metric = h["primary"]
    name = LABELS[metric]
    tiles = []
    comparison = h.get("comparison")
    if comparison:
        a = escape(labels[comparison["model_a"]])
        b = escape(labels[comparison["model_b"]])
        d = comparison["difference"]
        kind, verdict = _verdict(metric, d["low"], d["high"])
        value_a = fmt(metric, comparison["a"]["estimate"])
        value_b = fmt(metric, comparison["b"]["estimate"])
        tiles.append(
            _tile(
                f"{name}: {a} − {b}",
                f"{_signed(metric, d['estimate'])} <span class='pill {kind}'>{verdict}</span>",
                f"CI {_signed(metric, d['low'])} to {_signed(metric, d['high'])}; "
                f"{value_a} vs {value_b}",
            )
        )
        wins = comparison.get("win_rate")
        if wins:
            tiles.append(
                _tile(
                    f"songs {a} predicts better",
                    _pct(wins["share"]),
                    f"CI {_pct(wins['low'])} to {_pct(wins['high'])}; "
                    f"{wins['a_better']} of {wins['n']}"
                    + (f" (study: {STUDY_WIN_TEXT})" if _study_pair(report, comparison) else ""),
                )
            )
    best = h["best"]
    ceiling = h.get("oracle_r2") if metric == "r2" else None
    tiles.append(
        _tile(
            f"best {name}",
            fmt(metric, best["estimate"]),
            f"{escape(labels[best['model']])}; CI {fmt(metric, best['low'])} to "
            f"{fmt(metric, best['high'])}" + (f"; ceiling {ceiling:.3f}" if ceiling else ""),
        )
    )
    title = f"<a href='#{escape(report.study.name)}'>{escape(str(h['title']))}</a>"
    return (
        f"<div class='card'><h3>{title}</h3><div class='tiles'>{''.join(tiles)}</div>"
        f"<p class='words'>{headline_words(report, level)}</p>"
        f"{checks_list(report)}"
        f"<div class='facts'>{_facts(report)}</div></div>"
    )


def _study_pair(report: StudyReport, comparison: dict[str, Any]) -> bool:
    """Whether the comparison is the reference study's: Autoen-chorder vs HitMusicNet."""
    families = (
        report.study.family(comparison["model_a"]),
        report.study.family(comparison["model_b"]),
    )
    return families == ("autoenchorder", "hitmusicnet")


def _facts(report: StudyReport) -> str:
    h = report.headline
    dataset = f"{escape(str(h['dataset'] or report.study.name))}"
    n_dataset = f" ({h['n_dataset']:,} songs)" if h.get("n_dataset") else ""
    split = escape(str(h["split"] or "not recorded"))
    sizes = f"train {h['n_train']:,}" if h.get("n_train") else ""
    if h.get("n_val"):
        sizes += f", validation {h['n_val']:,}"
    sizes += f", test {h['n_test']:,}"
    return f"Data: {dataset}{n_dataset}. Split: {split}; {sizes.strip(', ')}."


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
                    f"{_ci(metric, row['low'], row['high'])}</td>"
                )
            seconds = models_meta.get(model, {}).get("fit_seconds")
            cells.append(f"<td>{'—' if seconds is None else f'{seconds:.1f} s'}</td>")
            rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(["model", *[LABELS[m] for m in metrics], "fit time"], rows)


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
            kind, _ = _verdict(metric, d["low"], d["high"])
            cells.append(
                f"<td class='{kind if kind != 'flat' else ''}'>{_signed(metric, d['estimate'])}"
                f"{_ci(metric, d['low'], d['high'], signed=True)}</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(["model", *[f"Δ {LABELS[m]}" for m in metrics]], rows)


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
            f"<td>{r['ties']}</td><td>{_pct(r['share'])}"
            f"<span class='ci'>[{_pct(r['low'])}, {_pct(r['high'])}]"
            f"</span></td><td>{_win_bar(r['share'], r['low'], r['high'])}</td></tr>"
        )
    return _table([first_column, "songs", "wins", "losses", "ties", "share of wins", ""], rows)


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
                    f"<span class='ci'>bias {_signed('mae', bias)}</span>"
                    if np.isfinite(bias)
                    else ""
                )
                + "</td>"
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    header = [
        f"{escape(str(band))}<span class='ci'>{int(counts[band])} songs</span>" for band in bands
    ]
    return _table(["model · MAE (bias)", *header], rows)


def calibration_table(report: StudyReport) -> str:
    """Interval coverage of the models that recorded a predictive sd."""
    rows = [
        f"<tr><td>{escape(report.study.label(r['model']))}</td><td>{r['n']}</td>"
        f"<td>{r['mean_sd']:.2f}</td><td>{_pct(r['within_1sd'])}</td>"
        f"<td>{_pct(r['within_1_96sd'])}</td><td>{r['z_rmse']:.2f}</td></tr>"
        for _, r in report.calibration.iterrows()
    ]
    return _table(["model", "songs", "mean sd", "within 1 sd", "within 1.96 sd", "z-RMS"], rows)


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


def study_section(report: StudyReport, *, level: float) -> str:
    """One study's full section: headline, tables, figures, models, notes."""
    study = report.study
    anchor = escape(study.name)
    ref = escape(report.study.label(report.reference)) if report.reference else None
    pct = f"{100 * level:.0f} %"
    out = [f"<h2 id='{anchor}'>{escape(str(study.meta.get('title') or study.name))}</h2>"]
    if study.meta.get("description"):
        out.append(f"<p class='sub'>{escape(study.meta['description'])}</p>")
    out.append(f"<p>{_facts(report)}</p><p>{summary_sentence(report, level)}</p>")
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
