"""The report's figures, drawn with matplotlib's Agg backend and returned as PNG bytes.

Each function takes plain arrays or tables and returns the PNG of one figure, so the report can
embed it (base64) and tests can check it without a display.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: Colours of the models, in order (Okabe-Ito and Tol's muted scheme, colour-blind-safe, no
#: pale yellow and no grey, which marks the baselines).
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#661100",
)
#: Greys for baseline models, which are references rather than contenders.
BASELINE_GREYS: tuple[str, ...] = ("#6b6b6b", "#9a9a9a", "#404040", "#b0b0b0")
#: The true-popularity histogram under each model's predictions.
TARGET_FILL = "#d5dbe5"

_STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "figure.dpi": 110,
    "savefig.bbox": "tight",
}


def model_colours(models: Sequence[str], *, baselines: Sequence[str] = ()) -> dict[str, str]:
    """Assign each model its colour: greys for ``baselines``, :data:`PALETTE` in order for the rest.

    Parameters
    ----------
    models : sequence of str
    baselines : sequence of str
        Models drawn in grey.

    Returns
    -------
    dict of str to str
    """
    colours, grey, colour = {}, 0, 0
    for model in models:
        if model in baselines:
            colours[model] = BASELINE_GREYS[grey % len(BASELINE_GREYS)]
            grey += 1
        else:
            colours[model] = PALETTE[colour % len(PALETTE)]
            colour += 1
    return colours


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _grid(n_panels: int, *, max_columns: int = 4, size: float = 2.7) -> tuple[Figure, np.ndarray]:
    columns = min(max_columns, n_panels)
    rows = int(np.ceil(n_panels / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(size * columns + 0.4, size * rows), squeeze=False
    )
    for ax in axes.ravel()[n_panels:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def predicted_vs_true(
    y_true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> bytes:
    """Scatter of predicted against true popularity, one panel per model, with the diagonal.

    Parameters
    ----------
    y_true : np.ndarray, shape (n,)
    predictions : mapping of str to np.ndarray, each shape (n,)
    labels : mapping of str to str, optional
        Display names.

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    colours = colours or model_colours(list(predictions))
    with plt.rc_context(_STYLE):
        fig, axes = _grid(len(predictions))
        alpha = float(np.clip(8.0 / np.sqrt(max(len(y_true), 1)), 0.08, 0.8))
        for ax, (model, pred) in zip(axes, predictions.items(), strict=False):
            ax.plot([0, 100], [0, 100], color="#444", lw=0.8, ls="--", zorder=1)
            ax.scatter(y_true, pred, s=6, alpha=alpha, color=colours[model], lw=0, zorder=2)
            ax.set(
                xlim=(0, 100),
                ylim=(0, 100),
                title=labels.get(model, model),
                xlabel="true popularity",
            )
            ax.set_aspect("equal")
        axes[0].set_ylabel("predicted popularity")
        fig.tight_layout()
        return _png(fig)


