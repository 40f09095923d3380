"""A procedural music corpus whose popularity is known by construction.

Songs are rendered from sampled generative parameters (tempo, key and mode, chord
progressions, a hook motif, sections with energy arcs, synthesised instruments, a drum kit,
mixing and loudness, per-artist style clusters); their popularity is a documented function of
song-level attributes, of the order of the sections, of the artist and of noise
(docs/procedural-corpus.md).

Modules: :mod:`.theory` (scales, chords, progressions), :mod:`.instruments` (note synthesis),
:mod:`.drums` (one-shots and patterns), :mod:`.arrangement` (sections, melodies, rendering a
song), :mod:`.mix` (gain staging, loudness, limiter), :mod:`.popularity` (the formula and its
decomposition), :mod:`.styles` (style clusters and artists), :mod:`.generate` (sampling songs
and writing a corpus).
"""

from autoenchorder.data.procedural.generate import (
    SAMPLE_RATE,
    CorpusConfig,
    SongSpec,
    render_song,
    sample_song,
    sample_songs,
    write_corpus,
)
from autoenchorder.data.procedural.popularity import popularity_decomposition, variance_report

__all__ = [
    "SAMPLE_RATE",
    "CorpusConfig",
    "SongSpec",
    "popularity_decomposition",
    "render_song",
    "sample_song",
    "sample_songs",
    "variance_report",
    "write_corpus",
]
