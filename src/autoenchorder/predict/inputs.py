"""Audio -> the rows a bundle's model reads, through the same processor ``extract`` uses.

:class:`ModelInputs` reads a bundle's feature spec (the low-level columns, their ``compat`` mode,
the embedder, the ``audio_input`` the training features came from), builds the
:class:`~autoenchorder.audio.processor.AudioProcessor` for it and turns decoded spans of a song
into a :class:`~autoenchorder.data.dataset.PopularityDataset`, one row per span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoenchorder.audio.embed.base import Embedding
from autoenchorder.audio.processor import AudioProcessor, DecodedAudio, InputSpec
from autoenchorder.errors import AudioError, ModelError
from autoenchorder.side_by_side import side_by_side

if TYPE_CHECKING:
    from autoenchorder.audio.embed.base import Embedder
    from autoenchorder.data.dataset import PopularityDataset

#: Embedders guessed from the sequence width when a bundle does not name its embedder.
EMBEDDER_BY_DIM: dict[int, str] = {200: "musicnn-msd", 128: "vggish"}
#: Inputs that can be computed from audio.
AUDIO_PARTS: frozenset[str] = frozenset({"lowlevel", "sequences"})


class ModelInputs:
    """Compute, from audio, the inputs a bundle's model reads.

    Parameters
    ----------
    parts : sequence of str
        The model's required parts (``"lowlevel"`` and/or ``"sequences"``).
    feature_spec : dict
        The bundle's feature spec.
    default_lowlevel_columns : sequence of str or None
        The model's own feature names, used when the spec lists no low-level columns.
    embedder : Embedder or None
        The embedder for the sequence part (default: the one the spec names).
    input_spec : InputSpec or None
        The part of a file the model reads (default: the spec's ``audio_input``; none recorded
        means the whole file).
    threads : int or None
        Threads that compute a song's spans side by side, one core each (default: torch's
        thread count at the time; 1 runs them one after another with multi-threaded kernels).

    Raises
    ------
    ModelError
        The model reads inputs audio cannot give, or low-level columns that are not
        SpotGenTrack's, or its embedder cannot be told.
    """

    def __init__(
        self,
        parts: Sequence[str],
        feature_spec: dict[str, Any],
        *,
        default_lowlevel_columns: Sequence[str] | None = None,
        embedder: Embedder | None = None,
        input_spec: InputSpec | None = None,
        threads: int | None = None,
    ) -> None:
        missing = [p for p in parts if p not in AUDIO_PARTS]
        if missing:
            raise ModelError(
                f"this model reads {', '.join(missing)}, which cannot be computed from audio "
                "(Spotify descriptors, lyrics or metadata); only audio models can score songs"
            )
        self.parts = tuple(parts)
        self.feature_spec = feature_spec
        self.threads = threads
        self.lowlevel_columns = self._lowlevel_columns(default_lowlevel_columns)
        if "sequences" in self.parts and embedder is None:
            embedder = self._default_embedder()
        self.input_spec = input_spec or InputSpec.from_dict(feature_spec.get("audio_input"))
        self.processor = AudioProcessor(
            self.input_spec,
            compat=str(feature_spec.get("lowlevel_compat", "spotgentrack")),
            embedder=embedder if "sequences" in self.parts else None,
        )

    @property
    def embedder(self) -> Embedder | None:
        """The embedder of the sequence part (None without one)."""
        return self.processor.embedder

    def _lowlevel_columns(self, default: Sequence[str] | None) -> list[str] | None:
        if "lowlevel" not in self.parts:
            return None
        from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415

        columns = (self.feature_spec.get("columns") or {}).get("lowlevel") or default
        columns = list(columns) if columns else list(LOWLEVEL_COLUMNS)
        unknown = sorted(set(columns) - set(LOWLEVEL_COLUMNS))
        if unknown:
            raise ModelError(f"the model's low-level columns are not SpotGenTrack's: {unknown[:5]}")
        return columns

    def _default_embedder(self) -> Embedder:
        from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415

        named = self.feature_spec.get("embedder") or {}
        name = named.get("name") if isinstance(named, dict) else named
        # The training sequences' precision (absent: float32, the embedders' default).
        precision = named.get("precision") if isinstance(named, dict) else None
        options = {"precision": precision} if precision else {}
        if not name:
            dim = self.feature_spec.get("sequence_dim")
            name = EMBEDDER_BY_DIM.get(int(dim)) if dim else "musicnn-msd"
            if name is None:
                raise ModelError(
                    f"the bundle names no embedder and no embedder gives {dim}-d frames"
                )
        return get_embedder(str(name), **options)

    def dataset(
        self, spans: Sequence[DecodedAudio], *, frames_from: Mapping[int, int] | None = None
    ) -> PopularityDataset:
        """The model's inputs of decoded spans: one dataset row per span.

        Parameters
        ----------
        spans : sequence of DecodedAudio
            From ``self.processor.decode`` / ``from_signal``.
        frames_from : mapping of int to int, optional
            ``{row: source_row}``: the embedder frames of ``row`` are those of ``source_row``
            (a span containing it, e.g. the whole file) whose windows lie inside ``row``'s
            span, instead of being computed again (see :func:`frames_within`). Their windows
            then sit on the source's grid, up to one hop later than the span's own would.

        Returns
        -------
        PopularityDataset
            Rows ``s0, s1 ...``; the ``lowlevel`` group (the bundle's columns, in its order)
            and/or the embedder's sequences with their times (seconds from the span start).

        Raises
        ------
        AudioError
            A span too short for the features, or features undefined (digital silence).
        """
        from autoenchorder.data.dataset import PopularityDataset  # noqa: PLC0415

        n = len(spans)
        tabular = pd.DataFrame(index=pd.RangeIndex(n))
        groups: dict[str, list[str]] = {}
        rows, embeddings = self._computed(spans, dict(frames_from or {}))
        if self.lowlevel_columns is not None:
            from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415

            table = pd.DataFrame(np.vstack(rows), columns=list(LOWLEVEL_COLUMNS))
            if not np.isfinite(table[self.lowlevel_columns].to_numpy()).all():
                where = spans[0].path if spans else None
                raise AudioError(where, "low-level features are undefined (digital silence?)")
            tabular = table[self.lowlevel_columns]
            groups["lowlevel"] = list(self.lowlevel_columns)
        sequences = times = None
        if embeddings is not None:
            sequences = [e.frames for e in embeddings]
            times = [e.times for e in embeddings]
        return PopularityDataset(
            ids=np.array([f"s{i}" for i in range(n)]),
            y=np.zeros(n),
            tabular=tabular,
            column_groups=groups,
            sequences=sequences,
            sequence_times=times,
            name="predict",
        )

    def _computed(
        self, spans: Sequence[DecodedAudio], frames_from: dict[int, int]
    ) -> tuple[list[np.ndarray] | None, list[Embedding] | None]:
        """The spans' low-level rows and embeddings (each None when the model reads none).

        With more than one thread they run side by side (:mod:`autoenchorder.side_by_side`):
        each span's features on one worker, the embedder's batches on the others. The
        features of a single span alone run on multi-threaded kernels instead (faster there).
        """
        wants_rows = self.lowlevel_columns is not None
        wants_sequences = "sequences" in self.parts
        threads = self.threads if self.threads is not None else _torch_threads()
        pieces = len(spans) > 1 or (wants_sequences and len(spans) == 1)
        with side_by_side(threads if pieces else 1) as pool:
            if pool is None:
                rows = [self.processor.lowlevel(a) for a in spans] if wants_rows else None
                embeddings = self._embeddings(spans, frames_from) if wants_sequences else None
                return rows, embeddings
            pending = [pool.submit(self.processor.lowlevel, a) for a in spans] if wants_rows else []
            try:
                embeddings = self._embeddings(spans, frames_from) if wants_sequences else None
            finally:
                # A span's features error is raised first, as when the features ran first.
                rows = [future.result() for future in pending] if wants_rows else None
            return rows, embeddings

    def _embeddings(
        self, spans: Sequence[DecodedAudio], frames_from: dict[int, int]
    ) -> list[Embedding]:
        """Every span's embedding; rows of ``frames_from`` sliced from their source's."""
        computed = {
            i: self.processor.embed(audio)
            for i, audio in enumerate(spans)
            if i not in frames_from or frames_from[i] in frames_from
        }
        embeddings = []
        for i, audio in enumerate(spans):
            if i not in computed:
                source = frames_from[i]
                sliced = frames_within(
                    computed[source],
                    audio.start - spans[source].start,
                    audio.length,
                    window_seconds=float(self.embedder.window_seconds),
                )
                computed[i] = sliced if sliced is not None else self.processor.embed(audio)
            embeddings.append(computed[i])
        return embeddings


def frames_within(
    embedding: Embedding, start: float, length: float, *, window_seconds: float
) -> Embedding | None:
    """The frames of ``embedding`` whose windows lie in ``[start, start + length]``.

    Parameters
    ----------
    embedding : Embedding
        Frames [T, D] with their start times (seconds from the source's start).
    start, length : float
        The span, seconds from the source's start.
    window_seconds : float
        Length of one embedder window.

    Returns
    -------
    Embedding or None
        The frames inside the span, times from the span's start; None when no whole window
        fits (the caller then embeds the span itself).
    """
    tolerance = 1e-6
    inside = (embedding.times >= start - tolerance) & (
        embedding.times + window_seconds <= start + length + tolerance
    )
    if not inside.any():
        return None
    return Embedding(embedding.frames[inside], embedding.times[inside] - start)


def _torch_threads() -> int:
    import torch  # noqa: PLC0415

    return int(torch.get_num_threads())
