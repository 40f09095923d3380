"""The generative parameters of one song (everything its audio and popularity follow from)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

#: One musicnn patch: 187 mel frames of 256 samples at 16 kHz (2.992 s). Sections last a
#: whole number of patches, so musicnn's non-overlapping patches fall inside sections.
PATCH_SECONDS = 187 * 256 / 16000


@dataclass
class SongSpec:
    """Everything a procedural song is rendered from; JSON-able.

    Attributes
    ----------
    id : str
        Track id (``"song_000042"``), also the audio file's stem.
    index : int
        Song number in the corpus.
    seed : int
        Corpus seed (with ``index`` it seeds the rendering's humanisation).
    artist, style : str
        Artist key and its style cluster.
    artist_effect : float
        The artist's idiosyncratic popularity effect (standard normal).
    noise : float
        The song's popularity noise (standard normal).
    tempo : float
        BPM.
    tonic : int
        Pitch class of the key (0 = C).
    mode : str
        ``"major"`` or ``"minor"``.
    progression, bridge_progression : list of int
        Chord scale degrees, one per bar, looped.
    brightness : float
        Timbre brightness in [0, 1] (filter cut-offs, upper partials).
    regularity : float
        Rhythmic tightness in [0, 1] (1 = no timing jitter, no dropped hits).
    loudness_db : float
        Target RMS level of the master, dBFS.
    lead, chords, drum_family, kit : str
        Lead and chord instruments, groove family, drum kit.
    patches_per_section : int
        Section length in musicnn patches of :data:`PATCH_SECONDS` (1 or 2).
    beats_per_section : int
        Beats in every section; ``tempo = 60 * beats_per_section / section_seconds``, so the
        beat grid runs on across sections (the last bar of a section may be cut short).
    sections : list of str
        Section names in playing order.
    hook : list of list
        The chorus hook motif over two bars: ``[start_step, length_steps, degree]`` on a
        16th-note grid, degrees relative to the bar's chord root.
    verse_motif : list of list
        The verse melody over one bar, same encoding.
    audio_format : str
        File extension the song is written as (``"wav"``, ``"flac"``, ``"ogg"``, ``"mp3"``).
    """

    id: str
    index: int
    seed: int
    artist: str
    style: str
    artist_effect: float
    noise: float
    tempo: float
    tonic: int
    mode: str
    progression: list[int]
    bridge_progression: list[int]
    brightness: float
    regularity: float
    loudness_db: float
    lead: str
    chords: str
    drum_family: str
    kit: str
    patches_per_section: int
    beats_per_section: int
    sections: list[str]
    hook: list[list[int]]
    verse_motif: list[list[int]]
    audio_format: str

    @property
    def bar_seconds(self) -> float:
        """Length of a 4/4 bar in seconds."""
        return 240.0 / self.tempo

    @property
    def section_seconds(self) -> float:
        """Length of every section in seconds (a whole number of musicnn patches)."""
        return self.patches_per_section * PATCH_SECONDS

    @property
    def duration(self) -> float:
        """Nominal song length in seconds (sections only, without the final release tail)."""
        return len(self.sections) * self.section_seconds

    def to_dict(self) -> dict:
        """The parameters as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SongSpec:
        """Rebuild a spec from :meth:`to_dict` output (extra keys are ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class FullLengthSpec(SongSpec):
    """A full-length song (2-5 min, pop form): a :class:`SongSpec` and two hidden qualities.

    Its sections are ``intro``, ``verse``, ``build``, ``chorus`` (the early part), then
    ``bridge``, ``final`` (a last chorus) and ``outro`` (the late part); see
    :mod:`~autoenchorder.data.procedural.full_length`.

    Attributes
    ----------
    hook_strength : float
        In [0, 1]: level of a bell doubling the hook two octaves up in every chorus (heard only
        where a chorus plays).
    final_lift : float
        In [0, 1]: level of the lift layer (shaker and high pad) over the late part, from the
        bridge to the end (never inside a 30 s preview).
    """

    hook_strength: float = 0.5
    final_lift: float = 0.5


def spec_from_dict(data: dict) -> SongSpec:
    """Rebuild a :class:`SongSpec` or a :class:`FullLengthSpec` from its ``to_dict`` output."""
    if "final_lift" in data:
        return FullLengthSpec.from_dict(data)
    return SongSpec.from_dict(data)
