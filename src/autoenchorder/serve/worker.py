"""What runs inside a scoring process: the bundle's Predictor, loaded once, and its answers.

Every function here is called through :class:`~autoenchorder.serve.pool.ScoringPool` and
returns plain JSON-able dicts (exceptions do not cross a process boundary well): a scored song
is ``{"prediction", "coordinates", "waveform"}``; a file that cannot be scored is
``{"failure": reason}`` with the audio stage's reason, which the app turns into a message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from autoenchorder.errors import AutoenchorderError

if TYPE_CHECKING:
    from autoenchorder.audio.processor import DecodedAudio
    from autoenchorder.data.dataset import PopularityDataset
    from autoenchorder.predict import Predictor

log = logging.getLogger(__name__)

#: Points of the waveform sent to the page (peak and RMS per point).
WAVEFORM_POINTS: int = 800

_state: dict[str, Any] = {}


class RecordingInputs:
    """Wraps a Predictor's :class:`~autoenchorder.predict.ModelInputs` and keeps what it made.

    The Predictor computes a song's features once; the code of the song (for its neighbours)
    and its waveform are read from the same decoded spans and input rows instead of decoding
    and analysing the file a second time.
    """

    def __init__(self, inputs: Any) -> None:
        self._inputs = inputs
        self.spans: list[DecodedAudio] = []
        self.dataset: PopularityDataset | None = None

    def dataset_of(
        self, spans: Sequence[DecodedAudio], *, frames_from: Mapping[int, int] | None = None
    ) -> PopularityDataset:
        """Compute the rows (as ModelInputs.dataset) and keep them with their spans."""
        self.spans = list(spans)
        self.dataset = self._inputs.dataset(spans, frames_from=frames_from)
        return self.dataset


def start(bundles: Sequence[str], options: dict[str, Any], threads: int) -> None:
    """Initialise a scoring process: load the bundle once (errors are kept for :func:`ready`).

    Parameters
    ----------
    bundles : sequence of str
        Bundle folders (an ensemble when several).
    options : dict
        :class:`~autoenchorder.predict.Predictor` options (``mc_passes``, ``max_windows``).
    threads : int
        Torch threads of this process (0: leave them as they are).
    """
    try:
        import torch  # noqa: PLC0415

        if threads > 0:
            torch.set_num_threads(int(threads))
        from autoenchorder.predict import Predictor  # noqa: PLC0415

        predictor = Predictor.load(*bundles, **options)
        recorder = RecordingInputs(predictor.inputs)
        predictor.input_dataset = recorder.dataset_of  # type: ignore[method-assign]
        _state.update(predictor=predictor, recorder=recorder, error=None)
        _warm_up(predictor)
    except AutoenchorderError as exc:
        _state.update(predictor=None, error=str(exc))


def _warm_up(predictor: Predictor) -> None:
    """Score a few seconds of noise once, so the first song does not pay for the set-up.

    (Compiling the feature code, loading the embedder's weights, torch's first passes.)
    """
    rate = 22050
    noise = np.random.default_rng(0).normal(0.0, 0.1, 3 * rate).astype(np.float32)
    try:
        predictor.predict_signal(noise, rate, name="warm-up")
    except AutoenchorderError as exc:  # the model may refuse noise; songs are what matter
        log.info("warm-up skipped: %s", exc)


def ready() -> dict[str, Any]:
    """Whether this process loaded the bundle: ``{"pid"}``, or ``{"error"}`` saying why not."""
    if _state.get("predictor") is None:
        return {"pid": os.getpid(), "error": _state.get("error") or "the bundle is not loaded"}
    return {"pid": os.getpid()}


def score(path: str, name: str) -> dict[str, Any]:
    """Score one stored upload.

    Parameters
    ----------
    path : str
        The stored file (in the server's private folder).
    name : str
        The name the client gave it (shown back; never opened).

    Returns
    -------
    dict
        ``prediction`` (:meth:`SongPrediction.to_dict`, ``path`` = ``name``), ``coordinates``
        (the song in the model's code space, raw, or None), ``waveform`` (``peaks``, ``rms``,
        ``duration``); or ``failure`` (the audio stage's reason).
    """
    try:
        scored, _ = _scored(path, name)
        return scored
    except AutoenchorderError as exc:
        return {"failure": getattr(exc, "reason", None) or str(exc)}


def compare(path_a: str, name_a: str, path_b: str, name_b: str) -> dict[str, Any]:
    """Score two versions of a song and the paired uncertainty of their difference.

    Returns
    -------
    dict
        ``a`` and ``b`` as :func:`score` gives them, and ``paired``: ``difference`` (b - a,
        popularity points), ``sd`` (its standard deviation, NaN without one) and ``method``;
        or ``failure`` and ``which`` ("a" or "b").
    """
    try:
        a, rows_a = _scored(path_a, name_a)
    except AutoenchorderError as exc:
        return {"failure": getattr(exc, "reason", None) or str(exc), "which": "a"}
    try:
        b, rows_b = _scored(path_b, name_b)
    except AutoenchorderError as exc:
        return {"failure": getattr(exc, "reason", None) or str(exc), "which": "b"}
    difference = float(b["prediction"]["popularity"] or 0.0) - float(
        a["prediction"]["popularity"] or 0.0
    )
    sd, method = paired_spread(_state["predictor"], rows_a, rows_b)
    return {"a": a, "b": b, "paired": {"difference": difference, "sd": sd, "method": method}}


def paired_spread(
    predictor: Predictor, rows_a: PopularityDataset, rows_b: PopularityDataset
) -> tuple[float | None, str]:
    """The spread of the difference b - a when both songs meet the same model draws.

    An ensemble: each member scores both songs, the spread of the members' differences. One
    model with dropout: each MC dropout pass is seeded the same for both songs (the same
    network draw when they have as many input rows), the spread of the passes' differences.
    What the two versions share cancels out, so this is smaller than either song's own spread.

    Returns
    -------
    sd : float or None
        Standard deviation (ddof 1) of the difference, popularity points; None without one.
    method : str
    """
    models = predictor.models
    if len(models) > 1:
        diffs = [float(np.mean(m.predict(rows_b)) - np.mean(m.predict(rows_a))) for m in models]
        return float(np.std(diffs, ddof=1)), f"paired over an ensemble of {len(models)} bundles"
    passes = predictor.mc_passes
    if passes < 2 or predictor.task != "regression":
        return None, "none"
    import torch  # noqa: PLC0415

    from autoenchorder.predict.uncertainty import mc_dropout  # noqa: PLC0415

    model = models[0]
    with mc_dropout([model]) as n_layers:
        if n_layers == 0:
            return None, "none"
        generator = torch.get_rng_state()
        diffs = []
        try:
            for k in range(passes):
                torch.manual_seed(predictor.seed + k)
                a = float(np.mean(model.predict(rows_a)))
                torch.manual_seed(predictor.seed + k)
                b = float(np.mean(model.predict(rows_b)))
                diffs.append(b - a)
        finally:
            torch.set_rng_state(generator)
    return float(np.std(diffs, ddof=1)), f"paired MC dropout, {passes} passes"


def _scored(path: str, name: str) -> tuple[dict[str, Any], PopularityDataset]:
    """Score a file; return the answer and the song's headline input rows."""
    from autoenchorder.audio.io import is_silent  # noqa: PLC0415
    from autoenchorder.errors import AudioError  # noqa: PLC0415

    predictor: Predictor | None = _state.get("predictor")
    if predictor is None:
        raise AutoenchorderError(_state.get("error") or "the bundle is not loaded")
    recorder: RecordingInputs = _state["recorder"]
    prediction = predictor.predict(path)
    spans, rows = recorder.spans, recorder.dataset
    headline = predictor.input_spec.spans(prediction.duration, max_windows=predictor.max_windows)
    # the Predictor puts the headline spans first (in order), then the other timeline windows
    headline_rows = rows.take(np.arange(len(headline)))
    if all(is_silent(span.samples) for span in spans[: len(headline)]):
        raise AudioError(path, "digital silence where the model listens")
    return {
        "prediction": replace(prediction, path=name).to_dict(),
        "coordinates": _coordinates(predictor, headline_rows),
        "waveform": _waveform(path, spans, prediction.duration),
    }, headline_rows


def _coordinates(predictor: Predictor, rows: PopularityDataset) -> list[float] | None:
    """The song in the model's code space: the mean over its headline rows (raw)."""
    from autoenchorder.models.codes import song_coordinates  # noqa: PLC0415

    try:
        return [float(v) for v in song_coordinates(predictor.models[0], rows).mean(axis=0)]
    except AutoenchorderError:
        return None


def _waveform(path: str, spans: Sequence[DecodedAudio], duration: float) -> dict[str, Any]:
    """Peak and RMS envelope of the whole song, :data:`WAVEFORM_POINTS` points."""
    whole = next((s for s in spans if s.whole_file), None)
    if whole is not None:
        samples = whole.samples
    else:  # a window model decoded only its windows: read the song once more for the picture
        from autoenchorder.audio.io import load_audio  # noqa: PLC0415

        samples, _ = load_audio(path)
    return envelope(samples, duration=duration)


def envelope(samples: np.ndarray, *, duration: float, points: int = WAVEFORM_POINTS) -> dict:
    """Peak and RMS of ``points`` equal stretches of a mono signal.

    Parameters
    ----------
    samples : np.ndarray, shape (n,)
    duration : float
        Seconds the samples cover.
    points : int

    Returns
    -------
    dict
        ``duration`` (s), ``peaks`` and ``rms`` (lists of ``points`` floats, rounded).
    """
    samples = np.asarray(samples, dtype=np.float32)
    n = min(points, max(1, samples.size))
    edges = np.linspace(0, samples.size, n + 1).astype(int)
    peaks, rms = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        piece = samples[lo : max(hi, lo + 1)]
        peaks.append(round(float(np.max(np.abs(piece))) if piece.size else 0.0, 4))
        rms.append(round(float(np.sqrt(np.mean(piece**2))) if piece.size else 0.0, 4))
    return {"duration": float(duration), "peaks": peaks, "rms": rms}
