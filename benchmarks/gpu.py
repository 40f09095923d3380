"""musicnn and Autoen-chorder training on one GPU against one CPU core, in one run (issue 13).

The prepared script for a session that has a GPU: it measures, on this machine,

1. musicnn-msd (the offline default) on the repository's real clips (``examples/audio``):
   seconds of audio per second (x real time) and clips per second, on one CPU thread and on
   the GPU, and the largest difference between the two devices' frames;
2. Autoen-chorder training (its defaults, fewer epochs) on synthetic tracks with 207 low-level
   features and 30-step 753-d sequences (musicnn-msd's width): songs per second of training
   (training songs x epochs run, over all its stages, / fit seconds), on one CPU thread and on
   the GPU, and the largest difference between the two devices' predictions (a different
   device may take other kernels: expect agreement within float tolerance, not bit-equality).

Without CUDA it says so plainly and prints the CPU figures alone.

    python benchmarks/gpu.py            # about 2 minutes on one CPU core + the GPU
    python benchmarks/gpu.py --quick    # small sizes, to check the script
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from autoenchorder.audio.embed import get_embedder
from autoenchorder.audio.io import discover_audio, load_audio
from autoenchorder.data.splits import holdout_split
from autoenchorder.models import make_model
from machine import print_machine
from training import synthetic_tracks

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "audio"
#: musicnn-msd's frame width (max and mean pooled mid-end features)
SEQUENCE_DIM = 753


def musicnn_rate(device: str, clips: list[tuple[np.ndarray, int]], repeats: int) -> dict:
    """Embed every clip ``repeats`` times on ``device``: x real time, clips/s, the frames."""
    embedder = get_embedder("musicnn-msd", device=device)
    embedder.embed(*clips[0])  # warm-up: weights on the device, kernels chosen
    if device == "cuda":
        torch.cuda.synchronize()
    audio_seconds, frames = 0.0, []
    started = time.perf_counter()
    for _ in range(repeats):
        for y, sr in clips:
            frames.append(embedder.embed(y, sr).frames)
            audio_seconds += y.size / sr
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "x real time": audio_seconds / seconds,
        "clips/s": repeats * len(clips) / seconds,
        "frames": frames[: len(clips)],
    }


def training_rate(device: str, n_songs: int, epochs: int) -> dict:
    """Fit Autoen-chorder on ``device``: songs per second of training, test predictions."""
    ds = synthetic_tracks(n_songs, dim=SEQUENCE_DIM)
    train_rows, test_rows = holdout_split(ds, test_size=0.15, seed=0).apply(ds)
    model = make_model(
        "autoenchorder",
        device=device,
        quiet=True,
        ae_epochs=epochs,
        epochs=epochs,
        finetune_epochs=epochs,
        ae_patience=epochs,
        patience=epochs,
    )
    started = time.perf_counter()
    model.fit(train_rows)
    seconds = time.perf_counter() - started
    epochs_run = len(model.history_)  # one record per epoch, every training stage
    return {
        "songs/s": len(train_rows) * epochs_run / seconds,
        "fit s": seconds,
        "prediction": model.predict(test_rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (checks the script)")
    args = parser.parse_args()
    print_machine()
    torch.set_num_threads(1)  # "one CPU core"
    repeats, n_songs, epochs = (1, 300, 2) if args.quick else (5, 3000, 10)
    clips = [load_audio(p) for p in discover_audio(EXAMPLES)]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    if len(devices) == 1:
        print("No GPU on this machine (torch.cuda.is_available() is False): CPU figures only.")
    else:
        print(f"GPU: {torch.cuda.get_device_name(0)}")
    embed = {d: musicnn_rate(d, clips, repeats) for d in devices}
    train = {d: training_rate(d, n_songs, epochs) for d in devices}
    print()
    print(f"{'measure':<58} | " + " | ".join(f"{d:>12}" for d in devices))
    print("-" * 59 + "+" + "+".join("-" * 14 for _ in devices))
    rows = [
        (f"musicnn-msd on {len(clips)} real clips, x real time", embed, "x real time", "{:.0f}x"),
        ("musicnn-msd, clips per second", embed, "clips/s", "{:.2f}"),
        (f"Autoen-chorder training, {n_songs} songs, songs/s", train, "songs/s", "{:.0f}"),
        ("Autoen-chorder fit, seconds", train, "fit s", "{:.1f}"),
    ]
    for label, results, key, fmt in rows:
        print(f"{label:<58} | " + " | ".join(f"{fmt.format(results[d][key]):>12}" for d in devices))
    if "cuda" in devices:
        frame_gap = max(
            float(np.max(np.abs(a - b)))
            for a, b in zip(embed["cpu"]["frames"], embed["cuda"]["frames"], strict=True)
        )
        prediction_gap = float(
            np.max(np.abs(train["cpu"]["prediction"] - train["cuda"]["prediction"]))
        )
        musicnn_speedup = embed["cuda"]["x real time"] / embed["cpu"]["x real time"]
        training_speedup = train["cuda"]["songs/s"] / train["cpu"]["songs/s"]
        print(
            f"\nGPU / one CPU thread: musicnn {musicnn_speedup:.1f}x, training "
            f"{training_speedup:.1f}x; largest difference cuda vs cpu: musicnn frames "
            f"{frame_gap:.2e}, Autoen-chorder predictions {prediction_gap:.3f} popularity points"
        )


if __name__ == "__main__":
    main()
