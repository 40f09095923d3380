"""autoenchorder.storage and the feature store on a URI: local paths and fsspec's memory://."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoenchorder import storage
from autoenchorder.audio.embed import Embedding
from autoenchorder.data.store import (
    COMMIT_MARKER,
    UNCOMMITTED_GRACE_SECONDS,
    FeatureStore,
    ShardContent,
    sequence_stage,
)
from autoenchorder.errors import DataError


@pytest.fixture
def memory_root() -> str:
    """A fresh folder on fsspec's in-memory file system (a stand-in for an object store)."""
    import fsspec

    root = f"memory://autoenchorder-test-{uuid.uuid4().hex[:8]}"
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


@pytest.fixture(params=["local", "memory"])
def root(request, tmp_path, memory_root) -> str | Path:
    """A local folder and a memory:// prefix: the same behaviour is asked of both."""
    return tmp_path / "where" if request.param == "local" else memory_root


# ---------------------------------------------------------------- the storage module
def test_what_is_a_uri() -> None:
    assert storage.is_uri("s3://bucket/key")
    assert storage.is_uri("gs://bucket")
    assert storage.is_uri("memory://x")
    assert not storage.is_uri("/tmp/songs")
    assert not storage.is_uri("songs/a.mp3")
    assert not storage.is_uri(Path("s3:/bucket"))  # a Path is always local
    assert not storage.is_uri("C://music")  # a Windows drive, not a scheme
    assert storage.local_path("file:///tmp/x") == Path("/tmp/x")
    assert storage.is_remote("s3://b/k") and not storage.is_remote("file:///tmp/x")


def test_join_name_and_relative() -> None:
    assert storage.join("s3://b/store/", "shards", "x") == "s3://b/store/shards/x"
    assert storage.join(Path("/a"), "b", "c") == Path("/a/b/c")
    assert storage.join("/a", "b") == Path("/a/b")
    assert storage.name("s3://b/songs/rock/a.mp3") == "a.mp3"
    assert storage.relative("s3://b/songs/rock/a.mp3", "s3://b/songs/") == "rock/a.mp3"
    assert storage.relative("/x/songs/rock/a.mp3", "/x/songs") == "rock/a.mp3"
    with pytest.raises(ValueError, match="not below"):
        storage.relative("s3://b/other/a.mp3", "s3://b/songs")


def test_filesystem_of_a_path_and_a_uri(tmp_path) -> None:
    fs, path = storage.filesystem("memory://bucket/key.txt")
    assert type(fs).__name__ == "MemoryFileSystem" and path.endswith("bucket/key.txt")
    fs, path = storage.filesystem(tmp_path / "a.txt")
    assert type(fs).__name__ == "LocalFileSystem" and path == str(tmp_path / "a.txt")
    with pytest.raises(DataError, match="not a file system"):
        storage.filesystem("nosuchscheme://x/y")


def test_a_missing_backend_names_the_package_to_install(monkeypatch) -> None:
    import fsspec

    def missing(*args, **kwargs):
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(fsspec.core, "url_to_fs", missing)
    with pytest.raises(DataError, match=r"autoenchorder\[s3\]"):
        storage.filesystem("s3://bucket/key")


def test_write_read_list_and_remove(root) -> None:
    storage.write_text(storage.join(root, "songs", "b.wav"), "b")
    storage.write_bytes(storage.join(root, "songs", "rock", "a.MP3"), b"a")
    storage.write_with(storage.join(root, "songs", "notes.txt"), lambda p: p.write_text("n"))
    storage.write_text(storage.join(root, "songs", ".hidden", "c.wav"), "c")
    assert storage.read_text(storage.join(root, "songs", "notes.txt")) == "n"
    assert storage.read_bytes(storage.join(root, "songs", "rock", "a.MP3")) == b"a"
    found = storage.list_files(storage.join(root, "songs"), suffixes={".wav", ".mp3"})
    names = [storage.relative(f, storage.join(root, "songs")) for f in found]
    assert names == ["b.wav", "rock/a.MP3"]
    assert all(isinstance(f, str if storage.is_uri(root) else Path) for f in found)
    assert len(storage.list_files(storage.join(root, "songs"), hidden=True)) == 4
    one = storage.join(root, "songs", "b.wav")
    assert storage.list_files(one) == [one]
    assert storage.is_file(one) and storage.exists(storage.join(root, "songs"))
    with pytest.raises(FileNotFoundError):
        storage.list_files(storage.join(root, "nothing-here"))
    storage.remove(one)
    assert not storage.exists(one)
    storage.remove(one)  # a missing one is no error
    storage.remove(storage.join(root, "songs"), recursive=True)
    assert not storage.exists(storage.join(root, "songs", "rock", "a.MP3"))


