"""Benchmark: VGGish speed and memory, ours against the original (torchvggish 0.2), same run.

Prints three tables:

1. x real time on ONE thread for a 30 s, 44.1 kHz clip (resample + log-mel + network), best of
   ``--repeat`` runs, with the time split by stage; times are the process's CPU time
   (``time.process_time``), which a machine shared with other jobs inflates far less than
   wall time does (with one thread, CPU time = wall time on an idle machine); next to it the
   original -- the official ``waveform_to_examples`` and torchvggish's ``VGG`` network, as
   installed by ``scripts/make_vggish_reference.py`` in its venv -- on the same clip and
   weights;
2. a batch-size sweep of our network on a 2-minute signal (examples per second);
3. peak memory for a 10-minute 44.1 kHz stereo file, measured in fresh subprocesses as the
   growth of peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs`` after the model is
   loaded and warmed up) above the RSS at that point, i.e. above the weights: ours
   streamed (``embed_file``), ours one-shot (``embed(load_audio(...))``), and the original
   (``soundfile.read`` + ``waveform_to_examples`` + network on all examples at once).

Weights are the deterministic random weights of the reference script (same shapes and cost as
the real ones). Targets (issue 3): >= 30x real time on one core; < 500 MB above the weights.

    .venv/bin/python benchmarks/vggish.py [--repeat 3] [--reference-venv /tmp/vggish-ref]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from machine import print_machine

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SR = 44100
CLIP_SECONDS = 30.0
SWEEP_SECONDS = 120.0
LONG_SECONDS = 600.0
TARGET_RT = 30.0
TARGET_MB = 500.0


def _reference_script():
    spec = importlib.util.spec_from_file_location(
        "make_vggish_reference", REPO / "scripts" / "make_vggish_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synth(seconds: float, *, channels: int = 1, seed: int = 0):
    """Music-like signal: decaying harmonic chords every 0.5 s plus noise, float32."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    step = SR // 2
    t = np.arange(step) / SR
    out = np.zeros((channels, n), dtype=np.float32)
    for start in range(0, n, step):
        note = np.zeros(step)
        for f0 in 110 * 2 ** (rng.integers(0, 36, 3) / 12):
            for h in range(1, 5):
                note += (0.1 / h) * np.sin(2 * np.pi * f0 * h * t)
        stop = min(n, start + step)
        out[:, start:stop] += (note * np.exp(-3 * t))[: stop - start].astype(np.float32)
    out += 0.02 * rng.standard_normal(out.shape).astype(np.float32)
    return out[0] if channels == 1 else out


def write_weights(folder: Path) -> Path:
    import torch

    from autoenchorder.audio.embed.vggish_weights import expected_shapes

    state, _ = _reference_script().random_vggish_weights(expected_shapes())
    path = folder / "vggish-random.pth"
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, path)
    return path


# ---------------------------------------------------------------------------------- ours


def ours_speed(weights: Path, repeat: int) -> dict:
    import time

    import torch

    from autoenchorder.audio.embed import vggish_frontend as fe
    from autoenchorder.audio.embed.vggish import VGGish

    torch.set_num_threads(1)
    embedder = VGGish(weights=weights)
    clip = synth(CLIP_SECONDS)
    embedder.embed(clip[: 5 * SR], SR)  # warm-up: numba JIT, allocator
    best = None
    for _ in range(repeat):
        t0 = time.process_time()
        y16k = fe.resample_to_16k(clip, SR)
        t1 = time.process_time()
        examples = fe.frame_examples(fe.log_mel(y16k))
        t2 = time.process_time()
        embedder.embed_examples(examples)
        t3 = time.process_time()
        run = {"resample": t1 - t0, "logmel": t2 - t1, "network": t3 - t2, "total": t3 - t0}
        best = run if best is None or run["total"] < best["total"] else best
    sweep = {}
    examples = fe.waveform_to_examples(synth(SWEEP_SECONDS, seed=1), SR)
    for batch_size in (1, 8, 32, 128):
        embedder.batch_size = batch_size
        embedder.embed_examples(examples[:batch_size])
        t0 = time.process_time()
        embedder.embed_examples(examples)
        sweep[batch_size] = examples.shape[0] / (time.process_time() - t0)
    return {"best": best, "sweep": sweep}


