"""Past one machine: the extract stage on the local pool and on Ray, side by side in one run.

Four measurements, each printed as a row of one table beside its target (issue 13):

1. Ray's overhead on this machine: ``extract`` (decode + 207 features + musicnn) of 100
   procedural songs of 30 s with 2 local worker processes, then with 2 Ray actors on a local
   Ray started beforehand (a running cluster, as a user of ``--address auto`` has), alternated
   three times; target: the median of the three ratios, Ray >= 0.85x the pool's songs per
   second. Throughput is the rate once the workers run
   (first finished song to last), the rate a long catalog sees; the overall rate, which also
   pays for starting the workers and loading their weights, is printed beside it, and Ray's
   own start-up apart.
2. Scaling: the same work (80 songs) on a ``ray.cluster_utils.Cluster`` of 1 node x 1 CPU and
   of 2 nodes x 1 CPU (both on this machine), alternated three times; target: the median
   ratio >= 1.7x. One pair alone swings by up to +-0.1x on a 2-CPU machine whose two logical
   CPUs are one core's hardware threads (what the other thread does moves a lone thread's
   speed), hence the repeats and the medians; each row prints every pair and the range.
3. The cost of one 3.5-minute song (decode, the 207 features, musicnn), in CPU seconds on one
   thread, and from it the time for SpotGenTrack's ~95,000 full songs on 64 cores (< 1 hour):
   musicnn in float32 (the published model's arithmetic, ``extract``'s default) and, where the
   CPU runs it natively, in bfloat16 (``extract --precision bfloat16``).
4. Peak RSS per Ray worker (``VmHWM`` of the actor processes) for 200 and 1,000 songs of
   10 s: flat means memory does not grow with the catalog.

    python benchmarks/scaling.py                # the issue's sizes (about 13 minutes on 2 cores)
    python benchmarks/scaling.py --quick        # small sizes, to check the script
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from machine import print_machine

EMBEDDER = "musicnn-msd"
#: SpotGenTrack's songs (the study's corpus), as full songs
CATALOG_SONGS = 95_000
CLUSTER_CORES = 64
#: Pairs of runs (pool / Ray, 1 node / 2 nodes), alternated: the median ratio is the result
REPEATS = 3


def render(out: Path, n: int, seconds: float) -> Path:
    """Render ``n`` procedural songs of ``seconds`` each (resumes); return the audio folder."""
    cli = Path(sys.executable).with_name("autoenchorder")
    if not (out / "audio").is_dir() or len(list((out / "audio").iterdir())) < n:
        subprocess.run(
            [
                str(cli),
                "corpus",
                "make",
                "--n",
                str(n),
                "--out",
                str(out),
                "--workers",
                "2",
                "--min-duration",
                str(seconds),
                "--max-duration",
                str(seconds),
                "--quiet",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out / "audio"


def timed_extract(audio: Path, store: Path, engine) -> Run:  # noqa: ANN001
    """Extract ``audio`` into a fresh ``store`` on ``engine``, timing every finished song."""
    from autoenchorder.data.extract import extract_corpus

    shutil.rmtree(store, ignore_errors=True)
    finished: list[float] = []
    started = time.perf_counter()
    summary = extract_corpus(
        audio,
        store,
        embedder=EMBEDDER,
        engine=engine,
        on_progress=lambda done, total: finished.append(time.perf_counter() - started),
    )
    seconds = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"extract failed on {summary.failed} songs: {summary.failures[:3]}")
    return Run(seconds, summary.done, finished)


@dataclass
class Run:
    """One timed extract: wall seconds, songs done, and when each song finished (s from start).

    ``steady`` is the rate from the first finished song to the last: the throughput once the
    workers are up (a long catalog's rate); ``overall`` includes starting the workers and
    loading their weights, which a run pays once (once per 1,024 songs on Ray).
    """

    seconds: float
    done: int
    finished: list[float]

    @property
    def overall(self) -> float:
        return self.done / self.seconds

    @property
    def steady(self) -> float:
        span = self.finished[-1] - self.finished[0]
        return (len(self.finished) - 1) / span if span > 0 else float("nan")

    @property
    def first(self) -> float:
        return self.finished[0]


def ray_worker_peak_mb() -> float:
    """The largest peak RSS (``VmHWM``) among this machine's Ray worker processes, in MB."""
    peak = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                if not fh.read().startswith(b"ray::"):
                    continue
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024.0)
        except OSError:
            continue
    return peak


