"""The 207 low-level features of each section of a song, as an embedder's sequence.

``lowlevel-sections`` cuts a song into consecutive sections of ``section_seconds`` (15 s by
default: about one verse or chorus of a pop song) and computes the 207 HitMusicNet /
SpotGenTrack low-level features (:func:`~autoenchorder.audio.lowlevel.extract_lowlevel`) of
each, at the file's own sample rate as HitMusicNet does. The frames are ``[T, 207]`` in
:data:`~autoenchorder.audio.lowlevel.LOWLEVEL_COLUMNS` order, one per section, with the
section start times; a last part shorter than half a section is left out (it is mostly a
fade or a release tail), and a song shorter than one section is one frame of all of it.

The whole-song 207 features are averages over the song, so a change over time (a layer that
only the last minute plays, choruses louder than verses) is blurred into them; the sections
keep it. Nothing here is learnt and no weights are loaded: the embedder exists so that the
sections travel through ``extract`` (resumable shards, per-file failures, Ray) and into
``ds.sequences`` like any other embedder's frames.
"""

from __future__ import annotations

import numpy as np

from autoenchorder.audio.embed.base import Embedder, Embedding, register_embedder
from autoenchorder.audio.lowlevel import COMPAT_MODES, MIN_SAMPLES, extract_lowlevel
from autoenchorder.errors import ModelError

#: Default section length, seconds (one 8-bar section at 128 BPM is 15 s).
SECTION_SECONDS = 15.0
#: A last part of the song is a section of its own when at least this share of one.
MIN_LAST_SHARE = 0.5


def section_bounds(n_samples: int, section_samples: int) -> list[tuple[int, int]]:
    """``(start, end)`` sample indices of the sections of a signal.

    Parameters
    ----------
    n_samples : int
        Length of the signal.
    section_samples : int
        Length of a section (> 0).

    Returns
    -------
    list of (int, int)
        Consecutive sections; the last part is one when it holds at least
        :data:`MIN_LAST_SHARE` of a section; a signal shorter than a section is one section.
    """
    if section_samples <= 0:
        raise ValueError(f"a section needs at least one sample, got {section_samples}")
    if n_samples <= section_samples:
        return [(0, n_samples)]
    bounds = []
    for start in range(0, n_samples, section_samples):
        end = min(start + section_samples, n_samples)
        if end - start >= MIN_LAST_SHARE * section_samples:
            bounds.append((start, end))
    return bounds


class LowlevelSectionsEmbedder(Embedder):
    """The 207 low-level features per section (see the module docstring).

    Parameters
    ----------
    section_seconds : float
        Section length in seconds (> 0).
    compat : {"fixed", "spotgentrack"}
        Low-level feature mode (:func:`~autoenchorder.audio.lowlevel.extract_lowlevel`):
        ``"fixed"`` (default) averages the spectral centroid over the section and uses a true
        energy entropy; ``"spotgentrack"`` keeps HitMusicNet's quirks.
    """

    name = "lowlevel-sections"
    #: computed at the file's own rate (0: no resampling), as the whole-song 207 features are
    sample_rate = 0
    dim = 207

    def __init__(self, *, section_seconds: float = SECTION_SECONDS, compat: str = "fixed") -> None:
        if not section_seconds > 0:
            raise ModelError(f"section_seconds must be > 0, got {section_seconds}")
        if compat not in COMPAT_MODES:
            raise ModelError(f"compat must be one of {COMPAT_MODES}, got {compat!r}")
        self.section_seconds = float(section_seconds)
        self.compat = compat
        self.window_seconds = self.hop_seconds = self.section_seconds
        self.version = f"lowlevel-sections-1-{compat}-{self.section_seconds:g}s"

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        """The features of each section of a mono signal.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono samples at their own rate; at least 2,048 of them.
        sr : int
            Sample rate, Hz (above 12.8 kHz, as for the whole-song features).

        Returns
        -------
        Embedding
            ``frames`` float32 of shape (T, 207), ``times`` the section starts in seconds.

        Raises
        ------
        AudioError
            As :func:`~autoenchorder.audio.lowlevel.extract_lowlevel` (too short, NaN samples,
            too low a sample rate).
        """
        y = np.asarray(y, dtype=np.float32)
        section = max(MIN_SAMPLES, int(round(self.section_seconds * sr)))
        bounds = section_bounds(y.size, section)
        frames = np.stack(
            [extract_lowlevel(y[start:end], sr, compat=self.compat) for start, end in bounds]
        ).astype(np.float32)
        times = np.array([start / sr for start, _ in bounds], dtype=np.float64)
        return Embedding(frames, times)


@register_embedder("lowlevel-sections")
def _lowlevel_sections(**options: object) -> LowlevelSectionsEmbedder:
    return LowlevelSectionsEmbedder(**options)  # type: ignore[arg-type]
