"""Score a catalog of songs into one Parquet table: streaming, resumable, failures listed.

``score_catalog(songs, bundles=..., out="scores.parquet")`` scores every song with the
:class:`~autoenchorder.predict.predictor.Predictor` on an engine (``local``: a process pool on
this machine; ``ray``: actors on a Ray cluster), each worker loading the bundle(s) once. Rows
are written as they arrive, in parts:

- ``OUT.parts/part-<n>.parquet``: every ``flush_songs`` rows or ``flush_seconds`` seconds,
  each part written atomically, so a run killed at any moment (``kill -9`` included) leaves
  only whole parts;
- at the end the parts (and an ``OUT`` from an earlier run) are combined, newest row of a song
  first, into ``OUT`` (atomic), and the parts folder removed.

Running the same command again skips every song that already has a row in ``OUT`` or in the
parts (failed songs too, unless ``retry_failed``): after a kill it scores only the rest; on a
finished catalog it scores nothing. Every part and OUT record the model (its bundles' content
hashes) and the Predictor options they were scored with (:func:`run_key`); a run with another
model or options refuses to add to them rather than mix two kinds of scores in one table.

Memory stays flat in the catalog's size apart from the list of song paths: at most the engine's
window of songs is in flight, at most ``flush_songs`` rows wait for their part, and the final
file is combined batch by batch.

One row per song (:data:`ROW_SCHEMA`): the scored ones with ``error`` null, the failed ones
(missing, empty, corrupt, not audio, silent, a worker that died on them ...) with ``error``
saying why and no score. Song paths are plain strings through the whole pipeline (URIs too).
"""

from __future__ import annotations

import functools
import json
import math
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from autoenchorder import storage
from autoenchorder.audio.io import discover_audio, local_audio
from autoenchorder.errors import AudioError, AutoenchorderError, DataError
from autoenchorder.predict.predictor import Predictor
from autoenchorder.predict.result import SongPrediction
from autoenchorder.predict.uncertainty import _torch_modules
from autoenchorder.progress import counting_progress

if TYPE_CHECKING:
    from rich.console import Console

    from autoenchorder.engine import EngineSpec

#: Level of the interval ``interval_low`` .. ``interval_high``: popularity ± z * uncertainty.
INTERVAL_LEVEL: float = 0.95
_Z = statistics.NormalDist().inv_cdf(0.5 + INTERVAL_LEVEL / 2)
#: Folder of the parts beside the output file: ``scores.parquet`` -> ``scores.parquet.parts``.
PARTS_SUFFIX = ".parts"
#: A part is written after this many rows ...
FLUSH_SONGS = 256
#: ... or this many seconds after the part's first row, whichever comes first.
FLUSH_SECONDS = 60.0
#: Failures named one by one in a run's summary (the rest are only counted; all are in OUT).
FAILURES_SHOWN = 20

_WINDOW = pa.struct([("start", pa.float64()), ("end", pa.float64()), ("popularity", pa.float64())])
_CONTRIBUTION = pa.struct(
    [("start", pa.float64()), ("end", pa.float64()), ("contribution", pa.float64())]
)
#: The columns of the output: one row per song.
ROW_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # the song as given (file path, later URIs)
        ("popularity", pa.float64()),  # 0-100; null when failed or for a classification bundle
        ("band", pa.string()),  # low / mid / high (or a classifier's class)
        ("uncertainty", pa.float64()),  # sd in popularity points; null when none
        ("interval_low", pa.float64()),  # popularity - 1.96 sd, clipped to 0-100
        ("interval_high", pa.float64()),  # popularity + 1.96 sd, clipped to 0-100
        ("uncertainty_method", pa.string()),
        ("duration", pa.float64()),  # length of the song, seconds
        ("input", pa.string()),  # the part of the song the headline was made from
        ("n_windows", pa.int32()),
        ("window_sd", pa.float64()),
        ("windows", pa.list_(_WINDOW)),  # the timeline view
        ("contributions", pa.list_(_CONTRIBUTION)),  # per embedder frame (may be empty)
        ("class_probabilities", pa.map_(pa.string(), pa.float64())),  # classification only
        ("score_seconds", pa.float64()),  # wall time its worker spent on the song
        ("error", pa.string()),  # null when scored; why not otherwise
    ]
)
_PART_NAME = re.compile(r"^part-(\d+)\.parquet$")
#: Key of the Parquet metadata naming the model and options a table was scored with.
RUN_KEY = b"autoenchorder.catalog"


