"""Benchmark: pretrained embedders' speed (1 and 2 threads), batch sizes, memory on a long file.

For each available embedder -- musicnn-msd, musicnn-mtt (the real weights, if set up) and
vggish (random weights of the right shapes, if the module exists) -- it prints:

- speed on a generated 30 s, 44.1 kHz clip (resampling + front-end + network, from the
  in-memory waveform): clips per second and x real time, with 1 and with 2 threads, in float32
  and, where the CPU has native bfloat16, in bfloat16 with its distance from float32's frames
  (relative error, least cosine similarity of a frame) (each
  thread count in its own subprocess, so BLAS / OpenMP pools are sized before import); best
  of ``--repeat`` runs (the machine may be shared: the best run is the least disturbed).
  With 1 thread, x real time is also given in CPU time (``time.process_time``), which other
  processes on a shared machine disturb far less than wall time; the target is judged on it;
- a batch-size sweep on a 2-minute signal, 1 thread (CPU time);
- peak memory for a generated 10-minute, 44.1 kHz stereo file: the growth of the process's
  peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs``) while embedding, measured in a
  fresh subprocess after the model is loaded and warmed up, i.e. memory above the model's own
  weights; for ``embed_file``
  (streamed) and for ``embed(load_audio(...))`` (one shot, the original's way);
- the original musicnn (TensorFlow, ``musicnn.extractor``) on the same 30 s clip, 1 thread,
  when its reference venv exists (``scripts/make_musicnn_reference.py`` makes it).

Targets (issue 3): musicnn-msd >= 60x real time and VGGish >= 30x on one core; < 500 MB above
the weights for a 10-minute song.

    python benchmarks/embeddings.py [--repeat 3] [--reference-venv /tmp/musicnn-ref]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from machine import print_machine

TARGET_RT = {"musicnn-msd": 60.0, "musicnn-mtt": 60.0, "vggish": 30.0}
TARGET_MB = 500.0
CLIP_SECONDS = 30.0
SWEEP_SECONDS = 120.0
LONG_SECONDS = 600.0
SR = 44100


def synth(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0):
    """Music-like test signal: random chords of harmonic tones, a beat and noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros((channels, n), dtype=np.float32)
    step = sr // 2
    t = np.arange(step) / sr
    env = np.exp(-3 * t).astype(np.float32)
    for start in range(0, n, step):
        stop = min(n, start + step)
        note = np.zeros(step, dtype=np.float32)
        for f0 in 110 * 2 ** (rng.integers(0, 36, 3) / 12):
            for h in range(1, 5):
                note += (0.1 / h) * np.sin(2 * np.pi * f0 * h * t).astype(np.float32)
        note *= env
        out[:, start:stop] += note[: stop - start]
    out += 0.02 * rng.standard_normal(out.shape).astype(np.float32)
    return out[0] if channels == 1 else out


def _random_vggish_weights(folder: Path) -> Path:
    import torch

    from autoenchorder.audio.embed.vggish_weights import expected_shapes

    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=gen) * 0.05 for k, s in expected_shapes().items()}
    path = folder / "vggish-random.pth"
    torch.save(state, path)
    return path


#: (embedder, precision) pairs measured; bfloat16 only where the CPU runs it natively.
PRECISIONS = ("float32", "bfloat16")


def make_embedder(name: str, tmp: Path, **options):
    from autoenchorder.audio.embed import get_embedder

    if name == "vggish":
        options["weights"] = _random_vggish_weights(tmp)
    return get_embedder(name, **options)


def available(tmp: Path) -> list[tuple[str, str]]:
    """(name, status) for each embedder we try."""
    out = []
    for name in ("musicnn-msd", "musicnn-mtt", "vggish"):
        try:
            make_embedder(name, tmp)
            out.append((name, "ok"))
        except Exception as exc:  # noqa: BLE001  (report any reason an embedder is unusable)
            out.append((name, f"unavailable: {exc}".splitlines()[0][:120]))
    return out


