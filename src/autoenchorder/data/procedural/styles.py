"""Style clusters ("genres") and the artists sampled from them.

A style fixes the ranges a song's attributes are drawn from (tempo, mode, timbres, groove,
brightness, tightness, loudness); an artist is one point inside a style (its own centres and
instrument choices); a song is drawn around its artist. Artists therefore form audible clusters,
which is what grouped-by-artist splits are about.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Style:
    """A style cluster: the distribution artists of this style are drawn from.

    Attributes
    ----------
    name : str
        Style name.
    weight : float
        Relative frequency of artists of this style.
    tempo : tuple of float
        Range of artist tempo centres, BPM.
    major_probability : float
        Mean probability that a song is in a major key.
    leads, chords : tuple of str
        Lead and chord instruments artists choose from.
    drum_families : tuple of str
        Groove families (keys of :data:`drums.PATTERNS`).
    kits : tuple of str
        Drum kits (keys of :data:`drums.KITS`).
    brightness, regularity : float
        Mean artist centres in [0, 1].
    loudness : float
        Mean artist loudness centre, dBFS RMS.
    """

    name: str
    weight: float
    tempo: tuple[float, float]
    major_probability: float
    leads: tuple[str, ...]
    chords: tuple[str, ...]
    drum_families: tuple[str, ...]
    kits: tuple[str, ...]
    brightness: float
    regularity: float
    loudness: float


STYLES: tuple[Style, ...] = (
    Style(
        "synthpop",
        0.22,
        (108, 128),
        0.7,
        ("saw_lead", "square_lead"),
        ("keys", "epiano"),
        ("four_floor", "backbeat"),
        ("electronic",),
        0.65,
        0.8,
        -13.0,
    ),
    Style(
        "dance",
        0.15,
        (120, 132),
        0.5,
        ("saw_lead",),
        ("pluck", "keys"),
        ("four_floor",),
        ("electronic",),
        0.75,
        0.85,
        -11.5,
    ),
    Style(
        "rock",
        0.18,
        (95, 150),
        0.6,
        ("square_lead", "pluck"),
        ("pluck", "keys"),
        ("backbeat",),
        ("acoustic",),
        0.55,
        0.6,
        -13.0,
    ),
    Style(
        "funk",
        0.15,
        (92, 118),
        0.5,
        ("square_lead", "epiano"),
        ("epiano",),
        ("breakbeat",),
        ("acoustic", "electronic"),
        0.5,
        0.5,
        -14.0,
    ),
    Style(
        "lofi",
        0.15,
        (70, 92),
        0.35,
        ("epiano", "pluck"),
        ("epiano", "keys"),
        ("halftime", "breakbeat"),
        ("lofi",),
        0.3,
        0.45,
        -17.0,
    ),
    Style(
        "ballad",
        0.15,
        (68, 88),
        0.55,
        ("epiano", "pluck", "square_lead"),
        ("keys",),
        ("halftime", "backbeat"),
        ("acoustic", "lofi"),
        0.35,
        0.65,
        -16.0,
    ),
)

STYLE_BY_NAME: dict[str, Style] = {style.name: style for style in STYLES}


@dataclass(frozen=True)
class Artist:
    """One artist: a style and the centres its songs are drawn around.

    Attributes
    ----------
    name : str
        Artist key (``"artist_0007"``).
    style : str
        Style name.
    tempo, major_probability, brightness, regularity, loudness : float
        Centres of the artist's songs.
    lead, chords, drum_family, kit : str
        The artist's sound.
    effect : float
        The artist's idiosyncratic popularity effect, standard normal (scaled by the formula).
    """

    name: str
    style: str
    tempo: float
    major_probability: float
    brightness: float
    regularity: float
    loudness: float
    lead: str
    chords: str
    drum_family: str
    kit: str
    effect: float


def sample_artist(seed: int, index: int) -> Artist:
    """Draw artist number ``index`` of a corpus seed (independent of the corpus size).

    Parameters
    ----------
    seed : int
        Corpus seed.
    index : int
        Artist number.

    Returns
    -------
    Artist
    """
    rng = np.random.default_rng([seed, 1, index])
    weights = np.array([style.weight for style in STYLES])
    style = STYLES[rng.choice(len(STYLES), p=weights / weights.sum())]
    return Artist(
        name=f"artist_{index:04d}",
        style=style.name,
        tempo=float(rng.uniform(*style.tempo)),
        major_probability=float(np.clip(style.major_probability + rng.normal(0, 0.15), 0.05, 0.95)),
        brightness=float(np.clip(style.brightness + rng.normal(0, 0.12), 0.05, 0.95)),
        regularity=float(np.clip(style.regularity + rng.normal(0, 0.12), 0.05, 0.98)),
        loudness=float(style.loudness + rng.normal(0, 1.5)),
        lead=str(rng.choice(style.leads)),
        chords=str(rng.choice(style.chords)),
        drum_family=str(rng.choice(style.drum_families)),
        kit=str(rng.choice(style.kits)),
        effect=float(rng.normal()),
    )


def artist_of_songs(seed: int, n_songs: int) -> np.ndarray:
    """Which artist each song belongs to: consecutive blocks of 3 to 14 songs.

    The block sizes come from the seed alone, so the first songs of a larger corpus belong to
    the same artists as in a smaller one.

    Parameters
    ----------
    seed : int
        Corpus seed.
    n_songs : int
        Number of songs.

    Returns
    -------
    np.ndarray, int64, shape (n_songs,)
        Artist number of each song.
    """
    rng = np.random.default_rng([seed, 0])
    owners: list[int] = []
    artist = 0
    while len(owners) < n_songs:
        owners.extend([artist] * int(rng.integers(3, 15)))
        artist += 1
    return np.asarray(owners[:n_songs], dtype=np.int64)
