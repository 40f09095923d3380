"""Sample songs (parameters only, fast) and write a corpus (rendered audio, labels, truth).

A corpus is a pure function of its :class:`CorpusConfig`: song ``i`` is drawn from
``numpy.random.default_rng([seed, 2, i])`` and its artist from the seed alone, so the result
does not depend on the number of workers, and an interrupted run resumes where it stopped.

Layout written under ``out``::

    audio/<id>.<ext>   the songs (ext cycles through the configured formats)
    labels.csv         id, popularity, artist
    truth.json         config, formula constants, variance report, every song's parameters
                       and popularity decomposition
    corpus.json        the config (a resumed run must match it, except for the song count)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from autoenchorder.atomic import write_atomic, write_text_atomic
from autoenchorder.data.procedural import full_length
from autoenchorder.data.procedural import popularity as formula
from autoenchorder.data.procedural.arrangement import render_song as _render
from autoenchorder.data.procedural.spec import (
    PATCH_SECONDS,
    FullLengthSpec,
    SongSpec,
    spec_from_dict,
)
from autoenchorder.data.procedural.styles import Artist, artist_of_songs, sample_artist
from autoenchorder.data.procedural.theory import BRIDGE_PROGRESSIONS, PROGRESSIONS
from autoenchorder.errors import DataError

#: Sample rate of the rendered audio (Hz): plenty for musicnn (16 kHz) and VGGish (16 kHz).
SAMPLE_RATE = 22050

#: soundfile (format, subtype) per file extension; MP3 needs libsndfile >= 1.1.
AUDIO_FORMATS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg": ("OGG", "VORBIS"),
    "mp3": ("MP3", "MPEG_LAYER_III"),
}

#: Sections last two musicnn patches (5.98 s), or one (2.99 s) when the longest song allowed
#: could not hold three two-patch sections.
PATCHES_PER_SECTION = 2


@dataclass(frozen=True)
class CorpusConfig:
    """What defines a corpus.

    Attributes
    ----------
    n : int
        Number of songs.
    seed : int
        Corpus seed.
    min_duration, max_duration : float or None
        Range of song lengths in seconds (a song is a whole number of sections inside it
        where the tempo allows). None: 10-30 s, or 120-300 s for full-length songs.
    formats : tuple of str
        File extensions cycled through by song number (keys of :data:`AUDIO_FORMATS`).
    sample_rate : int
        Hz.
    full_length : bool
        Full-length songs in pop form (:mod:`~autoenchorder.data.procedural.full_length`),
        with their own popularity formula and preview ceilings. Off, the corpus is exactly
        the one made before full-length songs existed (``to_dict`` leaves the key out).
    """

    n: int
    seed: int = 0
    min_duration: float | None = None
    max_duration: float | None = None
    formats: tuple[str, ...] = ("wav", "flac", "ogg", "mp3")
    sample_rate: int = SAMPLE_RATE
    full_length: bool = False

    def __post_init__(self) -> None:
        low, high = (
            (full_length.FULL_MIN_DURATION, full_length.FULL_MAX_DURATION)
            if self.full_length
            else (10.0, 30.0)
        )
        if self.min_duration is None:
            object.__setattr__(self, "min_duration", low)
        if self.max_duration is None:
            object.__setattr__(self, "max_duration", high)
        if self.n < 1:
            raise DataError(f"a corpus needs at least one song, got n={self.n}")
        if not 0 < self.min_duration <= self.max_duration:
            raise DataError(f"bad duration range {self.min_duration}-{self.max_duration} s")
        section = full_length.FULL_PATCHES_PER_SECTION * PATCH_SECONDS
        fewest = full_length.FULL_MIN_SECTIONS
        if self.full_length and self.max_duration < fewest * section:
            raise DataError(
                f"full-length songs have at least {fewest} sections of {section:.2f} s "
                f"({fewest * section:.0f} s); --max-duration {self.max_duration:g} is too short"
            )
        unknown = [f for f in self.formats if f not in AUDIO_FORMATS]
        if unknown or not self.formats:
            raise DataError(f"unknown audio formats {unknown}; known: {', '.join(AUDIO_FORMATS)}")

    def to_dict(self) -> dict:
        """JSON-able form (``full_length`` only when set, so older manifests still match)."""
        out = {**asdict(self), "formats": list(self.formats)}
        if not self.full_length:
            del out["full_length"]
        return out


def _motif(rng: np.random.Generator, *, bars: int, onsets: int, grid: int) -> list[list[int]]:
    """A melodic motif: sorted onsets on a grid, lengths to the next onset, a stepwise contour."""
    slots = np.arange(0, 16 * bars, grid)
    starts = np.sort(rng.choice(slots, size=min(onsets, slots.size), replace=False))
    starts[0] = 0
    ends = np.append(starts[1:], 16 * bars)
    lengths = np.minimum(ends - starts, 6)
    degree = int(rng.choice([0, 2, 4]))
    notes = []
    for start, length in zip(starts, lengths, strict=True):
        notes.append([int(start), int(max(1, length)), degree])
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 1, 1, 2, 3]), -2, 7))
    return notes


def _arrangement(rng: np.random.Generator, n_sections: int) -> list[str]:
    """Sections in playing order: optional intro, shuffled body, optional outro."""
    has_intro = n_sections >= 3 and rng.random() < 0.6
    has_outro = n_sections - has_intro >= 4 and rng.random() < 0.4
    m = n_sections - int(has_intro) - int(has_outro)
    choruses = max(1, int(round(m * rng.uniform(0.28, 0.5))))
    rest = m - choruses
    builds = int(rng.binomial(min(choruses, rest), 0.5)) if rest else 0
    bridges = int(rest - builds >= 2 and rng.random() < 0.4)
    verses = rest - builds - bridges
    body = ["chorus"] * choruses + ["build"] * builds + ["bridge"] * bridges + ["verse"] * verses
    body = [str(s) for s in rng.permutation(body)]
    return ["intro"] * has_intro + body + ["outro"] * has_outro


def _section_count(rng: np.random.Generator, section_seconds: float, lo: float, hi: float) -> int:
    target = rng.uniform(lo, hi)
    fewest = max(1, math.ceil(lo / section_seconds - 1e-9))
    most = max(1, math.floor(hi / section_seconds + 1e-9))
    if most < fewest:  # no whole number of sections fits: take the one closest to the range
        return max(1, most)
    return int(np.clip(round(target / section_seconds), fewest, most))


def sample_song(config: CorpusConfig, index: int, artist: Artist) -> SongSpec:
    """Draw song ``index`` of a corpus (parameters only, no audio).

    Parameters
    ----------
    config : CorpusConfig
        The corpus.
    index : int
        Song number.
    artist : Artist
        Its artist.

    Returns
    -------
    SongSpec
    """
    rng = np.random.default_rng([config.seed, 2, index])
    wanted_tempo = float(np.clip(artist.tempo + rng.normal(0.0, 5.0), 66.0, 170.0))
    mode = "major" if rng.random() < artist.major_probability else "minor"
    patches = PATCHES_PER_SECTION
    if config.full_length:
        patches = full_length.FULL_PATCHES_PER_SECTION
    elif config.max_duration < 3 * patches * PATCH_SECONDS:
        patches = 1
    section_seconds = patches * PATCH_SECONDS
    # A whole number of beats per section: the tempo snaps to a grid of 10 BPM (20 BPM for
    # one-patch sections) so that section boundaries fall on beats and on patch boundaries.
    beats = max(3, int(round(wanted_tempo * section_seconds / 60.0)))
    tempo = 60.0 * beats / section_seconds
    n_sections = _section_count(rng, section_seconds, config.min_duration, config.max_duration)
    arrangement = _arrangement
    if config.full_length:
        n_sections = max(n_sections, full_length.FULL_MIN_SECTIONS)
        arrangement = full_length.full_arrangement
    progressions, bridges = PROGRESSIONS[mode], BRIDGE_PROGRESSIONS[mode]
    spec = SongSpec(
        id=f"song_{index:06d}",
        index=index,
        seed=config.seed,
        artist=artist.name,
        style=artist.style,
        artist_effect=artist.effect,
        noise=float(rng.normal()),
        tempo=tempo,
        tonic=int(rng.integers(12)),
        mode=mode,
        progression=list(progressions[int(rng.integers(len(progressions)))]),
        bridge_progression=list(bridges[int(rng.integers(len(bridges)))]),
        brightness=round(float(np.clip(artist.brightness + rng.normal(0.0, 0.1), 0.0, 1.0)), 4),
        regularity=round(float(np.clip(artist.regularity + rng.normal(0.0, 0.1), 0.0, 1.0)), 4),
        loudness_db=round(float(np.clip(artist.loudness + rng.normal(0.0, 1.5), -22.0, -9.0)), 3),
        lead=artist.lead,
        chords=artist.chords,
        drum_family=artist.drum_family,
        kit=artist.kit,
        patches_per_section=patches,
        beats_per_section=beats,
        sections=arrangement(rng, n_sections),
        hook=_motif(rng, bars=2, onsets=int(rng.integers(6, 10)), grid=2),
        verse_motif=_motif(rng, bars=1, onsets=int(rng.integers(3, 6)), grid=4),
        audio_format=config.formats[index % len(config.formats)],
    )
    if not config.full_length:
        return spec
    return FullLengthSpec(
        **spec.to_dict(),
        hook_strength=round(float(rng.uniform()), 4),
        final_lift=round(float(rng.uniform()), 4),
    )


def sample_songs(config: CorpusConfig) -> list[SongSpec]:
    """Draw every song of a corpus (parameters only, no audio: thousands of songs per second).

    Parameters
    ----------
    config : CorpusConfig

    Returns
    -------
    list of SongSpec, in song-number order.
    """
    owners = artist_of_songs(config.seed, config.n)
    if config.full_length:
        # One artist per song: a study of a hundred long songs then hears a hundred artist
        # centres rather than a dozen artists' blocks.
        owners = np.arange(config.n)
    artists = {int(a): sample_artist(config.seed, int(a)) for a in np.unique(owners)}
    return [sample_song(config, i, artists[int(owners[i])]) for i in range(config.n)]


def render_song(spec: SongSpec, *, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Render a song's audio.

    Parameters
    ----------
    spec : SongSpec
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray, float32, shape (n,)
        Mono, mastered (peaks at most -1 dBFS).
    """
    if isinstance(spec, FullLengthSpec):
        return full_length.render_full_song(spec, sr=sr)
    return _render(spec, sr=sr)


