"""Benchmark: what CLAP costs per 30 s clip on the CPU, beside musicnn-msd and VGGish.

CLAP's weights (laion/clap-htsat-unfused, ~600 MB) are not downloaded: the audio tower is a
seeded random initialisation of the *published* configuration (the checkpoint's config.json
and preprocessor_config.json: ``autoenchorder.audio.embed.clap_published``, as in
tests/test_clap.py), saved as a snapshot folder and loaded
by the real embedder. Same architecture, same shapes, same feature extractor: the cost is the
real one (random weights change the numbers, not the arithmetic). The text tower, which the
embedder never loads, is shrunk to one small layer. VGGish is likewise random weights of the
right shapes; musicnn-msd uses its real weights (``weights fetch``) when set up.

Each embedder runs in a fresh subprocess with one thread (OMP/MKL/torch), is loaded and warmed
up, then embeds a generated 30 s, 44.1 kHz mono clip ``--repeat`` times. Reported per clip:
CPU seconds (``time.process_time``, best run: on a shared machine CPU time is disturbed far
less than wall time), wall seconds (best), x real time (by CPU time), frames, the process RSS
once the model is loaded, and the peak RSS growth while embedding (``VmHWM`` reset through
``/proc/self/clear_refs`` after the warm-up), i.e. the memory one clip needs above the model.

    python benchmarks/clap.py [--repeat 3] [--embedders clap,clap-hop10,musicnn-msd,vggish]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autoenchorder.audio.embed.clap_published import write_random_snapshot
from embeddings import SR, _random_vggish_weights, _rss_mb, synth
from machine import print_machine

CLIP_SECONDS = 30.0
#: name shown -> (registry embedder, its options)
EMBEDDERS: dict[str, tuple[str, dict]] = {
    "clap": ("clap", {}),  # hop 5 s, the default: 5 windows of 10 s on a 30 s clip
    "clap-hop10": ("clap", {"hop_seconds": 10.0}),  # no overlap: 3 windows
    "musicnn-msd": ("musicnn-msd", {}),
    "vggish": ("vggish", {}),
}


def child(name: str, snapshot: str, repeat: int) -> dict:
    """Load one embedder, warm it up, embed the clip ``repeat`` times; return the costs."""
    import torch

    torch.set_num_threads(1)
    from autoenchorder.audio.embed import get_embedder

    registry_name, options = EMBEDDERS[name]
    with tempfile.TemporaryDirectory() as tmp:
        if registry_name == "clap":
            options = {**options, "weights": snapshot}
        elif registry_name == "vggish":
            options = {**options, "weights": _random_vggish_weights(Path(tmp))}
        embedder = get_embedder(registry_name, **options)
        clip = synth(CLIP_SECONDS)
        embedder.embed(clip[: int(SR * 12)], SR)  # warm-up: weights paged in, allocator, JIT
        Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
        model_mb, _ = _rss_mb()
        wall, cpu = [], []
        for _ in range(repeat):
            w0, c0 = time.perf_counter(), time.process_time()
            out = embedder.embed(clip, SR)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        _, peak_mb = _rss_mb()
    return {
        "cpu": min(cpu),
        "wall": min(wall),
        "frames": int(out.frames.shape[0]),
        "dim": int(out.frames.shape[1]),
        "model_mb": model_mb,
        "extra_mb": peak_mb - model_mb,
    }


def run_child(name: str, snapshot: Path, repeat: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = "1"
    command = [sys.executable, __file__, "--child", name, "--snapshot", str(snapshot)]
    proc = subprocess.run(
        [*command, "--repeat", str(repeat)], capture_output=True, text=True, env=env, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:160]}


def main() -> None:
    parser = argparse.ArgumentParser(description="CLAP's CPU cost per 30 s clip")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--embedders", default=",".join(EMBEDDERS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT", json.dumps(child(args.child, args.snapshot, args.repeat)))
        return
    print_machine()
    from rich.console import Console
    from rich.table import Table

    names = [n.strip() for n in args.embedders.split(",") if n.strip()]
    table = Table(
        title=f"one {CLIP_SECONDS:.0f} s clip (44.1 kHz mono), 1 thread, best of {args.repeat}"
    )
    for column in (
        "embedder",
        "frames x dim",
        "CPU s / clip",
        "wall s / clip",
        "x real time (CPU)",
        "model RSS MB",
        "peak extra MB / clip",
    ):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = (
            write_random_snapshot(Path(tmp) / "clap") if any("clap" in n for n in names) else tmp
        )
        for name in names:
            res = run_child(name, Path(snapshot), args.repeat)
            if "error" in res:
                table.add_row(name, f"unavailable: {res['error']}", *[""] * 5)
                continue
            table.add_row(
                name,
                f"{res['frames']} x {res['dim']}",
                f"{res['cpu']:.2f}",
                f"{res['wall']:.2f}",
                f"{CLIP_SECONDS / res['cpu']:.1f}x",
                f"{res['model_mb']:.0f}",
                f"{res['extra_mb']:.0f}",
            )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
