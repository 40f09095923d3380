"""What the demo runs: its sizes and options, and the models of each study in report order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from autoenchorder.engine import EngineSpec

#: The procedural study's model whose seeds are averaged (the predictor the demo bundles) ...
ENSEMBLE_MODEL = "autoenchorder"
#: ... and the key of that average in the study's table.
ENSEMBLE_KEY = f"{ENSEMBLE_MODEL}-ensemble"
#: The studies ``make demo`` runs (``demo --study NAME`` picks others; see study/extras.py).
DEFAULT_STUDIES: tuple[str, ...] = ("procedural", "musicoset")
#: Models refitted on shares of the training rows for the learning curve.
LEARNING_CURVE_MODELS: tuple[str, ...] = ("hitmusicnet", "autoenchorder")


@dataclass(frozen=True)
class ModelRun:
    """One model of a study: the key it is reported under, the registry name, its options."""

    key: str
    model: str
    config: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    cost: float = 1.0


@dataclass
class DemoSettings:
    """Sizes and options of the demo (``quick()`` gives the smoke-test variant).

    Attributes
    ----------
    out : Path
        Run directory; ``report.html`` is written there.
    n_songs : int
        Songs in the procedural corpus.
    min_duration, max_duration : float
        Song lengths in seconds.
    seed : int
        Seeds the corpus, the splits and every model.
    workers : int
        Processes for corpus generation and feature extraction.
    embedder : str
        Sequence embedder for the audio models.
    precision : {"auto", "float32", "bfloat16"}
        The embedder network's arithmetic (:mod:`autoenchorder.precision`), and that of
        Autoen-chorder's LSTM training steps (:func:`lstm_step_precision`); auto (the default):
        bfloat16 where the CPU runs it natively, else float32. A store that already holds the
        sequences keeps their precision.
    epochs_scale : float
        Multiplies every model's epoch limits (early stopping usually ends sooner).
    learning_curve : tuple of float
        Training-set fractions for the learning curve (empty: none).
    musicoset_root : Path or None
        The MusicOSet folder; None: looked for where datasets live
        (:func:`autoenchorder.data.locations.find_root`). Not found: the MusicOSet study is
        skipped with a note saying where to put the data and where it comes from.
    musicoset_rows : int or None
        Train and test on a seeded sample of this many MusicOSet songs (None: all).
    models : tuple of str or None
        Keys of the models to run in each study (None: all of them, the alternates only with
        ``alternates``).
    alternates : bool
        Also fit the alternatives beyond the two studies (models of the ``"alternate"`` family:
        the transformer encoder, the RNN head, the single autoencoder, HMN + embedding,
        LossNet) on the procedural corpus. Off by default, so that ``make demo`` stays within
        20 minutes on 2 cores; ``demo --alternates`` turns it on (a run directory that already
        holds the other fits only fits these).
    n_predict : int
        Held-out songs scored by the predictor at the end.
    ensemble : int
        Seeds of Autoen-chorder in the predictor's bundle (their spread is the uncertainty).
    model_seeds : int
        The MusicOSet, ranking and multi-target studies fit each of their models with this
        many model seeds (the study's seed, +1, ...; same split) and compare their averaged
        predictions, so that a difference is not one seed's luck. 1 (the default): one fit per
        model.
    torch_threads : int
        Threads torch uses for training (the models are small: 1 is fastest on 2 cores).
    engine : EngineSpec or None
        Where the model fits run: None, ``workers`` local processes; a Ray engine, its actors
        (corpus and features are still made locally).
    device : str
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when there is one): where the networks train.
    studies : tuple of str
        The studies to run, each its own section of the report: ``procedural``, ``musicoset``
        and the extra ones of :data:`autoenchorder.study.extras.EXTRA_STUDIES`.
    smoke : bool
        True for the smoke-test sizes of :meth:`quick`; extra studies pick their sizes by it.
    """

    out: Path
    n_songs: int = 4000
    min_duration: float = 10.0
    max_duration: float = 30.0
    seed: int = 0
    workers: int = 2
    embedder: str = "musicnn-msd"
    precision: str = "auto"
    epochs_scale: float = 1.0
    learning_curve: tuple[float, ...] = (0.33, 0.67)
    musicoset_root: Path | None = None
    musicoset_rows: int | None = None
    models: tuple[str, ...] | None = None
    alternates: bool = False
    n_predict: int = 5
    ensemble: int = 3
    model_seeds: int = 1
    torch_threads: int = 1
    engine: EngineSpec | None = None
    device: str = "cpu"
    studies: tuple[str, ...] = DEFAULT_STUDIES
    smoke: bool = False

    @classmethod
    def quick(cls, out: Path, **overrides: Any) -> DemoSettings:
        """A smoke-test run: a small corpus, short songs, few epochs, no learning curve."""
        values: dict[str, Any] = dict(
            smoke=True,
            n_songs=120,
            min_duration=9.0,
            max_duration=12.0,
            epochs_scale=0.25,
            learning_curve=(),
            n_predict=3,
            ensemble=2,
            musicoset_rows=3000,
            models=(
                "mean",
                "random-normal",
                "gbdt",
                "gbdt+metadata",
                "hitmusicnet",
                "autoenchorder",
            ),
        )
        values.update(overrides)
        return cls(out=out, **values)


def lstm_step_precision(settings: DemoSettings) -> str:
    """The arithmetic of Autoen-chorder's LSTM training steps in the demo: ``settings.precision``.

    Resolved here, where the demo is planned (``"auto"``: bfloat16 on a CPU that runs it
    natively, else float32; :func:`~autoenchorder.models.blocks.resolve_training_precision`),
    so that the fits' configs, and so their cache keys, name a concrete precision.

    Returns
    -------
    str
        ``"float32"`` or ``"bfloat16"``.
    """
    from autoenchorder.models.blocks import resolve_training_precision  # noqa: PLC0415
    from autoenchorder.models.training import resolve_device  # noqa: PLC0415

    return resolve_training_precision(settings.precision, resolve_device(settings.device))


def procedural_models(settings: DemoSettings) -> list[ModelRun]:
    """The models of the procedural-audio study, in report order."""
    steps = {"precision": lstm_step_precision(settings)}
    return [
        ModelRun("mean", "mean", label="Training mean"),
        ModelRun("random-normal", "random-normal", label="Random N(mean, sd)"),
        ModelRun(
            "gbdt", "gbdt", {"groups": ("lowlevel",)}, label="Gradient boosting (207 features)"
        ),
        ModelRun(
            "hitmusicnet",
            "hitmusicnet",
            {"setting": "faithful", "groups": ("lowlevel",)},
            label="HitMusicNet replica (207 features)",
        ),
        ModelRun(
            "hitmusicnet-default",
            "hitmusicnet",
            {"setting": "default", "groups": ("lowlevel",)},
            label="HitMusicNet, our defaults",
        ),
        ModelRun("autoenchorder", "autoenchorder", steps, label="Autoen-chorder", cost=4.0),
        ModelRun(
            "autoenchorder-faithful",
            "autoenchorder",
            {"setting": "faithful", **steps},
            label="Autoen-chorder, the study's recipe",
            cost=3.0,
        ),
        ModelRun(
            "autoenchorder-transformer",
            "autoenchorder-transformer",
            steps,
            label="Autoen-chorder, transformer encoder",
            cost=4.0,
        ),
        ModelRun("single-ae", "single-ae", label="Single autoencoder"),
        ModelRun("rnn", "rnn", label="RNN head"),
        ModelRun("hmn-embedding", "hmn-embedding", label="HMN + embedding"),
        ModelRun("lossnet", "lossnet", label="LossNet (HMN + correction)"),
    ]


def musicoset_models() -> list[ModelRun]:
    """The descriptor models of the MusicOSet study, in report order."""
    desc, meta = ("descriptors",), ("descriptors", "metadata")
    return [
        ModelRun("mean", "mean", label="Training mean"),
        ModelRun("random-normal", "random-normal", label="Random N(mean, sd)"),
        ModelRun("gbdt", "gbdt", {"groups": desc}, label="Gradient boosting, descriptors"),
        ModelRun("gbdt+metadata", "gbdt", {"groups": meta}, label="Gradient boosting + metadata"),
        ModelRun(
            "hitmusicnet",
            "hitmusicnet",
            {"setting": "faithful", "groups": desc},
            label="HitMusicNet replica, descriptors",
        ),
        ModelRun(
            "hitmusicnet-default",
            "hitmusicnet",
            {"setting": "default", "groups": desc},
            label="HitMusicNet (our defaults), descriptors",
        ),
        ModelRun(
            "hitmusicnet+metadata",
            "hitmusicnet",
            {"setting": "default", "groups": meta},
            label="HitMusicNet (our defaults) + metadata",
        ),
    ]


def chosen(runs: list[ModelRun], settings: DemoSettings) -> list[ModelRun]:
    """The runs a study fits: those ``settings.models`` names (None: all but the alternates).

    The alternates (:func:`is_alternate`) join them when ``settings.alternates`` is set.
    """
    return [
        r
        for r in runs
        if (settings.alternates and is_alternate(r))
        or (r.key in settings.models if settings.models is not None else not is_alternate(r))
    ]


def is_alternate(run: ModelRun) -> bool:
    """Whether ``run`` fits an alternative beyond the two studies (family "alternate")."""
    from autoenchorder.models.registry import model_class  # noqa: PLC0415

    return model_class(run.model).family == "alternate"


def scaled_epochs(model: str, scale: float) -> dict[str, int]:
    """Epoch limits of ``model``'s config scaled by ``scale`` (at least 2; none at scale 1)."""
    if scale == 1.0:
        return {}
    from autoenchorder.models.registry import model_class  # noqa: PLC0415

    fields = model_class(model).config_class.__dataclass_fields__
    out = {}
    for name in ("epochs", "ae_epochs", "finetune_epochs"):
        if name in fields and isinstance(fields[name].default, int):
            out[name] = max(2, int(round(fields[name].default * scale)))
    return out
