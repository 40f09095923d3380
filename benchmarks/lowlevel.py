"""Benchmark: the 207 low-level features, ours vs the plain librosa calls (issue 2 target: >= 8x).

For each clip -- the real clips in examples/audio (at their native 48 kHz) and generated 30 s,
44.1 kHz clips (music-like tones with noise, white noise) -- prints the per-clip time of
:func:`autoenchorder.audio.lowlevel.extract_lowlevel` and of
:func:`autoenchorder.audio.lowlevel_reference.extract_lowlevel_reference` (HitMusicNet's
sequence of plain librosa calls), measured in the same run, alternately, on one core, the best
of ``--repeat`` runs each; the speed-up; and the largest relative difference over the 207 values
(``lowlevel_reference.parity_error``: relative to ``max(|reference|, the family's floor)``).

The machine may be shared: the best of several runs is reported, as wall time and as this
process's CPU time (less sensitive to other processes taking the core away).

    python benchmarks/lowlevel.py [--repeat 3] [--generated 2]
"""

from __future__ import annotations

import os

# One core for everything, set before numpy / numba / torch are imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
# A numba cache of our own, as the tests keep (tests/conftest.py): the shared on-disk cache
# can hold an entry that crashes every later load (librosa's piptrack gufunc segfaulted so).
os.environ.setdefault(
    "NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".cache", "numba", "bench")
)

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from autoenchorder.audio.io import discover_audio, load_audio  # noqa: E402
from autoenchorder.audio.lowlevel import extract_lowlevel  # noqa: E402
from autoenchorder.audio.lowlevel_reference import (  # noqa: E402
    PARITY_RTOL,
    extract_lowlevel_reference,
    parity_error,
)
from machine import print_machine  # noqa: E402

TARGET_SPEEDUP = 8.0
SHARED_AUDIO = Path(__file__).resolve().parents[1] / "examples" / "audio"


def generated_clips(count: int, *, seconds: float = 30.0, sr: int = 44100) -> dict:
    """Music-like (chords with vibrato over noise) and white-noise clips, seeded."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    clips = {}
    for i in range(count):
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        chord = sum(
            np.sin(2 * np.pi * root * ratio * t + 0.3 * np.sin(2 * np.pi * 5 * t))
            for ratio in (1.0, 1.26, 1.5, 2.0)
        )
        beat = (np.sin(2 * np.pi * 2 * t) > 0).astype(float)
        y = 0.15 * chord * (0.5 + 0.5 * beat) + 0.02 * rng.standard_normal(t.size)
        clips[f"generated music {i + 1} (30 s, 44.1 kHz)"] = (y.astype(np.float32), sr)
    noise = 0.1 * rng.standard_normal(t.size)
    clips["generated noise (30 s, 44.1 kHz)"] = (noise.astype(np.float32), sr)
    return clips


def real_clips() -> dict:
    """The shared real clips, decoded whole at their native rate."""
    if not SHARED_AUDIO.is_dir():
        return {}
    clips = {}
    for path in discover_audio(SHARED_AUDIO):
        y, sr = load_audio(path)
        clips[f"{path.name} ({y.size / sr:.0f} s, {sr / 1000:g} kHz)"] = (y, sr)
    return clips


def max_relative_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    """Largest per-feature parity error over the features both define (NaN-aware)."""
    return float(np.nanmax(parity_error(ours, reference)))


def timed(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, float, np.ndarray]:
    """Best wall time and best CPU time (this process) of ``repeat`` runs, and the result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per clip and extractor")
    parser.add_argument("--generated", type=int, default=2, help="generated music clips")
    args = parser.parse_args()
    print_machine()

    clips = {**real_clips(), **generated_clips(args.generated)}
    first = next(iter(clips.values()))
    extract_lowlevel(*first)  # compile the numba kernels, build the filter banks

    table = Table(title="Low-level features: ours vs plain librosa (one core, best of runs)")
    columns = ("clip", "ours wall s", "librosa wall s", "ours CPU s", "librosa CPU s")
    for column in (*columns, "speed-up wall", "speed-up CPU", "max rel. diff"):
        table.add_column(column, justify="left" if column == "clip" else "right")
    wall_speedups, cpu_speedups = [], []
    for name, (y, sr) in clips.items():
        ours_wall, ours_cpu, ours = timed(lambda y=y, sr=sr: extract_lowlevel(y, sr), args.repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref_wall, ref_cpu, ref = timed(
                lambda y=y, sr=sr: extract_lowlevel_reference(y, sr), args.repeat
            )
        wall_speedups.append(ref_wall / ours_wall)
        cpu_speedups.append(ref_cpu / ours_cpu)
        table.add_row(
            name,
            f"{ours_wall:.3f}",
            f"{ref_wall:.3f}",
            f"{ours_cpu:.3f}",
            f"{ref_cpu:.3f}",
            f"{wall_speedups[-1]:.1f}x",
            f"{cpu_speedups[-1]:.1f}x",
            f"{max_relative_difference(ours, ref):.1e}",
        )
    console = Console(width=140)
    console.print(table)
    for label, speedups in (("wall", wall_speedups), ("CPU", cpu_speedups)):
        geo = float(np.exp(np.mean(np.log(speedups))))
        verdict = "meets" if geo >= TARGET_SPEEDUP else "misses"
        console.print(
            f"geometric-mean speed-up ({label} time) {geo:.1f}x: {verdict} the target of "
            f"{TARGET_SPEEDUP:g}x"
        )
    console.print(f"parity target: max rel. diff <= {PARITY_RTOL:g}")


if __name__ == "__main__":
    main()
