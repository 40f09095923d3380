"""An ``s3://`` round trip on a local S3-compatible server (moto, 127.0.0.1 only)."""

from __future__ import annotations

import numpy as np
import pytest
from s3_server import S3Bucket, s3_bucket, s3_server  # noqa: F401  (fixtures)

from autoenchorder import storage
from autoenchorder.audio.embed import Embedding
from autoenchorder.data.store import COMMIT_MARKER, FeatureStore, ShardContent


def _row(track_id: str) -> dict:
    return {
        "track_id": track_id,
        "path": f"{track_id}.wav",
        "duration": 1.0,
        "sample_rate": 8000,
        "channels": 1,
        "silent": False,
        "feat": 1.5,
    }


def test_store_on_s3_is_whole_or_nothing(s3_bucket: S3Bucket) -> None:
    root = s3_bucket.unique("store")
    store = FeatureStore.create(root, audio_root=s3_bucket.uri("songs"), config={"c": 1})
    assert store.root == root and store.manifest["audio_root"] == s3_bucket.uri("songs")
    emb = Embedding(np.ones((2, 3), np.float32), np.arange(2.0))
    store.write_shard(ShardContent(rows=[_row("a")], sequences={"e": {"a": emb}}))
    fs, path = storage.filesystem(root)
    # a node killed mid-upload: the shard's files are there, its marker is not
    fs.pipe_file(f"{path}/shards/{'9' * 20}-deadbeef0000/lowlevel.parquet", b"half a file")
    again = FeatureStore(root)
    assert again.read_table()["track_id"].tolist() == ["a"]
    assert again.done_ids("lowlevel") == {"a"}
    np.testing.assert_array_equal(again.read_sequences("e")["a"].frames, emb.frames)
    assert sum(p.endswith(COMMIT_MARKER) for p in fs.find(path)) == 1
