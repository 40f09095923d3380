"""The feature store: per-track low-level rows, ragged embedding sequences, failures, a manifest.

Layout of a store (a local folder, or a prefix on an object store such as ``s3://bucket/store``)::

    STORE/
      manifest.json                 format version, audio root, config, input (the part of each
                                    file the features come from), library versions
      shards/<time>-<token>/        one atomic unit of work, written whole or not at all
        lowlevel.parquet            track_id, path, duration, sample_rate, channels, silent,
                                    then the 207 features
        seq-<embedder>.parquet      track_id, n_frames, dim, times (list<f64>),
                                    frames (list<f32>, T*D flattened)
        failures.parquet            path, track_id, stage, reason
        _COMMITTED                  the commit marker, written last (JSON: the shard's files)
      .tmp-*/                       local shards being written (removed when the store is opened)

A shard stays whole or absent, whatever is killed when, so resuming redoes only what no shard
holds and nothing is stored twice. On a local disk a shard is written into a temporary folder
and renamed into ``shards/`` in one ``os.rename``. An object store has no rename of a folder:
the shard's files are uploaded under ``shards/<name>/`` and the small ``_COMMITTED`` object
last; readers ignore a shard folder without it, so several nodes can write into one store and a
node killed mid-upload leaves nothing a reader sees. Uncommitted leftovers are removed by
:meth:`FeatureStore.create` once they are older than :data:`UNCOMMITTED_GRACE_SECONDS` (younger
ones may belong to a node still writing). Local shards carry the marker too (their readers do
not need it), so a local store copied to a bucket reads the same there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from autoenchorder import storage
from autoenchorder.audio.embed.base import Embedding
from autoenchorder.audio.processor import WHOLE_FILE, InputSpec
from autoenchorder.errors import DataError

FORMAT_VERSION = 1
LOWLEVEL_STAGE = "lowlevel"
#: Columns of the low-level table that precede the 207 features.
TRACK_COLUMNS: tuple[str, ...] = (
    "track_id",
    "path",
    "duration",
    "sample_rate",
    "channels",
    "silent",
)
FAILURE_COLUMNS: tuple[str, ...] = ("path", "track_id", "stage", "reason")


def stored_precision(manifest: dict, embedder: str) -> str | None:
    """The precision ``embedder``'s sequences in a store were made in, when not float32.

    Parameters
    ----------
    manifest : dict
        A store's manifest (:attr:`FeatureStore.manifest`).
    embedder : str
        Registry name.

    Returns
    -------
    str or None
        E.g. ``"bfloat16"``; None for float32 (the default, which identities leave out).
    """
    options = manifest.get("embedders", {}).get(embedder, {}).get("options", {})
    return options.get("precision")


def sequence_stage(embedder: str) -> str:
    """Name of the stage that stores ``embedder``'s sequences (``"seq:musicnn-msd"``)."""
    return f"seq:{embedder}"


def _sequence_file(embedder: str) -> str:
    return f"seq-{embedder}.parquet"