def audio_path(out: Path, spec: SongSpec) -> Path:
    """Where a song's audio file goes."""
    return out / "audio" / f"{spec.id}.{spec.audio_format}"


def write_song(spec: SongSpec, out: Path, sr: int) -> str:
    """Render one song and write it atomically (temporary file, then rename); returns its id."""
    import soundfile as sf  # noqa: PLC0415

    y = render_song(spec, sr=sr)
    container, subtype = AUDIO_FORMATS[spec.audio_format]

    def write(tmp: Path) -> None:
        sf.write(str(tmp), y, sr, format=container, subtype=subtype)

    # no fsync: thousands of songs, each one cheap to render again from its seed
    write_atomic(audio_path(out, spec), write, fsync=False)
    return spec.id


def _try_write_song(args: tuple[dict, str, int]) -> tuple[str, str | None]:
    """Worker job: ``(id, None)`` on success, ``(id, reason)`` if the song could not be written."""
    spec, out, sr = args
    try:
        return write_song(spec_from_dict(spec), Path(out), sr), None
    except (OSError, RuntimeError, ValueError) as exc:
        return spec["id"], f"{type(exc).__name__}: {exc}"


def _one_thread() -> None:
    # Rendering is many small array operations: BLAS threads only contend with the workers.
    threadpool_limits(limits=1)


