"""The :class:`Predictor`: load bundles, score files, put the pieces of a prediction together.

The headline is made from exactly the input the model was trained on (the bundle's
``audio_input``: the whole file, or a window of given length and offset), computed by the same
:class:`~autoenchorder.audio.processor.AudioProcessor` ``extract`` uses -- so a training song
scored by ``predict`` gets the model's own in-sample prediction. Windows spread over the song
are scored too, as a timeline view (``windows``, ``window_sd``), never as the headline of a
whole-file model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autoenchorder.audio.io import discover_audio
from autoenchorder.audio.processor import (
    PREVIEW_SECONDS,
    DecodedAudio,
    InputSpec,
    analysis_windows,
)
from autoenchorder.errors import AudioError, AutoenchorderError, ModelError
from autoenchorder.metrics import BAND_NAMES, popularity_band
from autoenchorder.predict.contributions import occlusion_contributions
from autoenchorder.predict.inputs import ModelInputs
from autoenchorder.predict.result import PredictionFailure, SongPrediction
from autoenchorder.predict.uncertainty import (
    NO_UNCERTAINTY,
    ensemble_spread,
    mc_dropout_spread,
)

if TYPE_CHECKING:
    from autoenchorder.audio.embed.base import Embedder
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.models.base import Model

#: Length of the timeline view's windows for whole-file models, seconds.
WINDOW_SECONDS: float = PREVIEW_SECONDS

Span = tuple[float, float]


class Predictor:
    """Score audio files with one trained model or an ensemble of them.

    Parameters
    ----------
    models : sequence of Model
        Fitted models of the same kind (several: an ensemble, e.g. one per seed).
    feature_spec : dict, optional
        The bundle's feature spec (columns per group, sequence dim, embedder, lowlevel compat,
        audio input).
    embedder : Embedder, optional
        The embedder for the sequence part (default: the one the spec names).
    window_seconds : float
        Length of the timeline view's windows for a whole-file model (30 s); a window model's
        view uses its own window length.
    max_windows : int
        Windows of the timeline view per long song (3; 0: no view). For a model trained on
        windows at an unknown position (SpotGenTrack's previews) these windows are also its
        input, and the headline is their mean.
    mc_passes : int
        Forward passes for MC dropout when there is one model with dropout (30; 0 turns it off).
    contributions : bool
        Compute per-frame occlusion contributions (models with a sequence part).
    seed : int
        Seed of the MC dropout passes.
    input_spec : InputSpec, optional
        Override the part of a file the model reads (default: the spec's ``audio_input``;
        none recorded: the whole file).
    threads : int, optional
        Threads that compute a song's spans and embedder batches side by side, one core each
        (default: torch's thread count when a song is scored; see :class:`ModelInputs`).
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
        input_spec: InputSpec | None = None,
        threads: int | None = None,
    ) -> None:
        if not models:
            raise ModelError("a Predictor needs at least one model")
        self.models = list(models)
        self.feature_spec = dict(feature_spec or {})
        self.max_windows = int(max_windows)
        self.mc_passes = int(mc_passes)
        self.contributions = bool(contributions)
        self.seed = int(seed)
        self.task = getattr(self.models[0], "task_", "regression")
        self.parts = tuple(dict.fromkeys(p for m in self.models for p in m.required_parts))
        self.inputs = ModelInputs(
            self.parts,
            self.feature_spec,
            default_lowlevel_columns=getattr(self.models[0], "feature_names_", None),
            embedder=embedder,
            input_spec=input_spec,
            threads=threads,
        )
        self.input_spec = self.inputs.input_spec
        self.processor = self.inputs.processor
        self.window_seconds = float(self.input_spec.window or window_seconds)
        self.lowlevel_columns = self.inputs.lowlevel_columns
        self.embedder = self.inputs.embedder
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

        paths = [p for b in bundles for p in bundle_paths(b)]
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
        first = self.processor.decode(path)
        return self._score(
            str(path),
            first,
            lambda span: self.processor.decode(path, span=span),
        )

    def predict_signal(self, y: np.ndarray, sr: int, *, name: str = "<signal>") -> SongPrediction:
        """Score a mono signal already in memory (the same inputs as a file of that signal)."""
        first = self.processor.from_signal(y, sr, name=name)
        return self._score(
            name, first, lambda span: self.processor.from_signal(y, sr, span=span, name=name)
        )

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

    def input_dataset(
        self, spans: Sequence[DecodedAudio], *, frames_from: Mapping[int, int] | None = None
    ) -> PopularityDataset:
        """The model's inputs of decoded spans, one row per span (see :class:`ModelInputs`)."""
        return self.inputs.dataset(spans, frames_from=frames_from)

    # ---------------------------------------------------------------- the pieces
    def _score(
        self, path: str, first: DecodedAudio, decode: Callable[[Span], DecodedAudio]
    ) -> SongPrediction:
        """Score a song whose first input span is decoded; ``decode`` gives any other span."""
        duration = first.duration
        headline = self.input_spec.spans(duration, max_windows=self.max_windows)
        view = (
            analysis_windows(
                duration, window_seconds=self.window_seconds, max_windows=self.max_windows
            )
            if self.max_windows > 0
            else []
        )
        spans = list(dict.fromkeys([*headline, *view]))  # a span in both is scored once
        decoded = {(first.start, first.length): first}
        audio = [decoded.get(span) or decode(span) for span in spans]
        headline_rows = [spans.index(s) for s in headline]
        view_rows = [spans.index(s) for s in view]
        ds = self.input_dataset(audio, frames_from=self._view_frames_from(audio, headline_rows))
        if self.task == "classification":
            return self._classify(path, duration, ds, spans, headline_rows, view_rows)
        per_model = np.stack([m.predict(ds) for m in self.models])  # [M, rows]
        per_row = per_model.mean(axis=0)
        members = per_model[:, headline_rows].mean(axis=1)  # each member's headline
        popularity = float(members.mean())
        if len(self.models) > 1:
            uncertainty, method = ensemble_spread(members)
        elif self.mc_passes >= 2:
            uncertainty, method = mc_dropout_spread(
                self.models[0], ds.take(headline_rows), passes=self.mc_passes, seed=self.seed
            )
        else:
            uncertainty, method = NO_UNCERTAINTY
        view_values = per_row[view_rows]
        contributions = []
        if self.contributions:
            contributions = occlusion_contributions(
                ds.take(headline_rows),
                headline,
                per_row[headline_rows],
                self._ensemble_mean,
                frame_seconds=getattr(self.embedder, "window_seconds", 0.0),
            )
        return SongPrediction(
            path=path,
            popularity=popularity,
            band=BAND_NAMES[int(popularity_band(np.array([popularity]))[0])],
            uncertainty=uncertainty,
            uncertainty_method=method,
            duration=float(duration),
            windows=[
                {"start": s, "end": s + n, "popularity": float(p)}
                for (s, n), p in zip(view, view_values, strict=True)
            ],
            window_sd=float(view_values.std()) if len(view) else 0.0,
            contributions=contributions,
            input=self.input_spec.describe(),
        )

    def _view_frames_from(
        self, audio: Sequence[DecodedAudio], headline_rows: Sequence[int]
    ) -> dict[int, int]:
        """Timeline-only rows whose embedder frames are sliced from the whole file's.

        A whole-file model embeds the whole song for its headline; the timeline's windows
        then take their frames from it instead of running the embedder again over the same
        audio (their windows sit on the whole file's grid). The headline is never sliced.
        """
        whole = [i for i in headline_rows if audio[i].whole_file]
        if self.embedder is None or not whole:
            return {}
        return {i: whole[0] for i in range(len(audio)) if i not in headline_rows}

    def _ensemble_mean(self, ds: PopularityDataset) -> np.ndarray:
        return np.mean([m.predict(ds) for m in self.models], axis=0)

    def _probabilities(self, ds: PopularityDataset) -> np.ndarray:
        """Every member's class probabilities, shape (M, rows, C).

        scikit-learn's contract: ``predict_proba`` gives the probabilities, ``predict`` the
        labels; an ensemble's label is the most probable class of its mean probabilities.
        """
        return np.stack([np.asarray(m.predict_proba(ds)) for m in self.models])

    def _classify(
        self,
        path: str,
        duration: float,
        ds: PopularityDataset,
        spans: list[Span],
        headline_rows: list[int],
        view_rows: list[int],
    ) -> SongPrediction:
        per_model = self._probabilities(ds)  # [M, rows, C]
        probabilities = per_model[:, headline_rows].mean(axis=(0, 1))
        best = int(np.argmax(probabilities))
        return SongPrediction(
            path=path,
            popularity=float("nan"),
            band=str(self.class_names[best]),
            uncertainty=float("nan"),
            uncertainty_method="none",
            duration=float(duration),
            windows=[
                {"start": s, "end": s + n, "popularity": float("nan")}
                for s, n in (spans[r] for r in view_rows)
            ],
            class_probabilities={
                str(c): float(p) for c, p in zip(self.class_names, probabilities, strict=True)
            },
            input=self.input_spec.describe(),
        )


def bundle_paths(path: str | Path) -> list[Path]:
    """A bundle folder, or a folder of bundle folders (an ensemble)."""
    from autoenchorder.bundle import JSON_FILE  # noqa: PLC0415

    path = Path(path)
    if (path / JSON_FILE).exists() or path.name == JSON_FILE:
        return [path]
    members = sorted(p.parent for p in path.glob(f"*/{JSON_FILE}"))
    if not members:
        raise ModelError(f"{path}: neither a bundle (no {JSON_FILE}) nor a folder of bundles")
    return members


def expand_paths(paths: Iterable[str | Path], failures: list[PredictionFailure]) -> list[Path]:
    """Expand folders into their audio files; record paths that do not exist as failures."""
    found: list[Path] = []
    for path in paths:
        try:
            found.extend(discover_audio(path))
        except AudioError as exc:
            failures.append(PredictionFailure(str(path), exc.reason))
    return found