def error_by_bin(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> bytes:
    """Mean absolute error (left) and bias (right) per popularity bin, one line per model.

    Parameters
    ----------
    table : pd.DataFrame
        :func:`autoenchorder.evaluate.compare.error_by_range` output (``band, lower, upper, n,
        model, mae, bias``), bins in order.
    labels : mapping of str to str, optional

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    models = list(dict.fromkeys(table["model"]))
    colours = colours or model_colours(models)
    bands = list(dict.fromkeys(table["band"]))
    x = np.arange(len(bands))
    with plt.rc_context(_STYLE):
        fig, (ax_mae, ax_bias) = plt.subplots(1, 2, figsize=(10, 3.4))
        for model in models:
            rows = table[table["model"] == model].set_index("band").loc[bands]
            style = {"color": colours[model], "marker": "o", "ms": 3}
            if colours[model] in BASELINE_GREYS:  # references: thin and dashed
                style.update(ls="--", lw=1.0, ms=2)
            ax_mae.plot(x, rows["mae"], label=labels.get(model, model), **style)
            ax_bias.plot(x, rows["bias"], **style)
        ax_bias.axhline(0, color="#444", lw=0.8)
        for ax, title in ((ax_mae, "mean absolute error"), (ax_bias, "bias (predicted - true)")):
            ax.set_xticks(x, bands, rotation=45, ha="right")
            ax.set(title=title, xlabel="true popularity bin")
        fig.legend(
            loc="lower center", ncols=min(len(models), 4), fontsize=8, bbox_to_anchor=(0.5, -0.02)
        )
        fig.tight_layout(rect=(0, 0.06 + 0.035 * int(np.ceil(len(models) / 4)), 1, 1))
        return _png(fig)


def distributions(
    y_true: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> bytes:
    """Histogram of the true popularity (grey) under each model's predicted distribution.

    A model that only predicts the mean shows a spike; one that reproduces the spread of the
    target covers the grey area.

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    colours = colours or model_colours(list(predictions))
    bins = np.linspace(0, 100, 41)
    with plt.rc_context(_STYLE):
        fig, axes = _grid(len(predictions), size=2.4)
        for ax, (model, pred) in zip(axes, predictions.items(), strict=False):
            heights, _, _ = ax.hist(
                y_true, bins=bins, color=TARGET_FILL, density=True, label="true"
            )
            ax.hist(
                np.clip(pred, 0, 100),
                bins=bins,
                density=True,
                histtype="step",
                lw=1.6,
                color=colours[model],
                label="predicted",
            )
            # a constant predictor is a spike: cut it so that the target stays readable
            ax.set_ylim(0, 2.0 * float(np.max(heights)) if np.max(heights) > 0 else None)
            ax.set(title=labels.get(model, model), xlabel="popularity", yticks=[])
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        return _png(fig)


def training_curves(
    curves: Mapping[str, Sequence[Mapping]], *, labels: Mapping[str, str] | None = None
) -> bytes:
    """Train and validation loss per epoch for each model and training stage (log scale).

    Parameters
    ----------
    curves : mapping of str to sequence of mapping
        ``{model: history_}``, records with ``stage, epoch, train_loss, val_loss``.

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    panels = []
    for model, history in curves.items():
        frame = pd.DataFrame(list(history))
        if frame.empty or "epoch" not in frame:
            continue
        if "stage" not in frame:
            frame["stage"] = "train"
        for stage, rows in frame.groupby("stage", sort=False):
            panels.append((f"{labels.get(model, model)}\n{stage}", rows))
    with plt.rc_context(_STYLE):
        fig, axes = _grid(max(len(panels), 1), max_columns=3, size=3.0)
        for ax, (title, rows) in zip(axes, panels, strict=False):
            for column, colour in (("train_loss", "#0072B2"), ("val_loss", "#D55E00")):
                if column in rows and rows[column].notna().any():
                    values = rows[column].astype(float)
                    ax.plot(
                        rows["epoch"], values, color=colour, lw=1.3, label=column.replace("_", " ")
                    )
            if (rows.filter(like="loss") > 0).all().all():
                ax.set_yscale("log")
            ax.set(title=title, xlabel="epoch")
        if panels:
            axes[0].legend(fontsize=7)
        fig.tight_layout()
        return _png(fig)


def learning_curve(
    table: pd.DataFrame,
    *,
    metric: str,
    metric_label: str | None = None,
    labels: Mapping[str, str] | None = None,
    colours: Mapping[str, str] | None = None,
) -> bytes:
    """A metric against training-set size, mean over seeds with a min-max band.

    Parameters
    ----------
    table : pd.DataFrame
        Rows ``model, n_train, seed, <metric>``.
    metric : str
        Column to plot.
    metric_label : str, optional
        Its display name.

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    models = list(dict.fromkeys(table["model"]))
    colours = {**model_colours(models), **(colours or {})}
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(5.5, 3.4))
        for model in models:
            summary = (
                table[table["model"] == model]
                .groupby("n_train")[metric]
                .agg(["mean", "min", "max"])
            )
            ax.plot(
                summary.index,
                summary["mean"],
                marker="o",
                ms=3,
                color=colours[model],
                label=labels.get(model, model),
            )
            ax.fill_between(
                summary.index, summary["min"], summary["max"], color=colours[model], alpha=0.15
            )
        name = metric_label or metric
        ax.set(xscale="log", xlabel="training songs", ylabel=name, title=f"{name} on the test set")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return _png(fig)


def confusion_matrices(
    matrices: Mapping[str, np.ndarray],
    *,
    class_names: Sequence[str],
    labels: Mapping[str, str] | None = None,
) -> bytes:
    """Row-normalised confusion matrices (true class per row), one panel per model.

    Returns
    -------
    bytes
        PNG.
    """
    labels = labels or {}
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        fig, axes = _grid(len(matrices), size=2.6)
        for ax, (model, counts) in zip(axes, matrices.items(), strict=False):
            counts = np.asarray(counts, dtype=float)
            share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
            ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
            for (i, j), value in np.ndenumerate(counts):
                ax.text(
                    j,
                    i,
                    f"{int(value)}",
                    ha="center",
                    va="center",
                    color="white" if share[i, j] > 0.6 else "black",
                    fontsize=8,
                )
            ticks = np.arange(len(class_names))
            ax.set_xticks(ticks, class_names)
            ax.set_yticks(ticks, class_names)
            ax.set(title=labels.get(model, model), xlabel="predicted", ylabel="true")
        fig.tight_layout()
        return _png(fig)