# ------------------------------------------------------------------------------- rows
def prediction_row(prediction: SongPrediction, *, seconds: float | None = None) -> dict[str, Any]:
    """One output row of a scored song (NaN becomes null).

    Parameters
    ----------
    prediction : SongPrediction
    seconds : float or None
        Wall time spent scoring it.

    Returns
    -------
    dict
        The columns of :data:`ROW_SCHEMA`.
    """
    popularity = _finite(prediction.popularity)
    sd = _finite(prediction.uncertainty)
    low = high = None
    if popularity is not None and sd is not None:
        low = max(0.0, popularity - _Z * sd)
        high = min(100.0, popularity + _Z * sd)
    return {
        "path": prediction.path,
        "popularity": popularity,
        "band": prediction.band,
        "uncertainty": sd,
        "interval_low": low,
        "interval_high": high,
        "uncertainty_method": prediction.uncertainty_method,
        "duration": _finite(prediction.duration),
        "input": prediction.input,
        "n_windows": len(prediction.windows),
        "window_sd": _finite(prediction.window_sd),
        "windows": [
            {k: _finite(w[k]) for k in ("start", "end", "popularity")} for w in prediction.windows
        ],
        "contributions": [
            {k: _finite(c[k]) for k in ("start", "end", "contribution")}
            for c in prediction.contributions
        ],
        "class_probabilities": list(prediction.class_probabilities.items()),
        "score_seconds": seconds,
        "error": None,
    }


def failure_row(path: str, reason: str, *, seconds: float | None = None) -> dict[str, Any]:
    """One output row of a song that could not be scored: its path, why, nothing else."""
    row: dict[str, Any] = dict.fromkeys(ROW_SCHEMA.names)
    row.update(
        path=str(path),
        windows=[],
        contributions=[],
        class_probabilities=[],
        score_seconds=seconds,
        error=reason or "unknown error",
    )
    return row


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------------- the worker
def load_predictor(bundles: Sequence[str], *, device: str = "cpu", **options: Any) -> Predictor:
    """Load a :class:`Predictor` whose networks and embedder run on ``device``.

    Parameters
    ----------
    bundles : sequence of str
        Bundle folders (several, or a folder of bundle folders: an ensemble).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when torch sees it).
    **options
        Passed to :class:`Predictor` (``max_windows``, ``mc_passes``, ``contributions`` ...).

    Returns
    -------
    Predictor

    Raises
    ------
    ModelError
        A bad bundle, or CUDA asked for where torch sees none.
    """
    predictor = Predictor.load(*bundles, **options)
    target = _torch_device(device)
    if target.type == "cpu":
        return predictor
    for module in _torch_modules(predictor.models):
        module.to(target)  # the models predict on the device of their parameters
    if predictor.embedder is None:
        return predictor
    from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415

    # The embedder of the spec was built on the CPU by Predictor.load; build it again on the
    # device (the registered embedders with weights take ``device``).
    options = {"device": str(target)}
    if getattr(predictor.embedder, "precision", "float32") != "float32":
        options["precision"] = predictor.embedder.precision
    embedder = get_embedder(predictor.embedder.name, **options)
    return Predictor(
        predictor.models, feature_spec=predictor.feature_spec, embedder=embedder, **options
    )


