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


# ---------------------------------------------------------------- predict --out s3://
@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> str:
    """A small HitMusicNet bundle on low-level features (trained on random rows)."""
    import pandas as pd

    from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
    from autoenchorder.bundle import save_bundle
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models import make_model

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(LOWLEVEL_COLUMNS)))
    train = PopularityDataset(
        ids=[f"s{i}" for i in range(40)],
        y=np.clip(45 + 8 * x[:, 0], 0, 100),
        tabular=pd.DataFrame(x, columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
    )
    model = make_model("hitmusicnet", groups=("lowlevel",), ae_epochs=1, epochs=2, quiet=True)
    path = tmp_path_factory.mktemp("bundle") / "hmn"
    save_bundle(model.fit(train), path, feature_spec={"columns": {"lowlevel": LOWLEVEL_COLUMNS}})
    return str(path)


def test_predict_scores_songs_on_s3_into_a_parquet_on_s3(
    s3_bucket: S3Bucket, bundle: str, example_audio
) -> None:
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from autoenchorder.commands.predict import command
    from autoenchorder.predict.catalog import PARTS_SUFFIX, load_predictor

    base = s3_bucket.unique("predict")
    clips = sorted(p for p in example_audio.iterdir() if p.suffix in {".wav", ".mp3"})
    for clip in clips:
        storage.write_bytes(storage.join(base, "songs", clip.name), clip.read_bytes())
    corrupt = storage.join(base, "more", "corrupt.ogg")
    missing = storage.join(base, "more", "missing.wav")
    storage.write_bytes(corrupt, b"OggS" + bytes(range(256)) * 8)
    song_list = storage.join(base, "list.txt")
    storage.write_text(song_list, f"# the rest of the catalog\n{corrupt}\n{missing}\n")
    out = storage.join(base, "out", "scores.parquet")
    options = ["--mc-passes", "3", "--windows", "1"]
    args = [storage.join(base, "songs"), "--songs-from", song_list, "--model", bundle]
    result = CliRunner().invoke(command, [*args, "--out", out, *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    fs, path = storage.filesystem(out)
    table = pq.read_table(path, filesystem=fs).to_pandas().set_index("path").sort_index()
    uris = [storage.join(base, "songs", clip.name) for clip in clips]
    assert sorted(table.index) == sorted([*uris, corrupt, missing])
    assert not storage.exists(out + PARTS_SUFFIX)  # parts combined into OUT and removed
    predictor = load_predictor([bundle], max_windows=1, mc_passes=3)
    for clip, uri in zip(clips, uris, strict=True):
        assert pd_isna(table.loc[uri, "error"])
        assert table.loc[uri, "popularity"] == pytest.approx(
            predictor.predict(clip).popularity, abs=1e-9
        )
    assert "not readable" in table.loc[corrupt, "error"]
    assert "not found" in table.loc[missing, "error"]
    # a second run finds every song scored in OUT and scores nothing again
    again = CliRunner().invoke(command, [*args, "--out", out, *options], catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert len(pq.read_table(path, filesystem=fs)) == len(table)


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
