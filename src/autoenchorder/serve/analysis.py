"""What the page shows beside a score: interval, moments, where two versions differ.

Plain functions of the scoring processes' answers: the 95 % interval of a score, its strongest
and weakest moments, and where in time two versions of a song differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: z of a two-sided 95 % normal interval.
Z95: float = 1.959964
#: Moments listed on each side.
N_MOMENTS: int = 3
#: Loudness gap (dB) from which two versions count as different at a moment.
LOUDNESS_GAP_DB: float = 3.0
#: Segments the comparison over time is measured in.
COMPARE_SEGMENTS: int = 120


def interval(popularity: float | None, sd: float | None) -> list[float] | None:
    """The 95 % interval ``popularity +- 1.96 sd``, clipped to 0-100 (None without an sd)."""
    if popularity is None or sd is None or not math.isfinite(sd) or not math.isfinite(popularity):
        return None
    low, high = popularity - Z95 * sd, popularity + Z95 * sd
    return [round(max(0.0, low), 2), round(min(100.0, high), 2)]


def moments(prediction: dict[str, Any], *, n: int = N_MOMENTS) -> dict[str, Any]:
    """The stretches of the song that raised and lowered its score most.

    From the per-frame contributions when the model has a sequence part (occlusion: how much
    the score drops when that stretch is blanked out); otherwise from the timeline windows'
    own scores when there are several.

    Returns
    -------
    dict
        ``source`` (``"contributions"``, ``"windows"`` or None), ``strongest`` and
        ``weakest``: lists of ``{"start", "end", "value"}`` (popularity points: a contribution,
        or a window's score).
    """
    contributions = prediction.get("contributions") or []
    if contributions:
        items = [(c["start"], c["end"], float(c["contribution"])) for c in contributions]
        source = "contributions"
        positive = sorted((i for i in items if i[2] > 0), key=lambda i: -i[2])[:n]
        negative = sorted((i for i in items if i[2] < 0), key=lambda i: i[2])[:n]
    else:
        windows = [w for w in prediction.get("windows") or [] if w.get("popularity") is not None]
        if len(windows) < 2:
            return {"source": None, "strongest": [], "weakest": []}
        items = [(w["start"], w["end"], float(w["popularity"])) for w in windows]
        source = "windows"
        ranked = sorted(items, key=lambda i: -i[2])
        k = min(n, len(ranked) // 2)
        positive, negative = ranked[:k], ranked[::-1][:k]
    return {
        "source": source,
        "strongest": [_moment(i) for i in positive],
        "weakest": [_moment(i) for i in negative],
    }


def _moment(item: tuple[float, float, float]) -> dict[str, float]:
    start, end, value = item
    return {"start": round(float(start), 2), "end": round(float(end), 2), "value": round(value, 3)}


def paired_summary(difference: float, sd: float | None) -> dict[str, Any]:
    """The difference b - a with its paired 95 % interval and the chance b scores higher."""
    if sd is None or not math.isfinite(sd):
        return {"interval": None, "probability_b_higher": None}
    if sd <= 0:
        return {"interval": [difference, difference], "probability_b_higher": float(difference > 0)}
    low, high = difference - Z95 * sd, difference + Z95 * sd
    probability = 0.5 * (1.0 + math.erf(difference / (sd * math.sqrt(2.0))))
    return {
        "interval": [round(low, 2), round(high, 2)],
        "probability_b_higher": round(probability, 3),
    }


def differences_over_time(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Where in time two versions differ.

    Parameters
    ----------
    a, b : dict
        The scoring answers (``prediction`` and ``waveform``) of the two versions.

    Returns
    -------
    dict
        ``segments``: ``{"start", "end", "loudness_db"}`` (b minus a, RMS in dB) over the length
        both share; ``louder`` / ``quieter``: the stretches where b is more than
        :data:`LOUDNESS_GAP_DB` louder / quieter; ``windows``: the timeline windows at the same
        place in both, with both scores and the difference; ``contributions``: the same for
        the per-frame contributions (models with a sequence part).
    """
    shared = min(a["waveform"]["duration"], b["waveform"]["duration"])
    segments = _loudness_difference(a["waveform"], b["waveform"], shared)
    return {
        "duration": shared,
        "segments": segments,
        "louder": _runs(segments, lambda d: d > LOUDNESS_GAP_DB),
        "quieter": _runs(segments, lambda d: d < -LOUDNESS_GAP_DB),
        "windows": _matched(a["prediction"]["windows"], b["prediction"]["windows"], "popularity"),
        "contributions": _matched(
            a["prediction"]["contributions"], b["prediction"]["contributions"], "contribution"
        ),
    }


def _loudness_difference(
    wave_a: dict[str, Any], wave_b: dict[str, Any], shared: float
) -> list[dict[str, float]]:
    if shared <= 0:
        return []
    edges = np.linspace(0.0, shared, COMPARE_SEGMENTS + 1)
    level_a = _levels(wave_a, edges)
    level_b = _levels(wave_b, edges)
    return [
        {"start": round(float(lo), 2), "end": round(float(hi), 2), "loudness_db": round(d, 2)}
        for lo, hi, d in zip(edges[:-1], edges[1:], (level_b - level_a).tolist(), strict=True)
    ]


def _levels(wave: dict[str, Any], edges: np.ndarray) -> np.ndarray:
    """RMS level in dB of each segment between ``edges`` (seconds)."""
    rms = np.asarray(wave["rms"], dtype=np.float64)
    if rms.size == 0 or wave["duration"] <= 0:
        return np.full(len(edges) - 1, -120.0)
    times = (np.arange(rms.size) + 0.5) * wave["duration"] / rms.size
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = rms[(times >= lo) & (times < hi)]
        if inside.size == 0:  # a segment shorter than a waveform point: the nearest point
            inside = rms[[min(rms.size - 1, int(lo / wave["duration"] * rms.size))]]
        power = float(np.mean(inside**2))
        out.append(10.0 * math.log10(max(power, 1e-12)))
    return np.asarray(out)


def _runs(segments: Sequence[dict[str, float]], test: Any) -> list[dict[str, float]]:
    """Consecutive segments passing ``test`` merged into stretches ``{"start", "end"}``."""
    runs: list[dict[str, float]] = []
    for segment in segments:
        if not test(segment["loudness_db"]):
            continue
        if runs and abs(runs[-1]["end"] - segment["start"]) < 1e-6:
            runs[-1]["end"] = segment["end"]
        else:
            runs.append({"start": segment["start"], "end": segment["end"]})
    return runs


def _matched(
    items_a: Sequence[dict[str, Any]], items_b: Sequence[dict[str, Any]], key: str
) -> list[dict[str, float]]:
    """Items (windows, frames) at the same start time in both versions, with b - a."""
    by_start = {round(float(i["start"]), 1): i for i in items_a if i.get(key) is not None}
    out = []
    for item in items_b:
        other = by_start.get(round(float(item["start"]), 1))
        if other is None or item.get(key) is None:
            continue
        out.append(
            {
                "start": float(item["start"]),
                "end": float(item["end"]),
                "a": float(other[key]),
                "b": float(item[key]),
                "difference": float(item[key]) - float(other[key]),
            }
        )
    return out
