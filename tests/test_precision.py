"""The embedders' precision: bfloat16 close to float32, recorded in stores and bundles."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from autoenchorder import precision as prec
from autoenchorder.errors import DataError, ModelError
from conftest import EXAMPLE_AUDIO, EXAMPLE_CLIPS

CLIPS = EXAMPLE_CLIPS


def _musicnn(**options):
    from autoenchorder.audio.embed import get_embedder

    with warnings.catch_warnings():  # bfloat16 is emulated (and says so) on CPUs without it
        warnings.simplefilter("ignore", RuntimeWarning)
        return get_embedder("musicnn-msd", **options)


# ----------------------------------------------------------------------------- resolving


def test_auto_is_bfloat16_only_where_native(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: True)
    assert prec.resolve_precision("auto", cpu) == "bfloat16"
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: False)
    assert prec.resolve_precision("auto", cpu) == "float32"
    assert prec.resolve_precision("float32", cpu) == "float32"


def test_emulated_bfloat16_warns_and_unknown_names_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        assert prec.resolve_precision("bfloat16", cpu) == "bfloat16"
    with pytest.raises(ModelError, match="unknown precision 'float16'"):
        prec.resolve_precision("float16", cpu)


def test_an_option_an_embedder_does_not_take_is_a_model_error() -> None:
    from autoenchorder.audio.embed import get_embedder

    with pytest.raises(ModelError, match="'clap' does not take that option"):
        get_embedder("clap", precision="bfloat16")


# ----------------------------------------------------------------------------- musicnn


def test_musicnn_bfloat16_is_close_to_float32(musicnn_weights) -> None:
    path = min(CLIPS, key=lambda p: p.stat().st_size)
    exact = _musicnn().embed_file(path)
    fast = _musicnn(precision="bfloat16")
    assert (fast.precision, fast.batch_size) == ("bfloat16", 4)
    assert _musicnn().batch_size == 1
    rounded = fast.embed_file(path)
    np.testing.assert_array_equal(rounded.times, exact.times)
    a, b = exact.frames, rounded.frames
    assert not np.array_equal(a, b)  # the network did run in bfloat16
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 0.05
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999


# ----------------------------------------------------------------------------- stores, bundles


def _extract(audio: Path, store: Path, **options) -> None:
    from autoenchorder.data.extract import extract_corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        extract_corpus(audio, store, embedder="musicnn-msd", embedder_options=options)


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory) -> Path:
    audio = tmp_path_factory.mktemp("precision") / "audio"
    audio.mkdir()
    for clip in sorted(CLIPS, key=lambda p: p.stat().st_size)[:2]:
        (audio / clip.name).write_bytes(clip.read_bytes())
    return audio


def test_the_store_records_bfloat16_and_refuses_to_mix(musicnn_weights, audio_dir, tmp_path):
    from autoenchorder.data.store import FeatureStore, stored_precision

    plain = tmp_path / "plain"
    _extract(audio_dir, plain, precision="float32")
    # float32, the default, is left out: stores made before the option keep their identity
    assert "precision" not in FeatureStore(plain).manifest["embedders"]["musicnn-msd"]["options"]
    assert stored_precision(FeatureStore(plain).manifest, "musicnn-msd") is None

    fast = tmp_path / "fast"
    _extract(audio_dir, fast, precision="bfloat16")
    assert stored_precision(FeatureStore(fast).manifest, "musicnn-msd") == "bfloat16"
    with pytest.raises(DataError, match="made with"):
        _extract(audio_dir, fast, precision="float32")
    # auto resumes a store in the precision it holds, whatever this CPU prefers
    _extract(audio_dir, fast, precision="auto")
    _extract(audio_dir, plain, precision="auto")
    assert stored_precision(FeatureStore(plain).manifest, "musicnn-msd") is None


def test_a_bundle_scores_in_its_training_precision(musicnn_weights, audio_dir, tmp_path):
    from autoenchorder.bundle import feature_spec_from_dataset
    from autoenchorder.data.sources.catalog import load_catalog
    from autoenchorder.predict.inputs import ModelInputs

    store = tmp_path / "store"
    _extract(audio_dir, store, precision="bfloat16")
    labels = tmp_path / "labels.csv"
    ids = sorted(p.with_suffix("").name for p in audio_dir.iterdir())
    pd.DataFrame({"id": ids, "popularity": [20.0, 70.0]}).to_csv(labels, index=False)
    ds = load_catalog(audio_dir, labels, store, embedder="musicnn-msd")
    spec = feature_spec_from_dataset(ds)
    assert spec["embedder"]["precision"] == "bfloat16"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ModelInputs(["sequences"], spec).embedder.precision == "bfloat16"
    spec["embedder"].pop("precision")  # a bundle made before the option: float32
    assert ModelInputs(["sequences"], spec).embedder.precision == "float32"


def test_extract_precision_needs_an_embedder(tmp_path) -> None:
    from autoenchorder.cli import main

    code = main(
        ["extract", str(EXAMPLE_AUDIO), "--out", str(tmp_path / "s"), "--precision", "bfloat16"]
    )
    assert code == 2