@dataclass
class ShardContent:
    """What one shard holds before it is written.

    Attributes
    ----------
    rows : list of dict
        Low-level rows: the :data:`TRACK_COLUMNS` plus one key per feature column.
    sequences : dict of str to dict of str to Embedding
        ``{embedder: {track_id: Embedding}}``.
    failures : list of dict
        ``{"path", "track_id", "stage", "reason"}`` per failed item and stage.
    """

    rows: list[dict] = field(default_factory=list)
    sequences: dict[str, dict[str, Embedding]] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows) + sum(len(s) for s in self.sequences.values()) + len(self.failures)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    out = {}
    for name in (
        "autoenchorder",
        "numpy",
        "scipy",
        "librosa",
        "soundfile",
        "soxr",
        "pandas",
        "pyarrow",
        "torch",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def _sequences_to_table(sequences: dict[str, Embedding]) -> pa.Table:
    ids = list(sequences)
    embs = [sequences[i] for i in ids]
    n_frames = np.array([e.frames.shape[0] for e in embs], dtype=np.int64)
    dims = np.array([e.frames.shape[1] for e in embs], dtype=np.int64)
    frame_offsets = np.concatenate([[0], np.cumsum(n_frames * dims)]).astype(np.int64)
    time_offsets = np.concatenate([[0], np.cumsum(n_frames)]).astype(np.int64)
    flat_frames = (
        np.concatenate([e.frames.astype(np.float32, copy=False).ravel() for e in embs])
        if embs
        else np.zeros(0, np.float32)
    )
    flat_times = (
        np.concatenate([e.times.astype(np.float64, copy=False) for e in embs])
        if embs
        else np.zeros(0, np.float64)
    )
    return pa.table(
        {
            "track_id": pa.array(ids, pa.string()),
            "n_frames": pa.array(n_frames),
            "dim": pa.array(dims),
            "times": pa.LargeListArray.from_arrays(pa.array(time_offsets), pa.array(flat_times)),
            "frames": pa.LargeListArray.from_arrays(pa.array(frame_offsets), pa.array(flat_frames)),
        }
    )


def _table_to_sequences(table: pa.Table, wanted: set[str] | None) -> dict[str, Embedding]:
    ids = table.column("track_id").to_pylist()
    n_frames = table.column("n_frames").to_numpy()
    dims = table.column("dim").to_numpy()
    frames_col = table.column("frames").combine_chunks()
    times_col = table.column("times").combine_chunks()
    flat_frames = frames_col.values.to_numpy(zero_copy_only=False)
    frame_offsets = frames_col.offsets.to_numpy()
    flat_times = times_col.values.to_numpy(zero_copy_only=False)
    time_offsets = times_col.offsets.to_numpy()
    out: dict[str, Embedding] = {}
    for k, track_id in enumerate(ids):
        if wanted is not None and track_id not in wanted:
            continue
        t, d = int(n_frames[k]), int(dims[k])
        frames = flat_frames[frame_offsets[k] : frame_offsets[k + 1]].reshape(t, d).copy()
        times = flat_times[time_offsets[k] : time_offsets[k + 1]].copy()
        out[track_id] = Embedding(frames=frames, times=times)
    return out


#: The object written last into a shard folder; a shard without it is not (yet) part of the store.
COMMIT_MARKER = "_COMMITTED"
#: Age after which :meth:`FeatureStore.create` removes an uncommitted shard of an object store
#: (a younger one may be a node's upload in progress).
UNCOMMITTED_GRACE_SECONDS = 30 * 60.0
#: Shard files of an object store read at once (the reads wait on the network, not the CPU).
REMOTE_READ_THREADS = 16


@dataclass(frozen=True)
class _Shard:
    """One committed shard: where it is and the names of its files."""

    location: str | Path
    files: frozenset[str]


def _shard_time(name: str) -> float | None:
    """When a shard named ``<time_ns>-<token>`` was started (seconds since the epoch)."""
    stamp = name.split("-", 1)[0]
    return int(stamp) / 1e9 if stamp.isdigit() else None


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


class FeatureStore:
    """A folder (or object-store prefix) of Parquet shards holding a corpus' features.

    See the module docstring.

    Parameters
    ----------
    root : str or Path
        The store: a local folder or a URI (``s3://bucket/store``); it must hold a
        ``manifest.json`` (use :meth:`create`).

    Attributes
    ----------
    root : Path or str
        A :class:`Path` for a local store, the URI text for a store on another file system.
    manifest : dict
        The store's manifest.
    """

    def __init__(self, root: str | Path) -> None:
        self.root: Path | str = storage.as_location(root)
        self._remote = storage.is_remote(self.root)
        if self._remote:
            self._fs, path = storage.filesystem(self.root)
            self._path = path.rstrip("/")
        manifest_path = storage.join(self.root, "manifest.json")
        if not storage.is_file(manifest_path):
            raise DataError(
                f"{self.root} is not a feature store (no manifest.json); run `extract` first"
            )
        try:
            self.manifest: dict = json.loads(storage.read_text(manifest_path))
        except json.JSONDecodeError as exc:
            raise DataError(f"{manifest_path}: corrupt manifest ({exc})") from exc
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise DataError(
                f"{self.root}: store format {self.manifest.get('format_version')!r} is not "
                f"the supported version {FORMAT_VERSION}"
            )
        self._shards = storage.join(self.root, "shards")

    # ------------------------------------------------------------------ creation and manifest
    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        audio_root: str | Path,
        config: dict,
        input_spec: InputSpec = WHOLE_FILE,
    ) -> FeatureStore:
        """Open the store at ``root``, creating it if needed; refuse a conflicting config.

        Parameters
        ----------
        root : str or Path
            The store: a local folder or a URI.
        audio_root : str or Path
            The folder (or URI prefix) the tracks' relative paths refer to.
        config : dict
            The settings every row depends on (e.g. ``{"compat": "spotgentrack"}``); a store
            made with other settings is refused, so rows made differently never mix.
        input_spec : InputSpec
            The part of each file the features are computed from (recorded as ``input``);
            a store made from other parts is refused too.

        Returns
        -------
        FeatureStore
        """
        root = storage.as_location(root)
        manifest_path = storage.join(root, "manifest.json")
        if storage.is_file(manifest_path):
            store = cls(root)
            if store.manifest.get("config") != config:
                raise DataError(
                    f"{root} was made with {store.manifest.get('config')}, not {config}; "
                    "use another --out folder"
                )
            if store.input_spec != input_spec:
                raise DataError(
                    f"{root} holds features of the {store.input_spec.describe()}, not of the "
                    f"{input_spec.describe()}; use another --out folder"
                )
            store._cleanup_partial()
            return store
        if isinstance(root, Path):
            root.mkdir(parents=True, exist_ok=True)
        audio_location = storage.as_location(audio_root)
        manifest = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            # a song folder on an object store stays its URI
            "audio_root": str(
                audio_location.resolve() if isinstance(audio_location, Path) else audio_location
            ),
            "config": config,
            "input": input_spec.to_dict(),
            "embedders": {},
            "versions": _versions(),
        }
        try:
            storage.write_text(manifest_path, json.dumps(manifest, indent=2))
        except OSError as exc:
            raise DataError(f"{root}: cannot create a feature store there ({exc})") from exc
        if isinstance(root, Path):
            (root / "shards").mkdir(exist_ok=True)
        return cls(root)

    @property
    def input_spec(self) -> InputSpec:
        """The part of each file the features were computed from.

        A manifest without the field (made before input specs existed) means the whole file.
        """
        return InputSpec.from_dict(self.manifest.get("input"))

    def register_embedder(self, name: str, info: dict) -> None:
        """Record an embedder's identity (version, options) in the manifest; refuse a different one.

        Parameters
        ----------
        name : str
            Registry name, e.g. ``"musicnn-msd"``.
        info : dict
            JSON-able description (version, dim, window, hop, options).
        """
        known = self.manifest.setdefault("embedders", {})
        if name in known and known[name] != info:
            raise DataError(
                f"{self.root} holds {name} sequences made with {known[name]}, not {info}; "
                "use another --out folder"
            )
        if name not in known:
            known[name] = info
            storage.write_text(
                storage.join(self.root, "manifest.json"), json.dumps(self.manifest, indent=2)
            )

    def _cleanup_partial(self, *, now: float | None = None) -> None:
        """Remove what killed writers left: local temporary folders, old uncommitted shards."""
        if not self._remote:
            for tmp in Path(self.root).glob(".tmp-*"):
                shutil.rmtree(tmp, ignore_errors=True)
            return
        now = time.time() if now is None else now
        for name, files in self._list_remote_shards().items():
            started = _shard_time(name)
            if COMMIT_MARKER in files or started is None:
                continue
            if now - started > UNCOMMITTED_GRACE_SECONDS:
                self._fs.rm(f"{self._path}/shards/{name}", recursive=True)

    # ------------------------------------------------------------------ writing
    def write_shard(self, content: ShardContent) -> Path | str | None:
        """Write one shard, whole or not at all (see the module docstring).

        Parameters
        ----------
        content : ShardContent
            Rows, sequences and failures to store; an empty content writes nothing.

        Returns
        -------
        Path or str or None
            The shard folder (a URI for a store on an object store).
        """
        if len(content) == 0:
            return None
        tables: dict[str, pa.Table] = {}
        if content.rows:
            tables["lowlevel.parquet"] = pa.Table.from_pandas(
                pd.DataFrame(content.rows), preserve_index=False
            )
        for embedder, seqs in content.sequences.items():
            if seqs:
                tables[_sequence_file(embedder)] = _sequences_to_table(seqs)
        if content.failures:
            tables["failures.parquet"] = pa.Table.from_pandas(
                pd.DataFrame(content.failures, columns=list(FAILURE_COLUMNS)),
                preserve_index=False,
            )
        token = uuid.uuid4().hex[:12]
        name = f"{time.time_ns():020d}-{token}"
        marker = json.dumps(
            {"files": sorted(tables), "rows": len(content.rows), "failures": len(content.failures)}
        )
        if self._remote:
            folder = f"{self._path}/shards/{name}"
            for file_name, table in tables.items():
                self._fs.pipe_file(f"{folder}/{file_name}", _parquet_bytes(table))
            # last: only now do readers see the shard
            self._fs.pipe_file(f"{folder}/{COMMIT_MARKER}", marker.encode())
            self._fs.invalidate_cache(f"{self._path}/shards")
            return storage.join(self.root, "shards", name)
        shards = Path(self._shards)
        shards.mkdir(exist_ok=True)
        tmp = Path(self.root) / f".tmp-{token}"
        tmp.mkdir()
        for file_name, table in tables.items():
            pq.write_table(table, tmp / file_name)
        (tmp / COMMIT_MARKER).write_text(marker)
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        final = shards / name
        os.rename(tmp, final)
        return final

    # ------------------------------------------------------------------ reading
    def _list_remote_shards(self) -> dict[str, set[str]]:
        """``{shard name: its file names}`` of every shard folder, committed or not."""
        prefix = f"{self._path}/shards/"
        self._fs.invalidate_cache(prefix.rstrip("/"))
        try:
            found = self._fs.find(prefix.rstrip("/"))
        except FileNotFoundError:
            return {}
        shards: dict[str, set[str]] = {}
        for path in found:
            if not path.startswith(prefix):
                continue
            name, _, file_name = path[len(prefix) :].partition("/")
            if file_name and "/" not in file_name:
                shards.setdefault(name, set()).add(file_name)
        return shards

    def _committed_shards(self) -> list[_Shard]:
        """The shards readers see, oldest first (later shards win on duplicate rows)."""
        if self._remote:
            listed = self._list_remote_shards()
            return [
                _Shard(f"{self._path}/shards/{name}", frozenset(files))
                for name, files in sorted(listed.items())
                if COMMIT_MARKER in files
            ]
        shards = Path(self._shards)
        if not shards.is_dir():
            return []
        return [
            _Shard(d, frozenset(f.name for f in d.iterdir()))
            for d in sorted(p for p in shards.iterdir() if p.is_dir())
        ]

    def _shard_dirs(self) -> list[Path | str]:
        return [shard.location for shard in self._committed_shards()]

    def _read_parts(self, file_name: str, columns: Sequence[str] | None = None) -> list[pa.Table]:
        wanted = list(columns) if columns else None
        if self._remote:
            paths = [
                f"{s.location}/{file_name}"
                for s in self._committed_shards()
                if file_name in s.files
            ]
            if len(paths) <= 1:
                return [pq.read_table(p, columns=wanted, filesystem=self._fs) for p in paths]
            # each object is a few round trips away: read them side by side, kept in order
            with ThreadPoolExecutor(min(REMOTE_READ_THREADS, len(paths))) as pool:
                return list(
                    pool.map(lambda p: pq.read_table(p, columns=wanted, filesystem=self._fs), paths)
                )
        return [
            pq.read_table(Path(s.location) / file_name, columns=wanted)
            for s in self._committed_shards()
            if file_name in s.files
        ]

    def read_table(self) -> pd.DataFrame:
        """All low-level rows, one per track, sorted by ``track_id``.

        Returns
        -------
        pandas.DataFrame, shape (n_tracks, 6 + n_features)
            :data:`TRACK_COLUMNS` then the feature columns in extraction order.
        """
        parts = self._read_parts("lowlevel.parquet")
        if not parts:
            return pd.DataFrame(columns=list(TRACK_COLUMNS))
        df = pa.concat_tables(parts, promote_options="default").to_pandas()
        df = df.drop_duplicates("track_id", keep="last").sort_values("track_id", kind="stable")
        return df.reset_index(drop=True)

    def sequence_embedders(self) -> list[str]:
        """Names of the embedders whose sequences the store holds."""
        names = {
            f[len("seq-") : -len(".parquet")]
            for shard in self._committed_shards()
            for f in shard.files
            if f.startswith("seq-") and f.endswith(".parquet")
        }
        return sorted(names)

    def read_sequences(
        self, embedder: str, ids: Iterable[str] | None = None
    ) -> dict[str, Embedding]:
        """The stored sequences of one embedder.

        Parameters
        ----------
        embedder : str
            Registry name, e.g. ``"musicnn-msd"``.
        ids : iterable of str or None
            Only these tracks (default: all).

        Returns
        -------
        dict of str to Embedding
            ``frames`` [T_i, D] float32 and ``times`` [T_i] per track id.
        """
        wanted = None if ids is None else set(ids)
        out: dict[str, Embedding] = {}
        for table in self._read_parts(_sequence_file(embedder)):
            out.update(_table_to_sequences(table, wanted))
        return out

    def done_ids(self, stage: str) -> set[str]:
        """Track ids whose ``stage`` is stored (:data:`LOWLEVEL_STAGE` or a sequence stage)."""
        if stage == LOWLEVEL_STAGE:
            parts = self._read_parts("lowlevel.parquet", columns=["track_id"])
        elif stage.startswith("seq:"):
            parts = self._read_parts(_sequence_file(stage[4:]), columns=["track_id"])
        else:
            raise DataError(f"unknown stage {stage!r}")
        return {i for t in parts for i in t.column("track_id").to_pylist()}

    def failures(self) -> pd.DataFrame:
        """Failed (path, stage) pairs that no later run has since stored.

        Returns
        -------
        pandas.DataFrame
            Columns ``path, track_id, stage, reason`` (the latest reason per pair).
        """
        parts = self._read_parts("failures.parquet")
        if not parts:
            return pd.DataFrame(columns=list(FAILURE_COLUMNS))
        df = pa.concat_tables(parts).to_pandas()
        df = df.drop_duplicates(["track_id", "stage"], keep="last")
        done = {stage: self.done_ids(stage) for stage in df["stage"].unique()}
        keep = [
            tid not in done[stage] for tid, stage in zip(df["track_id"], df["stage"], strict=True)
        ]
        return df[keep].sort_values(["path", "stage"]).reset_index(drop=True)

    def compact(self) -> None:
        """Merge all shards into one (fewer, larger files; same contents)."""
        shards = self._shard_dirs()
        if len(shards) <= 1:
            return
        content = ShardContent(
            rows=self.read_table().to_dict("records"),
            sequences={e: self.read_sequences(e) for e in self.sequence_embedders()},
            failures=self.failures().to_dict("records"),
        )
        self.write_shard(content)
        for d in shards:
            if self._remote:
                # the marker first: a removal cut short leaves an ignored folder, not half a shard
                self._fs.rm(f"{d}/{COMMIT_MARKER}")
                self._fs.rm(str(d), recursive=True)
            else:
                shutil.rmtree(d)
        if self._remote:
            self._fs.invalidate_cache(f"{self._path}/shards")

    def __repr__(self) -> str:
        return f"FeatureStore({str(self.root)!r})"
