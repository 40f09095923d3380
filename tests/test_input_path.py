"""One audio path for training and scoring: ``predict`` on a training song gives the model's own
in-sample prediction, for a full-length song too.

A small catalog is made from the repository's example clips plus a three-minute song; it is
extracted, a model is trained on it with the command line, and every training file is scored
with ``predict``. The model saw features of a file computed one way when it trained; ``predict``
must compute them the same way, or a model trained on whole songs is scored on other inputs
than it learned from.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from autoenchorder.audio.io import load_audio
from autoenchorder.bundle import load_bundle
from autoenchorder.cli import main
from autoenchorder.data.sources.catalog import load_catalog
from autoenchorder.predict import Predictor

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "audio"
#: Length of the full-length song, seconds (longer than the 30 s windows of the timeline view).
SONG_SECONDS = 183.0
#: Rate of the full-length song: low, to keep the test's feature extraction cheap.
SONG_RATE = 16000


def _clips() -> list[Path]:
    clips = sorted(p for p in EXAMPLES.iterdir() if p.suffix in {".ogg", ".mp3", ".flac"})
    if len(clips) < 3:
        pytest.skip(f"the example clips are missing from {EXAMPLES}")
    return clips


def _make_catalog(root: Path) -> tuple[Path, Path]:
    """Seven songs: three example clips, the same three reversed, and a 183 s song."""
    audio = root / "audio"
    audio.mkdir()
    clips = _clips()
    for clip in clips:
        (audio / clip.name).write_bytes(clip.read_bytes())
        y, sr = load_audio(clip)
        sf.write(audio / f"reversed_{clip.stem}.flac", y[::-1], sr)
    # The full-length song: the clips one after another, looped, at one rate.
    pieces = [load_audio(clip, sr=SONG_RATE)[0] for clip in clips]
    loops = int(np.ceil(SONG_SECONDS * SONG_RATE / sum(len(p) for p in pieces)))
    song = np.concatenate(pieces * loops)
    sf.write(audio / "full_song.flac", song[: int(SONG_SECONDS * SONG_RATE)], SONG_RATE)
    ids = sorted(p.with_suffix("").name for p in audio.iterdir())
    labels = root / "labels.csv"
    pd.DataFrame({"id": ids, "popularity": np.linspace(15.0, 85.0, len(ids)).round(1)}).to_csv(
        labels, index=False
    )
    return audio, labels


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    root = tmp_path_factory.mktemp("catalog")
    audio, labels = _make_catalog(root)
    store = root / "store"
    assert main(["extract", str(audio), "--out", str(store), "--quiet"]) == 0
    return audio, labels, store


def _train(catalog, out: Path, model: str, *options: str) -> Path:
    audio, labels, store = catalog
    data = ["--data", "catalog", "--root", str(audio), "--labels", str(labels)]
    command = ["train", "--model", model, *data, "--store", str(store), "--out", str(out)]
    assert main([*command, "--quiet", *options]) == 0
    return out


def _assert_predict_is_in_sample(
    catalog, bundle: Path, *, embedder: str | None = None, **options
) -> None:
    audio, labels, store = catalog
    ds = load_catalog(audio, labels, store, embedder=embedder)
    in_sample = dict(zip(ds.ids, load_bundle(bundle).predict(ds), strict=True))
    predictor = Predictor.load(bundle, mc_passes=0, contributions=False, **options)
    files = {p.with_suffix("").name: p for p in audio.iterdir()}
    assert len(in_sample) == len(files) == 7
    scored = {track: predictor.predict(files[track]).popularity for track in in_sample}
    gaps = {track: abs(scored[track] - in_sample[track]) for track in in_sample}
    assert max(gaps.values()) <= 0.01, gaps


def test_full_length_song_scores_as_in_training_hitmusicnet(catalog, tmp_path):
    bundle = _train(
        catalog, tmp_path / "hmn", "hitmusicnet", "--set", "epochs=5", "--set", "ae_epochs=2"
    )
    _assert_predict_is_in_sample(catalog, bundle)
    doc = json.loads((bundle / "bundle.json").read_text())
    assert doc["feature_spec"]["audio_input"] == {"kind": "whole_file"}


@pytest.mark.slow  # musicnn over the catalog twice: about 30 s of CPU more
def test_full_length_song_scores_as_in_training_autoenchorder(catalog, tmp_path):
    from autoenchorder.audio.embed import get_embedder
    from autoenchorder.errors import WeightsError

    try:
        get_embedder("musicnn-msd")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights not set up: {exc}")
    audio, _, store = catalog
    # the musicnn sequences join the store's low-level rows (only the new stage is computed)
    extract = ["extract", str(audio), "--out", str(store), "--embedder", "musicnn-msd"]
    assert main([*extract, "--quiet"]) == 0
    small = ["ae_epochs=2", "epochs=3", "finetune_epochs=1", "n_layers=3"]
    bundle = _train(
        catalog,
        tmp_path / "ae",
        "autoenchorder",
        "--embedder",
        "musicnn-msd",
        *(arg for value in small for arg in ("--set", value)),
    )
    # (no timeline windows: the headline does not depend on them, and they cost musicnn time)
    _assert_predict_is_in_sample(catalog, bundle, embedder="musicnn-msd", max_windows=0)


def test_full_length_song_scores_as_in_training_sequence_ridge(catalog, tmp_path):
    """Ridge on the sections' statistics: the sections of a whole song, in training and in
    ``predict`` alike (a 183 s song is 12 sections, a clip one or two)."""
    audio, _, store = catalog
    extract = ["extract", str(audio), "--out", str(store), "--embedder", "lowlevel-sections"]
    assert main([*extract, "--quiet"]) == 0
    bundle = _train(
        catalog, tmp_path / "ridge", "sequence-ridge", "--embedder", "lowlevel-sections"
    )
    _assert_predict_is_in_sample(catalog, bundle, embedder="lowlevel-sections", max_windows=0)
    ds = load_catalog(audio, catalog[1], store, embedder="lowlevel-sections")
    lengths = dict(zip(ds.ids, (len(s) for s in ds.sequences), strict=True))
    assert lengths["full_song"] == 12
