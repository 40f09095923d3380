"""The one dataset type every source loads into and every model trains on.

A :class:`PopularityDataset` holds, row-aligned, the track ids, the target (Spotify-style
popularity 0-100, or a class label), a tabular part whose columns are organised in named
groups (``descriptors``, ``lowlevel``, ``lyrics``, ``metadata`` ...), an optional ragged
sequence part (one ``[T_i, D]`` array of embedding frames per track) and optional group keys
(the main artist), plus a free-form ``info`` dict where loaders record join losses, the
validation report and the source paths.

Besides the main target ``y``, a dataset may carry ``extra_targets``: further row-aligned
targets of the same songs (e.g. MusicOSet's Billboard year-end score, a hit / non-hit label),
NaN where a song has none. Only models trained on several targets read them (HitMusicNet's
``targets`` option); every other model and the reports see ``y`` alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from autoenchorder.errors import DataError

TASKS = ("regression", "classification")
SEQUENCE_PART = "sequences"
ARTIST_PART = "artist"


@dataclass(eq=False)  # arrays and frames have no single truth value: compare by identity
class PopularityDataset:
    """Tracks, their popularity target and their features, all row-aligned.

    Attributes
    ----------
    ids : np.ndarray, str, shape (N,)
        Unique track ids.
    y : np.ndarray, shape (N,)
        float64 popularity in [0, 100] when ``task="regression"``; int64 class label in
        ``range(len(class_names))`` when ``task="classification"``.
    tabular : pd.DataFrame, shape (N, F)
        Numeric features; row ``i`` belongs to ``ids[i]``; the index is a RangeIndex.
    column_groups : dict of str to list of str
        Named groups of ``tabular`` columns (only groups present), e.g. ``"descriptors"``,
        ``"lowlevel"`` (207 columns), ``"lyrics"``, ``"metadata"``.
    sequences : list of np.ndarray or None
        Ragged sequence part: ``sequences[i]`` is float32 of shape (T_i, D), same D for all.
    sequence_times : list of np.ndarray or None
        ``sequence_times[i]`` of shape (T_i,): start time of each frame in seconds.
    artist : np.ndarray, str, shape (N,), or None
        Group keys (the main artist's id or name); ``""`` means unknown.
    task : str
        ``"regression"`` or ``"classification"``.
    class_names : list of str or None
        Names of the classes for classification (index = label).
    name : str
        Source name, e.g. ``"musicoset"``.
    info : dict
        Provenance: source paths, join losses, validation report, policies used.
    extra_targets : pd.DataFrame, shape (N, K), or None
        Further float64 targets of the same rows (one column per target, NaN = missing for
        that song); what each column means is in ``info["extra_targets"]``.
    partial_popularity : bool
        True: a regression row's popularity may be NaN, a row known only by its extra targets
        (e.g. a Hit Predictor song's hit label added to MusicOSet's training rows,
        :func:`~autoenchorder.train.parts.with_supplement`). Only a model trained on several
        targets uses such rows; every other refuses the dataset. Default False.

    Raises
    ------
    DataError
        If the parts disagree in length, ids repeat, the target is outside its range, a group
        names a column that does not exist, or a sequence is not 2-D with the common width.
    """

    ids: np.ndarray
    y: np.ndarray
    tabular: pd.DataFrame
    column_groups: dict[str, list[str]]
    sequences: list[np.ndarray] | None = None
    sequence_times: list[np.ndarray] | None = None
    artist: np.ndarray | None = None
    task: str = "regression"
    class_names: list[str] | None = None
    name: str = ""
    info: dict = field(default_factory=dict)
    extra_targets: pd.DataFrame | None = None
    partial_popularity: bool = False

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids).astype(str)
        if self.ids.ndim != 1:
            raise DataError(f"ids must be 1-D, got shape {self.ids.shape}")
        n = len(self.ids)
        self._check_ids_unique()
        self._check_target(n)
        self._check_tabular(n)
        self._check_sequences(n)
        self._check_extra_targets(n)
        if self.artist is not None:
            self.artist = np.asarray(self.artist).astype(str)
            if self.artist.shape != (n,):
                raise DataError(f"artist has shape {self.artist.shape}, expected ({n},)")
        self.column_groups = {g: list(cols) for g, cols in self.column_groups.items()}
        self._index: dict[str, int] | None = None

    # ------------------------------------------------------------------ validation helpers
    def _check_ids_unique(self) -> None:
        uniq, counts = np.unique(self.ids, return_counts=True)
        if len(uniq) != len(self.ids):
            dup = uniq[counts > 1]
            raise DataError(f"{len(dup)} duplicate track ids (e.g. {', '.join(map(str, dup[:3]))})")

    def _check_target(self, n: int) -> None:
        if self.task not in TASKS:
            raise DataError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.partial_popularity and self.task != "regression":
            raise DataError("partial_popularity is for a regression dataset (popularity NaN)")
        y = np.asarray(self.y)
        if y.shape != (n,):
            raise DataError(f"y has shape {y.shape}, expected ({n},)")
        if self.task == "regression":
            y = y.astype(np.float64)
            missing = np.isnan(y) if self.partial_popularity else np.zeros(n, dtype=bool)
            with np.errstate(invalid="ignore"):
                bad = ~missing & (~np.isfinite(y) | (y < 0) | (y > 100))
            if bad.any():
                raise DataError(f"{int(bad.sum())} targets are NaN or outside popularity 0-100")
        else:
            if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
                raise DataError("classification labels must be integers")
            y = y.astype(np.int64)
            n_classes = None if self.class_names is None else len(self.class_names)
            if n_classes is not None and y.size and (y.min() < 0 or y.max() >= n_classes):
                raise DataError(f"labels must lie in 0..{n_classes - 1} ({self.class_names})")
        self.y = y

    def _check_tabular(self, n: int) -> None:
        if not isinstance(self.tabular, pd.DataFrame):
            raise DataError("tabular must be a pandas DataFrame")
        if len(self.tabular) != n:
            raise DataError(f"tabular has {len(self.tabular)} rows, expected {n}")
        if not isinstance(self.tabular.index, pd.RangeIndex) or self.tabular.index.start != 0:
            self.tabular = self.tabular.reset_index(drop=True)
        known = set(self.tabular.columns)
        for group, cols in self.column_groups.items():
            missing = [c for c in cols if c not in known]
            if missing:
                raise DataError(
                    f"column group {group!r} names columns not in the table: {missing[:5]}"
                )

    def _check_extra_targets(self, n: int) -> None:
        if self.extra_targets is None:
            return
        if not isinstance(self.extra_targets, pd.DataFrame):
            raise DataError("extra_targets must be a pandas DataFrame")
        if len(self.extra_targets) != n:
            raise DataError(f"extra_targets has {len(self.extra_targets)} rows, expected {n}")
        try:
            values = self.extra_targets.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(f"extra_targets must be numeric (NaN = missing): {exc}") from None
        if np.isinf(values.to_numpy()).any():
            raise DataError("extra_targets hold infinite values (use NaN for a missing target)")
        self.extra_targets = values.reset_index(drop=True)

    def _check_sequences(self, n: int) -> None:
        if self.sequences is None:
            if self.sequence_times is not None:
                raise DataError("sequence_times given without sequences")
            return
        if len(self.sequences) != n:
            raise DataError(f"{len(self.sequences)} sequences for {n} tracks")
        seqs = [np.asarray(s, dtype=np.float32) for s in self.sequences]
        dims = {s.shape[1] for s in seqs if s.ndim == 2}
        if any(s.ndim != 2 for s in seqs) or len(dims) > 1:
            raise DataError(f"sequences must all be [T_i, D] with one D; got widths {dims}")
        self.sequences = seqs
        if self.sequence_times is not None:
            if len(self.sequence_times) != n:
                raise DataError(f"{len(self.sequence_times)} sequence_times for {n} tracks")
            times = [np.asarray(t, dtype=np.float64) for t in self.sequence_times]
            for i, (s, t) in enumerate(zip(seqs, times, strict=True)):
                if t.shape != (s.shape[0],):
                    raise DataError(
                        f"sequence_times[{i}] has shape {t.shape}, expected ({s.shape[0]},)"
                    )
            self.sequence_times = times

    # ------------------------------------------------------------------ basic protocol
    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        groups = ", ".join(f"{g}={len(c)}" for g, c in self.column_groups.items())
        extra = []
        if self.sequences is not None:
            extra.append(f"sequences D={self.sequence_dim}")
        if self.artist is not None:
            extra.append("artist")
        tail = f"; {', '.join(extra)}" if extra else ""
        return f"PopularityDataset({self.name!r}, n={len(self)}, {self.task}, {groups}{tail})"

    @property
    def lengths(self) -> np.ndarray:
        """Sequence lengths.

        Returns
        -------
        np.ndarray, int64, shape (N,)
            ``T_i`` of every track's sequence.

        Raises
        ------
        DataError
            If the dataset has no sequence part.
        """
        self.require(SEQUENCE_PART)
        assert self.sequences is not None
        return np.array([s.shape[0] for s in self.sequences], dtype=np.int64)

    @property
    def sequence_dim(self) -> int | None:
        """Width D of the sequence frames, or ``None`` without sequences (or with N = 0)."""
        if not self.sequences:
            return None
        return int(self.sequences[0].shape[1])

    def fingerprint(self) -> str:
        """SHA-256 of the rows: ids, targets (extra ones too), artists, tabular part, sequences.

        Two datasets with the same fingerprint train any model identically (``info`` and
        ``name`` are not part of it).
        """
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.ids).encode())
        digest.update(np.ascontiguousarray(self.y).tobytes())
        digest.update("\x1f".join(map(str, self.tabular.columns)).encode())
        digest.update(np.ascontiguousarray(self.tabular.to_numpy(np.float64)).tobytes())
        if self.artist is not None:
            digest.update("\x1f".join(self.artist).encode())
        if self.extra_targets is not None:  # absent: the digest of a dataset without them
            digest.update("\x1f".join(map(str, self.extra_targets.columns)).encode())
            digest.update(np.ascontiguousarray(self.extra_targets.to_numpy(np.float64)).tobytes())
        for frames in self.sequences or ():
            digest.update(np.int64(frames.shape[0]).tobytes())
            digest.update(np.ascontiguousarray(frames).tobytes())
        return digest.hexdigest()

    # ------------------------------------------------------------------ selection
    def take(self, index: np.ndarray | Sequence[int]) -> PopularityDataset:
        """Rows at the given positions, every part kept aligned.

        Parameters
        ----------
        index : array-like of int, shape (M,), or bool mask of shape (N,)
            Positions (in the order wanted) or a boolean mask.

        Returns
        -------
        PopularityDataset
            M rows; ``info`` is copied and ``column_groups`` shared by value.
        """
        idx = np.asarray(index)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise DataError(f"mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise DataError(f"positions out of range for a dataset of {len(self)} rows")
        return replace(
            self,
            ids=self.ids[idx],
            y=self.y[idx],
            tabular=self.tabular.iloc[idx].reset_index(drop=True),
            column_groups={g: list(c) for g, c in self.column_groups.items()},
            sequences=None if self.sequences is None else [self.sequences[i] for i in idx],
            sequence_times=(
                None if self.sequence_times is None else [self.sequence_times[i] for i in idx]
            ),
            artist=None if self.artist is None else self.artist[idx],
            class_names=None if self.class_names is None else list(self.class_names),
            info=dict(self.info),
            extra_targets=(
                None
                if self.extra_targets is None
                else self.extra_targets.iloc[idx].reset_index(drop=True)
            ),
        )

    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """Positions of the given ids.

        Parameters
        ----------
        ids : iterable of str, length M

        Returns
        -------
        np.ndarray, int64, shape (M,)

        Raises
        ------
        DataError
            Naming (up to five of) the ids that are not in the dataset.
        """
        if self._index is None:
            self._index = {track: i for i, track in enumerate(self.ids.tolist())}
        wanted = [str(i) for i in ids]
        missing = [i for i in wanted if i not in self._index]
        if missing:
            raise DataError(
                f"{len(missing)} ids not in dataset {self.name!r}: {', '.join(missing[:5])}"
            )
        return np.array([self._index[i] for i in wanted], dtype=np.int64)

    def subset(self, ids: Iterable[str]) -> PopularityDataset:
        """Rows of the given ids, in the given order (so any outside split can be applied).

        Parameters
        ----------
        ids : iterable of str, length M

        Returns
        -------
        PopularityDataset
            M rows.
        """
        return self.take(self.positions(ids))

    # ------------------------------------------------------------------ features
    def _groups(self, groups: str | Sequence[str]) -> list[str]:
        groups = [groups] if isinstance(groups, str) else list(groups)
        unknown = [g for g in groups if g not in self.column_groups]
        if unknown:
            raise DataError(
                f"dataset {self.name!r} has no column group {', '.join(map(repr, unknown))}; "
                f"it has {sorted(self.column_groups)}"
            )
        return groups

    def feature_names(self, groups: str | Sequence[str]) -> list[str]:
        """Column names of the given groups, concatenated in group order.

        Parameters
        ----------
        groups : str or sequence of str

        Returns
        -------
        list of str, length F'
        """
        return [c for g in self._groups(groups) for c in self.column_groups[g]]

    def features(self, groups: str | Sequence[str]) -> np.ndarray:
        """Return the tabular features of the given groups as one matrix.

        Parameters
        ----------
        groups : str or sequence of str
            Group names, e.g. ``["descriptors", "metadata"]``.

        Returns
        -------
        np.ndarray, float64, shape (N, F')
            Columns in ``feature_names(groups)`` order.
        """
        names = self.feature_names(groups)
        return self.tabular[names].to_numpy(dtype=np.float64, copy=True).reshape(len(self), -1)

    def require(self, *parts: str) -> None:
        """Check that the dataset has the parts a model needs.

        Parameters
        ----------
        *parts : str
            ``"sequences"``, ``"artist"`` or column group names.

        Raises
        ------
        DataError
            Naming every missing part and the parts the dataset does have.
        """
        missing = [p for p in parts if not self.has(p)]
        if missing:
            have = list(self.column_groups)
            have += [p for p in (SEQUENCE_PART, ARTIST_PART) if self.has(p)]
            raise DataError(
                f"dataset {self.name!r} lacks {', '.join(missing)} (it has {', '.join(have)})"
            )

    def popularity_known(self) -> np.ndarray:
        """Where the main target is known (all rows unless ``partial_popularity``).

        Returns
        -------
        np.ndarray, bool, shape (N,)
        """
        if self.task != "regression":
            return np.ones(len(self), dtype=bool)
        return np.isfinite(np.asarray(self.y, dtype=np.float64))

    def has(self, part: str) -> bool:
        """Whether ``part`` (``"sequences"``, ``"artist"`` or a group name) is present."""
        if part == SEQUENCE_PART:
            return self.sequences is not None
        if part == ARTIST_PART:
            return self.artist is not None
        return part in self.column_groups

    def with_sequences(
        self, sequences: list[np.ndarray], times: list[np.ndarray] | None = None
    ) -> PopularityDataset:
        """Return a copy with a sequence part attached (row-aligned with ``ids``).

        Parameters
        ----------
        sequences : list of np.ndarray, length N, each float32 (T_i, D)
        times : list of np.ndarray or None, length N, each (T_i,)

        Returns
        -------
        PopularityDataset
        """
        return replace(self, sequences=sequences, sequence_times=times, info=dict(self.info))


#: The 13 Spotify track descriptors ("high-level" audio features), in the Web API's order.
DESCRIPTOR_COLUMNS: tuple[str, ...] = (
    "danceability",
    "energy",
    "key",
    "loudness",
    "mode",
    "speechiness",
    "acousticness",
    "instrumentalness",
    "liveness",
    "valence",
    "tempo",
    "duration_ms",
    "time_signature",
)
