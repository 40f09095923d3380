"""Music theory: scales, diatonic chords, chord progressions, pitch <-> frequency."""

from __future__ import annotations

import numpy as np

#: Semitone offsets of the diatonic degrees 1..7.
SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
}

#: Common progressions as 0-based scale degrees, one chord per bar (looped over a section).
PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": (
        (0, 4, 5, 3),  # I-V-vi-IV
        (5, 3, 0, 4),  # vi-IV-I-V
        (0, 5, 3, 4),  # I-vi-IV-V
        (1, 4, 0, 0),  # ii-V-I-I
        (0, 3, 0, 4),  # I-IV-I-V
    ),
    "minor": (
        (0, 5, 2, 6),  # i-VI-III-VII
        (0, 3, 4, 0),  # i-iv-v-i
        (0, 6, 5, 6),  # i-VII-VI-VII
        (0, 5, 3, 4),  # i-VI-iv-v
        (0, 3, 6, 2),  # i-iv-VII-III
    ),
}

#: A bridge moves away from the tonic: progressions starting on the subdominant side.
BRIDGE_PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((3, 4, 5, 5), (3, 0, 4, 4), (5, 4, 3, 4)),
    "minor": ((3, 5, 6, 6), (5, 6, 3, 4), (3, 4, 5, 6)),
}


def midi_to_hz(midi: float | np.ndarray) -> float | np.ndarray:
    """Equal-tempered frequency of a MIDI note number (A4 = 69 = 440 Hz).

    Parameters
    ----------
    midi : float or np.ndarray
        MIDI note number(s).

    Returns
    -------
    float or np.ndarray
        Frequency in Hz, same shape.
    """
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=float) - 69.0) / 12.0)


def scale_pitch(*, tonic: int, mode: str, degree: int, octave: int) -> int:
    """MIDI pitch of a scale degree; degrees beyond 0..6 wrap into other octaves.

    Parameters
    ----------
    tonic : int
        Pitch class of the key, 0 = C.
    mode : str
        ``"major"`` or ``"minor"``.
    degree : int
        0-based scale degree, may be negative or >= 7.
    octave : int
        MIDI octave of degree 0 (4 -> the tonic at or above middle C).

    Returns
    -------
    int
        MIDI note number.
    """
    steps = SCALES[mode]
    octave_shift, index = divmod(degree, 7)
    return 12 * (octave + 1 + octave_shift) + tonic + steps[index]


def triad(*, tonic: int, mode: str, degree: int, octave: int) -> tuple[int, int, int]:
    """The diatonic triad on a scale degree (root, third, fifth), as MIDI pitches.

    Parameters
    ----------
    tonic, mode, degree, octave
        As in :func:`scale_pitch`.

    Returns
    -------
    tuple of int
        Root, third and fifth.
    """
    return tuple(
        scale_pitch(tonic=tonic, mode=mode, degree=degree + step, octave=octave)
        for step in (0, 2, 4)
    )
