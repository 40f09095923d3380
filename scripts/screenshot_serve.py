"""Make the README's screenshot of ``autoenchorder serve``: docs/img/serve.png.

Starts ``autoenchorder serve --model BUNDLE`` on a free port of 127.0.0.1, opens the page in a
headless Chromium (Debian's ``chromium``, driven by Playwright; nothing is downloaded), scores
one song, and saves a screenshot of the page.

    python scripts/screenshot_serve.py --model runs/demo/bundles/autoenchorder \
        [--song examples/audio/singularity_nebula_20s.flac] [--out docs/img/serve.png]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True, help="the bundle to serve")
    parser.add_argument(
        "--song", type=Path, default=ROOT / "examples" / "audio" / "singularity_nebula_20s.flac"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "serve.png")
    parser.add_argument("--width", type=int, default=1100)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (make system-deps)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from autoenchorder.cli import main; sys.exit(main())",
                "serve",
                "--model",
                str(args.model),
                "--port",
                str(port),
            ],
            stdout=open(log, "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start:\n{log.read_text()[-2000:]}")
                try:
                    if httpx.get(url + "/healthz", timeout=2, trust_env=False).is_success:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True)
                page = browser.new_page(viewport={"width": args.width, "height": 1200})
                page.goto(url + "/")
                page.wait_for_selector("#metrics tbody tr")
                page.set_input_files("#file", str(args.song))
                page.wait_for_selector("#result:not([hidden])", timeout=300_000)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                # the score section and the model card: the page a musician first sees
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    print(args.out)


if __name__ == "__main__":
    main()