def test_open_file_streams_text_and_bytes(root) -> None:
    target = storage.join(root, "list.txt")
    storage.write_text(target, "s3://b/a.mp3\n# comment\nrock/b.wav\n")
    with storage.open_file(target, "r") as handle:
        assert [line.strip() for line in handle] == ["s3://b/a.mp3", "# comment", "rock/b.wav"]
    with storage.open_file(target) as handle:
        assert handle.read(5) == b"s3://"
    with pytest.raises(ValueError, match="reads only"):
        storage.open_file(target, "w")


def test_a_failed_write_leaves_the_old_content(root) -> None:
    target = storage.join(root, "result.txt")
    storage.write_text(target, "old")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        storage.write_with(target, half_then_fail)
    assert storage.read_text(target) == "old"


def test_local_copy_is_removed_after_the_block(memory_root, tmp_path) -> None:
    uri = storage.join(memory_root, "songs", "a.flac")
    storage.write_bytes(uri, b"fLaC-bytes")
    with storage.local_copy(uri) as local:
        assert local.suffix == ".flac" and local.read_bytes() == b"fLaC-bytes"
    assert not local.exists()
    # a local file is used where it is, never copied or removed
    here = tmp_path / "x.wav"
    here.write_bytes(b"x")
    with storage.local_copy(here) as same:
        assert same == here
    assert here.exists()


