"""The popularity formula of the procedural corpus and its decomposition.

Every constant here is written out in docs/procedural-corpus.md; change both together.

``popularity = clip(BASE + song_level + genre + artist + temporal + noise, 0, 100)`` with

- ``song_level`` = ``TEMPO_POINTS * -min(((tempo - TEMPO_BEST) / TEMPO_WIDTH)^2, TEMPO_CAP)``
  ``+ MAJOR_POINTS * [mode == major] + BRIGHTNESS_POINTS * (brightness - 0.5)``
  ``+ REGULARITY_POINTS * (regularity - 0.5) + LOUDNESS_POINTS * (loudness_db - LOUDNESS_REF)``;
- ``genre`` = ``GENRE_POINTS[style]``;
- ``artist`` = ``ARTIST_POINTS * artist_effect`` (artist_effect ~ N(0, 1) per artist);
- ``temporal`` = order effects of the body sections, each minus its expectation over all
  orders of the same sections (so it is uncorrelated with anything a reordering keeps);
- ``noise`` = ``NOISE_POINTS * eps``, eps ~ N(0, 1) per song.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BASE = 36.6
TEMPO_BEST = 120.0
TEMPO_WIDTH = 22.0
TEMPO_CAP = 4.0
TEMPO_POINTS = 2.1
MAJOR_POINTS = 3.4
BRIGHTNESS_POINTS = 18.0
REGULARITY_POINTS = 15.0
LOUDNESS_REF = -14.0
LOUDNESS_POINTS = 0.75
GENRE_POINTS: dict[str, float] = {
    "synthpop": 4.0,
    "dance": 2.0,
    "rock": 0.0,
    "funk": 1.0,
    "lofi": -4.0,
    "ballad": -3.0,
}
ARTIST_POINTS = 2.0
#: Temporal terms: points per second the first chorus arrives earlier than expected, per
#: build that leads straight into a chorus, per return of the chorus after other sections.
FIRST_CHORUS_POINTS_PER_SECOND = 2.4
BUILD_INTO_CHORUS_POINTS = 17.0
CHORUS_RETURN_POINTS = 12.0
NOISE_POINTS = 6.5

#: Sections that frame a song (fixed first / last) and those whose order is drawn at random.
FRAME_SECTIONS: tuple[str, ...] = ("intro", "outro")
BODY_SECTIONS: tuple[str, ...] = ("verse", "build", "chorus", "bridge")


@dataclass(frozen=True)
class TemporalFeatures:
    """Order-dependent facts of an arrangement and their expectations over reorderings.

    Attributes
    ----------
    first_chorus_seconds, expected_first_chorus_seconds : float
        Onset of the first chorus, and its mean over all orders of the body sections.
    builds_into_chorus, expected_builds_into_chorus : float
        Builds immediately followed by a chorus, and the mean over orders.
    chorus_returns, expected_chorus_returns : float
        Separate runs of chorus sections minus one, and the mean over orders.
    """

    first_chorus_seconds: float
    expected_first_chorus_seconds: float
    builds_into_chorus: float
    expected_builds_into_chorus: float
    chorus_returns: float
    expected_chorus_returns: float


def split_body(sections: Sequence[str]) -> tuple[bool, list[str], bool]:
    """Split an arrangement into (has intro, body sections, has outro)."""
    sections = list(sections)
    has_intro = bool(sections) and sections[0] == "intro"
    has_outro = len(sections) > 1 and sections[-1] == "outro"
    body = sections[int(has_intro) : len(sections) - int(has_outro)]
    return has_intro, body, has_outro


def temporal_features(sections: Sequence[str], section_seconds: float) -> TemporalFeatures:
    """Measure the order effects of an arrangement.

    Parameters
    ----------
    sections : sequence of str
        Section names in playing order (optional ``"intro"`` first, optional ``"outro"`` last,
        body sections in between; at least one ``"chorus"``).
    section_seconds : float
        Length of every section, seconds.

    Returns
    -------
    TemporalFeatures
        Expectations are over uniformly random orders of the same body sections:
        ``E[first chorus index] = (m - c) / (c + 1)``, ``E[builds into chorus] = b c / m``,
        ``E[chorus runs] = c (m - c + 1) / m`` for m body sections, c choruses, b builds.
    """
    has_intro, body, _ = split_body(sections)
    m, c, b = len(body), body.count("chorus"), body.count("build")
    if c == 0:
        raise ValueError("an arrangement needs at least one chorus in its body")
    first = body.index("chorus")
    into = sum(
        1 for a, nxt in zip(body, body[1:], strict=False) if a == "build" and nxt == "chorus"
    )
    runs = sum(
        1 for i, s in enumerate(body) if s == "chorus" and (i == 0 or body[i - 1] != "chorus")
    )
    return TemporalFeatures(
        first_chorus_seconds=section_seconds * (has_intro + first),
        expected_first_chorus_seconds=section_seconds * (has_intro + (m - c) / (c + 1)),
        builds_into_chorus=float(into),
        expected_builds_into_chorus=b * c / m,
        chorus_returns=float(runs - 1),
        expected_chorus_returns=c * (m - c + 1) / m - 1.0,
    )


def song_level_points(
    *, tempo: float, mode: str, brightness: float, regularity: float, loudness_db: float
) -> float:
    """The song-level part of popularity (attributes a time average can see), in points."""
    tempo_term = -min(((tempo - TEMPO_BEST) / TEMPO_WIDTH) ** 2, TEMPO_CAP)
    return float(
        TEMPO_POINTS * tempo_term
        + MAJOR_POINTS * (mode == "major")
        + BRIGHTNESS_POINTS * (brightness - 0.5)
        + REGULARITY_POINTS * (regularity - 0.5)
        + LOUDNESS_POINTS * (loudness_db - LOUDNESS_REF)
    )


def temporal_points(features: TemporalFeatures) -> float:
    """The part of popularity only the order of the sections explains, in points."""
    return float(
        FIRST_CHORUS_POINTS_PER_SECOND
        * (features.expected_first_chorus_seconds - features.first_chorus_seconds)
        + BUILD_INTO_CHORUS_POINTS
        * (features.builds_into_chorus - features.expected_builds_into_chorus)
        + CHORUS_RETURN_POINTS * (features.chorus_returns - features.expected_chorus_returns)
    )


def popularity_decomposition(song: object) -> dict[str, float]:
    """Popularity of a song and its parts, from its generative parameters.

    Parameters
    ----------
    song : SongSpec-like
        Any object with attributes ``tempo, mode, brightness, regularity, loudness_db, style,
        artist_effect, noise, sections, section_seconds``.

    Returns
    -------
    dict of str to float
        ``base, song_level, genre, artist, temporal, noise`` (points), ``deterministic`` (their
        sum without noise), ``order_blind`` (``deterministic - temporal``: the best prediction
        that does not know the section order), ``unclipped`` and ``popularity`` (clipped to
        0-100), plus the raw temporal facts.
    """
    features = temporal_features(song.sections, song.section_seconds)
    parts = {
        "base": BASE,
        "song_level": song_level_points(
            tempo=song.tempo,
            mode=song.mode,
            brightness=song.brightness,
            regularity=song.regularity,
            loudness_db=song.loudness_db,
        ),
        "genre": GENRE_POINTS[song.style],
        "artist": ARTIST_POINTS * song.artist_effect,
        "temporal": temporal_points(features),
        "noise": NOISE_POINTS * song.noise,
    }
    deterministic = sum(v for k, v in parts.items() if k != "noise")
    unclipped = deterministic + parts["noise"]
    return {
        **parts,
        "deterministic": deterministic,
        "order_blind": deterministic - parts["temporal"],
        "unclipped": unclipped,
        "popularity": float(np.clip(unclipped, 0.0, 100.0)),
        "first_chorus_seconds": features.first_chorus_seconds,
        "expected_first_chorus_seconds": features.expected_first_chorus_seconds,
        "builds_into_chorus": features.builds_into_chorus,
        "expected_builds_into_chorus": features.expected_builds_into_chorus,
        "chorus_returns": features.chorus_returns,
        "expected_chorus_returns": features.expected_chorus_returns,
    }


def _r2(y: np.ndarray, prediction: np.ndarray) -> float:
    residual = np.sum((y - prediction) ** 2)
    total = np.sum((y - y.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def variance_report(decompositions: Sequence[dict[str, float]]) -> dict[str, float]:
    """Noise ceiling and temporal share over a corpus.

    Parameters
    ----------
    decompositions : sequence of dict
        Outputs of :func:`popularity_decomposition`, one per song.

    Returns
    -------
    dict of str to float
        ``mean``, ``sd`` of popularity; ``oracle_r2`` (R^2 of the clipped deterministic part:
        the noise ceiling); ``oracle_r2_analytic`` (``1 - NOISE_POINTS^2 / var(y)``);
        ``order_blind_r2`` (R^2 of the clipped deterministic part without the temporal terms,
        the best any order-blind predictor can do); ``temporal_only_r2`` (their difference);
        ``temporal_share`` (that difference over ``oracle_r2``); ``audio_ceiling_r2`` (R^2
        without the idiosyncratic artist effect, which no audio model can learn for an unseen
        artist); the variance of each part in points^2.
    """
    table = {key: np.array([d[key] for d in decompositions]) for key in decompositions[0]}
    y = table["popularity"]
    oracle = _r2(y, np.clip(table["deterministic"], 0, 100))
    blind = _r2(y, np.clip(table["order_blind"], 0, 100))
    audio = _r2(y, np.clip(table["deterministic"] - table["artist"], 0, 100))
    report = {
        "n": float(y.size),
        "mean": float(y.mean()),
        "sd": float(y.std(ddof=1)) if y.size > 1 else 0.0,
        "oracle_r2": oracle,
        "oracle_r2_analytic": float(1.0 - NOISE_POINTS**2 / y.var(ddof=1))
        if y.size > 1
        else float("nan"),
        "order_blind_r2": blind,
        "temporal_only_r2": oracle - blind,
        "temporal_share": (oracle - blind) / oracle if oracle > 0 else float("nan"),
        "audio_ceiling_r2": audio,
    }
    for part in ("song_level", "genre", "artist", "temporal", "noise"):
        report[f"var_{part}"] = float(table[part].var(ddof=1)) if y.size > 1 else 0.0
    return report