@dataclass
class CorpusSummary:
    """What :func:`write_corpus` did.

    Attributes
    ----------
    out : Path
        The corpus folder.
    n_songs, rendered, skipped : int
        Songs in the corpus, rendered now, already present (resumed).
    seconds : float
        Total audio length, seconds.
    failures : list of tuple of str
        ``(id, reason)`` of songs that could not be written.
    report : dict
        :func:`popularity.variance_report` of the corpus.
    """

    out: Path
    n_songs: int
    rendered: int
    skipped: int
    seconds: float
    failures: list[tuple[str, str]] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def check_formats_writable(formats: tuple[str, ...]) -> None:
    """Raise :class:`DataError` if this libsndfile cannot write one of the formats.

    Parameters
    ----------
    formats : tuple of str
        File extensions (keys of :data:`AUDIO_FORMATS`).
    """
    import soundfile as sf  # noqa: PLC0415

    for ext in formats:
        container, subtype = AUDIO_FORMATS[ext]
        if container not in sf.available_formats() or subtype not in sf.available_subtypes(
            container
        ):
            raise DataError(
                f"this libsndfile ({sf.__libsndfile_version__}) cannot write {ext} "
                f"({container}/{subtype}; mp3 needs libsndfile >= 1.1); choose other --formats"
            )