def _torch_device(name: str) -> Any:
    from autoenchorder.models.training import resolve_device  # noqa: PLC0415

    return resolve_device(name)  # "auto": CUDA when torch sees it, else the CPU


def run_key(predictor: Predictor, options: dict[str, Any]) -> str:
    """What makes a catalog's scores: the bundles' content hashes and the Predictor options.

    A run resumes only onto rows made by the same key (the device is not part of it: CPU and
    GPU give the same numbers within float tolerance).
    """
    models = [getattr(m, "bundle_info_", {}).get("content_sha256") for m in predictor.models]
    return json.dumps({"models": models, "options": options}, sort_keys=True)


class CatalogScorer:
    """Score one song a call, with bundles loaded once (per process or Ray actor).

    Build it through :func:`scorer_factory` so that an engine can ship the recipe (picklable)
    and build it once in each worker.

    Parameters
    ----------
    bundles : sequence of str
    device : str
        Where the networks and the embedder run (see :func:`load_predictor`).
    **options
        Predictor options (``max_windows``, ``mc_passes``, ``contributions``, ``seed``).
    """

    def __init__(self, bundles: Sequence[str], *, device: str = "cpu", **options: Any) -> None:
        self.predictor = load_predictor(bundles, device=device, **options)

    def __call__(self, song: str) -> dict[str, Any]:
        """Score ``song``; a row of :data:`ROW_SCHEMA`, a failure row if it cannot be scored."""
        start = time.perf_counter()
        try:
            with local_audio(song) as local:  # a song at a URI is fetched once, not per read
                prediction = replace(self.predictor.predict(local), path=song)
        except AutoenchorderError as exc:
            return failure_row(
                song, getattr(exc, "reason", None) or str(exc), seconds=time.perf_counter() - start
            )
        except Exception as exc:  # noqa: BLE001
            # A batch boundary: one file that trips a library (a decoder's own exception) must
            # not end a run of a million songs, nor kill every resumed run again on that file.
            return failure_row(
                song,
                f"unexpected error ({type(exc).__name__}): {exc}",
                seconds=time.perf_counter() - start,
            )
        return prediction_row(prediction, seconds=time.perf_counter() - start)


def scorer_factory(
    bundles: Sequence[str], *, device: str = "cpu", **options: Any
) -> Callable[[], CatalogScorer]:
    """The picklable recipe of a :class:`CatalogScorer`, called once per engine worker."""
    return functools.partial(
        CatalogScorer, tuple(str(b) for b in bundles), device=device, **options
    )


# ------------------------------------------------------------------------------- the songs
def read_song_list(path: str) -> Iterator[str]:
    """The songs of a list file: one path or URI a line; blank lines and ``#`` comments skipped.

    Parameters
    ----------
    path : str
        The list file.

    Yields
    ------
    str
        Each song as written (surrounding spaces removed), in the file's order.

    Raises
    ------
    AudioError
        The list cannot be read.
    """
    try:
        handle = storage.open_file(path, "r")  # a local path or a URI
    except (OSError, DataError) as exc:
        raise AudioError(path, f"cannot read the song list: {exc.strerror or exc}") from exc
    with handle:
        for line in handle:
            song = line.strip()
            if song and not song.startswith("#"):
                yield song


def expand_song(song: str) -> list[str]:
    """A command-line song: a file as it is, a folder as its audio files (recursively, sorted).

    Raises
    ------
    AudioError
        No such file or folder.
    """
    return [str(p) for p in discover_audio(song)]


@dataclass
class SongQueue:
    """The songs still to score, after those already in the output and duplicates.

    Attributes
    ----------
    pending : list of str
        To score, in the order given.
    failures : list of dict
        Failure rows of command-line songs that do not exist (not yet in the output).
    done : int
        Songs given that already have a row.
    """

    pending: list[str] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0


