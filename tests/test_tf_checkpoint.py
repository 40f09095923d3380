"""TensorFlow tensor-bundle reader/writer: round trips, corruption, TF-made files, musicnn."""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autoenchorder.audio.embed import tf_checkpoint as tfc
from autoenchorder.errors import WeightsError

DATA = Path(__file__).parent / "data" / "musicnn_reference"


def _tensors(rng: np.random.Generator) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "global_step": np.array(123456789012, dtype=np.int64),
        "half": rng.standard_normal((3, 5)).astype(np.float16),
        "double": rng.standard_normal(7),
        "ints": rng.integers(-1000, 1000, size=(2, 3, 4)).astype(np.int32),
        "bytes": rng.integers(0, 255, size=9).astype(np.uint8),
        "flags": rng.random(5) > 0.5,
    }
    # Many keys sharing prefixes, enough to need several restart points in a block.
    for i in range(40):
        tensors[f"model/layer_{i}/kernel"] = rng.standard_normal((i % 4 + 1, 3)).astype(np.float32)
    return tensors


def test_crc32c_check_value() -> None:
    # The standard CRC-32C check value (RFC 3720 / the Castagnoli catalogue entry).
    assert tfc.crc32c(b"123456789") == 0xE3069283
    assert tfc.crc32c(b"") == 0


@pytest.mark.parametrize("n", [2047, 2048, 3000, 8191, 8192, 20000, 65537, 1_000_003])
def test_crc32c_vectorised_path_equals_bytewise(n: int) -> None:
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    bytewise = tfc._crc_raw_py(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    assert tfc.crc32c(data) == bytewise
    assert tfc.crc32c(memoryview(data)) == bytewise


@pytest.mark.parametrize("length", [1, 2, 64, 4096])
def test_zero_shift_tables_built_by_doubling_equal_feeding_the_zeros(length: int) -> None:
    direct = tuple(tfc._crc_raw_py(bytes(length), 1 << k) for k in range(32))
    assert tfc._zero_shift_table(length) == direct


def test_mask_round_trip() -> None:
    for crc in (0, 1, 0xE3069283, 0xFFFFFFFF):
        assert tfc.unmask_crc(tfc.mask_crc(crc)) == crc
        assert tfc.mask_crc(crc) != crc


def test_write_read_round_trip(tmp_path: Path) -> None:
    tensors = _tensors(np.random.default_rng(0))
    prefix = tmp_path / "model.ckpt"
    tfc.write_checkpoint(prefix, tensors)
    back = tfc.read_checkpoint(prefix)
    assert sorted(back) == sorted(tensors)
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype, name
        assert back[name].shape == array.shape, name
        np.testing.assert_array_equal(back[name], array)
    listing = {e.name: e for e in tfc.list_checkpoint(prefix)}
    assert listing["ints"].size == 2 * 3 * 4 * 4
    assert listing["ints"].crc == tfc.crc32c(tensors["ints"].astype("<i4").tobytes())


def test_read_from_zip_without_extracting(tmp_path: Path) -> None:
    tensors = {"a/b": np.arange(6, dtype=np.float32).reshape(2, 3)}
    tfc.write_checkpoint(tmp_path / "ck", tensors)
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tmp_path / "ck.index", "pkg/MODEL/.index")
        zf.write(tmp_path / "ck.data-00000-of-00001", "pkg/MODEL/.data-00000-of-00001")
    back = tfc.read_checkpoint("pkg/MODEL/", archive=archive)
    np.testing.assert_array_equal(back["a/b"], tensors["a/b"])
    with pytest.raises(WeightsError, match="no member"):
        tfc.read_checkpoint("pkg/OTHER/", archive=archive)


