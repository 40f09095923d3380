"""An ``s3://`` round trip on a local S3-compatible server (moto, 127.0.0.1 only)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autoenchorder import storage
from autoenchorder.audio.embed import Embedding
from autoenchorder.data.store import COMMIT_MARKER, FeatureStore, ShardContent
from s3_server import S3Bucket, s3_bucket, s3_server  # noqa: F401  (fixtures)


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


def test_store_on_s3_is_whole_or_nothing(s3_bucket: S3Bucket) -> None:  # noqa: F811
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
    s3_bucket: S3Bucket,  # noqa: F811
    bundle: str,
    example_audio,
) -> None:
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from autoenchorder.commands.predict import command
    from autoenchorder.predict.catalog import PARTS_SUFFIX, load_predictor

    base = s3_bucket.unique("predict")
    clips = sorted(p for p in example_audio.iterdir() if p.suffix == ".wav")  # one: keep it fast
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


# ---------------------------------------------------------------- training from a store on s3://
def test_training_data_loads_from_a_store_on_s3(s3_bucket: S3Bucket, tmp_path) -> None:  # noqa: F811
    """``train --data catalog --root s3://.../songs --store s3://...``: labels joined with the
    rows and sequences read from the store on S3 (label paths relative or URIs below --root)."""
    import pandas as pd

    from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
    from autoenchorder.data.sources.registry import DataSpec, load_dataset
    from autoenchorder.models import make_model

    rng = np.random.default_rng(3)
    ids = [f"song{k}" for k in range(12)]
    rows = [
        {
            **_row(i),
            **dict(zip(LOWLEVEL_COLUMNS, rng.normal(size=len(LOWLEVEL_COLUMNS)), strict=True)),
        }
        for i in ids
    ]
    sequences = {
        i: Embedding(rng.normal(size=(k + 2, 4)).astype(np.float32), np.arange(k + 2.0))
        for k, i in enumerate(ids)
    }
    root, songs = s3_bucket.unique("train-store"), s3_bucket.unique("train-songs")
    store = FeatureStore.create(root, audio_root=songs, config={"compat": "spotgentrack"})
    store.write_shard(
        ShardContent(rows=rows[:6], sequences={"emb": dict(list(sequences.items())[:6])})
    )
    store.write_shard(
        ShardContent(rows=rows[6:], sequences={"emb": dict(list(sequences.items())[6:])})
    )
    labels = tmp_path / "labels.csv"
    paths = [f"{i}.wav" if k % 2 else storage.join(songs, f"{i}.wav") for k, i in enumerate(ids)]
    pd.DataFrame({"path": paths[:10], "popularity": np.linspace(10, 90, 10)}).to_csv(
        labels, index=False
    )
    spec = DataSpec("catalog", root=songs, labels=str(labels), store=root, embedder="emb")
    ds = load_dataset(spec)
    assert sorted(ds.ids) == sorted(ids[:10])
    assert "audio_root_mismatch" not in ds.info  # --root is the store's song prefix
    by_id = {r["track_id"]: r for r in rows}
    for k, track in enumerate(ds.ids):
        assert ds.tabular.iloc[k][LOWLEVEL_COLUMNS[0]] == by_id[track][LOWLEVEL_COLUMNS[0]]
        np.testing.assert_array_equal(ds.sequences[k], sequences[track].frames)
    model = make_model("mean").fit(ds)
    assert np.allclose(model.predict(ds), np.mean(ds.y))
    # the command line: train --data catalog --store s3://...
    from click.testing import CliRunner

    from autoenchorder.bundle import JSON_FILE
    from autoenchorder.commands.train import command

    data = ["--data", "catalog", "--root", songs, "--labels", str(labels)]
    out = tmp_path / "bundle"
    args = ["--model", "gbdt", *data, "--store", root, "--out", str(out), "--quiet"]
    result = CliRunner().invoke(command, args)
    assert result.exit_code == 0, result.output
    doc = json.loads((out / JSON_FILE).read_text())
    assert doc["extra"]["data_spec"]["store"] == root  # the URI, as given
    assert doc["feature_spec"]["lowlevel_compat"] == "spotgentrack"  # from the manifest on S3
    # and data info reads the same store
    from autoenchorder.commands.data import command as data_command

    info = CliRunner().invoke(data_command, ["info", "catalog", *data[2:], "--store", root])
    assert info.exit_code == 0, info.output
    assert f"catalog from {songs}" in info.output and "catalog: 10 tracks" in info.output


# ---------------------------------------------------------------- extract s3:// --out s3://
@pytest.fixture(scope="module")
def s3_corpus(s3_bucket: S3Bucket, example_audio, tmp_path_factory) -> tuple[str, object]:  # noqa: F811
    """The real clips and a corrupt file, on S3 (``<base>/songs``) and in a local folder."""
    base = s3_bucket.unique("extract")
    local = tmp_path_factory.mktemp("songs")
    files = {p.name: p.read_bytes() for p in sorted(example_audio.iterdir()) if p.suffix != ".md"}
    files["broken.mp3"] = b"ID3 this is not an mp3 stream\n" * 40
    for name, data in files.items():
        storage.write_bytes(storage.join(base, "songs", name), data)
        (local / name).write_bytes(data)
    return base, local


@pytest.fixture(scope="module")
def extracted(s3_corpus, tmp_path_factory) -> tuple[str, object]:
    """``extract s3://.../songs --out s3://.../store`` through the CLI, and a local extract of
    the same files: the two stores."""
    from click.testing import CliRunner

    from autoenchorder.commands.extract import command
    from autoenchorder.data.extract import extract_corpus

    base, local = s3_corpus
    songs, store_uri = storage.join(base, "songs"), storage.join(base, "store")
    local_store = tmp_path_factory.mktemp("local") / "store"
    local_summary = extract_corpus(local, local_store)
    assert (local_summary.done, local_summary.failed) == (4, 1)
    result = CliRunner().invoke(command, [songs, "--out", store_uri, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "broken.mp3" in result.output  # failures are reported per file, as locally
    return store_uri, local_store


def test_extract_from_s3_to_s3_equals_a_local_extract(s3_corpus, extracted) -> None:
    import pandas as pd

    (base, local), (store_uri, local_store) = s3_corpus, extracted
    songs = storage.join(base, "songs")
    remote, reference = FeatureStore(store_uri), FeatureStore(local_store)
    assert remote.manifest["audio_root"] == songs
    assert remote.manifest["config"] == reference.manifest["config"]
    pd.testing.assert_frame_equal(remote.read_table(), reference.read_table())
    remote_failures, local_failures = remote.failures(), reference.failures()
    assert remote_failures["path"].tolist() == ["broken.mp3"]
    # the same reason, naming the file where it is
    local_failures["reason"] = local_failures["reason"].str.replace(
        str(local / "broken.mp3"), storage.join(songs, "broken.mp3"), regex=False
    )
    pd.testing.assert_frame_equal(remote_failures, local_failures)


def test_a_new_process_finds_the_server_through_fsspecs_endpoint_variable(extracted) -> None:
    import os
    import subprocess
    import sys

    store_uri, _ = extracted
    env = dict(os.environ)
    assert env["FSSPEC_S3_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    code = (
        "import sys; from autoenchorder import storage; "
        "print(storage.read_text(storage.join(sys.argv[1], 'manifest.json')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, store_uri], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout) == FeatureStore(store_uri).manifest


def test_a_resumed_extract_on_s3_redoes_only_what_no_committed_shard_holds(
    s3_corpus, extracted, example_audio
) -> None:
    import pandas as pd

    from autoenchorder.data.extract import extract_corpus

    (base, _), (store_uri, local_store) = s3_corpus, extracted
    # a copy of the corpus and its store, with one more song that a node extracted and was
    # killed uploading: its shard's files are there, the marker is not
    copy = base + "-resume"
    fs, base_path = storage.filesystem(base)
    fs.copy(base_path + "/", storage.filesystem(copy)[1] + "/", recursive=True)
    songs, store = storage.join(copy, "songs"), storage.join(copy, "store")
    wav = next(p for p in example_audio.iterdir() if p.suffix == ".wav")
    storage.write_bytes(storage.join(songs, "late", wav.name), wav.read_bytes())
    late_id = f"late/{wav.stem}"
    half = FeatureStore(local_store).read_table().iloc[[0]].assign(track_id=late_id, duration=-1.0)
    storage.write_with(
        storage.join(store, "shards", f"{'1' * 20}-killednode00", "lowlevel.parquet"),
        lambda tmp: half.to_parquet(tmp),
    )
    assert late_id not in FeatureStore(store).done_ids("lowlevel")
    resumed = extract_corpus(songs, store)
    assert (resumed.total, resumed.skipped, resumed.done, resumed.failed) == (6, 5, 1, 0)
    table = FeatureStore(store).read_table().set_index("track_id")
    before = FeatureStore(store_uri).read_table().set_index("track_id")
    pd.testing.assert_frame_equal(table.drop(index=late_id), before)
    assert table.loc[late_id, "duration"] > 0  # extracted again, not the uncommitted row
    local_row = before.loc[wav.stem]
    pd.testing.assert_series_equal(
        table.loc[late_id].drop("path"), local_row.drop("path"), check_names=False
    )
    # and a run with nothing left to do does nothing
    again = extract_corpus(songs, store)
    assert (again.total, again.skipped) == (6, 6)