def _check_manifest(out: Path, config: CorpusConfig) -> None:
    """Refuse a folder holding another corpus; only the song count may differ.

    Songs do not depend on the count, so a corpus can be resumed or grown.
    """
    manifest = out / "corpus.json"
    if manifest.exists():
        existing = json.loads(manifest.read_text(encoding="utf-8")).get("config", {})
        mine = config.to_dict()
        differing = sorted(k for k in mine if k != "n" and existing.get(k) != mine[k])
        if differing:
            raise DataError(
                f"{out} holds a corpus made with other settings ({', '.join(differing)} differ: "
                f"{ {k: existing.get(k) for k in differing} }); use another --out folder"
            )
    write_text_atomic(manifest, json.dumps({"config": config.to_dict()}, indent=1))


def write_corpus(
    config: CorpusConfig,
    out: str | Path,
    *,
    workers: int = 1,
    on_song: Callable[[str], None] | None = None,
) -> CorpusSummary:
    """Render a corpus to ``out`` (resumable: songs whose file exists are skipped).

    Parameters
    ----------
    config : CorpusConfig
        The corpus to make.
    out : str or Path
        Output folder.
    workers : int
        Processes rendering in parallel (the result does not depend on it).
    on_song : callable or None
        Called with each song id once it is written or skipped (progress reporting).

    Returns
    -------
    CorpusSummary

    Raises
    ------
    DataError
        ``out`` already holds a corpus made with other settings, or libsndfile cannot write
        one of the formats.
    """
    check_formats_writable(config.formats)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_manifest(out, config)
    for stale in (out / "audio").glob(".*.part"):  # left by a killed worker
        stale.unlink(missing_ok=True)
    specs = sample_songs(config)
    todo = [s for s in specs if not audio_path(out, s).exists()]
    for spec in specs:
        if on_song is not None and audio_path(out, spec).exists():
            on_song(spec.id)
    failures = []
    for song_id, reason in _render_all(todo, out, config.sample_rate, workers):
        if reason is not None:
            failures.append((song_id, reason))
        if on_song is not None:
            on_song(song_id)
    decompositions, report = popularity_truth(config, specs)
    _write_labels(out, specs, decompositions)
    _write_truth(out, config, specs, decompositions, report)
    return CorpusSummary(
        out=out,
        n_songs=len(specs),
        rendered=len(todo) - len(failures),
        skipped=len(specs) - len(todo),
        seconds=float(sum(s.duration for s in specs)),
        failures=failures,
        report=report,
    )


