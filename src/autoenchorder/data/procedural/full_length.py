"""Full-length songs (2-5 min) whose popularity depends in part on what a 30 s preview misses.

A full-length song (:class:`~.spec.FullLengthSpec`) is in pop form, sections of five musicnn
patches (14.96 s)::

    intro | verse verse | [build] chorus chorus | (verse.. [build] chorus chorus).. |
    bridge [bridge] | final final.. | outro

The *early* part (intro to the last early chorus) holds about 60 % of the sections, the
*late* part (bridge, final choruses, outro) the other 40 %. Two 30 s previews are defined:

- ``"start"``: 0-30 s, the intro and the first verse (no chorus);
- ``"spotify"``: 30 s from the first chorus (the chorus pair), like the 30 s previews
  Spotify serves, which start inside the song near the hook rather than at 0:00.

Popularity (every constant is in docs/procedural-corpus.md)::

    popularity = clip(FULL_BASE + sound + genre + hook + lift + artist + noise, 0, 100)

- ``sound`` = ``FULL_LOUDNESS_POINTS * (loudness_db + 14) + FULL_BRIGHTNESS_POINTS *
  (brightness - 0.5)``: heard everywhere (both previews);
- ``genre`` = ``GENRE_POINTS[style]`` (heard everywhere through the style's sound);
- ``hook`` = ``HOOK_POINTS * (hook_strength - 0.5)``: a bell doubling the hook in every chorus
  (the Spotify-like preview hears it, the preview from the start does not);
- ``lift`` = ``LIFT_POINTS * (final_lift - 0.5)``: a shaker and a high pad from the bridge to
  the end (no preview hears it, only the whole song);
- ``artist`` = ``ARTIST_POINTS * artist_effect``, ``noise`` = ``FULL_NOISE_POINTS * eps``.

``hook_strength`` and ``final_lift`` are uniform on [0, 1] and independent of everything else,
so the best prediction from a preview is the expectation of the clipped deterministic part
over what the preview does not hear (:func:`preview_expectations`): the preview ceilings of
:func:`full_length_report` are exact, up to a 256-point quadrature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.signal import butter, sosfilt

from autoenchorder.data.procedural.arrangement import (
    SONG_TAIL_SECONDS,
    TAIL_SECONDS,
    render_section,
    section_degrees,
    section_envelope,
    section_grid,
    section_samples,
)
from autoenchorder.data.procedural.instruments import NoteCache
from autoenchorder.data.procedural.mix import limit, rms_db
from autoenchorder.data.procedural.popularity import ARTIST_POINTS, GENRE_POINTS, _r2
from autoenchorder.data.procedural.spec import FullLengthSpec
from autoenchorder.data.procedural.theory import scale_pitch, triad

#: Sections of a full-length song last five musicnn patches (14.96 s).
FULL_PATCHES_PER_SECTION = 5
#: Default song lengths of a full-length corpus, seconds (9 to 20 sections).
FULL_MIN_DURATION = 120.0
FULL_MAX_DURATION = 300.0
#: Fewest sections a full-length song has: intro, two verses, a chorus pair and a verse (the
#: early part), then bridge, final chorus, outro.
FULL_MIN_SECTIONS = 9
#: Share of the sections in the late part (bridge, final choruses, outro), at least 3.
LATE_SHARE = 0.4
#: Length of a preview, seconds.
PREVIEW_SECONDS = 30.0
#: The preview positions: the Spotify-like one (from the first chorus) and from the start.
PREVIEW_POSITIONS: tuple[str, ...] = ("spotify", "start")
#: The first verse is mastered this many dB below ``loudness_db`` (choruses are louder, so the
#: whole song's RMS lands near ``loudness_db``).
VERSE_BELOW_DB = 6.0

#: Gains of the hidden layers at full strength: the hook bell, the shaker and each pad note.
HOOK_BELL_GAIN = 0.8
LIFT_SHAKER_GAIN = 1.2
LIFT_PAD_GAIN = 0.12

FULL_BASE = 40.0
FULL_LOUDNESS_POINTS = 2.0
FULL_LOUDNESS_REF = -14.0
FULL_BRIGHTNESS_POINTS = 30.0
HOOK_POINTS = 20.0
LIFT_POINTS = 30.0
FULL_NOISE_POINTS = 3.0

#: Which hidden qualities each way of listening misses.
MISSED_BY: dict[str, tuple[str, ...]] = {
    "whole": (),
    "spotify": ("final_lift",),
    "start": ("hook_strength", "final_lift"),
}

_QUADRATURE = (np.arange(256) + 0.5) / 256  # midpoints of U(0, 1)


# ------------------------------------------------------------------------ arrangement
def full_arrangement(rng: np.random.Generator, n_sections: int) -> list[str]:
    """Sections of a full-length song in playing order.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_sections : int
        At least :data:`FULL_MIN_SECTIONS`.

    Returns
    -------
    list of str
        ``intro, verse, verse, [build], chorus, chorus, verse, ...`` (early part, at least 6
        sections: a 30 s preview from the start or from the first chorus ends inside it), then
        ``bridge`` (two when the late part has 6 sections or more), ``final`` choruses,
        ``outro``.
    """
    if n_sections < FULL_MIN_SECTIONS:
        raise ValueError(f"a full-length song needs {FULL_MIN_SECTIONS} sections, got {n_sections}")
    late = max(3, min(int(round(LATE_SHARE * n_sections)), n_sections - 6))
    bridges = 2 if late >= 6 else 1
    sections = ["intro", "verse", "verse"]
    left = n_sections - late - len(sections)
    first = True
    while left > 0:
        if not first:
            verses = min(left, int(rng.integers(1, 3)))
            sections += ["verse"] * verses
            left -= verses
        if left >= 3 + first and rng.random() < 0.5:  # a verse follows the first choruses
            sections.append("build")
            left -= 1
        choruses = min(left, 2)
        sections += ["chorus"] * choruses
        left -= choruses
        first = False
    return sections + ["bridge"] * bridges + ["final"] * (late - bridges - 1) + ["outro"]


def late_start_seconds(spec: FullLengthSpec) -> float:
    """When the late part (the first bridge) starts, seconds."""
    return spec.sections.index("bridge") * spec.section_seconds


def preview_span(spec: FullLengthSpec, position: str) -> tuple[float, float]:
    """``(start, length)`` in seconds of a song's 30 s preview at ``position``.

    Parameters
    ----------
    spec : FullLengthSpec
    position : {"spotify", "start"}
        ``"spotify"``: from the first chorus; ``"start"``: from 0 s.
    """
    if position == "start":
        return 0.0, PREVIEW_SECONDS
    if position == "spotify":
        return spec.sections.index("chorus") * spec.section_seconds, PREVIEW_SECONDS
    raise ValueError(f"unknown preview position {position!r}; known: {PREVIEW_POSITIONS}")


# ------------------------------------------------------------------------ rendering
def _hook_bell(
    spec: FullLengthSpec, degrees: list[int], sr: int, cache: NoteCache, rng: np.random.Generator
) -> np.ndarray:
    """The hook on a bell two octaves above the lead, at ``HOOK_BELL_GAIN * hook_strength``."""
    grid = section_grid(spec, sr)
    out = np.zeros(section_samples(spec, sr) + int(TAIL_SECONDS * sr))
    gain = HOOK_BELL_GAIN * spec.hook_strength
    for phrase in range(0, len(degrees), 2):
        for s, length, degree in spec.hook:
            step = 16 * phrase + s
            if step >= grid.n_steps:
                break
            pitch = scale_pitch(
                tonic=spec.tonic, mode=spec.mode, degree=degrees[step // 16] + degree, octave=6
            )
            note = cache.note("keys", pitch, grid.gate(step, length))
            start = max(0, grid.sample(step) + int(rng.integers(-40, 41)))
            end = min(out.size, start + note.size)
            out[start:end] += gain * note[: end - start]
    return out


def _lift_layer(
    spec: FullLengthSpec, degrees: list[int], sr: int, cache: NoteCache, rng: np.random.Generator
) -> np.ndarray:
    """A shaker on every 16th (5-10 kHz noise) and a high pad, at ``final_lift``."""
    grid = section_grid(spec, sr)
    out = np.zeros(section_samples(spec, sr) + int(TAIL_SECONDS * sr))
    burst = int(0.045 * sr)
    noise = sosfilt(
        butter(2, (5000.0, min(10000.0, 0.45 * sr)), btype="bandpass", fs=sr, output="sos"),
        rng.uniform(-1.0, 1.0, burst),
    )
    shake = noise * np.exp(-np.arange(burst) / (0.012 * sr))
    for step in range(grid.n_steps):
        accent = 1.0 if step % 2 else 0.55
        start = grid.sample(step)
        end = min(out.size, start + burst)
        out[start:end] += LIFT_SHAKER_GAIN * accent * shake[: end - start]
    for i, degree in enumerate(degrees):
        for pitch in triad(tonic=spec.tonic, mode=spec.mode, degree=degree, octave=6):
            note = cache.note("pad", pitch, grid.gate(16 * i, 16))
            start = grid.sample(16 * i)
            end = min(out.size, start + note.size)
            out[start:end] += LIFT_PAD_GAIN * note[: end - start]
    return spec.final_lift * out


def render_full_song(spec: FullLengthSpec, *, sr: int) -> np.ndarray:
    """Render and master a full-length song.

    Parameters
    ----------
    spec : FullLengthSpec
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray, float32, shape (len(sections) * section samples + SONG_TAIL_SECONDS * sr,)
        Mono; the first verse's RMS is ``loudness_db - VERSE_BELOW_DB``; peaks at most -1 dBFS.
    """
    cache = NoteCache(sr, brightness=spec.brightness)
    n = section_samples(spec, sr)
    total = n + int(TAIL_SECONDS * sr)
    song = np.zeros(len(spec.sections) * n + int(TAIL_SECONDS * sr))
    blocks: dict[str, np.ndarray] = {}
    for i, name in enumerate(spec.sections):
        if name not in blocks:
            blocks[name] = _full_section(spec, name, sr=sr, cache=cache, n=n, total=total)
        song[i * n : i * n + total] += blocks[name]
    del blocks
    song = song[: len(spec.sections) * n + int(SONG_TAIL_SECONDS * sr)]
    fade = int(0.05 * sr)
    song[-fade:] *= np.linspace(1.0, 0.0, fade)
    first_verse = spec.sections.index("verse")
    reference = (first_verse * n, n)
    song = sosfilt(butter(2, 30.0, btype="highpass", fs=sr, output="sos"), song)  # drops the mix
    return _master(song, sr, spec.loudness_db - VERSE_BELOW_DB, reference)


def _full_section(
    spec: FullLengthSpec, name: str, *, sr: int, cache: NoteCache, n: int, total: int
) -> np.ndarray:
    """One distinct section of a full-length song, its hidden layers added."""
    base = "chorus" if name == "final" else name
    block = render_section(spec, base, sr=sr, cache=cache)
    degrees = section_degrees(spec, base, sr)
    envelope = section_envelope(base, n, total)
    if base == "chorus":
        rng = np.random.default_rng([spec.seed, 5, spec.index])
        block += envelope * _hook_bell(spec, degrees, sr, cache, rng)
    if name in ("bridge", "final", "outro"):
        rng = np.random.default_rng([spec.seed, 6, spec.index])
        block += envelope * _lift_layer(spec, degrees, sr, cache, rng)
    return block


def _master(y: np.ndarray, sr: int, reference_db: float, reference: tuple[int, int]) -> np.ndarray:
    """Gain a high-passed mix (in place) so that ``y[reference]`` has RMS ``reference_db``; limit.

    The gain depends on the first verse only, so what plays later (the hidden late part) does
    not change the level of the early part a preview hears.
    """
    first, length = reference
    level = rms_db(y[first : first + length])
    if not np.isfinite(level):
        return y.astype(np.float32)
    y *= 10 ** ((reference_db - level) / 20.0)  # in place: a 5-minute song is 53 MB a copy
    out = limit(y)
    shortfall = reference_db - rms_db(out[first : first + length])
    if shortfall > 0.1:
        y *= 10 ** (shortfall / 20.0)
        out = limit(y)
    del y
    return out.astype(np.float32)


# ------------------------------------------------------------------------ popularity
def full_length_decomposition(song: FullLengthSpec) -> dict[str, float]:
    """Popularity of a full-length song, its parts, and its best predictions from previews.

    Parameters
    ----------
    song : FullLengthSpec

    Returns
    -------
    dict of str to float
        ``base, sound, genre, hook, lift, artist, noise`` (points), ``deterministic`` (all but
        noise), ``unclipped``, ``popularity`` (clipped to 0-100); ``expected_whole``,
        ``expected_spotify``, ``expected_start``: the best prediction of each way of listening
        (:func:`preview_expectations`), and ``*_audio`` the same without the artist effect;
        ``spotify_offset_seconds``, ``late_start_seconds``, ``duration``.
    """
    parts = {
        "base": FULL_BASE,
        "sound": FULL_LOUDNESS_POINTS * (song.loudness_db - FULL_LOUDNESS_REF)
        + FULL_BRIGHTNESS_POINTS * (song.brightness - 0.5),
        "genre": GENRE_POINTS[song.style],
        "hook": HOOK_POINTS * (song.hook_strength - 0.5),
        "lift": LIFT_POINTS * (song.final_lift - 0.5),
        "artist": ARTIST_POINTS * song.artist_effect,
        "noise": FULL_NOISE_POINTS * song.noise,
    }
    parts = {k: float(v) for k, v in parts.items()}
    deterministic = sum(v for k, v in parts.items() if k != "noise")
    unclipped = deterministic + parts["noise"]
    out = {
        **parts,
        "deterministic": deterministic,
        "unclipped": unclipped,
        "popularity": float(np.clip(unclipped, 0.0, 100.0)),
    }
    out.update(preview_expectations(parts))
    out.update({f"{k}_audio": v for k, v in preview_expectations({**parts, "artist": 0.0}).items()})
    out["spotify_offset_seconds"] = preview_span(song, "spotify")[0]
    out["late_start_seconds"] = late_start_seconds(song)
    out["duration"] = song.duration
    return out


def preview_expectations(parts: dict[str, float]) -> dict[str, float]:
    """The best prediction (in squared error) of each way of listening, from the parts.

    A listener who misses ``hook`` and / or ``lift`` (:data:`MISSED_BY`) knows the rest; the
    best it can predict is ``E[clip(deterministic)]`` over the missed qualities, which are
    uniform on [0, 1] and independent of the rest. The expectation is a midpoint quadrature
    (256 points per missed quality).

    Parameters
    ----------
    parts : dict of str to float
        ``base, sound, genre, hook, lift, artist`` in points (``noise`` is ignored).

    Returns
    -------
    dict of str to float
        ``expected_whole`` (= ``clip(deterministic)``), ``expected_spotify``,
        ``expected_start``.
    """
    known = sum(parts[k] for k in ("base", "sound", "genre", "artist"))
    hook = HOOK_POINTS * (_QUADRATURE - 0.5)
    lift = LIFT_POINTS * (_QUADRATURE - 0.5)
    return {
        "expected_whole": float(np.clip(known + parts["hook"] + parts["lift"], 0, 100)),
        "expected_spotify": float(np.clip(known + parts["hook"] + lift, 0, 100).mean()),
        "expected_start": float(np.clip(known + hook[:, None] + lift[None, :], 0, 100).mean()),
    }


def full_length_report(decompositions: Sequence[dict[str, float]]) -> dict[str, float]:
    """The ceilings of a full-length corpus: oracle R^2 of the whole song and of each preview.

    Parameters
    ----------
    decompositions : sequence of dict
        :func:`full_length_decomposition` outputs, one per song.

    Returns
    -------
    dict of str to float
        ``n``, ``mean``, ``sd``; ``oracle_r2`` (the whole song's noise ceiling: R^2 of
        ``clip(deterministic)``), ``spotify_oracle_r2`` and ``start_oracle_r2`` (R^2 of the best
        prediction from the preview at the first chorus, and from the start); the same without
        the artist effect, which no audio model learns for an unseen artist
        (``audio_ceiling_r2``, ``spotify_audio_ceiling_r2``, ``start_audio_ceiling_r2``);
        ``spotify_missed_share`` (the share of the whole song's ceiling the Spotify-like
        preview cannot reach: ``1 - spotify_oracle_r2 / oracle_r2``); the variance of each
        part, points^2.
    """
    table = {key: np.array([d[key] for d in decompositions]) for key in decompositions[0]}
    y = table["popularity"]
    report = {
        "n": float(y.size),
        "mean": float(y.mean()),
        "sd": float(y.std(ddof=1)) if y.size > 1 else 0.0,
    }
    for listener in ("whole", "spotify", "start"):
        prefix = "" if listener == "whole" else f"{listener}_"
        report[f"{prefix}oracle_r2"] = _r2(y, table[f"expected_{listener}"])
        report[f"{prefix}audio_ceiling_r2"] = _r2(y, table[f"expected_{listener}_audio"])
    whole = report["oracle_r2"]
    report["spotify_missed_share"] = (
        1.0 - report["spotify_oracle_r2"] / whole if whole > 0 else float("nan")
    )
    for part in ("sound", "genre", "hook", "lift", "artist", "noise"):
        report[f"var_{part}"] = float(table[part].var(ddof=1)) if y.size > 1 else 0.0
    return report


def formula_constants() -> dict[str, float]:
    """Every constant of the full-length formula, for truth.json."""
    names = [
        "FULL_BASE",
        "FULL_LOUDNESS_POINTS",
        "FULL_LOUDNESS_REF",
        "FULL_BRIGHTNESS_POINTS",
        "HOOK_POINTS",
        "LIFT_POINTS",
        "ARTIST_POINTS",
        "GENRE_POINTS",
        "FULL_NOISE_POINTS",
        "VERSE_BELOW_DB",
        "LATE_SHARE",
        "PREVIEW_SECONDS",
    ]
    return {name: globals()[name] for name in names}
