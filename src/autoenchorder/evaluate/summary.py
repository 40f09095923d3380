"""The report's summary: each study's card, its headline in words, its target checks, its facts."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from autoenchorder.evaluate.formatting import (
    LABELS,
    STUDY_WIN_IN_FULL,
    STUDY_WIN_TEXT,
    fmt,
    fmt_signed,
    percent,
    verdict,
)

if TYPE_CHECKING:
    from autoenchorder.evaluate.report import StudyReport


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
        on = comparison.get("metric", metric)  # the headline may compare on another metric
        kind, words = verdict(on, d["low"], d["high"])
        parts.append(
            f"<b>{escape(a)}</b> vs <b>{escape(b)}</b>: {LABELS[on]} {fmt(on, ra['estimate'])} vs "
            f"{fmt(on, rb['estimate'])}, difference {fmt_signed(on, d['estimate'])} "
            f"({pct} CI {fmt_signed(on, d['low'])} to {fmt_signed(on, d['high'])}) "
            f"<span class='pill {kind}'>{words}</span>."
        )
        wins = comparison.get("win_rate")
        if wins:
            parts.append(
                f"{escape(a)} is closer to the true popularity on {wins['a_better']} of "
                f"{wins['n']} test songs "
                f"({percent(wins['share'])}, {pct} CI {percent(wins['low'])} to "
                f"{percent(wins['high'])}; "
                f"{wins['ties']} ties)"
                + (
                    f"; the reference study reported {STUDY_WIN_IN_FULL}."
                    if is_study_pair(report, comparison)
                    else "."
                )
            )
    oracle = h.get("oracle_r2")
    if oracle and metric == "r2":
        on_r2 = comparison and comparison.get("metric", metric) == "r2"
        model = comparison["model_a"] if on_r2 else best["model"]
        value = comparison["a"]["estimate"] if on_r2 else best["estimate"]
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
    metric = comparison.get("metric", h["primary"])
    a, b = escape(labels[comparison["model_a"]]), escape(labels[comparison["model_b"]])
    d = comparison["difference"]
    kind, _ = verdict(metric, d["low"], d["high"])
    pct = f"{100 * level:.0f} % CI"
    what = "orders songs by popularity" if metric == "spearman" else "predicts popularity"
    opening = {
        "good": f"<b>{a}</b> {what} better than <b>{b}</b>",
        "bad": f"<b>{a}</b> {what} worse than <b>{b}</b>",
        "flat": f"No clear difference between <b>{a}</b> and <b>{b}</b>",
    }[kind]
    sentence = (
        f"{opening}: {LABELS[metric]} {fmt(metric, comparison['a']['estimate'])} vs "
        f"{fmt(metric, comparison['b']['estimate'])}, a difference of "
        f"{fmt_signed(metric, d['estimate'])} "
        f"({pct} {fmt_signed(metric, d['low'])} to {fmt_signed(metric, d['high'])})"
    )
    wins = comparison.get("win_rate")
    if wins:
        sentence += (
            f"; {a} is closer to the true popularity on {percent(wins['share'])} of the test songs "
            f"({pct} {percent(wins['low'])} to {percent(wins['high'])})"
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
        on = comparison.get("metric", metric)  # the headline may compare on another metric
        kind, words = verdict(on, d["low"], d["high"])
        value_a = fmt(on, comparison["a"]["estimate"])
        value_b = fmt(on, comparison["b"]["estimate"])
        tiles.append(
            _tile(
                f"{LABELS[on]}: {a} − {b}",
                f"{fmt_signed(on, d['estimate'])} <span class='pill {kind}'>{words}</span>",
                f"CI {fmt_signed(on, d['low'])} to {fmt_signed(on, d['high'])}; "
                f"{value_a} vs {value_b}",
            )
        )
        wins = comparison.get("win_rate")
        if wins:
            tiles.append(
                _tile(
                    f"songs {a} predicts better",
                    percent(wins["share"]),
                    f"CI {percent(wins['low'])} to {percent(wins['high'])}; "
                    f"{wins['a_better']} of {wins['n']}"
                    + (f" (study: {STUDY_WIN_TEXT})" if is_study_pair(report, comparison) else ""),
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
        f"<div class='facts'>{facts_line(report)}</div></div>"
    )


def is_study_pair(report: StudyReport, comparison: dict[str, Any]) -> bool:
    """Whether the comparison is the reference study's: Autoen-chorder vs HitMusicNet."""
    families = (
        report.study.family(comparison["model_a"]),
        report.study.family(comparison["model_b"]),
    )
    return families == ("autoenchorder", "hitmusicnet")


def facts_line(report: StudyReport) -> str:
    """The study's data and split in one sentence: dataset, its size, split, set sizes."""
    h = report.headline
    dataset = f"{escape(str(h['dataset'] or report.study.name))}"
    n_dataset = f" ({h['n_dataset']:,} songs)" if h.get("n_dataset") else ""
    split = escape(str(h["split"] or "not recorded"))
    sizes = f"train {h['n_train']:,}" if h.get("n_train") else ""
    if h.get("n_val"):
        sizes += f", validation {h['n_val']:,}"
    sizes += f", test {h['n_test']:,}"
    return f"Data: {dataset}{n_dataset}. Split: {split}; {sizes.strip(', ')}."
