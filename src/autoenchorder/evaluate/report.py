"""Analyse a run directory: every table of the report, its headline, its figures, its files.

:func:`analyse_study` turns one study's predictions into tables (metrics with bootstrap CIs,
differences against a reference model, song-by-song win rates, errors by popularity range and
decile) and figures; :func:`write_report` does that for every study of a run and writes the
self-contained HTML report (see :mod:`autoenchorder.evaluate.html`) with every number beside it
as CSV and JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from autoenchorder.evaluate import plots
from autoenchorder.evaluate.bootstrap import paired_bootstrap
from autoenchorder.evaluate.compare import (
    error_by_decile,
    error_by_range,
    interval_coverage,
    win_rate,
    win_rate_by_range,
)
from autoenchorder.evaluate.run_reader import Study
from autoenchorder.metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    confusion_counts,
    metrics_for,
    to_unit_scale,
)
from autoenchorder.published import BAND_NAMES, STUDY_WIN_PERCENT, STUDY_WIN_SHARE

#: The metric that ranks models in the summary, per task.
PRIMARY_METRIC: dict[str, str] = {"regression": "r2", "classification": "macro_f1"}
#: Metrics whose value is also reported on HitMusicNet's 0-1 scale.
UNIT_SCALE_METRICS: tuple[str, ...] = ("mae", "rmse", "mse")


@dataclass
class ReportSettings:
    """How the numbers are computed.

    Attributes
    ----------
    n_boot : int
        Bootstrap resamples (2000 by default).
    level : float
        Interval coverage.
    method : {"percentile", "bca"}
        Interval kind.
    seed : int
        Seed of the resamples (shared by every model, so differences are paired).
    figures : bool
        Draw the plots (off in quick tests of the numbers).
    """

    n_boot: int = 2000
    level: float = 0.95
    method: str = "percentile"
    seed: int = 0
    figures: bool = True


@dataclass
class StudyReport:
    """Everything the report shows about one study.

    Attributes
    ----------
    study : Study
    y_true : np.ndarray, shape (n,)
        Test targets, on the rows every model scored.
    predictions : dict of str to np.ndarray
        Test predictions (popularity 0-100, or class labels), same rows.
    metrics : pd.DataFrame
        ``model, label, family, metric, estimate, low, high, se`` (0-1 rows named ``mae_01`` ...).
    differences : pd.DataFrame
        ``model_a, model_b, metric, estimate, low, high, a_better_share`` for every pair of
        models (each model against the reference first, with the reference as B).
    win_rates : pd.DataFrame
        :class:`~autoenchorder.evaluate.compare.WinRate` fields, every model against the
        reference (regression only).
    win_by_range : pd.DataFrame
        The headline pair's win rate within the study's popularity bands.
    by_range, by_decile : pd.DataFrame
        Error and bias per model within the study's bands and within target deciles.
    reference : str or None
        The model everything is compared with.
    headline : dict
        The numbers the summary states (see :func:`headline_numbers`).
    confusion : dict of str to list
        Confusion matrices (classification).
    calibration : pd.DataFrame
        For models that recorded a predictive sd (``y_std``): ``model`` and the fields of
        :func:`~autoenchorder.evaluate.compare.interval_coverage`.
    figures : dict of str to bytes
        PNG figures by name.
    """

    study: Study
    y_true: np.ndarray
    predictions: dict[str, np.ndarray]
    metrics: pd.DataFrame
    differences: pd.DataFrame
    win_rates: pd.DataFrame
    win_by_range: pd.DataFrame
    by_range: pd.DataFrame
    by_decile: pd.DataFrame
    reference: str | None
    headline: dict[str, Any]
    confusion: dict[str, list] = field(default_factory=dict)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    figures: dict[str, bytes] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        """Display name of each model."""
        return {m: self.study.label(m) for m in self.predictions}

    def value(self, model: str, metric: str) -> pd.Series:
        """Return the row (estimate, low, high ...) of one model's metric."""
        rows = self.metrics[(self.metrics["model"] == model) & (self.metrics["metric"] == metric)]
        return rows.iloc[0]


