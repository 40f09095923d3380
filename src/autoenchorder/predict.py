"""Score songs with a trained bundle: popularity 0-100, its band, an uncertainty, and when.

``Predictor.load(bundle).predict("song.mp3")`` computes from the audio what the bundle's model
reads -- the 207 low-level features and, for models with a sequence part, the embedder's
frames -- and returns a :class:`SongPrediction`.

How a song is analysed
----------------------
The models were trained on 30 s clips (Spotify previews; the procedural corpus is 10-30 s), so
a song is scored the same way: on **30 s windows** at the file's native rate (HitMusicNet's
features are never resampled). A clip of at most 30 s is one window. A longer song is scored on
up to ``max_windows`` (default 3) non-overlapping 30 s windows spread evenly over it; each is
decoded on its own (``load_audio`` with an offset), so a full-length song never sits in memory
whole, and the time spent does not grow with its length. The song's popularity is the mean of
its windows' predictions; their spread is reported as ``window_sd``.

Uncertainty
-----------
- **Ensemble** (several bundles, e.g. one per seed: ``Predictor.load(b1, b2, ...)`` or a
  folder of bundle folders): the standard deviation of the members' song-level predictions.
- **MC dropout** (one bundle whose network has dropout, e.g. HitMusicNet's 0.25): dropout is
  kept on at prediction time for ``mc_passes`` (default 30) seeded forward passes; the standard
  deviation of the passes' song-level predictions.
- Otherwise none is available (``uncertainty`` is NaN, ``uncertainty_method`` says "none").

Contributions over time
-----------------------
For models with a sequence part, each embedding frame's contribution is measured by occlusion:
the frame is replaced by the mean frame of its window and the window is scored again;
``contribution = prediction(original) - prediction(occluded)`` in popularity points. Positive:
that stretch of audio raised the prediction. One value per embedder frame (3 s for musicnn,
0.96 s for VGGish), with its start and end time in the song.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from autoenchorder.audio.io import audio_info, discover_audio, load_audio
from autoenchorder.errors import AudioError, AutoenchorderError, ModelError
from autoenchorder.evaluate.metrics import BAND_NAMES, popularity_band

if TYPE_CHECKING:
    from autoenchorder.audio.embed.base import Embedder
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models.base import Model

#: Length of the analysis window, seconds: the 30 s previews the models were trained on.
WINDOW_SECONDS: float = 30.0
#: Shortest trailing part of a song worth a window of its own, seconds.
MIN_WINDOW_SECONDS: float = 5.0
#: Embedders guessed from the sequence width when a bundle does not name its embedder.
EMBEDDER_BY_DIM: dict[int, str] = {200: "musicnn-msd", 128: "vggish"}
#: Inputs that can be computed from audio.
AUDIO_PARTS: frozenset[str] = frozenset({"lowlevel", "sequences"})


@dataclass(frozen=True)
class SongPrediction:
    """One song's prediction.

    Attributes
    ----------
    path : str
    popularity : float
        Predicted popularity 0-100 (NaN for a classification bundle).
    band : str
        ``"low"`` (< 25), ``"mid"`` (25-64) or ``"high"`` (>= 65).
    uncertainty : float
        Standard deviation of the prediction in popularity points (NaN if unavailable).
    uncertainty_method : str
        How it was made: ``"ensemble of N bundles"``, ``"MC dropout, N passes"`` or ``"none"``.
    duration : float
        Length of the file, seconds.
    windows : list of dict
        Each analysed window: ``start``, ``end`` (seconds), ``popularity``.
    window_sd : float
        Standard deviation of the windows' predictions (0 for one window).
    contributions : list of dict
        Per embedder frame: ``start``, ``end`` (seconds in the song), ``contribution``
        (popularity points); empty for models without a sequence part.
    class_probabilities : dict of str to float
        For classification bundles: the probability of each band.
    """

    path: str
    popularity: float
    band: str
    uncertainty: float
    uncertainty_method: str
    duration: float
    windows: list[dict[str, float]] = field(default_factory=list)
    window_sd: float = 0.0
    contributions: list[dict[str, float]] = field(default_factory=list)
    class_probabilities: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (NaN becomes None)."""
        return _nan_to_none(asdict(self))

    def summary(self) -> dict[str, Any]:
        """Return one flat row for CSV output."""
        return {
            "path": self.path,
            "popularity": self.popularity,
            "band": self.band,
            "uncertainty": self.uncertainty,
            "uncertainty_method": self.uncertainty_method,
            "duration": self.duration,
            "n_windows": len(self.windows),
            "window_sd": self.window_sd,
            "error": "",
        }


