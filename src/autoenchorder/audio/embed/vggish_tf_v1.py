"""Read TensorFlow V1 checkpoints (one file, ``tf.train.Saver(write_version=V1)``) without TF.

The published ``vggish_model.ckpt`` is such a file: the official ``vggish_slim`` restores it
with a ``write_version=1`` saver. A V1 checkpoint is a LevelDB-style table (the same format as a
V2 ``.index``, read with :mod:`autoenchorder.audio.embed.tf_checkpoint`'s table parser) whose
values are ``SavedTensorSlices`` protocol buffers:

* under the empty key, ``meta`` (field 1): one ``SavedSliceMeta`` per tensor (name 1, shape 2,
  dtype 3, slices 4);
* under every other key, ``data`` (field 2): a ``SavedSlice`` (name 1, slice 2, ``TensorProto``
  3) holding one slice of one tensor, its values in the TensorProto's typed repeated field
  (``float_val`` 5, ``double_val`` 6, ``int_val`` 7, ``int64_val`` 10, ``bool_val`` 11,
  ``half_val`` 13; packed or not) or in ``tensor_content`` 4.

Slices are assembled into whole tensors; every element must be covered.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from autoenchorder.audio.embed.tf_checkpoint import (
    TF_DTYPES,
    _iter_fields,
    _iter_table,
    _parse_shape,
    _read_varint,
)
from autoenchorder.errors import WeightsError

# TensorProto field number -> (dtype of the stored values, wire type of one unpacked value).
_VALUE_FIELDS: dict[int, tuple[str, int]] = {
    5: ("<f4", 5),  # float_val
    6: ("<f8", 1),  # double_val
    7: ("<i8", 0),  # int_val (varints; int32 / int16 / int8 / uint8 tensors)
    10: ("<i8", 0),  # int64_val
    11: ("<i8", 0),  # bool_val
    13: ("<i8", 0),  # half_val (bit patterns as varints)
}


def _varints(buf: bytes) -> list[int]:
    values, pos = [], 0
    while pos < len(buf):
        value, pos = _read_varint(buf, pos)
        values.append(value - (1 << 64) if value >= 1 << 63 else value)
    return values


def _parse_extents(buf: bytes, shape: tuple[int, ...]) -> tuple[slice, ...]:
    extents = []
    for field, value in _iter_fields(buf):
        if field == 1:
            start, length = 0, None
            for sub_field, sub_value in _iter_fields(value):  # type: ignore[arg-type]
                if sub_field == 1:
                    start = int(sub_value)  # type: ignore[arg-type]
                elif sub_field == 2:
                    length = int(sub_value)  # type: ignore[arg-type]
            extents.append((start, length))
    if not extents:  # the full slice of any rank
        return tuple(slice(None) for _ in shape)
    if len(extents) != len(shape):
        raise WeightsError("corrupt V1 checkpoint: slice rank differs from the tensor's")
    return tuple(
        slice(None) if length is None else slice(start, start + length) for start, length in extents
    )


def _parse_values(buf: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    chunks: list[np.ndarray] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _read_varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            length, pos = _read_varint(buf, pos)
            payload, pos = buf[pos : pos + length], pos + length
            if field == 4:  # tensor_content: raw little-endian bytes
                chunks.append(np.frombuffer(payload, dtype=dtype.newbyteorder("<")))
            elif field in _VALUE_FIELDS:
                stored, item_wire = _VALUE_FIELDS[field]
                if item_wire == 0:
                    chunks.append(np.asarray(_varints(payload), dtype=np.int64))
                else:
                    chunks.append(np.frombuffer(payload, dtype=stored))
        elif wire == 0:
            value, pos = _read_varint(buf, pos)
            if field in _VALUE_FIELDS:
                chunks.append(np.asarray([value], dtype=np.int64))
        elif wire == 1:
            if field == 6:
                chunks.append(np.frombuffer(buf[pos : pos + 8], dtype="<f8"))
            pos += 8
        elif wire == 5:
            if field == 5:
                chunks.append(np.frombuffer(buf[pos : pos + 4], dtype="<f4"))
            pos += 4
        else:
            raise WeightsError(f"corrupt V1 checkpoint: protobuf wire type {wire}")
    values = np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtype)
    if values.size == 1 and count > 1:  # TF stores a constant-filled tensor as one value
        values = np.repeat(values, count)
    if values.size != count:
        raise WeightsError(f"corrupt V1 checkpoint: {values.size} values for {count} elements")
    if dtype == np.float16 and values.dtype == np.int64:
        return values.astype(np.uint16).view(np.float16)
    return values.astype(dtype)


def read_checkpoint_v1(
    path: str | os.PathLike[str], *, verify: bool = True
) -> dict[str, np.ndarray]:
    """Read every tensor of a V1 (single-file) TensorFlow checkpoint.

    Parameters
    ----------
    path : str or PathLike
        The checkpoint file, e.g. ``vggish_model.ckpt``.
    verify : bool
        Check the table blocks' CRC-32C.

    Returns
    -------
    dict of str to np.ndarray
        Variable name -> array of the stored shape and dtype, in name order.

    Raises
    ------
    WeightsError
        Not a V1 checkpoint, corrupt, or a dtype NumPy cannot hold.
    """
    path = Path(path)
    try:
        table = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"cannot read checkpoint {path}: {exc.strerror}") from exc
    metas: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
    arrays: dict[str, np.ndarray] = {}
    filled: dict[str, np.ndarray] = {}
    for key, value in _iter_table(table, verify=verify):
        for field, payload in _iter_fields(value):
            if field == 1 and key == b"":
                _read_meta(payload, metas)  # type: ignore[arg-type]
            elif field == 2:
                _read_slice(payload, metas, arrays, filled, path)  # type: ignore[arg-type]
    if not metas:
        raise WeightsError(f"{path}: not a V1 TensorFlow checkpoint (no tensor metadata)")
    incomplete = [name for name in metas if name not in filled or not filled[name].all()]
    if incomplete:
        raise WeightsError(f"{path}: tensors with missing slices: {', '.join(incomplete)}")
    return {name: arrays[name] for name in sorted(arrays)}


def _read_meta(buf: bytes, metas: dict[str, tuple[np.dtype, tuple[int, ...]]]) -> None:
    for field, tensor in _iter_fields(buf):
        if field != 1:  # versions
            continue
        name, shape, tf_dtype = "", (), 0
        for sub_field, sub_value in _iter_fields(tensor):  # type: ignore[arg-type]
            if sub_field == 1:
                name = bytes(sub_value).decode("utf-8")  # type: ignore[arg-type]
            elif sub_field == 2:
                shape = _parse_shape(sub_value)  # type: ignore[arg-type]
            elif sub_field == 3:
                tf_dtype = int(sub_value)  # type: ignore[arg-type]
        if tf_dtype not in TF_DTYPES:
            raise WeightsError(f"checkpoint tensor {name!r} has unsupported DataType {tf_dtype}")
        metas[name] = (TF_DTYPES[tf_dtype].newbyteorder("="), shape)


def _read_slice(
    buf: bytes,
    metas: dict[str, tuple[np.dtype, tuple[int, ...]]],
    arrays: dict[str, np.ndarray],
    filled: dict[str, np.ndarray],
    path: Path,
) -> None:
    name, extents, data = "", b"", b""
    for field, value in _iter_fields(buf):
        if field == 1:
            name = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif field == 2:
            extents = bytes(value)  # type: ignore[arg-type]
        elif field == 3:
            data = bytes(value)  # type: ignore[arg-type]
    if name not in metas:
        raise WeightsError(f"{path}: data for {name!r} before or without its metadata")
    dtype, shape = metas[name]
    if name not in arrays:
        arrays[name] = np.zeros(shape, dtype=dtype)
        filled[name] = np.zeros(shape, dtype=bool)
    region = _parse_extents(extents, shape)
    target_shape = arrays[name][region].shape
    count = int(np.prod(target_shape, dtype=np.int64))
    content = b""
    for field, value in _iter_fields(data):
        if field == 4:
            content = bytes(value)  # type: ignore[arg-type]
    if content:
        values = np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype)
        if values.size != count:
            raise WeightsError(f"{path}: {name!r} slice has {values.size} of {count} values")
    else:
        values = _parse_values(data, dtype, count)
    arrays[name][region] = values.reshape(target_shape)
    filled[name][region] = True


__all__ = ["read_checkpoint_v1"]
