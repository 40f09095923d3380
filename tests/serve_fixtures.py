"""Shared by the serve tests: a tiny bundle trained once per session, and one live server.

The bundle is a HitMusicNet trained for a few epochs (through the ``train`` command, so it
carries the training index the page's neighbours read) on a catalog of the example clips and
reversed copies of them. The server is ``autoenchorder serve`` in a
subprocess on 127.0.0.1 with small limits, one scoring process and a queue of two, stopped at
the end of the session.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from autoenchorder.audio.io import load_audio
from autoenchorder.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "audio"
#: The served limits: every example clip (at most 2.3 MB, 20 s) passes; larger / longer fail.
MAX_UPLOAD_MB = 3.0
MAX_MINUTES = 0.4
QUEUE = 2
#: Seconds the server may take to start (spawn a scoring process, load torch and the bundle).
START_SECONDS = 120.0


def example_clips() -> dict[str, Path]:
    """The example clips by format (wav, flac, mp3, ogg)."""
    clips = {p.suffix.lstrip("."): p for p in sorted(EXAMPLES.glob("*")) if p.suffix != ".md"}
    if len(clips) < 4:
        pytest.skip(f"the example clips are missing from {EXAMPLES}")
    return clips


def make_bundle(root: Path) -> Path:
    """Train the session's tiny bundle; return its folder."""
    audio = root / "audio"
    audio.mkdir(parents=True)
    for clip in example_clips().values():
        y, sr = load_audio(clip, sr=16000)  # a low rate keeps the features cheap
        sf.write(audio / f"{clip.stem}.flac", y, sr)
        sf.write(audio / f"reversed_{clip.stem}.flac", y[::-1], sr)
    ids = sorted(p.stem for p in audio.iterdir())
    labels = root / "labels.csv"
    popularity = np.linspace(10.0, 90.0, len(ids)).round(1)
    pd.DataFrame({"id": ids, "popularity": popularity}).to_csv(labels, index=False)
    store = root / "store"
    assert main(["extract", str(audio), "--out", str(store), "--quiet"]) == 0
    bundle = root / "bundle"
    data = ["--data", "catalog", "--root", str(audio), "--labels", str(labels)]
    options = ["--set", "epochs=5", "--set", "ae_epochs=2", "--set", "n_seeds=1", "--quiet"]
    train = ["train", "--model", "hitmusicnet", *data, "--store", str(store), "--out", str(bundle)]
    assert main([*train, *options]) == 0
    return bundle


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A running ``autoenchorder serve``: its URL, bundle and process."""

    url: str
    bundle: Path
    process: subprocess.Popen
    log: Path

    def client(self, **options) -> httpx.Client:
        """An httpx client of this server (never the network)."""
        return httpx.Client(base_url=self.url, timeout=120.0, trust_env=False, **options)


def start_server(bundle: Path, log: Path, *extra: str) -> Served:
    """Start ``autoenchorder serve`` on a free port and wait until /healthz answers."""
    port = free_port()
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
        str(QUEUE),
        "--max-upload-mb",
        str(MAX_UPLOAD_MB),
        "--max-minutes",
        str(MAX_MINUTES),
        "--mc-passes",
        "10",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = open(log, "wb")  # noqa: SIM115 -- closed with the process
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    served = Served(f"http://127.0.0.1:{port}", bundle, process, log)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{served.url}/healthz", timeout=2, trust_env=False).status_code == 200:
                return served
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(served)
    raise RuntimeError(f"the server did not start in {START_SECONDS} s: {log.read_text()[-3000:]}")


def stop_server(served: Served) -> None:
    """Stop the server (Ctrl-C, then kill) and its scoring processes."""
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGINT)
        try:
            served.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(timeout=10)


#: One bundle and one server per session, whichever test module asks first (each test module
#: defines its own session fixtures, which share these).
_SHARED: dict[str, object] = {}


def shared_bundle(tmp_path_factory) -> Path:
    """The session's tiny bundle (trained once)."""
    if "bundle" not in _SHARED:
        _SHARED["bundle"] = make_bundle(tmp_path_factory.mktemp("serve-bundle"))
    return _SHARED["bundle"]


def serving(tmp_path_factory) -> Iterator[Served]:
    """Body of a session fixture: the session's live server, stopped when the session ends."""
    if "server" not in _SHARED:
        log = tmp_path_factory.mktemp("serve-log") / "server.log"
        _SHARED["server"] = start_server(shared_bundle(tmp_path_factory), log)
    yield _SHARED["server"]
    stop_server(_SHARED["server"])