def popularity_truth(config: CorpusConfig, specs: list[SongSpec]) -> tuple[list[dict], dict]:
    """Every song's popularity decomposition and the corpus's report (ceilings).

    Parameters
    ----------
    config : CorpusConfig
    specs : list of SongSpec
        :func:`sample_songs` output.

    Returns
    -------
    (list of dict, dict)
        Per song: :func:`popularity.popularity_decomposition` (full-length songs:
        :func:`full_length.full_length_decomposition`); the corpus's
        :func:`popularity.variance_report` (:func:`full_length.full_length_report`).
    """
    if config.full_length:
        decompositions = [full_length.full_length_decomposition(s) for s in specs]
        return decompositions, full_length.full_length_report(decompositions)
    decompositions = [formula.popularity_decomposition(s) for s in specs]
    return decompositions, formula.variance_report(decompositions)


def _render_all(
    todo: list[SongSpec], out: Path, sr: int, workers: int
) -> Iterator[tuple[str, str | None]]:
    jobs = [(s.to_dict(), str(out), sr) for s in todo]
    if workers <= 1 or len(todo) <= 1:
        with threadpool_limits(limits=1):
            yield from map(_try_write_song, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_one_thread) as pool:
        yield from pool.map(_try_write_song, jobs, chunksize=2)


def _write_labels(out: Path, specs: list[SongSpec], decompositions: list[dict]) -> None:
    lines = ["id,popularity,artist"]
    lines += [
        f"{s.id},{d['popularity']:.4f},{s.artist}"
        for s, d in zip(specs, decompositions, strict=True)
    ]
    write_text_atomic(out / "labels.csv", "\n".join(lines) + "\n")


def formula_constants() -> dict:
    """Every constant of the popularity formula, for truth.json."""
    names = [
        "BASE",
        "TEMPO_BEST",
        "TEMPO_WIDTH",
        "TEMPO_CAP",
        "TEMPO_POINTS",
        "MAJOR_POINTS",
        "BRIGHTNESS_POINTS",
        "REGULARITY_POINTS",
        "LOUDNESS_REF",
        "LOUDNESS_POINTS",
        "GENRE_POINTS",
        "ARTIST_POINTS",
        "FIRST_CHORUS_POINTS_PER_SECOND",
        "BUILD_INTO_CHORUS_POINTS",
        "CHORUS_RETURN_POINTS",
        "NOISE_POINTS",
    ]
    return {name: getattr(formula, name) for name in names}


def _write_truth(
    out: Path, config: CorpusConfig, specs: list[SongSpec], decompositions: list[dict], report: dict
) -> None:
    songs = [
        {
            **s.to_dict(),
            "path": audio_path(Path("."), s).as_posix(),
            "duration": s.duration,
            "section_seconds": s.section_seconds,
            "popularity": d,
        }
        for s, d in zip(specs, decompositions, strict=True)
    ]
    # strict JSON has no NaN: an undefined statistic (a one-song corpus) is written as null
    report = {k: (v if math.isfinite(v) else None) for k, v in report.items()}
    truth = {
        "config": config.to_dict(),
        "formula": full_length.formula_constants() if config.full_length else formula_constants(),
        "report": report,
        "songs": songs,
    }
    if config.full_length:
        truth["previews"] = {
            "seconds": full_length.PREVIEW_SECONDS,
            "spotify": "30 s from the first chorus (per song: popularity.spotify_offset_seconds)",
            "start": "30 s from 0 s",
            "missed_by": {k: list(v) for k, v in full_length.MISSED_BY.items()},
        }
    write_text_atomic(out / "truth.json", json.dumps(truth, indent=1))
