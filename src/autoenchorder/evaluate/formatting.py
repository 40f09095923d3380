"""How the report writes numbers: formats per metric, labels, intervals, percentages, verdicts."""

from __future__ import annotations

import numpy as np

from autoenchorder.metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from autoenchorder.published import STUDY_TEST_SONGS, STUDY_WIN_PERCENT, STUDY_WINS

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


def fmt(metric: str, value: float) -> str:
    """Format a metric value for display (``—`` for NaN)."""
    if value is None or not np.isfinite(value):
        return "—"
    return FORMATS.get(metric.replace("diff_", ""), "{:.3g}").format(value)


def fmt_signed(metric: str, value: float) -> str:
    """Format a metric value with its sign (``+0.12``, ``-0.12``; ``—`` for NaN)."""
    text = fmt(metric, value)
    return text if text.startswith("-") or text == "—" else "+" + text


def ci_span(metric: str, low: float, high: float, *, signed: bool = False) -> str:
    """An interval ``[low, high]`` as a small grey span (``undefined`` if an end is NaN)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "<span class='ci'>undefined</span>"
    show = fmt_signed if signed else fmt
    return f"<span class='ci'>[{show(metric, low)}, {show(metric, high)}]</span>"


def percent(value: float) -> str:
    """A share as a percentage with one decimal (``0.6127 -> "61.3 %"``; ``—`` for NaN)."""
    return "—" if value is None or not np.isfinite(value) else f"{100 * value:.1f} %"


def verdict(metric: str, low: float, high: float) -> tuple[str, str]:
    """Classify a difference A - B from its interval: ('good'|'bad'|'flat', words)."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return "flat", "undefined"
    better_high = HIGHER_IS_BETTER.get(metric, False)
    if (low > 0 and better_high) or (high < 0 and not better_high):
        return "good", "better"
    if (high < 0 and better_high) or (low > 0 and not better_high):
        return "bad", "worse"
    return "flat", "no clear difference"