def test_storage_stays_at_the_foundations() -> None:
    import ast

    tree = ast.parse(Path(storage.__file__).read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    ours = {m for m in imported if m.startswith("autoenchorder")}
    assert ours <= {"autoenchorder.errors", "autoenchorder.atomic"}
    # fsspec is imported inside the functions that need it, never at module level
    top_level = {
        alias.name
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    } | {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert not {m for m in top_level if m and m.split(".")[0] in {"fsspec", "s3fs"}}


# ---------------------------------------------------------------- the feature store on a URI
def _row(track_id: str, value: float) -> dict:
    return {
        "track_id": track_id,
        "path": f"{track_id}.wav",
        "duration": 1.0,
        "sample_rate": 8000,
        "channels": 1,
        "silent": False,
        "feat_a": value,
    }


def _content(ids: list[str], seed: int = 0) -> ShardContent:
    rng = np.random.default_rng(seed)
    return ShardContent(
        rows=[_row(i, float(k)) for k, i in enumerate(ids)],
        sequences={
            "emb": {
                i: Embedding(rng.standard_normal((3, 4)).astype(np.float32), np.arange(3.0))
                for i in ids
            }
        },
        failures=[{"path": "bad.wav", "track_id": "bad", "stage": "lowlevel", "reason": "no"}],
    )


def test_store_round_trip_on_a_path_and_a_uri(root) -> None:
    store = FeatureStore.create(
        storage.join(root, "store"), audio_root=storage.join(root, "songs"), config={"c": 1}
    )
    assert isinstance(store.root, str if storage.is_uri(root) else Path)
    store.register_embedder("emb", {"version": "1"})
    written = _content(["b", "a"])
    store.write_shard(written)
    store.write_shard(_content(["c"], seed=1))
    reopened = FeatureStore(store.root)
    assert reopened.manifest["embedders"] == {"emb": {"version": "1"}}
    assert reopened.read_table()["track_id"].tolist() == ["a", "b", "c"]
    assert reopened.done_ids(sequence_stage("emb")) == {"a", "b", "c"}
    back = reopened.read_sequences("emb", ids=["a"])
    np.testing.assert_array_equal(back["a"].frames, written.sequences["emb"]["a"].frames)
    assert reopened.sequence_embedders() == ["emb"]
    assert reopened.failures()["track_id"].tolist() == ["bad"]
    expected_root = (
        storage.join(root, "songs")
        if storage.is_uri(root)
        else str(Path(storage.join(root, "songs")).resolve())
    )
    assert reopened.manifest["audio_root"] == str(expected_root)
    before = reopened.read_table()
    reopened.compact()
    assert len(reopened._shard_dirs()) == 1
    pd.testing.assert_frame_equal(FeatureStore(store.root).read_table(), before)
    with pytest.raises(DataError, match="made with"):
        FeatureStore.create(store.root, audio_root=root, config={"c": 2})


def test_a_shard_without_its_marker_is_invisible_and_old_ones_are_removed(memory_root) -> None:
    store = FeatureStore.create(memory_root, audio_root=memory_root, config={})
    store.write_shard(_content(["a"]))
    fs, path = storage.filesystem(memory_root)
    committed = [p for p in fs.find(path) if p.endswith(COMMIT_MARKER)]
    assert len(committed) == 1 and json.loads(fs.cat_file(committed[0]))["rows"] == 1

    def uncommitted(age_seconds: float, track: str) -> str:
        started = time.time_ns() - int(age_seconds * 1e9)
        folder = f"{path}/shards/{started:020d}-{uuid.uuid4().hex[:12]}"
        fs.pipe_file(f"{folder}/lowlevel.parquet", _parquet(_row(track, 9.0)))
        return folder

    young = uncommitted(60.0, "young")  # a node may still be uploading it
    old = uncommitted(UNCOMMITTED_GRACE_SECONDS + 60.0, "old")  # a killed node's leftover
    assert store.read_table()["track_id"].tolist() == ["a"]
    assert store.done_ids("lowlevel") == {"a"}
    FeatureStore.create(memory_root, audio_root=memory_root, config={})
    assert fs.exists(young) and not fs.exists(old)


def test_a_local_shard_is_renamed_into_place_with_its_marker(tmp_path) -> None:
    store = FeatureStore.create(tmp_path / "s", audio_root=tmp_path, config={})
    folder = store.write_shard(_content(["a"]))
    assert isinstance(folder, Path) and folder.parent == tmp_path / "s" / "shards"
    assert sorted(f.name for f in folder.iterdir()) == [
        COMMIT_MARKER,
        "failures.parquet",
        "lowlevel.parquet",
        "seq-emb.parquet",
    ]
    assert not list((tmp_path / "s").glob(".tmp-*"))


def _parquet(row: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    pd.DataFrame([row]).to_parquet(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- songs on a URI
def test_songs_on_a_uri_decode_as_their_local_files(memory_root, example_audio) -> None:
    from autoenchorder.audio.io import audio_info, discover_audio, iter_blocks, load_audio
    from autoenchorder.errors import AudioError

    local_files = discover_audio(example_audio)
    for path in local_files:
        storage.write_bytes(storage.join(memory_root, "songs", path.name), path.read_bytes())
    storage.write_bytes(storage.join(memory_root, "songs", "notes.txt"), b"not audio")
    storage.write_bytes(storage.join(memory_root, "songs", "broken.wav"), b"RIFF garbage")
    found = discover_audio(storage.join(memory_root, "songs"))
    assert [storage.name(f) for f in found] == sorted(
        [p.name for p in local_files] + ["broken.wav"]
    )
    wav = next(p for p in local_files if p.suffix == ".wav")
    uri = storage.join(memory_root, "songs", wav.name)
    y_local, sr_local = load_audio(wav, offset=1.0, duration=2.0)
    y_uri, sr_uri = load_audio(uri, offset=1.0, duration=2.0)
    assert sr_uri == sr_local
    np.testing.assert_array_equal(y_uri, y_local)
    assert audio_info(uri).path == uri and audio_info(uri).frames == audio_info(wav).frames
    blocks = [b for _, b, _ in iter_blocks(uri, block_seconds=5.0)]
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(wav)[0])
    with pytest.raises(AudioError) as bad:
        load_audio(storage.join(memory_root, "songs", "broken.wav"))
    assert bad.value.path == storage.join(memory_root, "songs", "broken.wav")
    with pytest.raises(AudioError, match="file not found"):
        load_audio(storage.join(memory_root, "songs", "missing.wav"))
    with pytest.raises(AudioError, match="no such file or folder"):
        discover_audio(storage.join(memory_root, "nothing"))


def test_track_ids_and_relative_paths_of_songs_at_a_uri() -> None:
    from autoenchorder.data.extract import relative_path_for, track_id_for

    root = "s3://bucket/songs/"
    song = "s3://bucket/songs/rock/a.b.mp3"
    assert relative_path_for(song, root) == "rock/a.b.mp3"
    assert track_id_for(song, root) == "rock/a.b"
    # one file given as the root: its name
    assert relative_path_for(song, song) == "a.b.mp3"
    assert track_id_for(song, song) == "a.b"
    # the same ids as the same files in a local folder
    local = Path("/corpus")
    assert track_id_for(local / "rock" / "a.b.mp3", local) == "rock/a.b"
