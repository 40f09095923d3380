"""autoenchorder.atomic: the one way files are created or replaced."""

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autoenchorder.atomic import write_atomic, write_bytes_atomic, write_text_atomic


def _folder_listing(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fsync", [True, False])
@pytest.mark.parametrize("kind", ["text", "bytes", "callback", "parquet"])
def test_writes_and_replaces_a_file(tmp_path, kind, fsync):
    target = tmp_path / "sub" / "out.bin"  # the folder is created
    for content in ("first ünïcode", "second"):
        if kind == "text":
            write_text_atomic(target, content, fsync=fsync)
        elif kind == "bytes":
            write_bytes_atomic(target, content.encode("utf-8"), fsync=fsync)
        elif kind == "callback":
            write_atomic(target, lambda tmp, c=content: tmp.write_text(c, "utf-8"), fsync=fsync)
        else:
            table = pa.table({"x": [content]})
            write_atomic(target, lambda tmp, t=table: pq.write_table(t, tmp), fsync=fsync)
        if kind == "parquet":
            assert pq.read_table(target).column("x").to_pylist() == [content]
        else:
            assert target.read_text("utf-8") == content
    assert _folder_listing(target.parent) == ["out.bin"]  # no temporary file left
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("exception", [RuntimeError, KeyboardInterrupt])
def test_a_failure_mid_write_keeps_the_old_file_and_no_temporary(tmp_path, exception):
    target = tmp_path / "manifest.json"
    write_text_atomic(target, "old")
    seen = []

    def half_then_fail(tmp):
        tmp.write_text("new but cut")
        seen.append(tmp)
        raise exception("disk full")

    with pytest.raises(exception):
        write_atomic(target, half_then_fail)
    assert seen and seen[0].parent == tmp_path and seen[0] != target  # wrote beside, not over
    assert target.read_text() == "old"
    assert _folder_listing(tmp_path) == ["manifest.json"]


def test_a_failed_rename_removes_the_temporary(tmp_path):
    target = tmp_path / "taken"
    (target / "child").mkdir(parents=True)  # a non-empty folder cannot be replaced by a file
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"data")
    assert _folder_listing(tmp_path) == ["taken"]


def test_the_temporary_file_is_hidden_and_not_matched_by_the_extension(tmp_path):
    names = []
    write_atomic(tmp_path / "song.wav", lambda tmp: names.append(tmp.name) or tmp.write_bytes(b""))
    assert names[0].startswith(".song.wav.") and not names[0].endswith(".wav")


def test_mode_is_applied(tmp_path):
    write_text_atomic(tmp_path / "secret", "x", mode=0o600)
    assert os.stat(tmp_path / "secret").st_mode & 0o777 == 0o600
