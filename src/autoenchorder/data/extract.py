"""Corpus -> feature store: parallel, resumable extraction with a progress bar.

For every audio file below a folder, the needed stages (the 207 low-level features, and the
sequence of an embedder if one is asked for) are computed by the
:class:`~autoenchorder.audio.processor.AudioProcessor` -- the same one ``predict`` uses -- from
the part of the file the input spec names (whole file by default, or a window), in worker
processes, and written to a :class:`~autoenchorder.data.store.FeatureStore` in atomic shards. A
file that fails is recorded with the stage and the reason and the run goes on; a re-run skips
what the store already holds (and, unless asked, what already failed), so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np

from autoenchorder import storage
from autoenchorder.audio.io import discover_audio, local_audio
from autoenchorder.audio.processor import WHOLE_FILE, AudioProcessor, InputSpec
from autoenchorder.data.store import (
    LOWLEVEL_STAGE,
    FeatureStore,
    ShardContent,
    sequence_stage,
    stored_precision,
)
from autoenchorder.engine import EngineSpec, WorkerCrash, map_items
from autoenchorder.errors import AutoenchorderError, DataError


@dataclass(frozen=True)
class WorkItem:
    """One file and the stages it still needs."""

    path: str
    track_id: str
    relative_path: str
    stages: tuple[str, ...]


@dataclass
class ExtractSummary:
    """What a run did.

    Attributes
    ----------
    total : int
        Audio files found.
    done : int
        Files processed by this run without any failure.
    skipped : int
        Files the store already held (or that failed before and were not retried).
    failed : int
        Files with at least one failed stage in this run.
    failures : list of tuple of (str, str, str)
        ``(path, stage, reason)`` of this run's failures.
    seconds : float
        Wall time.
    """

    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0


def track_id_for(path: Path, root: Path) -> str:
    """The track id of a file: its path relative to the audio root, posix, without extension.

    Parameters
    ----------
    path : Path
        The audio file.
    root : Path
        The corpus folder (or the file itself when a single file is extracted).
    """
    if storage.is_remote(root):
        return PurePosixPath(relative_path_for(path, root)).with_suffix("").as_posix()
    if root.is_file():
        return path.stem
    return path.relative_to(root).with_suffix("").as_posix()


def relative_path_for(path: Path | str, root: Path | str) -> str:
    """A file's path relative to the audio root, posix (its name when the root is the file).

    Parameters
    ----------
    path : Path or str
        The audio file (a URI when the root is one).
    root : Path or str
        The corpus folder or URI prefix (or the file itself).
    """
    if storage.is_remote(root):
        return storage.name(path) if str(path) == str(root) else storage.relative(path, root)
    return path.name if root.is_file() else path.relative_to(root).as_posix()  # type: ignore[union-attr]


def plan_work(
    audio_dir: Path,
    store: FeatureStore,
    *,
    embedder: str | None,
    retry_failed: bool,
    track_ids: Collection[str] | None = None,
) -> tuple[list[WorkItem], int]:
    """List the files that still need work and the stages each needs.

    Parameters
    ----------
    audio_dir : Path
        The corpus folder.
    store : FeatureStore
        Where results go (and what is already done).
    embedder : str or None
        The embedder whose sequences are wanted, if any.
    retry_failed : bool
        Retry stages that failed in an earlier run.
    track_ids : collection of str or None
        Only these tracks (None: every file found); the others are neither done nor counted.

    Returns
    -------
    items : list of WorkItem
    skipped : int
        Files needing nothing.
    """
    stages = [LOWLEVEL_STAGE] + ([sequence_stage(embedder)] if embedder else [])
    done = {s: store.done_ids(s) for s in stages}
    failed: set[tuple[str, str]] = set()
    if not retry_failed:
        f = store.failures()
        failed = set(zip(f["track_id"], f["stage"], strict=True))
    items, skipped = [], 0
    for path in discover_audio(audio_dir):
        tid = track_id_for(path, audio_dir)
        if track_ids is not None and tid not in track_ids:
            continue
        need = tuple(s for s in stages if tid not in done[s] and (tid, s) not in failed)
        if need:
            rel = relative_path_for(path, audio_dir)
            items.append(WorkItem(str(path), tid, rel, need))
        else:
            skipped += 1
    return items, skipped


# ---------------------------------------------------------------------------- worker side
_WORKER_STATE: dict = {}


def make_extract_worker(
    embedder: str | None, embedder_options: dict, compat: str, input_spec: InputSpec
) -> Callable[[WorkItem], dict]:
    """Build a worker's function (once per process or Ray actor): the embedder loaded here.

    Parameters
    ----------
    embedder : str or None
        The embedder whose sequences are wanted, if any.
    embedder_options : dict
        Its options (``device`` included).
    compat : str
        Low-level feature mode.
    input_spec : InputSpec
        Which part of each file the features are computed from.

    Returns
    -------
    callable
        ``process(item) -> dict``, see :func:`process_item`.
    """
    _WORKER_STATE.update(embedder=embedder, embedder_options=embedder_options)
    if embedder:
        _get_embedder()  # load the weights now, not on the first file
    return partial(process_item, compat=compat, input_spec=input_spec)


def _get_embedder():
    from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415

    return get_embedder(_WORKER_STATE["embedder"], **_WORKER_STATE["embedder_options"])


def process_item(item: WorkItem, compat: str, input_spec: InputSpec = WHOLE_FILE) -> dict:
    """Compute the stages of one file (runs in a worker process).

    Parameters
    ----------
    item : WorkItem
        The file and its stages.
    compat : str
        Low-level feature mode.
    input_spec : InputSpec
        Which part of the file the features are computed from (default the whole file).

    Returns
    -------
    dict
        ``{"row": dict | None, "sequence": Embedding | None, "failures": [(stage, reason)]}``.
    """
    from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415

    out: dict = {"row": None, "sequence": None, "failures": []}
    try:
        embedder = _get_embedder() if any(s != LOWLEVEL_STAGE for s in item.stages) else None
        processor = AudioProcessor(input_spec, compat=compat, embedder=embedder)
        with local_audio(item.path) as local:  # a song at a URI is fetched once
            audio = processor.decode(local)
    except AutoenchorderError as exc:
        out["failures"] = [(s, getattr(exc, "reason", str(exc))) for s in item.stages]
        return out
    except Exception as exc:  # noqa: BLE001  a bug on one file must not end the batch
        out["failures"] = [(s, f"unexpected {type(exc).__name__}: {exc}") for s in item.stages]
        return out
    for stage in item.stages:
        try:
            if stage == LOWLEVEL_STAGE:
                values = processor.lowlevel(audio)
                row = {
                    "track_id": item.track_id,
                    "path": item.relative_path,
                    "duration": float(audio.duration),
                    "sample_rate": int(audio.sample_rate),
                    "channels": int(audio.channels),
                    "silent": bool(audio.silent),
                }
                row.update(zip(LOWLEVEL_COLUMNS, (float(v) for v in values), strict=True))
                out["row"] = row
            else:
                out["sequence"] = processor.embed(audio)
        except AutoenchorderError as exc:
            out["failures"].append((stage, getattr(exc, "reason", str(exc))))
        except Exception as exc:  # noqa: BLE001  a bug on one file must not end the batch
            out["failures"].append((stage, f"unexpected {type(exc).__name__}: {exc}"))
    return out


# ---------------------------------------------------------------------------- parent side
def _compile_kernels_once(compat: str) -> None:
    """Run the feature code once here, so workers load compiled kernels instead of racing.

    librosa's and our numba kernels are cached on disk; several processes compiling into the
    same cache at once can leave an entry that crashes every later load.
    """
    from autoenchorder.audio.lowlevel import extract_lowlevel  # noqa: PLC0415

    rng = np.random.default_rng(0)
    extract_lowlevel(0.1 * rng.standard_normal(22050).astype(np.float32), 22050, compat=compat)


def extract_corpus(
    audio_dir: str | Path,
    store_root: str | Path,
    *,
    workers: int = 1,
    embedder: str | None = None,
    embedder_options: dict | None = None,
    compat: str = "spotgentrack",
    input_spec: InputSpec = WHOLE_FILE,
    retry_failed: bool = False,
    shard_size: int = 128,
    shard_seconds: float = 60.0,
    on_progress: Callable[[int, int], None] | None = None,
    progress: bool = False,
    engine: EngineSpec | None = None,
    track_ids: Collection[str] | None = None,
) -> ExtractSummary:
    """Extract features of every audio file below ``audio_dir`` into a feature store.

    Parameters
    ----------
    audio_dir : str or Path
        A folder (searched recursively) or one audio file.
    store_root : str or Path
        The store folder (created if needed; resumed if it exists).
    workers : int
        Worker processes (1 = in this process); ignored when ``engine`` is given.
    embedder : str or None
        Also store this embedder's sequences (e.g. ``"musicnn-msd"``).
    embedder_options : dict or None
        Options for :func:`~autoenchorder.audio.embed.get_embedder` (``device`` included:
        where the workers run the network; it is not part of the store's embedder identity).
    compat : {"spotgentrack", "fixed"}
        Low-level feature mode (see :func:`~autoenchorder.audio.lowlevel.extract_lowlevel`).
    input_spec : InputSpec
        Which part of each file the features are computed from: the whole file (default) or
        a window of given length and offset. Recorded in the store's manifest; a store made
        with another spec is refused.
    retry_failed : bool
        Retry files that failed in an earlier run.
    shard_size : int
        Tracks per shard (a shard is the unit of atomic writes).
    shard_seconds : float
        Also write a shard after this long, so a kill loses at most this much work.
    on_progress : callable or None
        ``on_progress(n_finished, n_total)`` after each file.
    progress : bool
        Show a rich progress bar.
    engine : EngineSpec or None
        Where the per-file work runs (default: ``EngineSpec("local", workers=workers)``).
        With Ray, the song files must be readable at the same path on every node; this process
        writes the store.
    track_ids : collection of str or None
        Extract only these tracks (None: every file below ``audio_dir``); e.g. to cache the
        ``musicnn-logmel`` patches of a study's songs only.

    Returns
    -------
    ExtractSummary
    """
    started = time.perf_counter()
    audio_dir = storage.as_location(audio_dir)  # a Path, or a URI (s3://bucket/songs) as text
    embedder_options = dict(embedder_options or {})
    if input_spec.window is not None and input_spec.offset is None:
        raise DataError("an extraction window needs its offset (seconds from the start)")
    store = FeatureStore.create(
        store_root, audio_root=audio_dir, config={"compat": compat}, input_spec=input_spec
    )
    if embedder:
        embedder_options = _concrete_precision(store, embedder, embedder_options)
        store.register_embedder(embedder, _embedder_identity(embedder, embedder_options))
    items, skipped = plan_work(
        audio_dir, store, embedder=embedder, retry_failed=retry_failed, track_ids=track_ids
    )
    summary = ExtractSummary(total=len(items) + skipped, skipped=skipped)
    engine = engine or EngineSpec("local", workers=workers)
    if engine.name == "local":
        # No more processes than files; one file (or one worker) runs in this process.
        engine = replace(engine, workers=max(1, min(engine.local_workers(), len(items))))
    if engine.name == "ray" or engine.workers > 1:
        _compile_kernels_once(compat)
    make_worker = partial(make_extract_worker, embedder, embedder_options, compat, input_spec)
    results = map_items(engine, make_worker, items)

    bar = _ProgressBar(len(items)) if progress else None
    shard = ShardContent()
    last_flush = time.monotonic()
    try:
        for finished, (item, result) in enumerate(results, start=1):
            _add_result(shard, item, result, embedder, summary)
            if len(shard.rows) + len(shard.failures) >= shard_size or (
                time.monotonic() - last_flush > shard_seconds
            ):
                store.write_shard(shard)
                shard, last_flush = ShardContent(), time.monotonic()
            if bar:
                bar.advance(summary)
            if on_progress:
                on_progress(finished, len(items))
    finally:
        # Whatever happened (Ctrl-C included), finished work is kept.
        store.write_shard(shard)
        if bar:
            bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _add_result(
    shard: ShardContent,
    item: WorkItem,
    result: dict | WorkerCrash,
    embedder: str | None,
    summary: ExtractSummary,
) -> None:
    if isinstance(result, WorkerCrash):
        result = _crashed(item, result.reason)
    if result["row"] is not None:
        shard.rows.append(result["row"])
    if result["sequence"] is not None and embedder:
        shard.sequences.setdefault(embedder, {})[item.track_id] = result["sequence"]
    for stage, reason in result["failures"]:
        shard.failures.append(
            {
                "path": item.relative_path,
                "track_id": item.track_id,
                "stage": stage,
                "reason": reason,
            }
        )
        summary.failures.append((item.relative_path, stage, reason))
    if result["failures"]:
        summary.failed += 1
    else:
        summary.done += 1


def _crashed(item: WorkItem, reason: str) -> dict:
    """The result of a file whose worker process died on it every time it was tried."""
    return {
        "row": None,
        "sequence": None,
        "failures": [(s, f"worker crashed: {reason}") for s in item.stages],
    }


def _concrete_precision(store: FeatureStore, embedder: str, options: dict) -> dict:
    """``options`` with an ``"auto"`` precision made concrete once, here, for every worker.

    A store that already holds the embedder's sequences keeps their precision (a resumed run
    never mixes two); a new one gets bfloat16 where this machine's CPU runs it natively.
    """
    if options.get("precision") != "auto":
        return options
    from autoenchorder.precision import (  # noqa: PLC0415
        DEFAULT_PRECISION,
        resolve_precision,
    )

    if embedder in store.manifest.get("embedders", {}):
        precision = stored_precision(store.manifest, embedder) or DEFAULT_PRECISION
    else:
        import torch  # noqa: PLC0415

        precision = resolve_precision("auto", torch.device("cpu"))
    return {**options, "precision": precision}


def _embedder_identity(name: str, options: dict) -> dict:
    from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415

    # Where the network runs does not change its numbers: the device is not part of the
    # identity (the driver reads it on the CPU, a store filled on GPUs resumes on CPUs).
    options = {k: v for k, v in options.items() if k != "device"}
    emb = get_embedder(name, **options)
    # The precision does change them. float32, the default, is left out (as stores made
    # before the option have it; musicnn-logmel, without a network, is always float32).
    options.pop("precision", None)
    if getattr(emb, "precision", "float32") != "float32":
        options["precision"] = emb.precision
    return {
        "version": getattr(emb, "version", "unknown"),
        "dim": int(emb.dim),
        "sample_rate": int(emb.sample_rate),
        "window_seconds": float(emb.window_seconds),
        "hop_seconds": float(emb.hop_seconds),
        "options": {k: str(v) for k, v in sorted(options.items())},
    }


class _ProgressBar:
    """The extract progress bar, with the running count of failed files as its note."""

    def __init__(self, total: int) -> None:
        from autoenchorder.progress import counting_progress  # noqa: PLC0415

        self._progress = counting_progress("extract", unit="files")
        self._task = self._progress.add_task("extract", total=total, note="")
        self._progress.start()

    def advance(self, summary: ExtractSummary) -> None:
        note = f"[red]{summary.failed} failed" if summary.failed else ""
        self._progress.update(self._task, advance=1, note=note)

    def close(self) -> None:
        self._progress.stop()