def choose_reference(study: Study, scores: dict[str, float]) -> str | None:
    """Pick the model every other one is compared with in the differences and win-rate tables.

    The headline's model B if run.json names one; else the first HitMusicNet-family model; else
    the best baseline by the primary metric; else None.

    Parameters
    ----------
    study : Study
    scores : dict of str to float
        Each model's primary metric (higher is better).

    Returns
    -------
    str or None
    """
    headline = study.meta.get("headline") or {}
    if headline.get("model_b") in scores:
        return str(headline["model_b"])
    replicas = [m for m in scores if study.family(m) == "hitmusicnet"]
    if replicas:
        return replicas[0]
    baselines = [m for m in scores if study.family(m) == "baseline"]
    return _best(baselines, scores)


def choose_headline(study: Study, scores: dict[str, float]) -> tuple[str, str] | None:
    """Pick the comparison "A vs B" that the summary states.

    run.json's ``headline`` if it names two scored models; else the best non-baseline model
    against the HitMusicNet replica; else the replica against the best baseline; else the best
    model against the best baseline; else the best against the second best.

    Parameters
    ----------
    study : Study
    scores : dict of str to float
        Each model's primary metric (higher is better).

    Returns
    -------
    (str, str) or None
        ``None`` with fewer than two models.
    """
    headline = study.meta.get("headline") or {}
    a, b = headline.get("model_a"), headline.get("model_b")
    if a in scores and b in scores and a != b:
        return str(a), str(b)
    if len(scores) < 2:
        return None
    baselines = [m for m in scores if study.family(m) == "baseline"]
    replicas = [m for m in scores if study.family(m) == "hitmusicnet"]
    others = [m for m in scores if m not in baselines and m not in replicas[:1]]
    if replicas and others:
        return _best(others, scores), replicas[0]
    if replicas and baselines:
        return replicas[0], _best(baselines, scores)
    non_baselines = [m for m in scores if m not in baselines]
    if non_baselines and baselines:
        return _best(non_baselines, scores), _best(baselines, scores)
    ranked = sorted(scores, key=lambda m: _finite(scores[m]), reverse=True)
    return ranked[0], ranked[1]


def _best(models: list[str], scores: dict[str, float]) -> str | None:
    return max(models, key=lambda m: _finite(scores[m])) if models else None


def _finite(value: float) -> float:
    return value if np.isfinite(value) else -math.inf


