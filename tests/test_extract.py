from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from autoenchorder.audio.embed import Embedder, Embedding, register_embedder
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.cli import main
from autoenchorder.data.extract import extract_corpus
from autoenchorder.data.store import TRACK_COLUMNS, FeatureStore, sequence_stage
from conftest import make_tone

GOOD = ["a/song1.wav", "a/song2.flac", "b/song3.ogg", "song4.wav", "song5.wav"]
BAD = {
    "bad/empty.wav": "0 bytes",
    "bad/text.mp3": "not readable as audio",
    "bad/truncated.wav": "",
}


def _corpus(root: Path, *, n_extra: int = 0, seconds: float = 1.5) -> Path:
    for k, rel in enumerate(GOOD + [f"extra/x{j}.wav" for j in range(n_extra)]):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, make_tone(seconds, 16000, seed=k, freqs=(200.0 + 30 * k, 330.0)), 16000)
    (root / "bad").mkdir()
    (root / "bad/empty.wav").write_bytes(b"")
    (root / "bad/text.mp3").write_text("this is not audio\n" * 20)
    whole = (root / "song4.wav").read_bytes()
    (root / "bad/truncated.wav").write_bytes(whole[:30])
    (root / "notes.txt").write_text("ignored: not an audio extension")
    return root


@pytest.fixture
def corpus(tmp_path):
    return _corpus(tmp_path / "audio")


def test_good_files_are_stored_and_bad_ones_reported(corpus, tmp_path):
    summary = extract_corpus(corpus, tmp_path / "store")
    assert (summary.total, summary.done, summary.failed) == (8, 5, 3)
    store = FeatureStore(tmp_path / "store")
    table = store.read_table()
    assert list(table.columns) == list(TRACK_COLUMNS) + list(LOWLEVEL_COLUMNS)
    assert table["track_id"].tolist() == sorted(p.rsplit(".", 1)[0] for p in GOOD)
    assert table["sample_rate"].unique().tolist() == [16000]
    np.testing.assert_allclose(table["duration"], 1.5)
    assert np.isfinite(table[list(LOWLEVEL_COLUMNS)].to_numpy()).all()
    failures = store.failures()
    assert sorted(failures["path"]) == sorted(BAD)
    for path, reason in BAD.items():
        recorded = failures.loc[failures["path"] == path, "reason"].item()
        assert reason in recorded and recorded


def test_rerun_skips_done_and_failed_unless_retried(corpus, tmp_path):
    extract_corpus(corpus, tmp_path / "store")
    again = extract_corpus(corpus, tmp_path / "store")
    assert (again.done, again.failed, again.skipped) == (0, 0, 8)
    (corpus / "bad/empty.wav").unlink()
    shutil.copy(corpus / "song5.wav", corpus / "bad/empty.wav")  # now a good file
    retried = extract_corpus(corpus, tmp_path / "store", retry_failed=True)
    assert (retried.done, retried.failed) == (1, 2)
    store = FeatureStore(tmp_path / "store")
    assert "bad/empty" in store.read_table()["track_id"].tolist()
    assert "bad/empty.wav" not in store.failures()["path"].tolist()


def test_two_workers_store_the_same_rows(corpus, tmp_path):
    extract_corpus(corpus, tmp_path / "one", workers=1)
    extract_corpus(corpus, tmp_path / "two", workers=2)
    one = FeatureStore(tmp_path / "one")
    two = FeatureStore(tmp_path / "two")
    pd.testing.assert_frame_equal(one.read_table(), two.read_table())
    pd.testing.assert_frame_equal(one.failures(), two.failures())


