"""Benchmark: ``autoenchorder serve`` on loopback -- latency, load, memory, the page's weight.

Issue 14's targets, each beside our figure in one table:

- a 30 s clip through ``POST /api/predict``, warm, one scoring process: p50 < 1 s, p95 < 2 s;
- a 4-minute song (the example clips looped) < 5 s;
- 20 concurrent clients x 10 requests: no answer but 200, or 503 with Retry-After (the queue
  is full by design); the server's RSS (it and its scoring processes) after the run <= 1.2 x
  its RSS after the warm-up;
- the page's first load < 300 KB, and no request leaves 127.0.0.1 (a headless Chromium loads
  it and lists every request; skipped without Debian's ``chromium``).

The bundle is a HitMusicNet on the 207 low-level features (the model the tests serve), trained
for a few epochs on random rows -- its scores are meaningless, its cost is a trained one's --
or the bundle given with ``--model`` (e.g. the demo's, ``runs/demo/bundles/autoenchorder``).
Everything is bounded: a fixed number of requests, each run under a time limit.

    python benchmarks/serve.py [--model BUNDLE] [--requests 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import soundfile as sf
from rich.console import Console
from rich.table import Table

from autoenchorder.audio.io import discover_audio, load_audio
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.bundle import save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.models import make_model
from autoenchorder.models.codes import build_training_index
from machine import print_machine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "audio"
RATE = 44100
#: Seconds any one phase may take before it stops (the table then says so).
PHASE_LIMIT = 300.0


def make_bundle(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 400
    ds = PopularityDataset(
        ids=np.array([f"track{i:04d}" for i in range(n)]),
        y=rng.uniform(0, 100, n),
        tabular=pd.DataFrame(rng.normal(size=(n, 207)), columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
    )
    model = make_model("hitmusicnet", ae_epochs=2, epochs=3, quiet=True).fit(ds)
    spec = {"columns": {"lowlevel": list(LOWLEVEL_COLUMNS)}, "audio_input": {"kind": "whole_file"}}
    return save_bundle(
        model,
        folder / "bundle",
        feature_spec=spec,
        extra={"dataset": "random rows (benchmark)"},
        training_index=build_training_index(model, ds),
    )


def looped_song(path: Path, seconds: float) -> Path:
    """The example clips one after another, looped to ``seconds``, stereo 44.1 kHz FLAC."""
    pieces = [load_audio(p, sr=RATE)[0] for p in discover_audio(EXAMPLES)]
    song = np.concatenate(pieces * int(np.ceil(seconds * RATE / sum(map(len, pieces)))))
    song = np.clip(song[: int(seconds * RATE)], -1, 1)
    sf.write(path, np.stack([song, song], axis=1), RATE)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, MB (from /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process and its live descendants (from /proc).

    Beside the wall times: on a shared machine the wall time grows with the load, the CPU
    time of the scoring is what one idle core would take, roughly.
    """
    ticks, stack = 0, [pid]
    hertz = os.sysconf("SC_CLK_TCK")
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return ticks / hertz


def start(bundle: Path, port: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-c",
        "import sys; from autoenchorder.cli import main; sys.exit(main())",
        "serve",
        "--model",
        str(bundle),
        "--port",
        str(port),
        "--workers",
        "1",
        "--queue",
        "4",
    ]
    process = subprocess.Popen(command, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115
    deadline = time.monotonic() + PHASE_LIMIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, trust_env=False).is_success:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("the server did not start")


def timed(client: httpx.Client, path: Path) -> tuple[float, int]:
    data = path.read_bytes()
    started = time.perf_counter()
    response = client.post("/api/predict", files={"file": (path.name, data)})
    return time.perf_counter() - started, response.status_code


def latencies(client: httpx.Client, path: Path, n: int) -> list[float]:
    out, deadline = [], time.monotonic() + PHASE_LIMIT
    for _ in range(n):
        seconds, status = timed(client, path)
        if status != 200:
            raise SystemExit(f"{path.name}: status {status}")
        out.append(seconds)
        if time.monotonic() > deadline:
            break
    return out