# ------------------------------------------------------------------------------ child modes


def child_speed(name: str, repeat: int, precision: str = "float32") -> dict:
    import time

    import numpy as np
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    with tempfile.TemporaryDirectory() as tmp:
        emb = make_embedder(name, Path(tmp), precision=precision)
        clip = synth(CLIP_SECONDS)
        emb.embed(clip[: SR * 5], SR)  # warm-up (librosa/numba JIT, allocator)
        deviation = None
        if precision != "float32":
            a = make_embedder(name, Path(tmp)).embed(clip, SR).frames
            b = emb.embed(clip, SR).frames
            cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
            rel = float(np.linalg.norm(a - b) / np.linalg.norm(a))
            deviation = {"rel": rel, "cosine": float(cosine.min())}
        wall, cpu = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            emb.embed(clip, SR)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        sweep = {}
        if os.environ["OMP_NUM_THREADS"] == "1":
            long = synth(SWEEP_SECONDS, seed=1)
            for bs in (1, 4, 16, 64):
                e = make_embedder(name, Path(tmp), batch_size=bs, precision=precision)
                e.embed(long[: SR * 10], SR)
                best = min(_cpu_timed(e.embed, long, SR) for _ in range(max(1, repeat - 1)))
                sweep[bs] = SWEEP_SECONDS / best
    return {"best": min(wall), "cpu": min(cpu), "sweep": sweep, "deviation": deviation}


def _cpu_timed(fn, *args) -> float:
    import time

    c0 = time.process_time()
    fn(*args)
    return time.process_time() - c0


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) in MB, from /proc/self/status."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def child_memory(name: str, path: str, mode: str) -> dict:
    import torch

    torch.set_num_threads(1)
    from autoenchorder.audio.io import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        emb = make_embedder(name, Path(tmp))
        emb.embed(synth(5.0, seed=3), SR)  # warm-up: weights, threads, allocator, JIT
        # Reset the peak-RSS counter (VmHWM) to the current RSS (Linux clear_refs "5").
        Path("/proc/self/clear_refs").write_text("5")
        before, _ = _rss_mb()
        if mode == "stream":
            out = emb.embed_file(path)
        else:
            y, sr = load_audio(path)
            out = emb.embed(y, sr)
        _, peak = _rss_mb()
    return {"baseline_mb": before, "delta_mb": peak - before, "frames": int(out.frames.shape[0])}