def analyse_study(study: Study, settings: ReportSettings | None = None) -> StudyReport:
    """Compute every table, headline number and figure of one study.

    Parameters
    ----------
    study : Study
    settings : ReportSettings, optional

    Returns
    -------
    StudyReport
    """
    settings = settings or ReportSettings()
    ids, y_true, predictions = study.aligned("test")
    task = study.task
    if task == "classification":
        y_true = y_true.astype(np.int64)
        predictions = {m: p.astype(np.int64) for m, p in predictions.items()}
    primary = PRIMARY_METRIC[task]
    scores = {
        m: float(metrics_for(task)[primary].function(y_true, p)) for m, p in predictions.items()
    }
    reference = choose_reference(study, scores)
    headline_pair = choose_headline(study, scores)
    pairs = [(m, reference) for m in predictions if reference is not None and m != reference]
    if headline_pair and headline_pair not in pairs:
        pairs.append(headline_pair)
    # every other pair too (differences.csv): one subtraction each on the shared replicates
    models = list(predictions)
    every_pair = pairs + [
        (a, b)
        for i, a in enumerate(models)
        for b in models[i + 1 :]
        if (a, b) not in pairs and (b, a) not in pairs
    ]
    boot = paired_bootstrap(
        y_true,
        predictions,
        pairs=every_pair,
        task=task,
        n_boot=settings.n_boot,
        level=settings.level,
        method=settings.method,
        seed=settings.seed,
    )
    metrics = _with_unit_scale(boot.metrics) if task == "regression" else boot.metrics
    metrics.insert(1, "label", metrics["model"].map(study.label))
    metrics.insert(2, "family", metrics["model"].map(study.family))
    boot_kwargs = {"n_boot": settings.n_boot, "level": settings.level, "seed": settings.seed}
    win_rates = pd.DataFrame()
    win_by_range = pd.DataFrame()
    by_range = pd.DataFrame()
    by_decile = pd.DataFrame()
    confusion: dict[str, list] = {}
    calibration = pd.DataFrame()
    if task == "regression":
        win_rates = pd.DataFrame(
            [
                win_rate(
                    y_true, predictions[a], predictions[b], names=(a, b), **boot_kwargs
                ).to_dict()
                for a, b in pairs
            ]
        )
        if headline_pair:
            a, b = headline_pair
            win_by_range = win_rate_by_range(
                y_true, predictions[a], predictions[b], names=(a, b), **boot_kwargs
            )
        by_range = error_by_range(y_true, predictions)
        by_decile = error_by_decile(y_true, predictions)
        calibration = pd.DataFrame(
            [
                {"model": m, **interval_coverage(y_true, predictions[m], sd)}
                for m, sd in study.predictive_sd(ids).items()
                if m in predictions
            ]
        )
    else:
        n_classes = len(study.meta.get("class_names") or BAND_NAMES)
        confusion = {
            m: confusion_counts(y_true, p, n_classes).tolist() for m, p in predictions.items()
        }
    report = StudyReport(
        study=study,
        y_true=y_true,
        predictions=predictions,
        metrics=metrics,
        differences=boot.differences,
        win_rates=win_rates,
        win_by_range=win_by_range,
        by_range=by_range,
        by_decile=by_decile,
        reference=reference,
        headline={},
        confusion=confusion,
        calibration=calibration,
    )
    report.headline = headline_numbers(
        report,
        pair=headline_pair,
        primary=primary,
        scores=scores,
        metric=(study.meta.get("headline") or {}).get("metric") or primary,
    )
    report.headline["checks"] = target_checks(report, scores=scores)
    if settings.figures:
        report.figures = draw_figures(report)
    return report


def _with_unit_scale(metrics: pd.DataFrame) -> pd.DataFrame:
    scaled = metrics[metrics["metric"].isin(UNIT_SCALE_METRICS)].copy()
    for column in ("estimate", "low", "high", "se"):
        scaled[column] = [
            to_unit_scale(m, v) for m, v in zip(scaled["metric"], scaled[column], strict=True)
        ]
    scaled["metric"] = scaled["metric"] + "_01"
    return pd.concat([metrics, scaled], ignore_index=True)