def _rewrite(path: Path, pos: int, new: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[pos : pos + len(new)] = new
    path.write_bytes(bytes(raw))


def test_corrupt_data_is_detected(tmp_path: Path) -> None:
    tfc.write_checkpoint(tmp_path / "ck", {"w": np.ones(16, dtype=np.float32)})
    _rewrite(tmp_path / "ck.data-00000-of-00001", 5, b"\x7f")
    with pytest.raises(WeightsError, match="checksum"):
        tfc.read_checkpoint(tmp_path / "ck")
    assert tfc.read_checkpoint(tmp_path / "ck", verify=False)["w"].shape == (16,)


def test_bad_magic_and_missing_files(tmp_path: Path) -> None:
    tfc.write_checkpoint(tmp_path / "ck", {"w": np.ones(2, dtype=np.float32)})
    index = tmp_path / "ck.index"
    _rewrite(index, index.stat().st_size - 1, b"\x00")
    with pytest.raises(WeightsError, match="magic"):
        tfc.read_checkpoint(tmp_path / "ck")
    with pytest.raises(WeightsError, match="cannot read"):
        tfc.read_checkpoint(tmp_path / "nothing")


def test_snappy_decompress_hand_made_streams() -> None:
    # "abc" literal, then a 1-byte-offset copy of 9 bytes at distance 3 (overlapping), "X".
    stream = bytes([13, 0x08]) + b"abc" + bytes([(9 - 4) << 2 | 1, 3, 0x00]) + b"X"
    assert tfc.snappy_decompress(stream) == b"abcabcabcabcX"
    # A 2-byte-offset copy of 5 bytes at distance 4, and a literal with a 1-byte length field.
    long_literal = bytes(range(70))
    stream = bytes([75, 60 << 2, 69]) + long_literal + bytes([(5 - 1) << 2 | 2, 4, 0])
    assert tfc.snappy_decompress(stream) == long_literal + long_literal[-4:] + long_literal[-4:-3]
    with pytest.raises(WeightsError, match="Snappy"):
        tfc.snappy_decompress(bytes([5, (4 - 4) << 2 | 1, 9]))  # copy before any output


def _snappy_literal(contents: bytes) -> bytes:
    """Valid Snappy encoding of ``contents`` as literals of at most 2**16 bytes."""
    out = bytearray(tfc._encode_varint(len(contents)))
    for i in range(0, len(contents), 1 << 16):
        chunk = contents[i : i + (1 << 16)]
        out += bytes([61 << 2]) + (len(chunk) - 1).to_bytes(2, "little") + chunk
    return bytes(out)


def test_reads_snappy_compressed_index_blocks(tmp_path: Path) -> None:
    tensors = {f"layer_{i}/w": np.full(3, i, dtype=np.float32) for i in range(20)}
    tfc.write_checkpoint(tmp_path / "ck", tensors)
    items = list(tfc._iter_table((tmp_path / "ck.index").read_bytes()))

    def block(out: bytearray, contents: bytes) -> bytes:
        stored = _snappy_literal(contents)
        handle = tfc._encode_varint(len(out)) + tfc._encode_varint(len(stored))
        kind = bytes([tfc.SNAPPY_COMPRESSION])
        out += stored + kind + struct.pack("<I", tfc.mask_crc(tfc.crc32c(stored + kind)))
        return handle

    out = bytearray()
    data = tfc._BlockBuilder()
    for key, value in items:
        data.add(key, value)
    data_handle = block(out, data.finish())
    meta_handle = block(out, tfc._BlockBuilder().finish())
    index = tfc._BlockBuilder()
    index.add(items[-1][0], data_handle)
    index_handle = block(out, index.finish())
    footer = meta_handle + index_handle
    footer += bytes(tfc.FOOTER_SIZE - 8 - len(footer)) + struct.pack("<Q", tfc.TABLE_MAGIC)
    (tmp_path / "ck.index").write_bytes(bytes(out + footer))
    back = tfc.read_checkpoint(tmp_path / "ck")
    for name, array in tensors.items():
        np.testing.assert_array_equal(back[name], array)


@pytest.mark.skipif(not (DATA / "tf_written.index").exists(), reason="TF-made fixture absent")
def test_reads_a_checkpoint_written_by_tensorflow() -> None:
    expected = json.loads((DATA / "tf_written.json").read_text())
    back = tfc.read_checkpoint(DATA / "tf_written")
    for name, spec in expected.items():
        assert back[name].dtype == np.dtype(spec["dtype"]), name
        assert list(back[name].shape) == spec["shape"], name
        np.testing.assert_array_equal(back[name].ravel(), np.asarray(spec["values"]).ravel())


def _musicnn_dir() -> Path:
    from autoenchorder.audio.embed.weights import locate_weights

    try:
        return locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights absent (run `autoenchorder weights setup musicnn`): {exc}")


@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_musicnn_checkpoint_matches_tensorflow_listing(model: str) -> None:
    manifest_path = DATA / "checkpoint_manifest.json"
    if not manifest_path.exists():
        pytest.skip("checkpoint manifest (made by scripts/make_musicnn_reference.py) absent")
    manifest = json.loads(manifest_path.read_text())[model]
    tensors = tfc.read_checkpoint(str(_musicnn_dir() / model) + "/")
    assert sorted(tensors) == sorted(manifest)
    for name, spec in manifest.items():
        array = tensors[name]
        assert array.dtype == np.dtype(spec["dtype"]), name
        assert list(array.shape) == spec["shape"], name
        assert hashlib.sha256(array.tobytes()).hexdigest() == spec["sha256"], name