def load_test(url: str, path: Path, clients: int, each: int) -> dict[str, int]:
    data, counts, lock = path.read_bytes(), {}, threading.Lock()
    deadline = time.monotonic() + PHASE_LIMIT

    def client_run(_: int) -> None:
        with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
            for _ in range(each):
                if time.monotonic() > deadline:
                    return
                r = client.post("/api/predict", files={"file": (path.name, data)})
                key = str(r.status_code)
                if r.status_code == 503 and not r.headers.get("Retry-After"):
                    key = "503 without Retry-After"
                with lock:
                    counts[key] = counts.get(key, 0) + 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client_run, range(clients)))
    return counts


def page_load(url: str) -> tuple[int | None, list[str]]:
    """Bytes the page's first load transfers and the hosts of its requests (Chromium)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None, []
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    sizes, hosts = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        page = browser.new_page()
        page.on("request", lambda r: hosts.append(httpx.URL(r.url).host or r.url[:5]))
        page.on("requestfinished", lambda r: sizes.append(r.sizes()))
        page.goto(url + "/", wait_until="networkidle")
        browser.close()
    transferred = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    return transferred, sorted(set(hosts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=None, help="serve this bundle instead")
    parser.add_argument("--requests", type=int, default=20, help="timed 30 s requests")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--each", type=int, default=10, help="requests per client")
    args = parser.parse_args()
    print_machine()
    print(f"load average: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle = args.model or make_bundle(tmp)
        clip = looped_song(tmp / "clip30.flac", 30.0)
        song = looped_song(tmp / "song240.flac", 240.0)
        short = EXAMPLES / "singularity_coherence_15s.mp3"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = start(bundle, port, tmp / "server.log")
        try:
            with httpx.Client(base_url=url, timeout=120, trust_env=False) as client:
                latencies(client, clip, 3)  # warm-up
                warm_rss = tree_rss_mb(process.pid)
                cpu = tree_cpu_seconds(process.pid)
                clip_s = latencies(client, clip, args.requests)
                clip_cpu = (tree_cpu_seconds(process.pid) - cpu) / len(clip_s)
                cpu = tree_cpu_seconds(process.pid)
                song_s = latencies(client, song, 3)
                song_cpu = (tree_cpu_seconds(process.pid) - cpu) / len(song_s)
            counts = load_test(url, short, clients=args.clients, each=args.each)
            after_rss = tree_rss_mb(process.pid)
            transferred, hosts = page_load(url)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    p50, p95 = np.percentile(clip_s, 50), np.percentile(clip_s, 95)
    bad = {k: v for k, v in counts.items() if k not in ("200", "503")}
    table = Table(title=f"autoenchorder serve, loopback, one scoring process ({bundle.name})")
    for column in ("measure", "ours (wall)", "target", "met", "server CPU s / request"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    rows = [
        (f"30 s clip, p50 of {len(clip_s)}", f"{p50:.2f} s", "< 1 s", p50 < 1.0, clip_cpu),
        (f"30 s clip, p95 of {len(clip_s)}", f"{p95:.2f} s", "< 2 s", p95 < 2.0, None),
        (
            f"4-minute song, median of {len(song_s)}",
            f"{np.median(song_s):.2f} s",
            "< 5 s",
            np.median(song_s) < 5.0,
            song_cpu,
        ),
        (
            f"{args.clients} clients x {args.each} requests: answers",
            ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())),
            "200 or 503 + Retry-After",
            not bad,
        ),
        (
            "RSS after the load / after warm-up",
            f"{after_rss:.0f} / {warm_rss:.0f} MB ({after_rss / warm_rss:.2f} x)",
            "<= 1.2 x",
            after_rss <= 1.2 * warm_rss,
        ),
    ]
    if transferred is None:
        rows.append(("page first load", "chromium not installed", "< 300 KB", None))
    else:
        rows.append(
            (
                "page first load",
                f"{transferred / 1024:.0f} KB",
                "< 300 KB",
                transferred < 300 * 1024,
            )
        )
        rows.append(
            ("hosts the page requested", ", ".join(hosts), "127.0.0.1 only", hosts == ["127.0.0.1"])
        )
    for name, ours, target, met, *cpu in rows:
        spent = f"{cpu[0]:.2f}" if cpu and cpu[0] is not None else ""
        table.add_row(name, ours, target, {True: "yes", False: "NO", None: "-"}[met], spent)
    Console(width=150).print(table)
    print(f"load average after the run: {os.getloadavg()[0]:.2f} (2-core machine: above 2 the wall")
    print("times include waiting for a core; the CPU column is what the server itself spent)")


if __name__ == "__main__":
    main()