REFERENCE_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from musicnn.extractor import extractor
    path, repeat = sys.argv[1], int(sys.argv[2])
    extractor(path, model="MSD_musicnn", extract_features=True)  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        extractor(path, model="MSD_musicnn", extract_features=True)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print("RESULT", json.dumps({"best": min(wall), "cpu": min(cpu)}))
    """
)


# ------------------------------------------------------------------------------ parent


def _run_child(args: list[str], threads: int) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[var] = str(threads)
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"child {args} failed:\n{proc.stderr[-2000:]}")


def reference_speed(venv: Path, tmp: Path, repeat: int) -> dict | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    import soundfile as sf

    wav = tmp / "clip30.wav"
    sf.write(wav, synth(CLIP_SECONDS), SR, subtype="FLOAT")
    script = tmp / "ref_child.py"
    script.write_text(REFERENCE_CHILD)
    env = dict(
        os.environ,
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        OMP_NUM_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    proc = subprocess.run(
        [str(python), str(script), str(wav), str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description="embedder speed and memory")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-venv", type=Path, default=Path("/tmp/musicnn-ref"))
    parser.add_argument("--child", choices=["speed", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "speed":
        print("RESULT", json.dumps(child_speed(args.name, args.repeat, args.precision)))
        return
    if args.child == "memory":
        print("RESULT", json.dumps(child_memory(args.name, args.path, args.mode)))
        return
    print_machine()

    import soundfile as sf
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        embedders = available(tmp)
        names = [n for n, status in embedders if status == "ok"]
        for n, status in embedders:
            if status != "ok":
                console.print(f"[yellow]{n}: {status}[/yellow]")

        speed = Table(title=f"speed on a {CLIP_SECONDS:.0f} s clip (best of {args.repeat})")
        for col in (
            "embedder",
            "precision",
            "threads",
            "clips/s",
            "x real time",
            "x RT (CPU time)",
            "target (1 core)",
            "met",
            "vs float32",
        ):
            speed.add_column(col, justify="right")
        sweeps = {}
        import torch

        from autoenchorder.precision import native_bfloat16

        native = native_bfloat16(torch.device("cpu"))
        for name, precision in ((n, p) for n in names for p in PRECISIONS):
            if precision == "bfloat16" and not native:
                console.print(f"[yellow]{name} bfloat16: this CPU has no native bfloat16[/yellow]")
                continue
            for threads in (1, 2):
                command = ["--child", "speed", "--name", name, "--repeat", str(args.repeat)]
                res = _run_child([*command, "--precision", precision], threads)
                dev = res["deviation"]
                rt = CLIP_SECONDS / res["best"]
                cpu_rt = CLIP_SECONDS / res["cpu"] if threads == 1 else None
                target = TARGET_RT.get(name, 0.0)
                met = ("yes" if cpu_rt >= target else "NO") if cpu_rt is not None else ""
                speed.add_row(
                    name,
                    precision,
                    str(threads),
                    f"{1 / res['best']:.2f}",
                    f"{rt:.1f}x",
                    f"{cpu_rt:.1f}x" if cpu_rt is not None else "",
                    f">= {target:.0f}x" if threads == 1 else "",
                    met,
                    f"rel {dev['rel']:.2%}, cos >= {dev['cosine']:.5f}" if dev else "",
                )
                if res["sweep"]:
                    sweeps[f"{name} {precision}"] = res["sweep"]
        ref = reference_speed(args.reference_venv, tmp, args.repeat)
        if ref is not None:
            speed.add_row(
                "original musicnn (TF 2.15, MSD)",
                "float32",
                "1",
                f"{1 / ref['best']:.2f}",
                f"{CLIP_SECONDS / ref['best']:.1f}x",
                f"{CLIP_SECONDS / ref['cpu']:.1f}x",
                "(reference)",
                "",
                "",
            )
        console.print(speed)

        sweep = Table(
            title=f"batch-size sweep, {SWEEP_SECONDS:.0f} s signal, 1 thread (x RT, CPU time)"
        )
        sweep.add_column("embedder")
        batch_sizes = sorted({int(b) for s in sweeps.values() for b in s})
        for bs in batch_sizes:
            sweep.add_column(f"batch {bs}", justify="right")
        for name, s in sweeps.items():
            sweep.add_row(name, *(f"{s[str(bs)]:.1f}x" for bs in batch_sizes))
        console.print(sweep)

        long_path = tmp / "ten_minutes.wav"
        sf.write(long_path, synth(LONG_SECONDS, channels=2, seed=5).T, SR, subtype="PCM_16")
        mem = Table(title="peak memory above the loaded model, 10-minute 44.1 kHz stereo file")
        for col in ("embedder", "mode", "frames", "model RSS MB", "extra MB", "target", "met"):
            mem.add_column(col, justify="right")
        for name in names:
            for mode in ("stream", "one-shot"):
                res = _run_child(
                    ["--child", "memory", "--name", name, "--path", str(long_path), "--mode", mode],
                    1,
                )
                met = "yes" if res["delta_mb"] < TARGET_MB else "NO"
                mem.add_row(
                    name,
                    "embed_file" if mode == "stream" else "embed(load_audio)",
                    str(res["frames"]),
                    f"{res['baseline_mb']:.0f}",
                    f"{res['delta_mb']:.0f}",
                    f"< {TARGET_MB:.0f}",
                    met if mode == "stream" else "",
                )
        console.print(mem)


if __name__ == "__main__":
    main()
