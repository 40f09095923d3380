"""A synthesised drum kit (pre-rendered one-shots) and 16-step patterns.

One-shots are rendered once per (kit, sample rate) and cached; a drum track is built by
adding them at the hit positions (one Python iteration per hit, never per sample).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

#: Kits: kick start/end pitch (Hz), kick decay (s), snare tone (Hz), noise colour, hat cutoff.
KITS: dict[str, dict[str, float]] = {
    "electronic": {
        "kick_hi": 160.0,
        "kick_lo": 45.0,
        "kick_decay": 0.35,
        "snare_tone": 200.0,
        "snare_noise": 0.8,
        "hat_cutoff": 7000.0,
    },
    "acoustic": {
        "kick_hi": 110.0,
        "kick_lo": 55.0,
        "kick_decay": 0.22,
        "snare_tone": 180.0,
        "snare_noise": 0.65,
        "hat_cutoff": 5000.0,
    },
    "lofi": {
        "kick_hi": 90.0,
        "kick_lo": 50.0,
        "kick_decay": 0.25,
        "snare_tone": 220.0,
        "snare_noise": 0.5,
        "hat_cutoff": 3500.0,
    },
}

#: Drum pattern families, one bar of 16 steps, per voice: velocity per step.
PATTERNS: dict[str, dict[str, tuple[float, ...]]] = {
    "four_floor": {
        "kick": (1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0),
        "snare": (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
        "hat": (0.5, 0, 1, 0, 0.5, 0, 1, 0, 0.5, 0, 1, 0, 0.5, 0, 1, 0),
    },
    "backbeat": {
        "kick": (1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0.7, 0, 0, 0, 0, 0),
        "snare": (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
        "hat": (1, 0, 0.6, 0, 1, 0, 0.6, 0, 1, 0, 0.6, 0, 1, 0, 0.6, 0),
    },
    "breakbeat": {
        "kick": (1, 0, 0, 0, 0, 0, 0.8, 0, 0, 0, 1, 0, 0, 0, 0, 0),
        "snare": (0, 0, 0, 0, 1, 0, 0, 0.3, 0, 0, 0, 0, 1, 0, 0, 0.4),
        "hat": (0.9, 0.4, 0.7, 0.4, 0.9, 0.4, 0.7, 0.4, 0.9, 0.4, 0.7, 0.4, 0.9, 0.4, 0.7, 0.4),
    },
    "halftime": {
        "kick": (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0, 0, 0, 0, 0),
        "snare": (0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0),
        "hat": (1, 0, 0.5, 0, 1, 0, 0.5, 0, 1, 0, 0.5, 0, 1, 0, 0.5, 0),
    },
}

#: Section drum variants (how a section uses its song's pattern family).
DRUM_VARIANTS: tuple[str, ...] = ("none", "light", "full", "halftime", "build")


def _noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, n)


@lru_cache(maxsize=16)
def one_shots(kit: str, sr: int) -> dict[str, np.ndarray]:
    """The kit's one-shots at a sample rate: kick, snare, hat, crash, riser noise.

    Parameters
    ----------
    kit : str
        A key of :data:`KITS`.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    dict of str to np.ndarray
        float64 mono one-shots, peak about 1. Treat as read-only.
    """
    spec = KITS[kit]
    t = np.arange(int(0.5 * sr)) / sr
    freq = spec["kick_lo"] + (spec["kick_hi"] - spec["kick_lo"]) * np.exp(-t * 30.0)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    kick = np.sin(phase) * np.exp(-t / spec["kick_decay"])
    kick[: int(0.002 * sr)] += 0.3 * _noise(int(0.002 * sr), 1)

    t_snare = t[: int(0.3 * sr)]
    band = butter(2, [1200.0, min(9000.0, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    snare_noise = sosfilt(band, _noise(t_snare.size, 2)) * np.exp(-t_snare * 18.0)
    snare_tone = np.sin(2 * np.pi * spec["snare_tone"] * t_snare) * np.exp(-t_snare * 30.0)
    snare = spec["snare_noise"] * snare_noise / np.max(np.abs(snare_noise)) + 0.6 * snare_tone

    high = butter(2, min(spec["hat_cutoff"], 0.45 * sr), btype="highpass", fs=sr, output="sos")
    t_hat = t[: int(0.08 * sr)]
    hat = sosfilt(high, _noise(t_hat.size, 3)) * np.exp(-t_hat * 60.0)
    t_crash = np.arange(int(1.2 * sr)) / sr
    crash = sosfilt(high, _noise(t_crash.size, 4)) * np.exp(-t_crash * 3.0)
    return {
        "kick": kick / np.max(np.abs(kick)),
        "snare": snare / np.max(np.abs(snare)),
        "hat": 0.6 * hat / np.max(np.abs(hat)),
        "crash": 0.5 * crash / np.max(np.abs(crash)),
    }


def _section_steps(family: str, variant: str, n_steps: int) -> dict[str, np.ndarray]:
    """Velocities per voice on the 16th-note grid of the whole section, shape (n_steps,)."""
    n_bars = -(-n_steps // 16)

    def tiled(patterns: dict[str, tuple[float, ...]]) -> dict[str, np.ndarray]:
        return {
            v: np.tile(np.asarray(p, dtype=float), n_bars)[:n_steps] for v, p in patterns.items()
        }

    pattern = tiled(PATTERNS[family])
    if variant == "light":
        return {"kick": 0.7 * pattern["kick"], "hat": 0.6 * pattern["hat"]}
    if variant == "halftime":
        return {voice: 0.8 * v for voice, v in tiled(PATTERNS["halftime"]).items()}
    if variant == "build":
        ramp = np.linspace(0.35, 1.0, n_steps)
        roll = np.zeros(n_steps)
        roll[::4] = 1.0
        roll[n_steps // 2 :: 2] = 1.0
        roll[3 * n_steps // 4 :] = 1.0
        kick = np.zeros(n_steps)
        kick[::4] = 1.0
        return {"kick": 0.8 * kick * ramp, "snare": roll * ramp, "hat": 0.4 * pattern["hat"] * ramp}
    if variant == "full":
        crash = np.zeros(n_steps)
        crash[0] = 1.0
        return {**pattern, "crash": crash}
    raise ValueError(f"unknown drum variant {variant!r}; known: {', '.join(DRUM_VARIANTS)}")


def render_drums(
    *,
    family: str,
    variant: str,
    kit: str,
    n_steps: int,
    step_samples: float,
    sr: int,
    regularity: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A section's drum track.

    Parameters
    ----------
    family : str
        A key of :data:`PATTERNS` (the song's groove).
    variant : str
        One of :data:`DRUM_VARIANTS` (the section's use of it).
    kit : str
        A key of :data:`KITS`.
    n_steps : int
        16th notes in the section (the pattern restarts every 16; a last bar may be short).
    step_samples : float
        Samples per 16th note.
    sr : int
        Sample rate in Hz.
    regularity : float
        In [0, 1]: 1 is machine-tight; lower adds timing jitter (up to 25 ms), velocity
        scatter and dropped hats.
    rng : np.random.Generator
        Source of the humanisation.

    Returns
    -------
    np.ndarray, float64, shape (round(n_steps * step_samples) + 1.2 s of tail,)
    """
    n = int(round(n_steps * step_samples))
    out = np.zeros(n + int(1.2 * sr))
    if variant == "none":
        return out
    shots = one_shots(kit, sr)
    looseness = 1.0 - regularity
    for voice, velocities in _section_steps(family, variant, n_steps).items():
        steps = np.flatnonzero(velocities)
        keep = rng.random(steps.size) >= 0.3 * looseness * (voice == "hat")
        steps = steps[keep]
        jitter = rng.normal(0.0, 0.025 * looseness * sr, steps.size)
        starts = np.clip(np.round(steps * step_samples + jitter), 0, n - 1).astype(int)
        gains = velocities[steps] * np.clip(rng.normal(1.0, 0.3 * looseness, steps.size), 0.2, 1.3)
        shot = shots[voice]
        for start, gain in zip(starts, gains, strict=True):
            out[start : start + shot.size] += gain * shot[: out.size - start]
    return out
