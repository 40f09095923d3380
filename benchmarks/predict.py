"""Benchmark: ``Predictor.predict`` on a 30 s clip and on a 4-minute song, warm, one core.

A second table runs the same songs on all the machine's cores (as ``predict`` and ``serve``
do): a song's spans and musicnn's patch batches side by side on one-thread kernels
(:mod:`autoenchorder.side_by_side`, the default) against the same work one piece after another
on multi-threaded kernels (``threads=1``, the way before), interleaved, median wall seconds.

Issue 6 targets: < 1.5 s for a 30 s clip and < 4 s for a 4-minute song. The bundle is an
Autoen-chorder model (low-level features + musicnn-msd sequences) trained for one epoch on
random data: its prediction is meaningless, its cost is that of a trained one. It records no
``audio_input``, so -- like a model trained on ``extract``'s default -- it is scored on the whole
file; a song longer than 30 s is also scored on up to 3 timeline windows. The table splits the
time into the whole file's features (decode, the 207 low-level features, musicnn), the timeline
windows' features, and the model (prediction, MC dropout passes where there is dropout,
occlusion contributions); "no timeline" is ``max_windows=0`` (``predict --windows 0``). It gives
the load average, since the machine may be shared. ``--precision bfloat16`` makes the bundle
one whose sequences were made in bfloat16, so musicnn runs in it (CPUs with native bfloat16).

    python benchmarks/predict.py [--repeats 3] [--precision bfloat16]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from autoenchorder.audio.embed import get_embedder  # noqa: E402
from autoenchorder.audio.io import load_audio  # noqa: E402
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS, extract_lowlevel  # noqa: E402
from autoenchorder.bundle import save_bundle  # noqa: E402
from autoenchorder.data.dataset import PopularityDataset  # noqa: E402
from autoenchorder.models import make_model  # noqa: E402
from autoenchorder.predict import Predictor, analysis_windows  # noqa: E402
from machine import print_machine  # noqa: E402

TARGETS = {30.0: 1.5, 240.0: 4.0}


def song(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A stereo chord progression with noise, written in 30 s pieces."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=sr, channels=2) as f:
        for start in np.arange(0, seconds, 30.0):
            t = np.arange(int(min(30.0, seconds - start) * sr)) / sr
            root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
            y = sum(np.sin(2 * np.pi * root * k * t) / k for k in (1, 1.25, 1.5, 2))
            y = 0.2 * y * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.02 * rng.standard_normal(
                t.size
            )
            f.write(np.stack([y, y], axis=1).astype(np.float32))
    return path


def bundle(folder: Path, precision: str = "float32") -> Path:
    rng = np.random.default_rng(0)
    n = 64
    ds = PopularityDataset(
        ids=[f"s{i}" for i in range(n)],
        y=rng.uniform(0, 100, n),
        tabular=pd.DataFrame(rng.normal(size=(n, 207)), columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
        sequences=[rng.normal(size=(10, 200)).astype(np.float32) for _ in range(n)],
    )
    model = make_model("autoenchorder", ae_epochs=1, epochs=1, quiet=True).fit(ds)
    spec = {"columns": {"lowlevel": list(LOWLEVEL_COLUMNS)}, "embedder": {"name": "musicnn-msd"}}
    if precision != "float32":
        spec["embedder"]["precision"] = precision
    return save_bundle(model, folder / "bundle", feature_spec=spec)


def best_of(repeats: int, work) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of ``repeats`` runs (CPU time is what one idle
    core would take, roughly, when the machine is shared)."""
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--all-cores-repeats", type=int, default=7)
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(1)
    console = Console(width=130)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle_path = bundle(tmp, args.precision)
        predictor = Predictor.load(bundle_path)
        headline_only = Predictor.load(bundle_path, max_windows=0)
        embedder = get_embedder("musicnn-msd", precision=args.precision)
        table = Table(
            title=f"predict, warm, one core, best of {args.repeats}, musicnn in {args.precision}: "
            "CPU s (wall s)"
        )
        for column in (
            "input",
            "whole file: features",
            "timeline windows",
            "windows: features",
            "model",
            "total",
            "no timeline",
            "target s",
            "met (CPU)",
        ):
            table.add_column(column, justify="right")

        def features(signals: list[tuple[np.ndarray, int]]) -> None:
            for y, sr in signals:
                extract_lowlevel(y, sr)
                embedder.embed(y, sr)

        for seconds, target in TARGETS.items():
            path = song(tmp / f"song{int(seconds)}.flac", seconds)
            windows = analysis_windows(seconds) if seconds > 30 else []
            predictor.predict(path)  # warm-up: caches, filter banks, compiled kernels
            headline_only.predict(path)
            whole = best_of(args.repeats, lambda p=path: features([load_audio(p)]))
            timeline = best_of(
                args.repeats,
                lambda p=path, w=windows: features(
                    [load_audio(p, offset=s, duration=d) for s, d in w]
                ),
            )
            total = best_of(args.repeats, lambda p=path: predictor.predict(p))
            bare = best_of(args.repeats, lambda p=path: headline_only.predict(p))
            model = tuple(
                max(0.0, t - a - b) for t, a, b in zip(total, whole, timeline, strict=True)
            )
            cells = [f"{cpu:.2f} ({wall:.2f})" for wall, cpu in (whole,)]
            cells += [str(len(windows))]
            cells += [f"{cpu:.2f} ({wall:.2f})" for wall, cpu in (timeline, model, total, bare)]
            table.add_row(
                f"{seconds / 60:.1f} min song" if seconds > 30 else "30 s clip",
                *cells,
                f"{target:.1f}",
                "yes" if total[1] < target else "NO",
            )
        console.print(table)
        console.print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        console.print(all_cores(bundle_path, tmp, args.all_cores_repeats))
        console.print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def all_cores(bundle_path: Path, tmp: Path, repeats: int) -> Table:
    """Side by side (the default) against one after another, all cores, interleaved."""
    cores = os.cpu_count() or 1
    ours = Predictor.load(bundle_path, threads=cores)
    before = Predictor.load(bundle_path, threads=1)
    table = Table(title=f"predict, warm, {cores} cores, median of {repeats}: wall s (CPU s)")
    for column in ("input", "side by side (ours)", "one after another", "speed-up"):
        table.add_column(column, justify="right")
    saved = torch.get_num_threads()
    torch.set_num_threads(cores)
    try:
        with threadpool_limits(limits=cores):
            for seconds in TARGETS:
                path = tmp / f"song{int(seconds)}.flac"
                times: dict[str, list[tuple[float, float]]] = {"ours": [], "before": []}
                for predictor in (ours, before):  # warm-up
                    predictor.predict(path)
                for _ in range(repeats):
                    for name, predictor in (("ours", ours), ("before", before)):
                        times[name].append(best_of(1, lambda p=path, q=predictor: q.predict(p)))
                (ours_wall, ours_cpu), (before_wall, before_cpu) = (
                    np.median(np.array(times[k]), axis=0) for k in ("ours", "before")
                )
                table.add_row(
                    f"{seconds / 60:.1f} min song" if seconds > 30 else "30 s clip",
                    f"{ours_wall:.2f} ({ours_cpu:.2f})",
                    f"{before_wall:.2f} ({before_cpu:.2f})",
                    f"{before_wall / ours_wall:.2f}x",
                )
    finally:
        torch.set_num_threads(saved)
    return table


if __name__ == "__main__":
    main()
