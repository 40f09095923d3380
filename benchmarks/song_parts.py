"""Benchmark: CPU time per procedural song of the demo's stages (render, decode, features).

``make demo`` renders procedural songs (:mod:`autoenchorder.data.procedural`), then extracts
the 207 low-level features and musicnn-msd sequences from the written files. This prints, per
song and for a seeded sample of the demo's songs (10-30 s, 22.05 kHz), the CPU time (this
process, one thread, the best of ``--repeat`` passes over the sample) of each stage, with a
SHA-256 of the rendered audio and of the features so that a faster version can be checked to
give the same output.

    python benchmarks/song_parts.py [--songs 8] [--repeat 3]
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
import hashlib  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from autoenchorder.audio.embed import get_embedder  # noqa: E402
from autoenchorder.audio.io import load_audio  # noqa: E402
from autoenchorder.audio.lowlevel import extract_lowlevel  # noqa: E402
from autoenchorder.data.procedural import CorpusConfig, render_song, sample_songs  # noqa: E402
from autoenchorder.data.procedural.generate import SAMPLE_RATE, audio_path, write_song  # noqa: E402
from machine import print_machine  # noqa: E402


def best_cpu(stage: Callable[[], list], repeat: int) -> tuple[float, list]:
    """Smallest CPU time (this process) of ``repeat`` runs of ``stage``, and its last result."""
    best, result = float("inf"), []
    for _ in range(repeat):
        start = time.process_time()
        result = stage()
        best = min(best, time.process_time() - start)
    return best, result


def digest(arrays: list[np.ndarray]) -> str:
    """First 16 hex digits of the SHA-256 of the arrays' bytes."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array).tobytes())
    return sha.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8, help="songs of the demo corpus (seed 0)")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the songs per stage")
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(1)

    specs = sample_songs(CorpusConfig(n=args.songs, seed=0))
    embedder = get_embedder("musicnn-msd")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "audio").mkdir()
        for spec in specs:  # also compiles and warms every kernel used below
            write_song(spec, out, SAMPLE_RATE)
        warm, warm_sr = load_audio(audio_path(out, specs[0]))
        extract_lowlevel(warm, warm_sr)
        embedder.embed(warm, warm_sr)

        render, audio = best_cpu(lambda: [render_song(s) for s in specs], args.repeat)
        paths = [audio_path(out, s) for s in specs]
        decode, decoded = best_cpu(lambda: [load_audio(p) for p in paths], args.repeat)
        lowlevel, features = best_cpu(
            lambda: [extract_lowlevel(y, sr) for y, sr in decoded], args.repeat
        )
        musicnn, frames = best_cpu(
            lambda: [embedder.embed(y, sr).frames for y, sr in decoded], args.repeat
        )
    seconds = sum(y.size / sr for y, sr in decoded) / len(specs)
    n = len(specs)
    print(f"{n} songs, {seconds:.1f} s of audio per song on average; CPU ms per song:")
    for name, cpu in (
        ("render", render),
        ("decode", decode),
        ("lowlevel", lowlevel),
        ("musicnn-msd", musicnn),
    ):
        print(f"  {name:12s} {1000 * cpu / n:8.1f}")
    print(f"audio sha256 {digest(audio)}  lowlevel sha256 {digest(features)}  ", end="")
    print(f"musicnn sha256 {digest(frames)}")


if __name__ == "__main__":
    main()
