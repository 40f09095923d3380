"""Peak memory of `autoenchorder extract` over generated corpora of growing size.

Target (issue 2): 1,000 clips of 30 s with 2 workers, peak RSS of the whole process tree
< 1.5 GB, and the peak does not grow with the corpus size. The table pairs each corpus size with
that budget; a flat peak column across sizes is what "does not grow" means.

    python benchmarks/extract_memory.py                 # 100, 250 and 500 clips
    python benchmarks/extract_memory.py --sizes 1000    # the issue's figure (~2.6 GB of wav)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from machine import print_machine

BUDGET_MB = 1500.0


def write_corpus(root: Path, n: int, *, seconds: float = 30.0, sr: int = 44100) -> None:
    """Write ``n`` distinct 30 s stereo clips (chords + noise) as 16-bit wav, reusing old ones."""
    root.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    for k in range(n):
        path = root / f"clip{k:05d}.wav"
        if path.exists():
            continue
        rng = np.random.default_rng(k)
        freqs = 110.0 * 2 ** (rng.integers(0, 24, size=3) / 12)
        y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / 3
        y = 0.4 * y * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t) ** 2)
        y = y + 0.02 * rng.standard_normal(t.size)
        sf.write(path, np.stack([y, y[::-1]], axis=1).astype(np.float32), sr, subtype="PCM_16")


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        stack.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024.0


def run_extract(corpus: Path, store: Path, workers: int) -> tuple[float, float]:
    """Run the CLI in a subprocess; return (seconds, peak tree RSS in MB)."""
    cli = Path(sys.executable).with_name("autoenchorder")
    cmd = [
        str(cli),
        "extract",
        str(corpus),
        "--out",
        str(store),
        "--workers",
        str(workers),
        "--quiet",
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    proc.wait()
    stop.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"extract failed with status {proc.returncode}")
    return time.perf_counter() - started, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ae-bench")
    args = parser.parse_args()
    print_machine()

    corpus = args.workdir / "corpus"
    rows = []
    for n in sorted(args.sizes):
        print(f"writing {n} clips ...", file=sys.stderr)
        write_corpus(corpus, n)
        subset = args.workdir / f"corpus-{n}"
        subset.mkdir(exist_ok=True)
        for k in range(n):
            link = subset / f"clip{k:05d}.wav"
            if not link.exists():
                link.symlink_to(corpus / link.name)
        store = args.workdir / f"store-{n}"
        subprocess.run(["rm", "-rf", str(store)], check=True)
        print(f"extracting {n} clips with {args.workers} workers ...", file=sys.stderr)
        seconds, peak = run_extract(subset, store, args.workers)
        rows.append((n, seconds, n / seconds, peak))

    print(
        f"\nextract, {args.workers} workers, 30 s 44.1 kHz stereo clips; budget {BUDGET_MB:.0f} MB"
    )
    header = ("clips", "seconds", "clips/s", "peak RSS MB", "budget MB", "ok")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 9, 8, 12, 10, 4), strict=True)))
    for n, seconds, rate, peak in rows:
        ok = "yes" if peak < BUDGET_MB else "NO"
        print(f"{n:>6} {seconds:>9.1f} {rate:>8.2f} {peak:>12.0f} {BUDGET_MB:>10.0f} {ok:>4}")
    growth = rows[-1][3] / rows[0][3] if len(rows) > 1 else 1.0
    print(f"peak growth from {rows[0][0]} to {rows[-1][0]} clips: x{growth:.2f} (flat is ~1.0)")


if __name__ == "__main__":
    main()
