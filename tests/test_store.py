from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from autoenchorder.audio.embed import Embedding
from autoenchorder.data.store import FeatureStore, ShardContent, sequence_stage
from autoenchorder.errors import DataError


def _row(track_id: str, value: float) -> dict:
    return {
        "track_id": track_id,
        "path": f"{track_id}.wav",
        "duration": 1.0,
        "sample_rate": 8000,
        "channels": 1,
        "silent": False,
        "feat_a": value,
        "feat_b": -value,
    }


def _embedding(rng: np.random.Generator, n_frames: int, dim: int = 5) -> Embedding:
    return Embedding(
        frames=rng.standard_normal((n_frames, dim)).astype(np.float32),
        times=np.arange(n_frames) * 3.0,
    )


@pytest.fixture
def store(tmp_path):
    return FeatureStore.create(tmp_path / "store", audio_root=tmp_path, config={"compat": "x"})


def test_rows_sequences_and_failures_round_trip(store):
    rng = np.random.default_rng(0)
    seqs = {"a": _embedding(rng, 4), "b": _embedding(rng, 1), "c": _embedding(rng, 0)}
    store.write_shard(
        ShardContent(
            rows=[_row("b", 2.0), _row("a", 1.0)],
            sequences={"emb": seqs},
            failures=[{"path": "d.wav", "track_id": "d", "stage": "lowlevel", "reason": "bad"}],
        )
    )
    table = store.read_table()
    assert table["track_id"].tolist() == ["a", "b"]
    assert table["feat_b"].tolist() == [-1.0, -2.0]
    back = store.read_sequences("emb")
    assert set(back) == {"a", "b", "c"}
    for key, emb in seqs.items():
        np.testing.assert_array_equal(back[key].frames, emb.frames)
        np.testing.assert_array_equal(back[key].times, emb.times)
        assert back[key].frames.dtype == np.float32
    assert set(store.read_sequences("emb", ids=["b"])) == {"b"}
    assert store.sequence_embedders() == ["emb"]
    assert store.done_ids(sequence_stage("emb")) == {"a", "b", "c"}
    failures = store.failures()
    assert failures[["path", "stage", "reason"]].values.tolist() == [["d.wav", "lowlevel", "bad"]]


def test_failure_disappears_once_the_stage_is_stored(store):
    store.write_shard(
        ShardContent(
            failures=[{"path": "a.wav", "track_id": "a", "stage": "lowlevel", "reason": "busy"}]
        )
    )
    assert len(store.failures()) == 1
    store.write_shard(ShardContent(rows=[_row("a", 1.0)]))
    assert store.failures().empty


def test_partial_shard_of_a_killed_run_is_ignored_and_removed(store, tmp_path):
    store.write_shard(ShardContent(rows=[_row("a", 1.0)]))
    partial = store.root / ".tmp-deadbeef"
    partial.mkdir()
    pd.DataFrame([_row("zzz", 9.0)]).to_parquet(partial / "lowlevel.parquet")
    assert store.read_table()["track_id"].tolist() == ["a"]
    reopened = FeatureStore.create(store.root, audio_root=tmp_path, config={"compat": "x"})
    assert not partial.exists()
    assert reopened.read_table()["track_id"].tolist() == ["a"]


def test_a_store_made_with_other_settings_is_refused(store, tmp_path):
    with pytest.raises(DataError, match="compat"):
        FeatureStore.create(store.root, audio_root=tmp_path, config={"compat": "y"})
    store.register_embedder("emb", {"version": "1"})
    with pytest.raises(DataError, match="emb"):
        store.register_embedder("emb", {"version": "2"})


def test_not_a_store(tmp_path):
    with pytest.raises(DataError, match="not a feature store"):
        FeatureStore(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(DataError, match="format"):
        FeatureStore(tmp_path)


def test_compact_keeps_contents(store):
    rng = np.random.default_rng(1)
    for k in range(3):
        store.write_shard(
            ShardContent(
                rows=[_row(f"t{k}", float(k))], sequences={"emb": {f"t{k}": _embedding(rng, k + 1)}}
            )
        )
    before_rows, before_seqs = store.read_table(), store.read_sequences("emb")
    store.compact()
    assert len(list((store.root / "shards").iterdir())) == 1
    pd.testing.assert_frame_equal(store.read_table(), before_rows)
    after = store.read_sequences("emb")
    for key in before_seqs:
        np.testing.assert_array_equal(after[key].frames, before_seqs[key].frames)


def test_the_manifest_records_the_input_spec(tmp_path):
    from autoenchorder.audio.processor import InputSpec

    window = InputSpec(window=10.0, offset=5.0)
    made = FeatureStore.create(
        tmp_path / "s", audio_root=tmp_path, config={"compat": "x"}, input_spec=window
    )
    manifest = json.loads((made.root / "manifest.json").read_text())
    assert manifest["input"] == {"kind": "window", "seconds": 10.0, "offset": 5.0}
    assert FeatureStore(made.root).input_spec == window
    with pytest.raises(DataError, match="10 s window at 5 s.*whole file"):
        FeatureStore.create(made.root, audio_root=tmp_path, config={"compat": "x"})


def test_a_store_older_than_input_specs_holds_whole_files(store, tmp_path):
    from autoenchorder.audio.processor import WHOLE_FILE

    manifest = json.loads((store.root / "manifest.json").read_text())
    del manifest["input"]
    (store.root / "manifest.json").write_text(json.dumps(manifest))
    assert FeatureStore(store.root).input_spec == WHOLE_FILE
    # and it resumes as a whole-file store
    FeatureStore.create(store.root, audio_root=tmp_path, config={"compat": "x"})
