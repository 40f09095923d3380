"""musicnn's log-mel patches cached in a feature store, and a study's own store of some songs.

The patches are stored as the sequences of the ``musicnn-logmel`` embedder
(:class:`~autoenchorder.audio.embed.musicnn.MusicnnLogmelEmbedder`): one frame per 3 s patch,
the [187, 96] log-mel patch flattened (float32, exactly musicnn's input), in the store's usual
``seq-musicnn-logmel.parquet`` shards. So caching them is an extraction like any other --
``autoenchorder extract AUDIO --out STORE --embedder musicnn-logmel`` for a whole corpus, or
:func:`cache_patches` for some of its songs -- atomic per shard and resumable, and a dataset
loads them with ``DataSpec(..., embedder="musicnn-logmel")``. A model that trains musicnn
(``autoenchorder-finetune``) then never decodes audio. They cost 72 KB per 3 s of audio
(a 20 s song: 6 patches, 431 KB); float32 rather than float16 so the network sees exactly the
embedder's input and the untrained model reproduces ``musicnn-msd``'s frames.

:func:`subset_store` copies some songs' rows (low-level features and any embedder's sequences)
of one store into a new one, so two datasets of a study -- frozen embeddings and patches --
hold exactly the same songs.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np

from autoenchorder.data.extract import ExtractSummary, extract_corpus
from autoenchorder.data.store import FeatureStore, ShardContent, sequence_stage
from autoenchorder.errors import DataError

#: The embedder whose sequences are musicnn's log-mel patches.
PATCH_EMBEDDER = "musicnn-logmel"
#: Shape of one patch: log-mel frames x mel bands.
PATCH_SHAPE: tuple[int, int] = (187, 96)
#: Songs per shard when :func:`subset_store` copies rows.
COPY_SHARD_SIZE = 500


def cache_patches(
    audio_dir: str | Path,
    store: str | Path,
    *,
    track_ids: Collection[str] | None = None,
    workers: int = 1,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExtractSummary:
    """Store the musicnn log-mel patches of a corpus' songs (resumable; see the module doc).

    Parameters
    ----------
    audio_dir : str or Path
        The corpus' audio folder (the store's audio root).
    store : str or Path
        The feature store (created if needed, with the default low-level settings).
    track_ids : collection of str or None
        Only these songs (None: every file below ``audio_dir``).
    workers : int
        Worker processes.
    progress : bool
        Show a progress bar.
    on_progress : callable or None
        ``on_progress(n_finished, n_total)`` after each song.

    Returns
    -------
    ExtractSummary
    """
    return extract_corpus(
        audio_dir,
        store,
        workers=workers,
        embedder=PATCH_EMBEDDER,
        track_ids=track_ids,
        progress=progress,
        on_progress=on_progress,
    )


def read_patches(store: str | Path, ids: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """The cached patches of a store's songs.

    Parameters
    ----------
    store : str or Path
    ids : collection of str or None
        Only these songs (default all).

    Returns
    -------
    dict of str to np.ndarray
        float32 [P_i, 187, 96] per track id (P_i patches of the song).
    """
    found = FeatureStore(store).read_sequences(PATCH_EMBEDDER, ids)
    return {tid: e.frames.reshape(len(e.frames), *PATCH_SHAPE) for tid, e in found.items()}


def subset_store(
    source: str | Path,
    dest: str | Path,
    track_ids: Sequence[str],
    *,
    embedders: Sequence[str] = (),
) -> FeatureStore:
    """Copy the low-level rows and ``embedders``' sequences of ``track_ids`` into a new store.

    ``dest`` gets ``source``'s audio root, settings, input and embedder identities, so more
    stages (the log-mel patches) can be extracted into it. Resumable: songs ``dest`` already
    holds are not copied again.

    Parameters
    ----------
    source : str or Path
        A feature store holding the songs.
    dest : str or Path
        The new store (created if needed).
    track_ids : sequence of str
        The songs to copy.
    embedders : sequence of str
        Embedders whose sequences are copied too (e.g. ``("musicnn-msd",)``).

    Returns
    -------
    FeatureStore
        ``dest``.

    Raises
    ------
    DataError
        ``source`` lacks a song's row or sequence.
    """
    src = FeatureStore(source)
    out = FeatureStore.create(
        dest,
        audio_root=src.manifest["audio_root"],
        config=src.manifest["config"],
        input_spec=src.input_spec,
    )
    for name in embedders:
        if name not in src.manifest.get("embedders", {}):
            raise DataError(f"{source} holds no {name} sequences")
        out.register_embedder(name, src.manifest["embedders"][name])
    wanted = [str(t) for t in track_ids]
    done = out.done_ids("lowlevel")
    for name in embedders:
        done &= out.done_ids(sequence_stage(name))
    todo = [t for t in wanted if t not in done]
    if not todo:
        return out
    table = src.read_table().set_index("track_id")
    missing = [t for t in todo if t not in table.index]
    if missing:
        raise DataError(f"{source} has no features for {len(missing)} songs: {missing[:5]}")
    sequences = {name: src.read_sequences(name, todo) for name in embedders}
    for name, found in sequences.items():
        lacking = [t for t in todo if t not in found]
        if lacking:
            raise DataError(f"{source} has no {name} sequence for {len(lacking)}: {lacking[:5]}")
    for start in range(0, len(todo), COPY_SHARD_SIZE):
        chunk = todo[start : start + COPY_SHARD_SIZE]
        rows = table.loc[chunk].reset_index().to_dict("records")
        out.write_shard(
            ShardContent(
                rows=rows,
                sequences={name: {t: found[t] for t in chunk} for name, found in sequences.items()},
            )
        )
    return out
