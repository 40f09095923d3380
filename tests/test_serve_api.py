"""``autoenchorder serve``'s HTTP API on a live server: real clips, bad files, limits, load.

One server for the session (tests/serve_fixtures.py): a tiny HitMusicNet bundle, one scoring
process, a queue of 2, uploads up to 3 MB and songs up to 24 s.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from autoenchorder.bundle import load_training_index, save_bundle
from autoenchorder.cli import main
from autoenchorder.predict import Predictor
from autoenchorder.serve.app import create_app
from autoenchorder.serve.settings import ServeSettings
from serve_fixtures import (
    MAX_MINUTES,
    MAX_UPLOAD_MB,
    QUEUE,
    example_clips,
    serving,
    shared_bundle,
)

pytestmark = pytest.mark.xdist_group("serve")


@pytest.fixture(scope="session")
def serve_bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    yield from serving(tmp_path_factory)


def _post(client: httpx.Client, path: Path, *, url: str = "/api/predict", **params):
    with open(path, "rb") as f:
        return client.post(url, files={"file": (path.name, f)}, params=params)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_predict_gives_the_cli_json_for_every_format(served, fmt, tmp_path, capsys):
    clip = example_clips()[fmt]
    with served.client() as client:
        response = _post(client, clip)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["failures"] == []
    [song] = body["predictions"]
    assert song["path"] == clip.name  # the client's name, never the server's temporary path
    # the same JSON as `predict --json` with the same options (MC dropout is seeded)
    options = ["--mc-passes", "10"]
    assert main(["predict", str(clip), "--model", str(served.bundle), "--json", *options]) == 0
    [expected] = json.loads(capsys.readouterr().out)["predictions"]
    assert set(song) == set(expected)
    assert song["popularity"] == pytest.approx(expected["popularity"], abs=1e-4)
    assert song["uncertainty"] == pytest.approx(expected["uncertainty"], abs=1e-4)
    assert song["band"] == expected["band"] and song["input"] == expected["input"]


def test_predict_details_hold_interval_percentile_neighbours_waveform(served):
    clip = example_clips()["flac"]
    with served.client() as client:
        body = _post(client, clip, details="true").json()
    song, details = body["predictions"][0], body["details"]
    low, high = details["interval"]
    assert low < song["popularity"] < high
    index = load_training_index(served.bundle)
    truth = index.training_popularity
    expected = 100 * (np.sum(truth < song["popularity"]) + np.sum(truth <= song["popularity"]))
    assert details["percentile"] == pytest.approx(expected / (2 * truth.size), abs=0.1)
    neighbours = details["neighbours"]
    assert len(neighbours) == 5
    assert [n["distance"] for n in neighbours] == sorted(n["distance"] for n in neighbours)
    by_id = dict(zip(index.ids, index.popularity.tolist(), strict=True))
    assert all(n["popularity"] == pytest.approx(by_id[n["id"]], abs=0.01) for n in neighbours)
    wave = details["waveform"]
    assert wave["duration"] == pytest.approx(song["duration"])
    assert len(wave["peaks"]) == len(wave["rms"]) > 100 and max(wave["peaks"]) > 0.01


def test_a_training_song_is_its_own_nearest_neighbour(served, tmp_path):
    index = load_training_index(served.bundle)
    doc = json.loads((served.bundle / "bundle.json").read_text())
    audio = Path(doc["extra"]["data_spec"]["root"])
    song = audio / f"{index.ids[0]}.flac"
    with served.client() as client:
        details = _post(client, song, details="true").json()["details"]
    assert details["neighbours"][0]["id"] == index.ids[0]
    assert details["neighbours"][0]["distance"] < 1e-2
    assert details["neighbours"][0]["similarity"] > 0.99


def test_compare_two_versions(served, tmp_path):
    clip = example_clips()["flac"]
    y, sr = sf.read(clip, dtype="float32")
    quieter = tmp_path / "quieter_end.flac"
    y = y.copy()
    y[len(y) // 2 :] *= 0.1  # the second half 20 dB quieter
    sf.write(quieter, y, sr)
    with served.client() as client, open(clip, "rb") as a, open(quieter, "rb") as b:
        response = client.post("/api/compare", files={"a": (clip.name, a), "b": (quieter.name, b)})
    assert response.status_code == 200, response.text
    r = response.json()
    pa, pb = r["a"]["prediction"]["popularity"], r["b"]["prediction"]["popularity"]
    assert r["difference"] == pytest.approx(pb - pa, abs=1e-3)
    assert r["higher"] == ("b" if pb > pa else "a")
    assert r["method"].startswith("paired MC dropout")
    low, high = r["interval"]
    assert low <= r["difference"] <= high
    assert 0.0 <= r["probability_b_higher"] <= 1.0
    quieter_spans = r["over_time"]["quieter"]
    half = r["over_time"]["duration"] / 2
    assert quieter_spans and all(s["start"] >= half - 1.0 for s in quieter_spans)
    assert not r["over_time"]["louder"]


def test_the_same_song_twice_differs_by_nothing(served):
    clip = example_clips()["mp3"]
    with served.client() as client, open(clip, "rb") as a, open(clip, "rb") as b:
        r = client.post("/api/compare", files={"a": ("a.mp3", a), "b": ("b.mp3", b)}).json()
    assert r["difference"] == pytest.approx(0.0, abs=1e-9)
    assert r["difference_sd"] == pytest.approx(0.0, abs=1e-9)  # paired draws cancel out
    assert r["higher"] == "neither"


def _bad_files(root: Path) -> dict[str, Path]:
    clip = example_clips()["flac"]
    files = {
        "empty": root / "empty.wav",
        "text": root / "notes.mp3",  # the name says audio; the content is text
        "corrupt": root / "corrupt.flac",
        "silent": root / "silent.wav",
        "too_short": root / "short.wav",
        "image": root / "cover.wav",
    }
    files["empty"].write_bytes(b"")
    files["text"].write_text("verse 1: la la la\nchorus: oh oh oh\n")
    files["corrupt"].write_bytes(clip.read_bytes()[:6000])
    sf.write(files["silent"], np.zeros(22050 * 3, np.float32), 22050)
    sf.write(files["too_short"], np.full(2000, 0.1, np.float32), 22050)
    files["image"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return files


EXPECTED = {
    "empty": (422, "empty"),
    "text": (415, "text file"),
    "corrupt": (422, "could not be read as audio"),
    "silent": (422, "silent"),
    "too_short": (422, "too short"),
    "image": (415, "image"),
}


def test_bad_files_get_a_musicians_message(served, tmp_path):
    files = _bad_files(tmp_path)
    with served.client() as client:
        for kind, path in files.items():
            response = _post(client, path)
            status, words = EXPECTED[kind]
            assert response.status_code == status, (kind, response.text)
            detail = response.json()["detail"]
            assert words in detail.lower(), (kind, detail)
            assert "Traceback" not in response.text and str(tmp_path) not in response.text
            assert "/tmp" not in response.text  # no server path in any message


def test_limits_413_and_422(served, tmp_path):
    # over the upload limit: a real audio file, refused for its size (413)
    big = tmp_path / "big.wav"
    rate = 44100
    seconds = int(MAX_UPLOAD_MB * 2**20 / (2 * rate)) + 2  # 16-bit mono: 2 bytes a sample
    sf.write(big, np.random.default_rng(0).normal(0, 0.1, rate * seconds), rate, subtype="PCM_16")
    assert big.stat().st_size > MAX_UPLOAD_MB * 2**20
    # longer than --max-minutes, but small (a low rate): 422
    long = tmp_path / "long.flac"
    n = int(MAX_MINUTES * 60 * 16000) + 16000 * 5
    sf.write(long, np.random.default_rng(1).normal(0, 0.1, n).astype(np.float32), 16000)
    with served.client() as client:
        response = _post(client, big)
        assert response.status_code == 413 and "too large" in response.json()["detail"]
        huge = big.read_bytes() * 3  # beyond what the body limit lets in at all
        response = client.post("/api/predict", files={"file": ("huge.wav", huge)})
        assert response.status_code == 413
        response = _post(client, long)
        assert response.status_code == 422
        assert "up to 24 s" in response.json()["detail"]
        response = client.post("/api/predict", files={})
        assert response.status_code == 422 and "No file" in response.json()["detail"]


def test_uploads_are_deleted_after_scoring(served):
    with served.client() as client:
        _post(client, example_clips()["ogg"])
        _post(client, example_clips()["wav"])
    # the server's private folder is named in no answer; find it by its prefix and owner
    folders = [
        p for p in Path("/tmp").glob("autoenchorder-serve-*") if p.stat().st_mode & 0o077 == 0
    ]
    assert folders, "no private upload folder"
    # Requests an earlier test left queued (the concurrency test's) may still be scoring:
    # their uploads go when they finish, so wait for those, within a bound.
    deadline = time.monotonic() + 60
    while any(any(folder.iterdir()) for folder in folders) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all(not any(folder.iterdir()) for folder in folders)


def test_concurrent_requests_are_bounded(served):
    clip = example_clips()["mp3"]
    data = clip.read_bytes()
    start = threading.Barrier(8)

    def one(_: int) -> httpx.Response:
        with served.client() as client:
            start.wait()
            return client.post("/api/predict", files={"file": (clip.name, data)})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(one, range(8)))
    codes = sorted(r.status_code for r in responses)
    assert set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 1 + QUEUE - 1  # the worker and (most of) the queue are served
    assert codes.count(503) >= 8 - (1 + QUEUE) - 1
    for r in responses:
        if r.status_code == 503:
            assert int(r.headers["Retry-After"]) >= 1 and "busy" in r.json()["detail"]


def test_model_card_health_and_docs(served):
    with served.client() as client:
        card = client.get("/api/model").json()
        health = client.get("/healthz").json()
        docs = client.get("/docs")
        spec = client.get("/openapi.json").json()
    assert card["model"] == "hitmusicnet" and card["trained_on"]["dataset"] == "catalog"
    assert {m["name"] for m in card["metrics"]} >= {"mae", "r2"}
    assert card["neighbours"]["available"] and card["notice"] is None
    assert sum(card["popularity_histogram"]["counts"]) == card["neighbours"]["n_training"]
    assert health["status"] == "ok" and health["workers"] == 1
    assert docs.status_code == 200 and "openapi.json" in docs.text
    assert "cdn" not in docs.text.lower() and "https://" not in docs.text
    assert {"/api/predict", "/api/compare", "/api/model", "/healthz"} <= set(spec["paths"])


def _in_process(bundle: Path, **options) -> TestClient:
    """The app in this process (scoring in a thread: no process to start)."""
    settings = ServeSettings(bundles=(bundle,), workers=0, queue=1, mc_passes=10, **options)
    return TestClient(create_app(settings))


def test_token_is_required_when_set(serve_bundle):
    with _in_process(serve_bundle, token="s3cret") as client:
        assert client.get("/api/model").status_code == 401
        assert client.get("/api/model", headers={"X-Token": "wrong"}).status_code == 401
        clip = example_clips()["mp3"]
        refused = client.post("/api/predict", files={"file": (clip.name, clip.read_bytes())})
        assert refused.status_code == 401 and "token" in refused.json()["detail"]
        ok = client.get("/api/model", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert client.get("/api/model", headers={"X-Token": "s3cret"}).status_code == 200
        assert client.get("/healthz").status_code == 200  # the page and health stay open
        assert client.get("/").status_code == 200


def test_an_old_bundle_without_an_index_still_serves(serve_bundle, tmp_path):
    """A bundle written before training indexes: the page says the feature is unavailable."""
    predictor = Predictor.load(serve_bundle)
    doc = json.loads((serve_bundle / "bundle.json").read_text())
    old = save_bundle(
        predictor.models[0],
        tmp_path / "old",
        metrics=doc["metrics"],
        extra=doc["extra"],
        feature_spec=doc["feature_spec"],
    )
    assert load_training_index(old) is None
    clip = example_clips()["wav"]
    with _in_process(old) as client:
        card = client.get("/api/model").json()
        upload = {"file": (clip.name, clip.read_bytes())}
        answer = client.post("/api/predict", params={"details": "true"}, files=upload)
    assert answer.status_code == 200, answer.text
    details = answer.json()["details"]
    assert card["neighbours"]["available"] is False and card["popularity_histogram"] is None
    assert details["neighbours"] is None and details["percentile"] is None
    assert details["interval"] is not None


def test_the_card_shows_test_metrics_with_intervals(served):
    with served.client() as client:
        card = client.get("/api/model").json()
    metrics = {m["name"]: m for m in card["metrics"]}
    low, high = metrics["mae"]["ci"]
    assert low <= metrics["mae"]["value"] <= high
    assert "n" not in metrics  # a count, not a metric


def test_an_ensembles_card_shows_the_ensembles_metrics_when_all_members_are_loaded():
    from autoenchorder.serve.card import model_card

    def member(mae: float) -> dict:
        ensemble = {"test": {"mae": 6.2}, "test_ci": {"mae": [5.9, 6.6]}, "n_members": 2}
        return {"model": "autoenchorder", "metrics": {"test": {"mae": mae}, "ensemble": ensemble}}

    both = model_card([member(6.5), member(6.7)], [Path("a"), Path("b")], None)
    assert both["metrics"] == [{"name": "mae", "value": 6.2, "ci": [5.9, 6.6]}]
    assert both["metrics_of"] == "the ensemble of 2"
    alone = model_card([member(6.5)], [Path("a")], None)  # one member loaded: its own metrics
    assert alone["metrics"] == [{"name": "mae", "value": 6.5, "ci": None}]
    assert alone["metrics_of"] == "this model"


def test_a_procedural_model_says_its_scores_say_nothing_about_listeners():
    from autoenchorder.serve.card import model_card

    procedural = model_card(
        [{"model": "autoenchorder", "extra": {"dataset": "procedural"}}], [Path("b")], None
    )
    catalog = model_card(
        [{"model": "autoenchorder", "extra": {"dataset": "catalog"}}], [Path("b")], None
    )
    assert "nothing about how real listeners" in procedural["notice"]
    assert catalog["notice"] is None


def test_moments_come_from_contributions_where_the_model_has_a_sequence_part():
    from autoenchorder.serve.analysis import moments

    frames = [
        {"start": 3.0 * i, "end": 3.0 * i + 3.0, "contribution": c}
        for i, c in enumerate([0.5, -2.0, 3.0, 0.0, -0.1, 1.0])
    ]
    found = moments({"contributions": frames, "windows": []}, n=2)
    assert found["source"] == "contributions"
    assert [m["start"] for m in found["strongest"]] == [6.0, 15.0]
    assert [m["start"] for m in found["weakest"]] == [3.0, 12.0]


def test_training_index_round_trip_and_tamper_check(tmp_path):
    from autoenchorder.errors import ModelError
    from autoenchorder.models import make_model
    from autoenchorder.models.codes import INPUT_SPACE, build_training_index, song_coordinates
    from synthetic_popularity import learnable_dataset

    ds = learnable_dataset(60, with_sequences=False)
    model = make_model("gbdt").fit(ds)  # no autoencoder: placed by its scaled inputs
    index = build_training_index(model, ds, cap=40, seed=1)
    assert index.space == INPUT_SPACE and len(index.ids) == 40
    assert index.training_popularity.size == 60  # the percentile sees every training song
    # the standardised codes are the songs' own inputs, standardised
    rows = [list(ds.ids).index(i) for i in index.ids]
    again = index.standardise(song_coordinates(model, ds.take(rows)))
    assert np.allclose(again, index.codes.astype(np.float32), atol=2e-2)
    bundle = save_bundle(model, tmp_path / "b", training_index=index)
    loaded = load_training_index(bundle)
    assert loaded.ids == index.ids and np.array_equal(loaded.codes, index.codes)
    path = bundle / "training_index.safetensors"
    path.write_bytes(path.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelError, match="does not match"):
        load_training_index(bundle)
