"""Sections, melodies and rendering a song from its :class:`~.spec.SongSpec`.

Each distinct section of a song is rendered once (with its own seeded humanisation) and
copied wherever it occurs, so two songs that differ only in the order of their sections are
made of the same audio blocks: their time averages agree and only their order differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from autoenchorder.data.procedural.drums import render_drums
from autoenchorder.data.procedural.instruments import NoteCache
from autoenchorder.data.procedural.mix import master
from autoenchorder.data.procedural.spec import SongSpec
from autoenchorder.data.procedural.theory import scale_pitch, triad

#: Every section name, in a fixed order (its position seeds the section's humanisation).
SECTION_NAMES: tuple[str, ...] = ("intro", "verse", "build", "chorus", "bridge", "outro")

#: Seconds of release tail rendered after each section and after the song.
TAIL_SECONDS = 1.2
SONG_TAIL_SECONDS = 0.3


@dataclass(frozen=True)
class SectionRecipe:
    """How a section sounds.

    Attributes
    ----------
    energy : tuple of float
        Gain at the start and end of the section (a ramp; chorus is loudest).
    openness : tuple of float
        Filter opening at start and end in [0, 1] (scaled by the song's brightness).
    pad : bool
        Sustained pad chords.
    chords : str
        Accompaniment: ``"none"``, ``"stabs"`` (quarters), ``"eighths"``, ``"arp"``, ``"hold"``.
    bass : str
        ``"none"``, ``"quarters"`` or ``"eighths"`` on the chord root.
    drums : str
        Drum variant (see :data:`drums.DRUM_VARIANTS`).
    melody : str
        ``"none"``, ``"verse"`` (verse motif, low, soft) or ``"hook"`` (the hook, high,
        doubled an octave up).
    riser : bool
        A rising noise sweep (the build).
    """

    energy: tuple[float, float]
    openness: tuple[float, float]
    pad: bool
    chords: str
    bass: str
    drums: str
    melody: str
    riser: bool = False


RECIPES: dict[str, SectionRecipe] = {
    "intro": SectionRecipe((0.35, 0.45), (0.3, 0.4), True, "arp", "none", "none", "none"),
    "verse": SectionRecipe(
        (0.55, 0.55), (0.45, 0.45), False, "stabs", "quarters", "light", "verse"
    ),
    "build": SectionRecipe(
        (0.45, 0.95), (0.3, 1.0), False, "eighths", "eighths", "build", "none", True
    ),
    "chorus": SectionRecipe((1.0, 1.0), (1.0, 1.0), True, "stabs", "eighths", "full", "hook"),
    "bridge": SectionRecipe((0.5, 0.5), (0.5, 0.5), True, "arp", "quarters", "halftime", "none"),
    "outro": SectionRecipe((0.45, 0.05), (0.4, 0.2), True, "hold", "none", "none", "none"),
}


@dataclass(frozen=True)
class Grid:
    """A section's 16th-note grid.

    Attributes
    ----------
    n_steps : int
        16th notes in the section (4 per beat; a last bar may be short).
    step : float
        Samples per 16th note.
    """

    n_steps: int
    step: float

    @property
    def n_bars(self) -> int:
        """Bars begun in the section (the last may be short)."""
        return -(-self.n_steps // 16)

    def sample(self, step_index: int) -> int:
        """Sample position of a step."""
        return int(round(step_index * self.step))

    def gate(self, start_step: int, length_steps: int) -> int:
        """Held samples of a note, cut at the section's end."""
        return max(1, int(round(min(length_steps, self.n_steps - start_step) * self.step)))


def _place(out: np.ndarray, start: int, note: np.ndarray, gain: float) -> None:
    if start >= out.size:
        return
    end = min(out.size, start + note.size)
    out[start:end] += gain * note[: end - start]


def _humanise(
    rng: np.random.Generator, regularity: float, sr: int, count: int
) -> tuple[np.ndarray, np.ndarray]:
    looseness = 1.0 - regularity
    shifts = np.round(rng.normal(0.0, 0.012 * looseness * sr, count)).astype(int)
    gains = np.clip(rng.normal(1.0, 0.2 * looseness, count), 0.3, 1.4)
    return shifts, gains


def _chord_events(recipe: SectionRecipe, chord: tuple[int, ...]) -> list[tuple[int, int, tuple]]:
    """(step in bar, length in steps, pitches) of the accompaniment in one bar."""
    if recipe.chords == "none":
        return []
    if recipe.chords == "hold":
        return [(0, 16, chord)]
    if recipe.chords == "arp":
        return [(s, 2, (chord[(s // 2) % 3] + 12 * ((s // 6) % 2),)) for s in range(0, 16, 2)]
    spacing = 4 if recipe.chords == "stabs" else 2
    return [(s, spacing - 1, chord) for s in range(0, 16, spacing)]


def _chord_track(
    spec: SongSpec,
    recipe: SectionRecipe,
    degrees: list[int],
    grid: Grid,
    cache: NoteCache,
    rng: np.random.Generator,
    out: np.ndarray,
) -> None:
    """Accompaniment chords (and pad) on each bar's chord."""
    for i, degree in enumerate(degrees):
        first = 16 * i
        if recipe.pad:
            for pitch in triad(tonic=spec.tonic, mode=spec.mode, degree=degree, octave=3):
                note = cache.note("pad", pitch, grid.gate(first, 16))
                _place(out, grid.sample(first), note, 0.16)
        chord = triad(tonic=spec.tonic, mode=spec.mode, degree=degree, octave=4)
        events = [e for e in _chord_events(recipe, chord) if first + e[0] < grid.n_steps]
        shifts, gains = _humanise(rng, spec.regularity, cache.sr, len(events))
        for (s, length, pitches), shift, gain in zip(events, shifts, gains, strict=True):
            start = max(0, grid.sample(first + s) + shift)
            for pitch in pitches:
                note = cache.note(spec.chords, pitch, grid.gate(first + s, length))
                _place(out, start, note, 0.2 * gain / len(pitches) ** 0.5)


def _bass_track(
    spec: SongSpec,
    recipe: SectionRecipe,
    degrees: list[int],
    grid: Grid,
    cache: NoteCache,
    rng: np.random.Generator,
    out: np.ndarray,
) -> None:
    if recipe.bass == "none":
        return
    spacing = 4 if recipe.bass == "quarters" else 2
    for i, degree in enumerate(degrees):
        root = scale_pitch(tonic=spec.tonic, mode=spec.mode, degree=degree, octave=2)
        steps = [16 * i + s for s in range(0, 16, spacing) if 16 * i + s < grid.n_steps]
        shifts, gains = _humanise(rng, spec.regularity, cache.sr, len(steps))
        for step, shift, gain in zip(steps, shifts, gains, strict=True):
            note = cache.note("bass", root, grid.gate(step, spacing - 1))
            _place(out, max(0, grid.sample(step) + shift), note, 0.4 * gain)


def _melody_track(
    spec: SongSpec,
    recipe: SectionRecipe,
    degrees: list[int],
    grid: Grid,
    cache: NoteCache,
    rng: np.random.Generator,
    out: np.ndarray,
) -> None:
    if recipe.melody == "none":
        return
    motif, span, octave, gain = (
        (spec.hook, 2, 5, 0.3) if recipe.melody == "hook" else (spec.verse_motif, 1, 4, 0.2)
    )
    for phrase in range(0, len(degrees), span):
        shifts, gains = _humanise(rng, spec.regularity, cache.sr, len(motif))
        for (s, length, degree), shift, g in zip(motif, shifts, gains, strict=True):
            step = 16 * phrase + s
            if step >= grid.n_steps:
                break
            chord_root = degrees[step // 16]
            pitch = scale_pitch(
                tonic=spec.tonic, mode=spec.mode, degree=chord_root + degree, octave=octave
            )
            start = max(0, grid.sample(step) + shift)
            note = cache.note(spec.lead, pitch, grid.gate(step, length))
            _place(out, start, note, gain * g)
            if recipe.melody == "hook":
                _place(
                    out,
                    start,
                    cache.note(spec.lead, pitch + 12, grid.gate(step, length)),
                    0.4 * gain * g,
                )


def _ramp(values: tuple[float, float], n: int, total: int) -> np.ndarray:
    ramp = np.full(total, values[1])
    ramp[:n] = np.linspace(values[0], values[1], n)
    return ramp


def _lowpass(y: np.ndarray, sr: int, cutoff: float) -> np.ndarray:
    return sosfilt(butter(2, min(0.45 * sr, cutoff), fs=sr, output="sos"), y)


def _filtered(y: np.ndarray, sr: int, brightness: float, openness: np.ndarray) -> np.ndarray:
    """Low-pass the melodic bus; a moving filter is a crossfade of a dark and a bright copy.

    The cut-off is ``600 + 9000 * brightness * openness`` Hz.
    """
    low, high = float(openness.min()), float(openness.max())
    dark = _lowpass(y, sr, 600.0 + 9000.0 * brightness * low)
    if high - low < 1e-6:
        return dark
    bright = _lowpass(y, sr, 600.0 + 9000.0 * brightness * high)
    mix = (openness - low) / (high - low)
    return dark * (1.0 - mix) + bright * mix


def section_samples(spec: SongSpec, sr: int) -> int:
    """Samples per section (every section of a song has the same length)."""
    return int(round(spec.section_seconds * sr))


def section_grid(spec: SongSpec, sr: int) -> Grid:
    """The 16th-note grid of the song's sections."""
    n_steps = 4 * spec.beats_per_section
    return Grid(n_steps=n_steps, step=section_samples(spec, sr) / n_steps)


def render_section(spec: SongSpec, name: str, *, sr: int, cache: NoteCache) -> np.ndarray:
    """Render one section, with its release tail.

    Parameters
    ----------
    spec : SongSpec
        The song.
    name : str
        A section name (:data:`SECTION_NAMES`).
    sr : int
        Sample rate in Hz.
    cache : NoteCache
        The song's note cache.

    Returns
    -------
    np.ndarray, float64, shape (section_samples(spec, sr) + TAIL_SECONDS * sr,)
    """
    recipe = RECIPES[name]
    rng = np.random.default_rng([spec.seed, 3, spec.index, SECTION_NAMES.index(name)])
    grid = section_grid(spec, sr)
    n = section_samples(spec, sr)
    total = n + int(TAIL_SECONDS * sr)
    progression = spec.bridge_progression if name == "bridge" else spec.progression
    degrees = [progression[i % len(progression)] for i in range(grid.n_bars)]

    melodic = np.zeros(total)
    _chord_track(spec, recipe, degrees, grid, cache, rng, melodic)
    _melody_track(spec, recipe, degrees, grid, cache, rng, melodic)
    melodic = _filtered(melodic, sr, spec.brightness, _ramp(recipe.openness, n, total))
    low = np.zeros(total)
    _bass_track(spec, recipe, degrees, grid, cache, rng, low)
    drums = render_drums(
        family=spec.drum_family,
        variant=recipe.drums,
        kit=spec.kit,
        n_steps=grid.n_steps,
        step_samples=grid.step,
        sr=sr,
        regularity=spec.regularity,
        rng=rng,
    )
    mix = melodic + low + 0.45 * drums[:total]
    if recipe.riser:
        noise = np.random.default_rng([spec.seed, 4, spec.index]).uniform(-1, 1, n)
        sweep = sosfilt(butter(2, 2000.0, btype="highpass", fs=sr, output="sos"), noise)
        mix[:n] += 0.12 * sweep * np.linspace(0.0, 1.0, n) ** 2
    return mix * _ramp(recipe.energy, n, total)


def section_envelope(name: str, n: int, total: int) -> np.ndarray:
    """The gain ramp a section's mix is multiplied by (its recipe's energy).

    Parameters
    ----------
    name : str
        A section name (:data:`SECTION_NAMES`).
    n, total : int
        Samples of the section, and with its release tail.

    Returns
    -------
    np.ndarray, float64, shape (total,)
    """
    return _ramp(RECIPES[name].energy, n, total)


def section_degrees(spec: SongSpec, name: str, sr: int) -> list[int]:
    """The chord scale degree of each bar of a section (the bridge has its own progression)."""
    progression = spec.bridge_progression if name == "bridge" else spec.progression
    return [progression[i % len(progression)] for i in range(section_grid(spec, sr).n_bars)]


def render_song(spec: SongSpec, *, sr: int) -> np.ndarray:
    """Render and master a whole song.

    Parameters
    ----------
    spec : SongSpec
        The song.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray, float32, shape (len(sections) * section samples + SONG_TAIL_SECONDS * sr,)
        Mono, peaks at most -1 dBFS, RMS near ``spec.loudness_db``.
    """
    cache = NoteCache(sr, brightness=spec.brightness)
    blocks = {
        name: render_section(spec, name, sr=sr, cache=cache)
        for name in dict.fromkeys(spec.sections)
    }
    n = section_samples(spec, sr)
    song = np.zeros(len(spec.sections) * n + int(TAIL_SECONDS * sr))
    for i, name in enumerate(spec.sections):
        block = blocks[name]
        song[i * n : i * n + block.size] += block
    song = song[: len(spec.sections) * n + int(SONG_TAIL_SECONDS * sr)]
    fade = int(0.05 * sr)
    song[-fade:] *= np.linspace(1.0, 0.0, fade)
    return master(song, sr, loudness_db=spec.loudness_db)
