"""``lowlevel-sections``: the 207 low-level features of each section of a song."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from autoenchorder.audio.embed import available_embedders, get_embedder
from autoenchorder.audio.embed.sections import MIN_LAST_SHARE, section_bounds
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS, extract_lowlevel
from autoenchorder.data.extract import extract_corpus
from autoenchorder.data.store import FeatureStore
from autoenchorder.errors import AudioError, ModelError
from conftest import make_tone

SR = 16000


def test_sections_are_consecutive_and_a_short_tail_is_dropped() -> None:
    assert section_bounds(100, 30) == [(0, 30), (30, 60), (60, 90)]  # 10 left: under half
    assert section_bounds(110, 30) == [(0, 30), (30, 60), (60, 90), (90, 110)]
    assert section_bounds(20, 30) == [(0, 20)]  # shorter than a section: all of it
    assert MIN_LAST_SHARE == 0.5
    with pytest.raises(ValueError, match="at least one sample"):
        section_bounds(10, 0)


def test_frames_are_the_207_features_of_each_section() -> None:
    embedder = get_embedder("lowlevel-sections", section_seconds=2.0)
    assert "lowlevel-sections" in available_embedders()
    y = make_tone(5.2, SR)
    emb = embedder.embed(y, SR)
    assert emb.frames.shape == (3, len(LOWLEVEL_COLUMNS)) == (3, embedder.dim)
    assert emb.frames.dtype == np.float32
    np.testing.assert_allclose(emb.times, [0.0, 2.0, 4.0])
    for i, start in enumerate((0, 2 * SR, 4 * SR)):
        end = min(start + 2 * SR, y.size)
        expected = extract_lowlevel(y[start:end], SR, compat="fixed")
        np.testing.assert_allclose(emb.frames[i], expected.astype(np.float32), rtol=1e-6)


def test_a_layer_in_the_last_section_shows_only_there() -> None:
    embedder = get_embedder("lowlevel-sections", section_seconds=2.0)
    y = make_tone(6.0, SR)
    rng = np.random.default_rng(0)
    y[4 * SR :] += 0.2 * rng.standard_normal(2 * SR).astype(np.float32)  # noise at the end
    frames = embedder.embed(y, SR).frames
    zcr = frames[:, LOWLEVEL_COLUMNS.index("ZCR")]
    assert zcr[2] > 3 * max(zcr[0], zcr[1])


def test_bad_options_and_bad_audio_are_errors() -> None:
    with pytest.raises(ModelError, match="section_seconds"):
        get_embedder("lowlevel-sections", section_seconds=0)
    with pytest.raises(ModelError, match="compat"):
        get_embedder("lowlevel-sections", compat="nope")
    embedder = get_embedder("lowlevel-sections")
    with pytest.raises(AudioError, match="shorter than one"):
        embedder.embed(np.zeros(100, np.float32), SR)
    with pytest.raises(AudioError, match="NaN"):
        embedder.embed(np.full(SR, np.nan, np.float32), SR)


def test_extract_stores_the_sections_beside_the_whole_song_features(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "long.wav", make_tone(5.0, SR), SR)
    sf.write(audio / "short.wav", make_tone(1.5, SR, seed=1), SR)
    (audio / "broken.wav").write_bytes(b"not audio")
    store = tmp_path / "store"
    extract_corpus(audio, store)  # the 207 features first, as the full-length study does
    summary = extract_corpus(
        audio, store, embedder="lowlevel-sections", embedder_options={"section_seconds": 2.0}
    )
    assert summary.failed == 1 and summary.failures[0][0].endswith("broken.wav")
    sequences = FeatureStore(store).read_sequences("lowlevel-sections")
    assert sorted(sequences) == ["long", "short"]
    assert sequences["long"].frames.shape == (3, 207)  # 2 s, 2 s, 1 s (half a section: kept)
    assert sequences["short"].frames.shape == (1, 207)
    manifest = FeatureStore(store).manifest["embedders"]["lowlevel-sections"]
    assert "2s" in manifest["version"]
