"""Benchmark: rendering a procedural corpus (issue 4 target: 1,000 songs of 30 s in < 2 min
on 2 cores).

Prints, for 1 and 2 worker processes, the wall time to write N songs of 30 s (mixed wav /
flac / ogg / mp3), songs per second, time per song and the projected time for 1,000 songs,
next to the target; the CPU seconds spent (this process and its workers), which project the
time on 2 idle cores when the machine is shared (the load average is printed); and, on one
core, where a song's CPU time goes (synthesis vs encoding).

    python benchmarks/corpus.py [--n 200] [--duration 30] [--probe-musicnn 60]
                                [--probe-averages 300]

``--probe-musicnn K`` also checks that the sections are what a pretrained tagger hears: it
embeds K songs with musicnn (3 s patches) and reports how well a linear classifier, trained
on other artists' songs, tells each patch's section from its embedding.
``--probe-averages K`` checks what time averages see: a ridge regression from the 207
time-averaged low-level features of K songs (grouped by artist) to each popularity part.
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
from machine import print_machine

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


def probe_musicnn(n_songs: int, console: Console) -> None:
    """Section-from-patch accuracy of a grouped-CV logistic regression on musicnn embeddings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from autoenchorder.audio.embed import get_embedder

    embedder = get_embedder("musicnn-msd")
    config = CorpusConfig(n=8 * n_songs, seed=77, min_duration=15, max_duration=25)
    frames, labels, artists, pure = [], [], [], []
    for spec in sample_songs(config)[::8]:
        emb = embedder.embed(render_song(spec), SAMPLE_RATE)
        length = spec.section_seconds
        for start, frame in zip(emb.times, emb.frames, strict=True):
            centre = min(
                int((start + embedder.window_seconds / 2) // length), len(spec.sections) - 1
            )
            frames.append(frame)
            labels.append(spec.sections[centre])
            artists.append(spec.artist)
            pure.append(
                int(start // length) == int((start + embedder.window_seconds - 1e-3) // length)
            )
    labels_arr, pure_arr = np.array(labels), np.array(pure)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    predicted = cross_val_predict(
        model, np.array(frames), labels_arr, groups=artists, cv=GroupKFold(5)
    )
    table = Table(title=f"musicnn-msd patches -> section ({n_songs} songs, grouped by artist)")
    for col in ("patches", "count", "accuracy"):
        table.add_column(col, justify="right")
    table.add_row("all", str(labels_arr.size), f"{np.mean(predicted == labels_arr):.3f}")
    table.add_row(
        "inside one section",
        str(int(pure_arr.sum())),
        f"{np.mean(predicted[pure_arr] == labels_arr[pure_arr]):.3f}",
    )
    for name in np.unique(labels_arr):
        mask = labels_arr == name
        table.add_row(
            f"{name} (recall)", str(int(mask.sum())), f"{np.mean(predicted[mask] == name):.3f}"
        )
    _, counts = np.unique(labels_arr, return_counts=True)
    table.add_row("reference: majority class", "", f"{counts.max() / labels_arr.size:.3f}")
    console.print(table)


def probe_averages(n_songs: int, console: Console) -> None:
    """Grouped-CV ridge R^2 from the 207 time-averaged features to each popularity part."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from autoenchorder.audio.lowlevel import extract_lowlevel
    from autoenchorder.data.procedural import popularity_decomposition

    specs = sample_songs(CorpusConfig(n=n_songs, seed=99))
    features = np.array([extract_lowlevel(render_song(s), SAMPLE_RATE) for s in specs])
    parts = [popularity_decomposition(s) for s in specs]
    artists = [s.artist for s in specs]
    folds = GroupKFold(min(5, len(set(artists))))
    table = Table(title=f"207 time-averaged features -> popularity parts ({n_songs} songs)")
    table.add_column("part")
    table.add_column("grouped-CV ridge R^2", justify="right")
    for key in ("popularity", "order_blind", "song_level", "temporal"):
        target = np.array([p[key] for p in parts])
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-1, 4, 20)))
        predicted = cross_val_predict(model, features, target, groups=artists, cv=folds)
        r2 = 1 - np.sum((target - predicted) ** 2) / np.sum((target - target.mean()) ** 2)
        table.add_row(key, f"{r2:.3f}")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="songs per run (1000 = full target)")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument(
        "--probe-musicnn",
        type=int,
        default=0,
        metavar="K",
        help="also probe what musicnn hears of the sections, on K songs",
    )
    parser.add_argument(
        "--probe-averages",
        type=int,
        default=0,
        metavar="K",
        help="also fit time-averaged features to the popularity parts, on K songs",
    )
    args = parser.parse_args()
    print_machine()
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
    if args.probe_musicnn:
        probe_musicnn(args.probe_musicnn, console)
    if args.probe_averages:
        probe_averages(args.probe_averages, console)


if __name__ == "__main__":
    main()
