"""The page of ``autoenchorder serve`` in a real headless Chromium (Debian's, through Playwright).

Upload a clip -> the score and the timeline appear; compare two files -> the verdict and the
time plot appear; a corrupt file -> its message appears. A screenshot of each state is saved
with the test's files. Every request the page makes stays on the server (127.0.0.1).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile as sf

from serve_fixtures import example_clips, serving

pytestmark = pytest.mark.xdist_group("serve")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Milliseconds the page may take to show a result (the scoring process is warm).
WAIT_MS = 60_000


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    yield from serving(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make system-deps installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, served):
    context = browser.new_context(viewport={"width": 1100, "height": 1500})
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(served.url + "/")
    page.wait_for_selector("#metrics tbody tr")  # the model card arrived
    yield page
    context.close()
    outside = [u for u in requests if not u.startswith(served.url) and not u.startswith("data:")]
    assert not outside, outside


def _drawn(page, selector: str) -> int:
    """Pixels of a canvas that are not blank."""
    return page.eval_on_selector(
        selector,
        """c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
            return n;
        }""",
    )


def test_upload_a_clip_shows_score_and_timeline(page, tmp_path):
    page.set_input_files("#file", str(example_clips()["ogg"]))
    page.wait_for_selector("#result:not([hidden])", timeout=WAIT_MS)
    score = page.text_content("#score")
    assert 0 <= float(score) <= 100
    assert page.text_content("#band").split()[0] in {"low", "mid", "high"}
    assert "95 % interval" in page.text_content("#interval")
    assert _drawn(page, "#timeline") > 2000  # the waveform and the windows' scores
    assert "training songs" in page.text_content("#percentile")
    assert _drawn(page, "#histogram") > 200
    assert page.locator("#neighbours tbody tr").count() == 5
    page.screenshot(path=str(tmp_path / "score.png"), full_page=True)
    assert (tmp_path / "score.png").stat().st_size > 10_000


def test_compare_two_files(page, tmp_path):
    clip = example_clips()["flac"]
    y, sr = sf.read(clip, dtype="float32")
    louder = tmp_path / "louder_start.flac"
    y = y.copy()
    y[: len(y) // 3] *= 4.0
    sf.write(louder, np.clip(y, -1, 1), sr)
    page.set_input_files("#file-a", str(clip))
    page.set_input_files("#file-b", str(louder))
    page.click("#compare-button")
    page.wait_for_selector("#compare-result:not([hidden])", timeout=WAIT_MS)
    verdict = page.text_content("#verdict")
    assert "scores higher" in verdict or "the same" in verdict
    detail = page.text_content("#verdict-detail")
    assert "Paired 95 % interval" in detail and "B is louder at 0:0" in detail
    assert _drawn(page, "#compare-timeline") > 2000
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)


def test_a_corrupt_file_shows_its_message(page, tmp_path):
    corrupt = tmp_path / "mix_v3.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 40)  # an MP3 tag, then noise
    page.set_input_files("#file", str(corrupt))
    page.wait_for_selector("#error:not([hidden])", timeout=WAIT_MS)
    message = page.text_content("#error")
    assert "could not be read as audio" in message or "too short" in message
    assert "Traceback" not in message and "/tmp" not in message
    assert page.is_hidden("#result")
    page.screenshot(path=str(tmp_path / "corrupt.png"), full_page=True)


def test_contributions_are_drawn_over_the_waveform(page, tmp_path):
    """A model with a sequence part: green and red bars per frame, and its moments listed."""
    frames = [
        {"start": 3.0 * i, "end": 3.0 * i + 3.0, "contribution": c}
        for i, c in enumerate([0.8, -1.5, 2.5, 0.1, -0.4, 1.2, -2.2, 0.3, 0.0, 0.6])
    ]
    prediction = {
        "path": "mix.wav",
        "popularity": 61.0,
        "band": "mid",
        "uncertainty": 4.0,
        "uncertainty_method": "ensemble of 3 bundles",
        "duration": 30.0,
        "windows": [{"start": 0.0, "end": 30.0, "popularity": 61.0}],
        "contributions": frames,
        "input": "whole file",
    }
    wave = np.abs(np.sin(np.linspace(0, 20, 800))).round(3).tolist()
    strongest = sorted(
        (f for f in frames if f["contribution"] > 0), key=lambda f: -f["contribution"]
    )
    weakest = sorted((f for f in frames if f["contribution"] < 0), key=lambda f: f["contribution"])

    def moment(f):
        return {"start": f["start"], "end": f["end"], "value": f["contribution"]}

    details = {
        "interval": [53.2, 68.8],
        "percentile": 70.0,
        "neighbours": None,
        "waveform": {"duration": 30.0, "peaks": wave, "rms": wave},
        "moments": {
            "source": "contributions",
            "strongest": [moment(f) for f in strongest[:3]],
            "weakest": [moment(f) for f in weakest[:3]],
        },
    }
    page.evaluate("([p, d]) => showResult(p, d)", [prediction, details])
    colours = page.eval_on_selector(
        "#timeline",
        """c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let green = 0, red = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i] === 0x1f && d[i + 1] === 0x9d && d[i + 2] === 0x55) green++;
                if (d[i] === 0xd6 && d[i + 1] === 0x45 && d[i + 2] === 0x45) red++;
            }
            return [green, red];
        }""",
    )
    assert colours[0] > 500 and colours[1] > 500, colours
    assert page.text_content("#strongest li").startswith("0:06–0:09: +2.5")
    assert page.text_content("#weakest li").startswith("0:18–0:21: -2.2")
    assert "Green bars" in page.text_content("#timeline-legend")
    page.screenshot(path=str(tmp_path / "contributions.png"), full_page=True)
