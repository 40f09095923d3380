"""Benchmark: rendering a procedural corpus (issue 4 target: 1,000 songs of 30 s in < 2 min
on 2 cores).

Prints, for 1 and 2 worker processes, the wall time to write N songs of 30 s (mixed wav /
flac / ogg / mp3), songs per second, time per song and the projected time for 1,000 songs,
next to the target; the CPU seconds spent (this process and its workers), which project the
time on 2 idle cores when the machine is shared (the load average is printed); and, on one
core, where a song's CPU time goes (synthesis vs encoding).

    python benchmarks/corpus.py [--n 200] [--duration 30]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from autoenchorder.data.procedural import CorpusConfig, render_song, sample_songs, write_corpus
from autoenchorder.data.procedural.generate import AUDIO_FORMATS, SAMPLE_RATE

TARGET_SECONDS_PER_1000 = 120.0


def cpu_seconds() -> float:
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def time_corpus(n: int, duration: float, workers: int) -> tuple[float, float]:
    """Wall and CPU seconds to write ``n`` songs."""
    config = CorpusConfig(n=n, seed=0, min_duration=duration - 0.5, max_duration=duration)
    out = Path(tempfile.mkdtemp(prefix="corpus-bench-"))
    try:
        start, cpu = time.perf_counter(), cpu_seconds()
        write_corpus(config, out, workers=workers)
        return time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_parts(duration: float, songs: int = 8) -> dict[str, float]:
    config = CorpusConfig(n=songs, seed=1, min_duration=duration - 0.5, max_duration=duration)
    specs = sample_songs(config)
    parts: dict[str, float] = {}
    with threadpool_limits(limits=1):
        start = time.process_time()
        audio = [render_song(s) for s in specs]
        parts["synthesis + mix"] = (time.process_time() - start) / songs
        for ext, (container, subtype) in AUDIO_FORMATS.items():
            start = time.process_time()
            for y in audio:
                sf.write(io.BytesIO(), y, SAMPLE_RATE, format=container, subtype=subtype)
            parts[f"encode {ext}"] = (time.process_time() - start) / songs
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="songs per run (1000 = full target)")
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    console = Console()

    load = os.getloadavg()[0]
    table = Table(title=f"corpus make: {args.n} songs of {args.duration:.0f} s, mixed formats")
    cols = ("workers", "wall s", "songs/s", "s/song", "CPU s", "1,000 songs: wall", "idle 2 cores")
    for col in cols:
        table.add_column(col, justify="right")
    idle = {}
    for workers in (1, 2):
        wall, cpu = time_corpus(args.n, args.duration, workers)
        idle[workers] = max(cpu / workers, cpu / 2) / args.n * 1000
        table.add_row(
            str(workers),
            f"{wall:.1f}",
            f"{args.n / wall:.2f}",
            f"{wall / args.n:.3f}",
            f"{cpu:.1f}",
            f"{wall / args.n * 1000:.0f} s",
            f"{idle[workers]:.0f} s",
        )
    table.add_row(
        "target",
        "",
        "",
        "",
        "",
        "",
        f"< {TARGET_SECONDS_PER_1000:.0f} s "
        f"({'ok' if idle[2] < TARGET_SECONDS_PER_1000 else 'MISSED'})",
    )
    console.print(table)
    console.print(
        f"load average {load:.1f} on {os.cpu_count()} cores (wall times grow with other load; "
        "'idle 2 cores' = CPU seconds / 2)"
    )

    parts = time_parts(args.duration)
    detail = Table(title="one song on one core (mean of 8), CPU seconds")
    detail.add_column("stage")
    detail.add_column("s/song", justify="right")
    detail.add_column("x real time", justify="right")
    for stage, seconds in parts.items():
        detail.add_row(stage, f"{seconds:.3f}", f"{args.duration / seconds:.0f}")
    mean_encode = float(np.mean([v for k, v in parts.items() if k.startswith("encode")]))
    detail.add_row(
        "reference: budget per song per core", f"{2 * TARGET_SECONDS_PER_1000 / 1000:.3f}", ""
    )
    detail.add_row("synthesis + mean encode", f"{parts['synthesis + mix'] + mean_encode:.3f}", "")
    console.print(detail)


if __name__ == "__main__":
    main()