def sampled_peak(run: Callable[[], object]) -> tuple[object, float]:
    """Run ``run()`` while sampling :func:`ray_worker_peak_mb`; return (its result, peak MB)."""
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, ray_worker_peak_mb())
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = run()
    finally:
        stop.set()
        sampler.join()
    return result, peak


def start_ray(**kwargs) -> float:  # noqa: ANN003
    """``ray.init`` quietly; return the seconds it took."""
    from autoenchorder.engine.ray_backend import import_ray

    ray = import_ray()  # as the engine does it (usage statistics off)

    started = time.perf_counter()
    ray.init(
        address="local",
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
        **kwargs,
    )
    return time.perf_counter() - started


def song_cost(audio_dir: Path, precision: str = "float32") -> dict[str, float]:
    """CPU seconds (one thread) of decode, the 207 features and musicnn for one song."""
    import torch
    from threadpoolctl import threadpool_limits

    from autoenchorder.audio.embed import get_embedder
    from autoenchorder.audio.processor import WHOLE_FILE, AudioProcessor

    torch.set_num_threads(1)
    song = sorted(p for p in audio_dir.iterdir() if p.is_file())[0]
    embedder = get_embedder(EMBEDDER, precision=precision)
    processor = AudioProcessor(WHOLE_FILE, compat="spotgentrack", embedder=embedder)
    with threadpool_limits(1):
        processor.lowlevel(processor.decode(song))  # warm: compiled kernels, caches
        cost: dict[str, float] = {}
        started = time.process_time()
        audio = processor.decode(song)
        cost["decode"] = time.process_time() - started
        started = time.process_time()
        processor.lowlevel(audio)
        cost["207 features"] = time.process_time() - started
        started = time.process_time()
        processor.embed(audio)
        cost["musicnn"] = time.process_time() - started
    cost["seconds of audio"] = float(audio.duration)
    return cost


def median_ratio(pairs: list[tuple[Run, Run]]) -> tuple[float, float, float]:
    """Median, lowest and highest of ``second.steady / first.steady`` over the pairs."""
    ratios = sorted(second.steady / first.steady for first, second in pairs)
    return statistics.median(ratios), ratios[0], ratios[-1]


def pair_rates(pairs: list[tuple[Run, Run]]) -> str:
    """Each pair's songs/s once running, ``first / second``, and their overall rates after."""
    steady = "; ".join(f"{first.steady:.2f} / {second.steady:.2f}" for first, second in pairs)
    overall = "; ".join(f"{first.overall:.2f} / {second.overall:.2f}" for first, second in pairs)
    return f"{steady} (overall: {overall})"