def headline_numbers(
    report: StudyReport,
    *,
    pair: tuple[str, str] | None,
    primary: str,
    scores: dict,
    metric: str | None = None,
) -> dict:
    """Collect the numbers the summary states for one study, as a JSON-able dict.

    Parameters
    ----------
    report : StudyReport
    pair : (str, str) or None
        The headline comparison "A vs B".
    primary : str
        The ranking metric.
    scores : dict of str to float
        Each model's primary metric.
    metric : str or None
        The metric of the comparison (default ``primary``; run.json's headline may name one).

    Returns
    -------
    dict
        ``study, title, dataset, n_dataset, split, n_train, n_test, models, best, primary,
        comparison`` (model_a, model_b, the comparison's metric, their metric rows, the
        difference row and the win rate).
    """
    study = report.study
    split = study.meta.get("split") or {}
    dataset = study.meta.get("dataset") or {}
    best = max(scores, key=lambda m: _finite(scores[m]))
    out: dict[str, Any] = {
        "study": study.name,
        "title": study.meta.get("title") or study.name,
        "task": study.task,
        "dataset": dataset.get("name"),
        "n_dataset": dataset.get("n"),
        "split": split.get("kind"),
        "seed": split.get("seed"),
        "n_train": split.get("n_train"),
        "n_val": split.get("n_val"),
        "n_test": int(report.y_true.size),
        "models": list(report.predictions),
        "primary": primary,
        "best": {"model": best, **_row_dict(report.value(best, primary))},
        "reference": report.reference,
        "comparison": None,
        "oracle_r2": _oracle_r2(dataset),
    }
    if pair:
        a, b = pair
        metric = metric or primary
        d = report.differences
        diff = d[(d["model_a"] == a) & (d["model_b"] == b) & (d["metric"] == metric)]
        comparison: dict[str, Any] = {
            "model_a": a,
            "model_b": b,
            "metric": metric,
            "a": _row_dict(report.value(a, metric)),
            "b": _row_dict(report.value(b, metric)),
            "difference": _row_dict(diff.iloc[0]) if len(diff) else None,
            "win_rate": None,
        }
        if not report.win_rates.empty:
            w = report.win_rates
            wins = w[(w["model_a"] == a) & (w["model_b"] == b)]
            comparison["win_rate"] = wins.iloc[0].to_dict() if len(wins) else None
        out["comparison"] = comparison
    return out


def difference(report: StudyReport, a: str, b: str, metric: str) -> dict[str, float] | None:
    """Return ``metric(a) - metric(b)`` with its interval, whichever way round it was computed."""
    d = report.differences
    rows = d[(d["model_a"] == a) & (d["model_b"] == b) & (d["metric"] == metric)]
    if len(rows):
        return _row_dict(rows.iloc[0])
    rows = d[(d["model_a"] == b) & (d["model_b"] == a) & (d["metric"] == metric)]
    if len(rows):
        row = _row_dict(rows.iloc[0])
        return {"estimate": -row["estimate"], "low": -row["high"], "high": -row["low"]}
    return None


def target_checks(report: StudyReport, *, scores: dict[str, float]) -> list[dict[str, Any]]:
    """Check the study's claims the way the project states its targets (regression only).

    - the headline model A beats B: the interval of A's R^2 minus B's lies above 0; or, when
      the study set its headline's target to ``"matches"``, A at least matches B: the interval
      reaches 0 or above;
    - when A is Autoen-chorder and B the HitMusicNet replica, as in the reference study: A is
      closer than B on a larger share of songs than the study's
      (:data:`~autoenchorder.published.STUDY_WIN_SHARE`);
    - A reaches at least 90 % of the noise ceiling, when the dataset records one;
    - the best model that is not a baseline at least matches gradient boosting: the interval
      of its R^2 minus the best gradient-boosting model's includes or exceeds 0.

    Parameters
    ----------
    report : StudyReport
    scores : dict of str to float
        Each model's R^2.

    Returns
    -------
    list of dict
        ``{"check": words, "met": bool, "detail": numbers}``.
    """
    if report.study.task != "regression":
        return []
    labels = report.labels
    checks = []
    comparison = report.headline.get("comparison")
    if comparison and comparison.get("difference"):
        a, b, d = comparison["model_a"], comparison["model_b"], comparison["difference"]
        name = metrics_for(report.study.task)[comparison["metric"]].label
        detail = f"{d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
        if (report.study.meta.get("headline") or {}).get("target") == "matches":
            check = {
                "check": f"{labels[a]} at least matches {labels[b]} "
                f"({name} difference interval reaches 0 or above)",
                "met": bool(d["high"] >= 0),
            }
        else:
            check = {
                "check": f"{labels[a]} beats {labels[b]} ({name} difference interval above 0)",
                "met": bool(d["low"] > 0),
            }
        checks.append({**check, "detail": detail})
        wins = comparison.get("win_rate")
        study_pair = (report.study.family(a), report.study.family(b)) == (
            "autoenchorder",
            "hitmusicnet",
        )
        if wins and study_pair:  # the reference study's figure is about exactly this pair
            checks.append(
                {
                    "check": f"{labels[a]} is closer than {labels[b]} on more than "
                    f"{STUDY_WIN_PERCENT:.1f} % of songs",
                    "met": bool(wins["share"] > STUDY_WIN_SHARE),
                    "detail": f"{100 * wins['share']:.1f} % [{100 * wins['low']:.1f}, "
                    f"{100 * wins['high']:.1f}]",
                }
            )
        oracle = report.headline.get("oracle_r2")
        if oracle and comparison["metric"] == "r2":
            share = comparison["a"]["estimate"] / oracle
            checks.append(
                {
                    "check": f"{labels[a]} reaches 90 % of the noise ceiling "
                    f"(oracle R² {oracle:.3f})",
                    "met": bool(share >= 0.9),
                    "detail": f"{100 * share:.0f} %",
                }
            )
    boosting = [m for m in scores if any(k in m.lower() for k in ("gbdt", "boost"))]
    contenders = [m for m in scores if report.study.family(m) != "baseline"]
    if boosting and contenders:
        best, gbdt = _best(contenders, scores), _best(boosting, scores)
        d = difference(report, best, gbdt, "r2")
        if d is not None:
            checks.append(
                {
                    "check": f"the best non-baseline model ({labels[best]}) at least matches "
                    f"gradient boosting ({labels[gbdt]}): R² difference interval reaches 0 "
                    "or above",
                    "met": bool(d["high"] >= 0),
                    "detail": f"{d['estimate']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]",
                }
            )
    return checks