MEMORY_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from autoenchorder.audio.embed.vggish import VGGish
    from autoenchorder.audio.io import load_audio
    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    def reset_peak():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    weights, path, mode = sys.argv[1:4]
    embedder = VGGish(weights=weights)
    embedder.embed(np.random.default_rng(0).standard_normal(5 * 44100).astype(np.float32), 44100)
    reset_peak()
    before = status("VmRSS")
    if mode == "stream":
        frames = embedder.embed_file(path).frames
    else:
        y, sr = load_audio(path, mono=False)
        frames = embedder.embed(y, sr).frames
    print(json.dumps({"mb": status("VmHWM") - before, "frames": frames.shape[0],
                      "weights_mb": before}))
    """
)


def ours_memory(weights: Path, path: Path, mode: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(weights), str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- original

REFERENCE_CHILD = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, soundfile as sf, torch
    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    def reset_peak():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    torch.set_num_threads(1)
    from torchvggish import vggish_input
    from torchvggish.torchvggish import VGG, make_layers
    weights, clip_path, long_path, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    model = VGG(make_layers(), postprocess=False).eval()
    model.load_state_dict(torch.load(weights, weights_only=True))
    def run(data, sr):
        examples = vggish_input.waveform_to_examples(data, sr)
        with torch.no_grad():
            return model(examples)
    clip = np.load(clip_path).astype(np.float64)
    run(clip[: 5 * 44100], 44100)
    best = min(
        (lambda t0: (run(clip, 44100), time.process_time() - t0)[1])(time.process_time())
        for _ in range(repeat)
    )
    reset_peak()
    before = status("VmRSS")
    data, sr = sf.read(long_path, dtype="float32")
    frames = run(data.astype(np.float64), sr).shape[0]
    print(json.dumps({"total": best, "mb": status("VmHWM") - before, "frames": frames}))
    """
)


def reference(venv: Path, weights: Path, clip: Path, long_path: Path, repeat: int) -> dict | None:
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    out = subprocess.run(
        [str(python), "-c", REFERENCE_CHILD, str(weights), str(clip), str(long_path), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import numpy as np
    import soundfile as sf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-venv", type=Path, default=Path("/tmp/vggish-ref"))
    args = parser.parse_args()
    print_machine()

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        weights = write_weights(tmp)
        clip_path = tmp / "clip.npy"
        np.save(clip_path, synth(CLIP_SECONDS))
        long_path = tmp / "ten_minutes.wav"
        sf.write(long_path, synth(LONG_SECONDS, channels=2, seed=2).T, SR, subtype="FLOAT")

        speed = ours_speed(weights, args.repeat)
        stream = ours_memory(weights, long_path, "stream")
        one_shot = ours_memory(weights, long_path, "one-shot")
        ref = reference(args.reference_venv, weights, clip_path, long_path, args.repeat)

    best = speed["best"]
    print(f"\n1. Speed, 1 thread, {CLIP_SECONDS:.0f} s clip at {SR} Hz (best of {args.repeat})")
    print(f"{'implementation':<34}{'CPU s':>9}{'x real time':>13}{'target':>9}")
    print(
        f"{'ours (autoenchorder vggish)':<34}{best['total']:>9.3f}"
        f"{CLIP_SECONDS / best['total']:>13.1f}{'>= 30':>9}"
    )
    split = ", ".join(f"{k} {best[k]:.3f} s" for k in ("resample", "logmel", "network"))
    print(f"{'  split':<34}{split}")
    if ref is not None:
        print(
            f"{'original (torchvggish 0.2)':<34}{ref['total']:>9.3f}"
            f"{CLIP_SECONDS / ref['total']:>13.1f}"
        )
    else:
        print(f"original: no venv at {args.reference_venv} (run scripts/make_vggish_reference.py)")

    print(f"\n2. Batch-size sweep, ours, 1 thread, {SWEEP_SECONDS:.0f} s signal")
    print(f"{'batch size':>10}{'examples/s':>12}")
    for batch_size, rate in speed["sweep"].items():
        print(f"{batch_size:>10}{rate:>12.1f}")

    print(f"\n3. Peak memory above the loaded model, {LONG_SECONDS / 60:.0f}-minute stereo file")
    print(f"{'implementation':<34}{'MB':>9}{'frames':>9}{'target':>9}")
    print(
        f"{'ours, embed_file (streamed)':<34}{stream['mb']:>9.0f}{stream['frames']:>9}{'< 500':>9}"
    )
    print(f"{'ours, embed(load_audio) one-shot':<34}{one_shot['mb']:>9.0f}{one_shot['frames']:>9}")
    if ref is not None:
        print(f"{'original, one-shot':<34}{ref['mb']:>9.0f}{ref['frames']:>9}")
    print(f"(model loaded and warmed up: {stream['weights_mb']:.0f} MB peak RSS before embedding)")


if __name__ == "__main__":
    main()
