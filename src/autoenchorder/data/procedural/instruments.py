"""Synthesised instrument timbres: one function renders one note as an array.

Every instrument is vectorised numpy (band-limited and additive wavetables read with a phase
accumulator, FM as a closed form, Karplus-Strong as one :func:`scipy.signal.lfilter` call);
nothing loops over samples in Python. Notes are rendered at unit velocity; callers scale them
and cache repeated notes (:class:`NoteCache`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import lfilter

from autoenchorder.data.procedural.theory import midi_to_hz

#: Every instrument :func:`render_note` knows.
INSTRUMENTS: tuple[str, ...] = ("keys", "epiano", "pluck", "saw_lead", "square_lead", "bass", "pad")

#: Release tail after the gate, seconds, per instrument.
RELEASE_SECONDS: dict[str, float] = {
    "keys": 0.25,
    "epiano": 0.3,
    "pluck": 0.35,
    "saw_lead": 0.08,
    "square_lead": 0.08,
    "bass": 0.06,
    "pad": 0.5,
}

_TABLE_SIZE = 8192  # a power of two: phases wrap with a bit mask


@lru_cache(maxsize=256)
def _wavetable(shape: str, n_harmonics: int) -> np.ndarray:
    """One period of a band-limited saw or square, shape (_TABLE_SIZE,), peak 1."""
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    k = np.arange(1, n_harmonics + 1)
    if shape == "square":
        k = k[k % 2 == 1]
    partials = np.sin(2 * np.pi * np.outer(phase, k)) / k
    table = partials.sum(axis=1)
    return (table / np.max(np.abs(table))).astype(np.float32)


def _seconds(n: int, sr: int) -> np.ndarray:
    """Time axis of ``n`` samples in seconds, float32, shape (n,).

    Note synthesis needs no more precision, and numpy's float32 ``sin`` / ``exp`` are several
    times faster than float64.
    """
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def _oscillator(shape: str, freq: float, n: int, sr: int, *, max_harmonics: int = 48) -> np.ndarray:
    """A band-limited saw or square at ``freq``, shape (n,) float64."""
    n_harmonics = int(max(1, min(max_harmonics, (0.45 * sr) // freq)))
    return _read_table(_wavetable(shape, n_harmonics), freq, n, sr)


def adsr(
    n_gate: int, n_release: int, sr: int, *, attack: float, decay: float, sustain: float
) -> np.ndarray:
    """An attack-decay-sustain-release envelope.

    Parameters
    ----------
    n_gate : int
        Samples while the note is held.
    n_release : int
        Samples of release after the gate.
    sr : int
        Sample rate in Hz.
    attack, decay : float
        Seconds.
    sustain : float
        Sustain level in [0, 1].

    Returns
    -------
    np.ndarray, shape (n_gate + n_release,)
    """
    t = _seconds(n_gate, sr)
    held = np.where(
        t < attack,
        t / max(attack, 1e-6),
        sustain + (1.0 - sustain) * np.exp(-(t - attack) / max(decay, 1e-6)),
    )
    end = held[-1] if n_gate else 0.0
    tail = end * np.exp(-_seconds(n_release, sr) * np.float32(sr / max(1.0, n_release / 5.0)))
    return np.concatenate([held, tail])


@lru_cache(maxsize=64)
def _partial_table(n_partials: int, tilt: float) -> np.ndarray:
    """One period of partials 1..n with amplitudes (1/k)^tilt, shape (_TABLE_SIZE,), peak 1."""
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    k = np.arange(1, n_partials + 1)
    table = np.sin(2 * np.pi * np.outer(phase, k)) @ (1.0 / k) ** tilt
    return (table / np.max(np.abs(table))).astype(np.float32)


def _read_table(table: np.ndarray, freq: float, n: int, sr: int) -> np.ndarray:
    """Play a wavetable at ``freq`` for ``n`` samples (nearest-sample lookup, shape (n,))."""
    index = (np.arange(n) * (freq * _TABLE_SIZE / sr)).astype(np.int64) & (_TABLE_SIZE - 1)
    return table[index]


def _keys(freq: float, n_gate: int, n_release: int, sr: int, brightness: float) -> np.ndarray:
    # A piano-like tone: bright upper partials that die fast over a slowly decaying body.
    n = n_gate + n_release
    t = _seconds(n, sr)
    n_partials = int(max(1, min(8, (0.45 * sr) // freq)))
    upper = _read_table(_partial_table(n_partials, round(2.2 - 1.2 * brightness, 2)), freq, n, sr)
    body = np.sin(2 * np.pi * freq * t)
    env = adsr(n_gate, n_release, sr, attack=0.004, decay=0.3, sustain=0.6)
    return (0.6 * upper * np.exp(-t * 6.0) + 0.5 * body * np.exp(-t * 1.5)) * env


def _epiano(freq: float, n_gate: int, n_release: int, sr: int, brightness: float) -> np.ndarray:
    n = n_gate + n_release
    t = _seconds(n, sr)
    index = (0.8 + 2.5 * brightness) * np.exp(-t * 4.0)
    modulator = np.sin(2 * np.pi * freq * t)
    tine = (
        0.15 * np.sin(2 * np.pi * 7.0 * freq * t) * np.exp(-t * 25.0)
        if 7 * freq < 0.45 * sr
        else 0.0
    )
    env = adsr(n_gate, n_release, sr, attack=0.003, decay=0.6, sustain=0.35)
    return (np.sin(2 * np.pi * freq * t + index * modulator) + tine) * env


def _pluck(freq: float, n_gate: int, n_release: int, sr: int, brightness: float) -> np.ndarray:
    n = n_gate + n_release
    delay = max(2, int(round(sr / freq)))
    rng = np.random.default_rng(int(freq * 1000))
    burst = rng.uniform(-1.0, 1.0, delay)
    # A duller burst for a darker string: one-pole lowpass on the excitation.
    smooth = 0.75 - 0.6 * brightness
    burst = lfilter([1.0 - smooth], [1.0, -smooth], burst)
    excitation = np.zeros(n)
    excitation[: min(delay, n)] = burst[: min(delay, n)]
    # y[n] = x[n] + g/2 (y[n-D] + y[n-D-1]): Karplus-Strong's averaging string loop.
    loss = 0.996
    denominator = np.zeros(delay + 2)
    denominator[0] = 1.0
    denominator[delay] = denominator[delay + 1] = -loss / 2
    out = lfilter([1.0], denominator, excitation)
    env = np.ones(n)
    env[n_gate:] = np.exp(-np.arange(n_release) / max(1.0, n_release / 5.0))
    return (out * env / (np.max(np.abs(out)) + 1e-9)).astype(np.float32)


def _lead(shape: str, freq: float, n_gate: int, n_release: int, sr: int) -> np.ndarray:
    n = n_gate + n_release
    detune = 2 ** (6 / 1200)
    wave = _oscillator(shape, freq * detune, n, sr) + _oscillator(shape, freq / detune, n, sr)
    env = adsr(n_gate, n_release, sr, attack=0.01, decay=0.12, sustain=0.7)
    return 0.5 * wave * env


def _bass(freq: float, n_gate: int, n_release: int, sr: int, brightness: float) -> np.ndarray:
    n = n_gate + n_release
    t = _seconds(n, sr)
    body = np.sin(2 * np.pi * freq * t)
    grit = _oscillator("saw", freq, n, sr, max_harmonics=6)
    env = adsr(n_gate, n_release, sr, attack=0.005, decay=0.2, sustain=0.6)
    return (0.8 * body + (0.15 + 0.3 * brightness) * grit) * env


def _pad(freq: float, n_gate: int, n_release: int, sr: int, brightness: float) -> np.ndarray:
    n = n_gate + n_release
    wave = sum(
        _oscillator(
            "saw", freq * 2 ** (cents / 1200), n, sr, max_harmonics=int(4 + 12 * brightness)
        )
        for cents in (-9.0, 0.0, 8.0)
    )
    env = adsr(n_gate, n_release, sr, attack=0.25, decay=0.5, sustain=0.85)
    return wave * env / 3.0


def render_note(kind: str, midi: int, n_gate: int, sr: int, *, brightness: float) -> np.ndarray:
    """Render one note at unit velocity.

    Parameters
    ----------
    kind : str
        One of :data:`INSTRUMENTS`.
    midi : int
        MIDI pitch.
    n_gate : int
        Samples the note is held.
    sr : int
        Sample rate in Hz.
    brightness : float
        Timbre brightness in [0, 1] (more and stronger upper partials).

    Returns
    -------
    np.ndarray, float64, shape (n_gate + release samples,)
    """
    freq = float(midi_to_hz(midi))
    n_release = int(RELEASE_SECONDS[kind] * sr)
    if kind == "keys":
        return _keys(freq, n_gate, n_release, sr, brightness)
    if kind == "epiano":
        return _epiano(freq, n_gate, n_release, sr, brightness)
    if kind == "pluck":
        return _pluck(freq, n_gate, n_release, sr, brightness)
    if kind == "saw_lead":
        return _lead("saw", freq, n_gate, n_release, sr)
    if kind == "square_lead":
        return _lead("square", freq, n_gate, n_release, sr)
    if kind == "bass":
        return _bass(freq, n_gate, n_release, sr, brightness)
    if kind == "pad":
        return _pad(freq, n_gate, n_release, sr, brightness)
    raise ValueError(f"unknown instrument {kind!r}; known: {', '.join(INSTRUMENTS)}")


class NoteCache:
    """Renders notes once per (instrument, pitch, length) within one song.

    Parameters
    ----------
    sr : int
        Sample rate in Hz.
    brightness : float
        The song's timbre brightness, passed to :func:`render_note`.
    """

    def __init__(self, sr: int, *, brightness: float) -> None:
        self.sr = sr
        self.brightness = brightness
        self._notes: dict[tuple[str, int, int], np.ndarray] = {}

    def note(self, kind: str, midi: int, n_gate: int) -> np.ndarray:
        """The rendered note, shape (n_gate + release,); shared, do not modify in place."""
        key = (kind, midi, n_gate)
        if key not in self._notes:
            self._notes[key] = render_note(kind, midi, n_gate, self.sr, brightness=self.brightness)
        return self._notes[key]