def _oracle_r2(dataset: dict[str, Any]) -> float | None:
    """Return the noise ceiling a dataset records (``info.oracle_r2``, the procedural corpus)."""
    value = (dataset.get("info") or {}).get("oracle_r2")
    try:
        return float(value) if value is not None and np.isfinite(float(value)) else None
    except (TypeError, ValueError):
        return None


def _row_dict(row: pd.Series) -> dict[str, float]:
    return {k: float(row[k]) for k in ("estimate", "low", "high") if k in row}


def draw_figures(report: StudyReport) -> dict[str, bytes]:
    """Draw every figure of a study (names: pred_vs_true, error_by_decile, distributions, ...)."""
    labels = report.labels
    models = list(report.predictions)
    # trivial references (training mean, random draws) in grey; GBDT and the rest in colour
    trivial = [
        m
        for m in models
        if report.study.family(m) == "baseline" and any(k in m.lower() for k in ("mean", "random"))
    ]
    colours = plots.model_colours(models, baselines=trivial)
    figures: dict[str, bytes] = {}
    if report.study.task == "regression":
        figures["pred_vs_true"] = plots.predicted_vs_true(
            report.y_true, report.predictions, labels=labels, colours=colours
        )
        figures["error_by_decile"] = plots.error_by_bin(
            report.by_decile, labels=labels, colours=colours
        )
        figures["distributions"] = plots.distributions(
            report.y_true, report.predictions, labels=labels, colours=colours
        )
    else:
        names = report.study.meta.get("class_names") or list(BAND_NAMES)
        figures["confusion"] = plots.confusion_matrices(
            report.confusion, class_names=names, labels=labels
        )
    curves = {m: h for m, h in report.study.curves.items() if h}
    if curves:
        figures["training_curves"] = plots.training_curves(curves, labels=labels)
    learning = report.study.learning_curve
    if learning is not None and not learning.empty:
        metric = PRIMARY_METRIC[report.study.task]
        metric = (
            metric
            if metric in learning
            else next((c for c in learning.columns if c not in ("model", "n_train", "seed")), None)
        )
        if metric:
            label = {**REGRESSION_METRICS, **CLASSIFICATION_METRICS}.get(metric)
            figures["learning_curve"] = plots.learning_curve(
                learning,
                colours=colours,
                metric=metric,
                metric_label=label.label if label else metric,
                labels=labels,
            )
    return figures
