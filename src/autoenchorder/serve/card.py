"""The model card: what the served model is, what it was trained on, how well it tested.

Read from the bundle's JSON only (the scoring processes load and check the model itself). A
model trained on the procedural corpus carries a plain notice: its popularity is a formula of
the rendered music, so its scores say nothing about real listeners.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: What the page says about a model trained on the procedural corpus.
PROCEDURAL_NOTICE: str = (
    "This model was trained on a procedural corpus: music rendered by a program, whose "
    "'popularity' is a formula of the music itself. Its scores show how the pipeline works; "
    "they say nothing about how real listeners will receive your song."
)
#: Test metrics shown, in this order, when the bundle has them.
CARD_METRICS: tuple[str, ...] = ("mae", "rmse", "mse", "r2", "spearman", "accuracy")


def model_card(
    docs: Sequence[dict[str, Any]], paths: Sequence[Path], training_popularity: np.ndarray | None
) -> dict[str, Any]:
    """Describe the served model for ``GET /api/model`` and the page.

    Parameters
    ----------
    docs : sequence of dict
        The bundles' JSON documents (one per ensemble member; the first describes them).
    paths : sequence of Path
        The bundle folders (only their names are shown).
    training_popularity : np.ndarray or None
        The true popularity of every training song (from the training index).

    Returns
    -------
    dict
        ``model``, ``setting``, ``members``, ``trained_on`` (dataset, rows, training /
        validation / test rows, split, seed),
        ``input`` (what part of a song it reads, the embedder), ``metrics`` (test metrics, each
        ``{"value", "ci"}`` where the bundle has a confidence interval; an ensemble's own where
        its bundles record them), ``metrics_of`` (whose metrics they are), ``created``,
        ``version``, ``neighbours`` (whether "songs that sound like yours" is available, and in
        which space), ``popularity_histogram`` and ``notice`` (None, or why the scores say
        nothing about real listeners).
    """
    doc = docs[0]
    extra = doc.get("extra") or {}
    spec = doc.get("feature_spec") or {}
    metrics = doc.get("metrics") or {}
    config = ((doc.get("state") or {}).get("config")) or {}
    dataset = str(extra.get("dataset") or "unknown")
    source = str((extra.get("data_spec") or {}).get("source") or dataset)
    index = doc.get("training_index") or None
    # an ensemble's bundles record the test metrics of the members' mean prediction, which is
    # what the served model answers; shown when every member was loaded
    together = metrics.get("ensemble") or None
    if not together or len(docs) < 2 or together.get("n_members") != len(docs):
        together = None
    return {
        "model": doc.get("model"),
        "setting": config.get("setting"),
        "members": len(docs),
        "bundle": ", ".join(p.name for p in paths),
        "trained_on": {
            "dataset": dataset,
            "rows": extra.get("n_rows") or metrics.get("n_train"),
            "n_train": metrics.get("n_train"),
            "n_val": metrics.get("n_val"),
            "n_test": metrics.get("n_test"),
            "split": extra.get("split") or metrics.get("split"),
            "seed": extra.get("seed"),
        },
        "input": {
            "audio": _describe_input(spec.get("audio_input")),
            "embedder": (spec.get("embedder") or {}).get("name")
            if isinstance(spec.get("embedder"), dict)
            else spec.get("embedder"),
            "task": spec.get("task") or "regression",
        },
        "metrics": _test_metrics(together or metrics),
        "metrics_of": f"the ensemble of {len(docs)}" if together else "this model",
        "created": doc.get("created"),
        "version": (doc.get("libraries") or {}).get("autoenchorder"),
        "neighbours": {
            "available": bool(index),
            "space": (index or {}).get("space"),
            "n_indexed": (index or {}).get("n_indexed"),
            "n_training": (index or {}).get("n_training"),
        },
        "popularity_histogram": popularity_histogram(training_popularity),
        "notice": PROCEDURAL_NOTICE if "procedural" in (dataset, source) else None,
    }


def _describe_input(audio_input: Any) -> str:
    if not isinstance(audio_input, dict) or audio_input.get("kind") in (None, "whole_file"):
        return "the whole song"
    seconds = audio_input.get("seconds")
    offset = audio_input.get("offset")
    where = "at an unknown position" if offset is None else f"starting at {offset:g} s"
    return f"a {seconds:g} s window {where}" if seconds else "a window of the song"


def _test_metrics(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The test metrics, each with its confidence interval where the bundle records one.

    Intervals are read from ``metrics["test_ci"][name]`` (``[low, high]``) or from a metric
    given as ``{"value", "low", "high"}``.
    """
    test = metrics.get("test") or {}
    intervals = metrics.get("test_ci") or {}
    rows = []
    for name in [m for m in CARD_METRICS if m in test] + [
        m for m in test if m not in CARD_METRICS and not m.endswith("_01") and m != "n"
    ]:
        value = test[name]
        ci = intervals.get(name)
        if isinstance(value, dict):
            ci = [value.get("low"), value.get("high")]
            value = value.get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        rows.append({"name": name, "value": float(value), "ci": ci})
    return rows


def popularity_histogram(values: np.ndarray | None, *, bins: int = 20) -> dict[str, Any] | None:
    """Counts of training songs per popularity bin (0-100 in ``bins`` equal bins)."""
    if values is None or len(values) == 0:
        return None
    counts, edges = np.histogram(np.clip(values, 0, 100), bins=bins, range=(0.0, 100.0))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