@dataclass(frozen=True)
class PredictionFailure:
    """A file that could not be scored, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-able dict."""
        return {"path": self.path, "error": self.reason}


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def analysis_windows(
    duration: float, *, window_seconds: float = WINDOW_SECONDS, max_windows: int = 3
) -> list[tuple[float, float]]:
    """Choose the windows a song is scored on.

    Parameters
    ----------
    duration : float
        Song length, seconds.
    window_seconds : float
        Window length.
    max_windows : int
        At most this many windows, spread evenly (first at 0, last ending at the end).

    Returns
    -------
    list of (start, length)
        In seconds, sorted, non-overlapping.
    """
    if duration <= window_seconds:
        return [(0.0, duration)]
    n_fit = int(duration // window_seconds)
    if duration - n_fit * window_seconds >= MIN_WINDOW_SECONDS:
        n_fit += 1  # the windows can then be spread to cover the tail too
    count = max(1, min(max_windows, n_fit))
    if count == 1:
        start = (duration - window_seconds) / 2.0  # the middle of the song
        return [(start, window_seconds)]
    starts = np.linspace(0.0, duration - window_seconds, count)
    return [(float(s), window_seconds) for s in starts]


@contextlib.contextmanager
def mc_dropout(models: Sequence[Model]) -> Iterator[int]:
    """Keep every dropout layer of the models active, even in eval mode, inside the block.

    Yields
    ------
    int
        Number of dropout layers with ``p > 0`` found (0: MC dropout has no effect).
    """
    import torch.nn.functional as F  # noqa: PLC0415
    from torch import nn  # noqa: PLC0415

    layers = [
        m
        for module in _torch_modules(models)
        for m in module.modules()
        if isinstance(m, nn.Dropout) and m.p > 0
    ]
    for layer in layers:
        layer.forward = lambda x, p=layer.p: F.dropout(x, p, training=True)  # type: ignore[method-assign]
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward


def _torch_modules(objects: Iterable[Any], seen: set[int] | None = None) -> list[Any]:
    """Find the torch modules held by models (and by models inside them, like LossNet's HMN)."""
    from torch import nn  # noqa: PLC0415

    from autoenchorder.models.base import Model  # noqa: PLC0415

    seen = set() if seen is None else seen
    found = []
    for obj in objects:
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for attribute in vars(obj).values():
            # A model may hold modules directly, in a list (several heads), or inside a model.
            values = attribute if isinstance(attribute, list | tuple) else [attribute]
            for value in values:
                if isinstance(value, nn.Module):
                    found.append(value)
                elif isinstance(value, Model):
                    found.extend(_torch_modules([value], seen))
    return found


def _bundle_paths(path: str | Path) -> list[Path]:
    """A bundle folder, or a folder of bundle folders (an ensemble)."""
    from autoenchorder.bundle import JSON_FILE  # noqa: PLC0415

    path = Path(path)
    if (path / JSON_FILE).exists() or path.name == JSON_FILE:
        return [path]
    members = sorted(p.parent for p in path.glob(f"*/{JSON_FILE}"))
    if not members:
        raise ModelError(f"{path}: neither a bundle (no {JSON_FILE}) nor a folder of bundles")
    return members


class Predictor:
    """Score audio files with one trained model or an ensemble of them.

    Parameters
    ----------
    models : sequence of Model
        Fitted models of the same kind (several: an ensemble, e.g. one per seed).
    feature_spec : dict, optional
        The bundle's feature spec (columns per group, sequence dim, embedder, lowlevel compat).
    embedder : Embedder, optional
        The embedder for the sequence part (default: the one the spec names).
    window_seconds : float
        Analysis window length (30 s).
    max_windows : int
        Windows scored per long song (3).
    mc_passes : int
        Forward passes for MC dropout when there is one model with dropout (30; 0 turns it off).
    contributions : bool
        Compute per-frame occlusion contributions (models with a sequence part).
    seed : int
        Seed of the MC dropout passes.
    """

    def __init__(
        self,
        models: Sequence[Model],
        *,
        feature_spec: dict[str, Any] | None = None,
        embedder: Embedder | None = None,
        window_seconds: float = WINDOW_SECONDS,
        max_windows: int = 3,
        mc_passes: int = 30,
        contributions: bool = True,
        seed: int = 0,
    ) -> None:
        if not models:
            raise ModelError("a Predictor needs at least one model")
        self.models = list(models)
        self.feature_spec = dict(feature_spec or {})
        self.window_seconds = float(window_seconds)
        self.max_windows = int(max_windows)
        self.mc_passes = int(mc_passes)
        self.contributions = bool(contributions)
        self.seed = int(seed)
        self.task = getattr(self.models[0], "task_", "regression")
        self.parts = tuple(dict.fromkeys(p for m in self.models for p in m.required_parts))
        missing = [p for p in self.parts if p not in AUDIO_PARTS]
        if missing:
            raise ModelError(
                f"this model reads {', '.join(missing)}, which cannot be computed from audio "
                "(Spotify descriptors, lyrics or metadata); only audio models can score songs"
            )
        self.lowlevel_columns = self._lowlevel_columns()
        self.compat = str(self.feature_spec.get("lowlevel_compat", "spotgentrack"))
        self.embedder = embedder
        if "sequences" in self.parts and self.embedder is None:
            self.embedder = self._default_embedder()
        self.class_names = list(
            self.feature_spec.get("class_names")
            or getattr(self.models[0], "class_names_", BAND_NAMES)
        )

    @classmethod
    def load(cls, *bundles: str | Path, **options: Any) -> Predictor:
        """Load one bundle, several (an ensemble), or a folder of bundle folders.

        Parameters
        ----------
        *bundles : str or Path
        **options
            Passed to :class:`Predictor` (``max_windows``, ``mc_passes`` ...).

        Returns
        -------
        Predictor

        Raises
        ------
        ModelError
            A bundle is missing or invalid, the members disagree on their inputs, or the
            model needs inputs audio cannot give.
        """
        from autoenchorder.bundle import load_bundle  # noqa: PLC0415

        paths = [p for b in bundles for p in _bundle_paths(b)]
        if not paths:
            raise ModelError("no bundle given")
        models = [load_bundle(p) for p in paths]
        specs = [getattr(m, "bundle_info_", {}).get("feature_spec") or {} for m in models]
        names = {getattr(m, "name", "") for m in models}
        if len(names) > 1 or any(s != specs[0] for s in specs[1:]):
            raise ModelError(
                f"the bundles of an ensemble must be one model on one feature spec; got {names}"
            )
        return cls(models, feature_spec=specs[0], **options)

    # ---------------------------------------------------------------- setup helpers
    def _lowlevel_columns(self) -> list[str] | None:
        if "lowlevel" not in self.parts:
            return None
        from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS  # noqa: PLC0415

        columns = (self.feature_spec.get("columns") or {}).get("lowlevel")
        columns = (
            list(columns)
            if columns
            else list(getattr(self.models[0], "feature_names_", LOWLEVEL_COLUMNS))
        )
        unknown = sorted(set(columns) - set(LOWLEVEL_COLUMNS))
        if unknown:
            raise ModelError(f"the model's low-level columns are not SpotGenTrack's: {unknown[:5]}")
        return columns

    def _default_embedder(self) -> Embedder:
        from autoenchorder.audio.embed import get_embedder  # noqa: PLC0415

        named = self.feature_spec.get("embedder") or {}
        name = named.get("name") if isinstance(named, dict) else named
        if not name:
            dim = self.feature_spec.get("sequence_dim")
            name = EMBEDDER_BY_DIM.get(int(dim)) if dim else "musicnn-msd"
            if name is None:
                raise ModelError(
                    f"the bundle names no embedder and no embedder gives {dim}-d frames"
                )
        return get_embedder(str(name))

    # ---------------------------------------------------------------- scoring
    def predict(self, path: str | Path) -> SongPrediction:
        """Score one audio file.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        SongPrediction

        Raises
        ------
        AudioError
            The file cannot be decoded or is too short for the features.
        """
        info = audio_info(path)
        windows = analysis_windows(
            info.duration, window_seconds=self.window_seconds, max_windows=self.max_windows
        )
        signals = [load_audio(path, offset=start, duration=length) for start, length in windows]
        return self._score(str(path), info.duration, windows, signals)

    def predict_signal(self, y: np.ndarray, sr: int, *, name: str = "<signal>") -> SongPrediction:
        """Score a mono signal already in memory (same windows as a file of that length)."""
        y = np.asarray(y, dtype=np.float32)
        duration = y.size / float(sr)
        windows = analysis_windows(
            duration, window_seconds=self.window_seconds, max_windows=self.max_windows
        )
        signals = [
            (y[int(round(s * sr)) : int(round(s * sr)) + int(round(n * sr))], int(sr))
            for s, n in windows
        ]
        return self._score(name, duration, windows, signals)

    def predict_many(
        self, paths: Iterable[str | Path], *, progress: Callable[[str], None] | None = None
    ) -> tuple[list[SongPrediction], list[PredictionFailure]]:
        """Score files and folders (searched recursively); bad files are reported, not raised.

        Parameters
        ----------
        paths : iterable of str or Path
            Audio files or folders.
        progress : callable, optional
            Called with each file's path after it is done.

        Returns
        -------
        predictions : list of SongPrediction
        failures : list of PredictionFailure
        """
        predictions, failures = [], []
        for path in expand_paths(paths, failures):
            try:
                predictions.append(self.predict(path))
            except AutoenchorderError as exc:
                failures.append(
                    PredictionFailure(str(path), getattr(exc, "reason", None) or str(exc))
                )
            if progress is not None:
                progress(str(path))
        return predictions, failures

    def window_dataset(
        self, signals: Sequence[tuple[np.ndarray, int]], path: str
    ) -> PopularityDataset:
        """Compute the model's inputs for each analysis window: one dataset row per window.

        Parameters
        ----------
        signals : sequence of (np.ndarray, int)
            Mono float32 samples of each window at the file's native rate, and that rate.
        path : str
            The file, named in errors.

        Returns
        -------
        PopularityDataset
            Rows ``w0, w1 ...``; the ``lowlevel`` group (the bundle's columns, in its order)
            and/or the embedder's sequences with their times (seconds from the window start).

        Raises
        ------
        AudioError
            A window too short for the features, or features undefined (digital silence).
        """
        from autoenchorder.data.dataset import PopularityDataset  # noqa: PLC0415

        n = len(signals)
        tabular = pd.DataFrame(index=pd.RangeIndex(n))
        groups: dict[str, list[str]] = {}
        if self.lowlevel_columns is not None:
            from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS, extract_lowlevel  # noqa: PLC0415

            rows = []
            for y, sr in signals:
                try:
                    rows.append(extract_lowlevel(y, sr, compat=self.compat))
                except AudioError as exc:
                    raise AudioError(path, exc.reason) from None
            table = pd.DataFrame(np.vstack(rows), columns=list(LOWLEVEL_COLUMNS))
            if not np.isfinite(table[self.lowlevel_columns].to_numpy()).all():
                raise AudioError(path, "low-level features are undefined (digital silence?)")
            tabular = table[self.lowlevel_columns]
            groups["lowlevel"] = list(self.lowlevel_columns)
        sequences = times = None
        if "sequences" in self.parts:
            embeddings = []
            for y, sr in signals:
                try:
                    embeddings.append(self.embedder.embed(y, sr))
                except AudioError as exc:
                    raise AudioError(path, exc.reason) from None
            sequences = [e.frames for e in embeddings]
            times = [e.times for e in embeddings]
        return PopularityDataset(
            ids=np.array([f"w{i}" for i in range(n)]),
            y=np.zeros(n),
            tabular=tabular,
            column_groups=groups,
            sequences=sequences,
            sequence_times=times,
            name="predict",
        )

    def _predict_all(self, ds: PopularityDataset) -> np.ndarray:
        """Predict with every model: (M, N) popularity or (M, N, C) class probabilities."""
        return np.stack([m.predict(ds) for m in self.models])

    def _score(
        self,
        path: str,
        duration: float,
        windows: list[tuple[float, float]],
        signals: list[tuple[np.ndarray, int]],
    ) -> SongPrediction:
        ds = self.window_dataset(signals, path)
        per_model = self._predict_all(ds)  # [M, W] or [M, W, C]
        if self.task == "classification":
            return self._classify(path, duration, windows, per_model)
        per_window = per_model.mean(axis=0)  # [W]
        popularity = float(per_window.mean())
        uncertainty, method = self._uncertainty(ds, per_model)
        return SongPrediction(
            path=path,
            popularity=popularity,
            band=BAND_NAMES[int(popularity_band(np.array([popularity]))[0])],
            uncertainty=uncertainty,
            uncertainty_method=method,
            duration=float(duration),
            windows=[
                {"start": s, "end": s + n, "popularity": float(p)}
                for (s, n), p in zip(windows, per_window, strict=True)
            ],
            window_sd=float(per_window.std()),
            contributions=self._contributions(ds, windows, per_window)
            if self.contributions
            else [],
        )

    def _classify(
        self,
        path: str,
        duration: float,
        windows: list[tuple[float, float]],
        per_model: np.ndarray,
    ) -> SongPrediction:
        probabilities = per_model.mean(axis=(0, 1))
        best = int(np.argmax(probabilities))
        return SongPrediction(
            path=path,
            popularity=float("nan"),
            band=str(self.class_names[best]),
            uncertainty=float("nan"),
            uncertainty_method="none",
            duration=float(duration),
            windows=[{"start": s, "end": s + n, "popularity": float("nan")} for s, n in windows],
            class_probabilities={
                str(c): float(p) for c, p in zip(self.class_names, probabilities, strict=True)
            },
        )

    def _uncertainty(self, ds: PopularityDataset, per_model: np.ndarray) -> tuple[float, str]:
        if len(self.models) > 1:
            return float(
                per_model.mean(axis=1).std(ddof=1)
            ), f"ensemble of {len(self.models)} bundles"
        if self.mc_passes < 2:
            return float("nan"), "none"
        import torch  # noqa: PLC0415

        with mc_dropout(self.models) as n_layers:
            if n_layers == 0:
                return float("nan"), "none"
            generator_state = torch.get_rng_state()
            torch.manual_seed(self.seed)
            try:
                passes = np.array(
                    [self.models[0].predict(ds).mean() for _ in range(self.mc_passes)]
                )
            finally:
                torch.set_rng_state(generator_state)
        return float(passes.std(ddof=1)), f"MC dropout, {self.mc_passes} passes"

    def _contributions(
        self, ds: PopularityDataset, windows: list[tuple[float, float]], per_window: np.ndarray
    ) -> list[dict[str, float]]:
        if ds.sequences is None:
            return []
        rows, owners = [], []
        for w, frames in enumerate(ds.sequences):
            mean = frames.mean(axis=0, keepdims=True)
            for t in range(len(frames)):
                occluded = frames.copy()
                occluded[t] = mean
                rows.append(occluded)
                owners.append((w, t))
        if not rows:
            return []
        from autoenchorder.data.dataset import PopularityDataset  # noqa: PLC0415

        index = [w for w, _ in owners]
        occluded_ds = PopularityDataset(
            ids=np.array([f"o{i}" for i in range(len(rows))]),
            y=np.zeros(len(rows)),
            tabular=ds.tabular.iloc[index].reset_index(drop=True),
            column_groups=ds.column_groups,
            sequences=rows,
            sequence_times=[ds.sequence_times[w] for w in index],
            name="occlusion",
        )
        predictions = self._predict_all(occluded_ds).mean(axis=0)
        hop = getattr(self.embedder, "window_seconds", 0.0)
        out = []
        for (w, t), value in zip(owners, predictions, strict=True):
            start = windows[w][0] + float(ds.sequence_times[w][t])
            out.append(
                {
                    "start": start,
                    "end": min(start + hop, windows[w][0] + windows[w][1]),
                    "contribution": float(per_window[w] - value),
                }
            )
        return out


def expand_paths(paths: Iterable[str | Path], failures: list[PredictionFailure]) -> list[Path]:
    """Expand folders into their audio files; record paths that do not exist as failures."""
    found: list[Path] = []
    for path in paths:
        try:
            found.extend(discover_audio(path))
        except AudioError as exc:
            failures.append(PredictionFailure(str(path), exc.reason))
    return found