class _FrameMeans(Embedder):
    """A deterministic stand-in embedder: per-0.5 s window mean and energy."""

    name, version, sample_rate, window_seconds, hop_seconds, dim = (
        "test-means",
        "1",
        16000,
        0.5,
        0.5,
        2,
    )

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        n = int(self.window_seconds * sr)
        windows = y[: len(y) // n * n].reshape(-1, n)
        frames = np.stack([windows.mean(1), (windows**2).mean(1)], axis=1).astype(np.float32)
        return Embedding(frames=frames, times=np.arange(len(frames)) * self.hop_seconds)


register_embedder("test-means")(_FrameMeans)


def test_sequences_are_added_to_an_existing_store(corpus, tmp_path):
    extract_corpus(corpus, tmp_path / "store")
    summary = extract_corpus(corpus, tmp_path / "store", embedder="test-means")
    assert summary.done == 5  # only the embedding stage ran, for the good files
    store = FeatureStore(tmp_path / "store")
    seqs = store.read_sequences("test-means")
    assert sorted(seqs) == sorted(store.read_table()["track_id"])
    y, sr = sf.read(corpus / "song4.wav", dtype="float32")
    np.testing.assert_allclose(
        seqs["song4"].frames[:, 0], y[:24000].reshape(3, -1).mean(1), rtol=1e-6
    )
    np.testing.assert_allclose(seqs["song4"].times, [0.0, 0.5, 1.0])
    assert store.manifest["embedders"]["test-means"]["dim"] == 2
    assert store.done_ids(sequence_stage("test-means")) == set(seqs)


def test_cli_extract_prints_a_summary(corpus, tmp_path, capsys):
    status = main(["extract", str(corpus), "--out", str(tmp_path / "store"), "--quiet"])
    assert status == 0
    out = capsys.readouterr().out
    assert "failures" in out and "bad/text.mp3" in out and "not readable as audio" in out


_RUN = """
import sys
from autoenchorder.data.extract import extract_corpus
extract_corpus(sys.argv[1], sys.argv[2], shard_size=1)
"""


def test_killed_extract_resumes_to_the_same_store(tmp_path):
    corpus = _corpus(tmp_path / "audio", n_extra=12, seconds=4.0)
    reference = tmp_path / "reference"
    extract_corpus(corpus, reference)

    resumed = tmp_path / "resumed"
    # The process is killed at a random point, perhaps while numba writes its cache: give it a
    # copy of the cache so a truncated entry cannot break later tests.
    numba_cache = tmp_path / "numba-cache"
    if os.environ.get("NUMBA_CACHE_DIR") and Path(os.environ["NUMBA_CACHE_DIR"]).is_dir():
        shutil.copytree(os.environ["NUMBA_CACHE_DIR"], numba_cache)
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN, str(corpus), str(resumed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NUMBA_CACHE_DIR": str(numba_cache)},
    )
    deadline = time.monotonic() + 120
    shards = resumed / "shards"
    while time.monotonic() < deadline and proc.poll() is None:
        if shards.is_dir() and len(list(shards.iterdir())) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = FeatureStore(resumed).read_table()
    assert 0 < len(partial) < 17

    summary = extract_corpus(corpus, resumed)
    assert summary.skipped >= len(partial)
    pd.testing.assert_frame_equal(
        FeatureStore(resumed).read_table(), FeatureStore(reference).read_table()
    )
    pd.testing.assert_frame_equal(
        FeatureStore(resumed).failures(), FeatureStore(reference).failures()
    )


def test_window_extraction_computes_the_window_and_records_it(corpus, tmp_path):
    from autoenchorder.audio.io import load_audio
    from autoenchorder.audio.lowlevel import extract_lowlevel
    from autoenchorder.data.sources.catalog import load_catalog

    store_root = tmp_path / "store"
    status = main(
        ["extract", str(corpus), "--out", str(store_root), "--window", "1", "--offset", "0.25"]
        + ["--quiet"]
    )
    assert status == 0
    store = FeatureStore(store_root)
    assert store.manifest["input"] == {"kind": "window", "seconds": 1.0, "offset": 0.25}
    row = store.read_table().set_index("track_id").loc["song4"]
    y, sr = load_audio(corpus / "song4.wav", offset=0.25, duration=1.0)
    np.testing.assert_allclose(
        row[list(LOWLEVEL_COLUMNS)].to_numpy(float), extract_lowlevel(y, sr), rtol=1e-6
    )
    assert row["duration"] == pytest.approx(1.5)  # the file's length, not the window's
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"id": ["song4", "song5"], "popularity": [10, 90]}).to_csv(labels, index=False)
    ds = load_catalog(corpus, labels, store_root)
    assert ds.info["audio_input"] == store.manifest["input"]
    # a resumed run with another window is refused: rows made differently never mix
    assert main(["extract", str(corpus), "--out", str(store_root), "--quiet"]) == 2