def song_queue(songs: Iterable[str], song_lists: Iterable[str], already: set[str]) -> SongQueue:
    """Expand the command line's songs and the lists' songs, then drop those already done.

    Parameters
    ----------
    songs : iterable of str
        Files or folders (folders searched recursively for audio).
    song_lists : iterable of str
        List files (:func:`read_song_list`); their lines are taken as they are, unexpanded.
    already : set of str
        Songs with a row in the output already.

    Returns
    -------
    SongQueue
    """
    queue = SongQueue()
    seen: set[str] = set()

    def add(song: str) -> None:
        if song in seen:
            return
        seen.add(song)
        if song in already:
            queue.done += 1
        else:
            queue.pending.append(song)

    for song in songs:
        try:
            found = expand_song(str(song))
        except AudioError as exc:
            if str(song) in already:
                queue.done += 1
            elif str(song) not in seen:
                queue.failures.append(failure_row(str(song), exc.reason))
            seen.add(str(song))
            continue
        for path in found:
            add(path)
    for song_list in song_lists:
        for song in read_song_list(str(song_list)):
            add(song)
    return queue


# ------------------------------------------------------------------------------- the output
class CatalogOutput:
    """The output file and its parts folder: every file-system access of a catalog run.

    Parameters
    ----------
    out : str
        The final Parquet file (``scores.parquet``); its parts go to ``out + ".parts"``.
    """

    def __init__(self, out: str, *, key: str = "") -> None:
        self.out = str(out)
        self.parts_dir = self.out + PARTS_SUFFIX
        self.schema = ROW_SCHEMA.with_metadata({RUN_KEY: key.encode()})

    def part_paths(self) -> list[str]:
        """The whole parts written so far, oldest first (temporary files ignored)."""
        try:
            found = storage.list_files(self.parts_dir)  # a local folder or a URI prefix
        except FileNotFoundError:
            return []
        numbered = [
            (int(m.group(1)), str(p))
            for p in found
            if (m := _PART_NAME.match(storage.name(p))) is not None
        ]
        return [path for _, path in sorted(numbered)]

    def next_part_number(self) -> int:
        """The number after the highest part already there."""
        parts = self.part_paths()
        return int(_PART_NAME.match(storage.name(parts[-1])).group(1)) + 1 if parts else 0  # type: ignore[union-attr]

    def write_part(self, number: int, table: pa.Table) -> str:
        """Write one part atomically; return its path."""
        path = str(storage.join(self.parts_dir, f"part-{number:06d}.parquet"))
        table = table.replace_schema_metadata(self.schema.metadata)
        storage.write_with(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def sources(self) -> list[str]:
        """Every file with rows, newest first: the parts (highest number first), then OUT."""
        final = [self.out] if storage.is_file(self.out) else []
        return [*reversed(self.part_paths()), *final]

    def batches(self, path: str, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The rows of one source, batch by batch.

        Raises
        ------
        DataError
            The file is not a catalog table, or one of another model or other options.
        """
        filesystem, where = storage.pyarrow_filesystem(path)
        try:
            parquet = pq.ParquetFile(where, filesystem=filesystem)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
        metadata = parquet.schema_arrow.metadata or {}
        if RUN_KEY not in metadata or not set(ROW_SCHEMA.names) <= set(parquet.schema_arrow.names):
            raise DataError(f"{path} is not a catalog of scores; give another --out")
        if metadata[RUN_KEY] != self.schema.metadata[RUN_KEY]:
            raise DataError(
                f"{path} holds scores of another model or other options "
                f"({metadata[RUN_KEY].decode()}); give another --out, or remove it to score again"
            )
        yield from parquet.iter_batches(columns=columns, batch_size=4096)

    def write_final(self, write: Callable[[Path], None]) -> None:
        """Create or replace OUT atomically with what ``write(tmp_path)`` writes."""
        storage.write_with(self.out, write)

    def remove_parts(self) -> None:
        """Remove the parts folder (every row of it is in OUT)."""
        storage.remove(self.parts_dir, recursive=True)


def songs_done(output: CatalogOutput, *, retry_failed: bool = False) -> set[str]:
    """The songs that already have a row in OUT or its parts.

    Parameters
    ----------
    output : CatalogOutput
    retry_failed : bool
        Count only scored songs as done (failed ones are scored again).

    Returns
    -------
    set of str
    """
    done: set[str] = set()
    for source in output.sources():
        for batch in output.batches(source, columns=["path", "error"]):
            paths = batch.column("path").to_pylist()
            if retry_failed:
                errors = batch.column("error").to_pylist()
                paths = [p for p, e in zip(paths, errors, strict=True) if e is None]
            done.update(paths)
    return done


class PartWriter:
    """Collect rows and write them as parts, every ``flush_songs`` rows or ``flush_seconds``.

    Parameters
    ----------
    output : CatalogOutput
    flush_songs : int
    flush_seconds : float
    """

    def __init__(self, output: CatalogOutput, *, flush_songs: int, flush_seconds: float) -> None:
        self.output = output
        self.flush_songs = max(1, int(flush_songs))
        self.flush_seconds = float(flush_seconds)
        self.number = output.next_part_number()
        self.rows: list[dict[str, Any]] = []
        self.first_row_at = 0.0

    def add(self, row: dict[str, Any]) -> None:
        """Keep one row; write the part when it is full or old enough."""
        if not self.rows:
            self.first_row_at = time.monotonic()
        self.rows.append(row)
        if (
            len(self.rows) >= self.flush_songs
            or time.monotonic() - self.first_row_at >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write the rows kept as one part (nothing without rows)."""
        if not self.rows:
            return
        self.output.write_part(
            self.number, pa.Table.from_pylist(self.rows, schema=self.output.schema)
        )
        self.number += 1
        self.rows = []


@dataclass
class CatalogSummary:
    """What a catalog run did, and what OUT now holds.

    Attributes
    ----------
    out : str
    scored, failed : int
        Songs scored / failed in this run.
    skipped : int
        Songs given that already had a row (scored by an earlier run).
    rows, rows_failed : int
        Rows in OUT (one per song) and those of them that failed.
    failures : list of (str, str)
        The first :data:`FAILURES_SHOWN` failures of this run: path and reason.
    """

    out: str
    scored: int = 0
    failed: int = 0
    skipped: int = 0
    rows: int = 0
    rows_failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def record(self, row: dict[str, Any]) -> None:
        """Count one row of this run."""
        if row["error"] is None:
            self.scored += 1
            return
        self.failed += 1
        if len(self.failures) < FAILURES_SHOWN:
            self.failures.append((row["path"], row["error"]))


def combine(output: CatalogOutput) -> tuple[int, int]:
    """Write OUT from the parts and the previous OUT, one row per song (its newest), atomically.

    The rows are read and written batch by batch; only the set of paths written is held.
    The parts folder is removed once OUT is in place (a kill in between leaves parts whose rows
    OUT already has: the next combine keeps one row per song all the same).

    Returns
    -------
    rows, failed : int
        Rows in OUT and those of them with an error.
    """
    sources = output.sources()
    counts = [0, 0]

    def write(tmp: Path) -> None:
        seen: set[str] = set()
        with pq.ParquetWriter(tmp, output.schema) as writer:
            for source in sources:
                for batch in output.batches(source, columns=ROW_SCHEMA.names):
                    table = pa.Table.from_batches([batch]).cast(output.schema)
                    keep = []
                    for path in table.column("path").to_pylist():
                        keep.append(path not in seen)
                        seen.add(path)
                    if not any(keep):
                        continue
                    table = table.filter(pa.array(keep))
                    counts[0] += table.num_rows
                    counts[1] += table.num_rows - table.column("error").null_count
                    writer.write_table(table)

    if not sources:  # nothing given and nothing before: an empty table with the columns
        output.write_final(lambda tmp: pq.write_table(output.schema.empty_table(), tmp))
        return 0, 0
    if sources == [output.out]:  # nothing new: OUT stays as it is
        rows = scored = 0
        for batch in output.batches(output.out, columns=["error"]):  # OUT may be a URI
            rows += batch.num_rows
            scored += batch.column("error").null_count
        return rows, rows - scored
    output.write_final(write)
    output.remove_parts()
    return counts[0], counts[1]


# ------------------------------------------------------------------------------- the run
def score_catalog(
    songs: Iterable[str],
    *,
    bundles: Sequence[str],
    out: str,
    song_lists: Iterable[str] = (),
    engine: EngineSpec | None = None,
    device: str = "cpu",
    retry_failed: bool = False,
    window: int | None = None,
    flush_songs: int = FLUSH_SONGS,
    flush_seconds: float = FLUSH_SECONDS,
    console: Console | None = None,
    progress: bool = True,
    **options: Any,
) -> CatalogSummary:
    """Score a catalog into ``out``, resuming where an earlier run on ``out`` stopped.

    Parameters
    ----------
    songs : iterable of str
        Audio files or folders (searched recursively).
    bundles : sequence of str
        The model: bundle folders (several: an ensemble).
    out : str
        The Parquet file to write (:data:`ROW_SCHEMA`, one row per song).
    song_lists : iterable of str
        Files listing more songs, one a line.
    engine : EngineSpec or None
        Where to score (default: the local engine, one worker).
    device : str
        Where each worker runs the networks and the embedder (``cpu``, ``cuda``, ``auto``).
    retry_failed : bool
        Score again the songs whose earlier row is a failure.
    window : int or None
        Songs in flight at most (default: the engine's).
    flush_songs, flush_seconds : int, float
        A part is written every ``flush_songs`` rows or ``flush_seconds`` seconds.
    console : rich.console.Console or None
        Where the progress bar is drawn.
    progress : bool
        Draw the progress bar.
    **options
        Predictor options (``max_windows``, ``mc_passes``, ``contributions``, ``seed``).

    Returns
    -------
    CatalogSummary

    Raises
    ------
    AutoenchorderError
        A bad bundle, an unreadable song list, an engine that cannot start.
    """
    from autoenchorder.engine import EngineSpec, WorkerCrash, map_items  # noqa: PLC0415

    engine = engine or EngineSpec()
    # Load the model here once before any worker does: a bad bundle is one clear error, not one
    # failure row per song. On the CPU: a cluster's workers may have the GPUs this machine lacks.
    output = CatalogOutput(out, key=run_key(load_predictor(bundles, **options), options))
    if engine.name == "local":
        _torch_device(device)  # the local workers are this machine: its device must be there
    queue = song_queue(songs, song_lists, songs_done(output, retry_failed=retry_failed))
    summary = CatalogSummary(out=output.out, skipped=queue.done)
    writer = PartWriter(output, flush_songs=flush_songs, flush_seconds=flush_seconds)
    for row in queue.failures:
        writer.add(row)
        summary.record(row)
    bar = counting_progress(
        "scoring",
        unit="songs",
        console=console,
        transient=True,
        disable=not progress or not queue.pending,
    )
    make_worker = scorer_factory(bundles, device=device, **options)
    try:
        with bar:
            task = bar.add_task("scoring", total=len(queue.pending), note="")
            for song, result in map_items(engine, make_worker, queue.pending, window=window):
                row = (
                    failure_row(song, result.reason) if isinstance(result, WorkerCrash) else result
                )
                writer.add(row)
                summary.record(row)
                note = f"[red]{summary.failed} failed" if summary.failed else ""
                bar.update(task, advance=1, note=note)
    finally:
        writer.flush()  # an interrupted run keeps what it scored (Ctrl-C, an engine error)
    summary.rows, summary.rows_failed = combine(output)
    return summary