def cluster_extract(ray, cluster_class, audio: Path, work: Path, nodes: int) -> Run:  # noqa: ANN001
    """``extract`` on a fresh ``ray.cluster_utils.Cluster`` of ``nodes`` nodes x 1 CPU."""
    from autoenchorder.engine import EngineSpec

    cluster = cluster_class(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": 150 * 1024**2,
        },
    )
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=1, object_store_memory=150 * 1024**2)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
        try:
            return timed_extract(
                audio, work / f"store-nodes{nodes}", EngineSpec("ray", workers=nodes)
            )
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (checks the script)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ae-scaling")
    args = parser.parse_args()
    print_machine()
    from autoenchorder.engine import EngineSpec
    from autoenchorder.engine.ray_backend import import_ray

    ray = import_ray()  # as the engine does it (usage statistics off)
    from ray.cluster_utils import Cluster

    n_overhead, n_scaling, rss_sizes = (12, 8, (20, 60)) if args.quick else (100, 80, (200, 1000))
    work = args.workdir
    rows: list[tuple[str, str, str, str]] = []

    # 1. Ray's overhead against the local pool, 2 workers each, 30 s songs, alternated.
    audio30 = render(work / f"songs30-{n_overhead}", n_overhead, 30.0)
    overhead: list[tuple[Run, Run]] = []
    ray_starts: list[float] = []
    for repeat in range(REPEATS):
        print(
            f"1/4 extract {n_overhead} songs of 30 s ({repeat + 1}/{REPEATS}): local pool ...",
            file=sys.stderr,
        )
        local = timed_extract(audio30, work / "store-local", EngineSpec("local", workers=2))
        print("    ... Ray (2 actors)", file=sys.stderr)
        ray_starts.append(start_ray(num_cpus=2, object_store_memory=300 * 1024**2))
        try:
            on_ray = timed_extract(audio30, work / "store-ray", EngineSpec("ray", workers=2))
        finally:
            ray.shutdown()
        overhead.append((local, on_ray))
    ratio, lowest, highest = median_ratio(overhead)
    rows.append(
        (
            f"extract {n_overhead} x 30 s songs, 2 workers, {len(overhead)} pairs",
            f"songs/s once running, local pool / Ray: {pair_rates(overhead)}; first song after "
            f"{overhead[0][0].first:.1f} s / {overhead[0][1].first:.1f} s; "
            f"Ray start-up {statistics.median(ray_starts):.1f} s apart",
            f"Ray {ratio:.2f}x the pool median ({lowest:.2f}-{highest:.2f}x)",
            f">= 0.85x: {'met' if ratio >= 0.85 else 'NOT met'}",
        )
    )

    # 2. One node x 1 CPU against two nodes x 1 CPU, alternated, the median ratio.
    audio_scale = render(work / f"songs30-{n_scaling}", n_scaling, 30.0)
    pairs: list[tuple[Run, Run]] = []
    for repeat in range(REPEATS):
        runs: dict[int, Run] = {}
        for nodes in (1, 2):
            print(
                f"2/4 extract {n_scaling} songs on {nodes} node(s) x 1 CPU "
                f"({repeat + 1}/{REPEATS}) ...",
                file=sys.stderr,
            )
            runs[nodes] = cluster_extract(ray, Cluster, audio_scale, work, nodes)
        pairs.append((runs[1], runs[2]))
    speedup, lowest, highest = median_ratio(pairs)
    rows.append(
        (
            f"extract {n_scaling} x 30 s songs, Ray cluster on this machine, {len(pairs)} pairs",
            f"songs/s once running, 1 node x 1 CPU / 2 nodes x 1 CPU: {pair_rates(pairs)}",
            f"{speedup:.2f}x median ({lowest:.2f}-{highest:.2f}x)",
            f">= 1.7x: {'met' if speedup >= 1.7 else 'NOT met'}",
        )
    )

    # 3. One 3.5-minute song, CPU seconds per stage, and the catalog arithmetic.
    print("3/4 cost of one 3.5-minute song ...", file=sys.stderr)
    import torch

    from autoenchorder.precision import native_bfloat16

    song210 = render(work / "song210", 1, 210.0)
    precisions = ["float32"] + (["bfloat16"] if native_bfloat16(torch.device("cpu")) else [])
    for precision in precisions:
        cost = song_cost(song210, precision)
        per_song = cost["decode"] + cost["207 features"] + cost["musicnn"]
        hours = CATALOG_SONGS * per_song / CLUSTER_CORES / 3600
        parts = ", ".join(f"{k} {v:.2f}" for k, v in cost.items() if k != "seconds of audio")
        rows.append(
            (
                f"one {cost['seconds of audio']:.0f} s song, 1 thread, musicnn in {precision}",
                f"{per_song:.2f} CPU s ({parts}); "
                f"{CATALOG_SONGS:,} x {per_song:.2f} s / {CLUSTER_CORES} cores / 3600",
                f"{hours:.2f} h for {CATALOG_SONGS:,} full songs on {CLUSTER_CORES} cores",
                f"< 1 h: {'met' if hours < 1 else 'NOT met'}",
            )
        )
    if len(precisions) == 1:
        print("(no bfloat16 row: this CPU has no native bfloat16)", file=sys.stderr)

    # 4. Peak RSS of each Ray worker for a small and a large catalog.
    peaks: dict[int, float] = {}
    for n in rss_sizes:
        audio10 = render(work / f"songs10-{n}", n, 10.0)
        print(f"4/4 peak RSS per Ray worker, {n} songs of 10 s ...", file=sys.stderr)
        start_ray(num_cpus=2, object_store_memory=300 * 1024**2)
        _, peaks[n] = sampled_peak(
            lambda audio10=audio10, n=n: timed_extract(
                audio10, work / f"store-rss{n}", EngineSpec("ray", workers=2)
            )
        )
        ray.shutdown()
    small, large = rss_sizes
    growth = peaks[large] / peaks[small]
    rows.append(
        (
            "peak RSS per Ray worker (VmHWM)",
            f"{small} songs {peaks[small]:.0f} MB; {large} songs {peaks[large]:.0f} MB",
            f"x{growth:.2f} from {small} to {large}",
            f"flat (<= x1.10): {'met' if growth <= 1.10 else 'NOT met'}",
        )
    )

    print()
    header = ("measure", "figures", "result", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
