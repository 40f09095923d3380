"""Time to load the real datasets: MusicOSet (target < 3 s, issue 4) and Hit Predictor.

Each loader is timed twice: cold, in a fresh interpreter (imports included, what
`autoenchorder data info` costs), and warm (median of repeated calls in this process). The
reference on each row is the plain pandas cost of just reading the same files with
``read_csv`` and no joins or checks -- the floor a loader cannot go below -- and the target.

    python benchmarks/datasets.py [--shared DIR] [--repeat 5]   # DIR/musicoset, DIR/hit-predictor

Without ``--shared`` the folders are found as ``autoenchorder data where`` shows.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from autoenchorder.data.locations import require_root
from autoenchorder.data.sources.hit_predictor import load_hit_predictor
from autoenchorder.data.sources.musicoset import load_musicoset
from machine import print_machine

REPO = Path(__file__).resolve().parents[1]
MUSICOSET_FILES = [
    ("musicoset_metadata/songs.csv", "\t"),
    ("musicoset_metadata/artists.csv", "\t"),
    ("musicoset_metadata/tracks.csv", "\t"),
    ("musicoset_songfeatures/acoustic_features.csv", "\t"),
]


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cold_seconds(module: str, function: str, root: Path) -> float:
    code = (
        "import time; t = time.perf_counter(); "
        f"from autoenchorder.data.sources.{module} import {function}; "
        f"{function}({str(root)!r}); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print_machine()
    musicoset = require_root("musicoset", args.shared and args.shared / "musicoset")
    hits = require_root("hit-predictor", args.shared and args.shared / "hit-predictor")
    hit_files = sorted(hits.glob("dataset-of-*.csv"))

    rows = []
    floor = median_seconds(
        lambda: [pd.read_csv(musicoset / name, sep=sep) for name, sep in MUSICOSET_FILES],
        args.repeat,
    )
    rows.append(
        (
            "MusicOSet",
            len(load_musicoset(musicoset)),
            cold_seconds("musicoset", "load_musicoset", musicoset),
            median_seconds(lambda: load_musicoset(musicoset), args.repeat),
            floor,
            "< 3 s",
        )
    )
    floor = median_seconds(lambda: [pd.read_csv(p) for p in hit_files], args.repeat)
    rows.append(
        (
            "Hit Predictor",
            len(load_hit_predictor(hits)),
            cold_seconds("hit_predictor", "load_hit_predictor", hits),
            median_seconds(lambda: load_hit_predictor(hits), args.repeat),
            floor,
            "-",
        )
    )

    header = ("dataset", "rows", "ours cold (s)", "ours warm (s)", "read_csv only (s)", "target")
    widths = [15, 7, 14, 14, 18, 7]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for name, n, cold, warm, ref, target in rows:
        cells = (name, str(n), f"{cold:.3f}", f"{warm:.3f}", f"{ref:.3f}", target)
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))


if __name__ == "__main__":
    main()
