"""Autoen-chorder: two autoencoders (low-level features, embedding sequences) and a deep regressor.

Architecture (reference/autoen-chorder-blog.md):

- a dense autoencoder over the 207 low-level features (MinMax-scaled; 207 -> 103 -> 69 -> 20,
  mirrored, sigmoid reconstruction; in the default setting the song's mean embedding frame
  joins them: 407 -> 203 -> 135 -> 20 for musicnn);
- a sequence autoencoder over the embedding frames (standardised per dimension): an LSTM over
  the packed variable-length sequence, then a linear layer to a 20-wide code; the decoder repeats
  a projection of the code over the steps, runs an LSTM and projects back to the frame width.
  ``sequence_encoder="transformer"`` swaps the encoder's LSTM for a small masked transformer
  (the study's "next step"; registered as ``"autoenchorder-transformer"``, one of the
  alternates in the reports);
- the two codes, concatenated (40) and standardised, feed a deep regressor of 7, 9 or 12 linear
  layers (Xavier-uniform weights, bias 0.1, sigmoid output) trained with the outlier-weighted
  MSE of :mod:`autoenchorder.models.losses` on popularity / 100.

Training runs in stages, each with early stopping on the validation split and the best epoch's
weights kept: the two autoencoders (reconstruction MSE), then the regressor on the frozen codes;
``finetune=True`` adds a last stage that trains everything end to end.
Every scaler and both autoencoders are fitted on the training rows only.

Two settings (``setting="faithful"`` or ``"default"``; single options can still be overridden):

==========================  ==============================  ==================================
option                      faithful (the study)            default (ours)
==========================  ==============================  ==================================
training                    autoencoders, then the          the same, then end to end
                            regressor on frozen codes       (``finetune``, lr 1e-3)
sequence frames             standardised                    minus the song's mean frame, then
                                                            standardised; the mean frame joins
                                                            the low-level features in the dense
                                                            branch (``center_frames``)
frame noise                 none                            Gaussian, sd 1.5 in standardised
                                                            units, while training the sequence
                                                            autoencoder (denoising) and end to
                                                            end (``frame_noise``)
regressor dropout           0                               0.1
==========================  ==============================  ==================================

Why (docs/models.md has the measurements): the sequence branch should learn what changes over
time (which section comes when), so it sees deviations from the song's mean frame; what the
song sounds like on average (the low-level features and the mean embedding) is the dense
branch's. Trained on
noisy popularity, the sequence encoder memorises individual songs long before it learns the
order of their sections; noise on the frames (and dropout in the regressor) stops that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.base import Model, ModelConfig, clip_popularity, split_validation
from autoenchorder.models.blocks import (
    DeepRegressor,
    DenseAutoencoder,
    SequenceAutoencoder,
    autoencoder_widths,
    load_module_arrays,
    masked_mse,
    module_arrays,
    pad_sequences,
    resolve_training_precision,
    training_precision,
)
from autoenchorder.models.calibration import ScoreCalibration
from autoenchorder.models.losses import Objective, objective_from_config, spearman_metric
from autoenchorder.models.registry import register_model
from autoenchorder.models.scaling import ColumnScaler
from autoenchorder.models.training import (
    TrainSettings,
    mae_metric,
    predict_batches,
    resolve_device,
    seeded,
    train_module,
)

#: The study's recipe: two-stage training on frozen codes, plain standardised frames.
_FAITHFUL: dict[str, Any] = {
    "finetune": False,
    "center_frames": False,
    "frame_noise": 0.0,
    "dropout": 0.0,
}


@dataclass
class AutoenchorderConfig(ModelConfig):
    """Options of Autoen-chorder (the study's values where it gives them; see the module table).

    Attributes
    ----------
    setting : str
        ``"default"`` (ours) or ``"faithful"`` (the study's two-stage recipe); the options below
        are the default setting's.
    lowlevel_group : str
        Column group of the low-level features.
    lowlevel_code, sequence_code : int
        Code widths (20 and 20 in the study).
    sequence_encoder : str
        ``"lstm"`` (the study) or ``"transformer"``.
    sequence_hidden, sequence_layers, heads : int
        LSTM width (transformer ``d_model``), layers, attention heads. Width 128 (our choice)
        beat 64 on the 3,000-song procedural corpus (validation R^2 0.61 against 0.56).
    n_layers : int
        Linear layers of the regressor: 7, 9 or 12 in the study.
    width : int
        Hidden width of the regressor.
    dropout : float
        Dropout inside the regressor (0: none; 0.1 is ours, 0 the study's).
    ae_epochs, ae_batch_size, ae_patience : int
        The study does not give its autoencoder budget; ours is up to 150 epochs, patience 10
        (40 epochs left both autoencoders under-trained: validation R^2 0.49 against 0.56 on a
        3,000-song procedural corpus; docs/models.md).
    ae_max_steps : int or None
        And at most this many optimizer steps (1,650: 150 epochs of the 2,167 training songs
        of the 3,000-song corpus the defaults were chosen on; 110 epochs of the demo's 2,891),
        so the autoencoders' budget does not grow with the catalogue: on 8,500
        synthetic tracks the denoising sequence autoencoder otherwise runs 141 epochs (fit
        1,310 s on one core, test R^2 0.896) where the cap stops it after 45 (471 s, 0.892;
        docs/models.md). None: epochs alone.
    ae_lr : float
    epochs, batch_size, patience : int
        Regressor stage (batch 200 is the study's best).
    lr, weight_decay : float
        Regressor stage (weight decay 0 is the study's best).
    loss_mean, loss_alpha, loss_beta : float
        Outlier weighting (0.36, 2, 2 in the study); the sd is the training targets'.
    objective : str
        The regressor's (and end-to-end stage's) loss, see
        :class:`~autoenchorder.models.losses.Objective`: ``"weighted"`` (the study's), ``"mse"``,
        ``"ranking"`` (a pairwise ranking loss alone; early stopping then watches validation
        Spearman and the scores are calibrated to popularity on the training rows afterwards)
        or ``"mixed"`` (MSE + ``ranking_weight`` * ranking loss).
    ranking_weight, ranking_loss, ranking_scale, ranking_margin, ranking_pairs
        The ranking term (see :class:`~autoenchorder.models.losses.Objective`); scale and
        margin are in units of popularity / 100.
    finetune : bool
        Add an end-to-end stage (encoders and regressor) after the two-stage training. On by
        default (our choice): on the 1,000-song procedural corpus it raised validation R^2
        from 0.50 to 0.56 -- the reconstruction codes alone keep too little of the section
        order (docs/models.md).
    center_frames : bool
        Subtract each song's mean frame from its frames before standardising them, so the
        sequence branch sees how the song changes over time, and give the mean frame to the
        dense branch beside the low-level features (its input is then 207 + D wide).
    frame_noise : float
        Standard deviation of Gaussian noise added to the standardised frames while training
        the sequence autoencoder (a denoising autoencoder: it reconstructs the clean frames)
        and the end-to-end stage; never at prediction.
    finetune_epochs : int
    finetune_lr : float
        1e-3 (our choice; 1e-4 gave validation R^2 0.52 on the same run).
    val_fraction : float
        Share of ``train`` carved out (seeded) for early stopping when no ``val`` is given.
    precision : {"float32", "bfloat16", "auto"}
        Arithmetic of the sequence LSTMs' training steps (the sequence autoencoder and the
        end-to-end stage; :func:`~autoenchorder.models.blocks.training_precision`). float32
        (the default); bfloat16: their products in bfloat16 under autocast, weights and
        optimizer float32, validation and prediction float32 as always; only on a CPU with
        native bfloat16 (AVX512-BF16 or AMX); auto: bfloat16 there, else float32
        (:func:`~autoenchorder.models.blocks.resolve_training_precision`). On an AVX512-BF16 CPU
        a fit takes ~30 % less time at the same validation error (docs/models.md).
    """

    setting: str = "default"
    lowlevel_group: str = "lowlevel"
    lowlevel_code: int = 20
    sequence_code: int = 20
    sequence_encoder: str = "lstm"
    sequence_hidden: int = 128
    sequence_layers: int = 1
    heads: int = 4
    n_layers: int = 7
    width: int = 64
    dropout: float = 0.1
    ae_epochs: int = 150
    ae_batch_size: int = 200
    ae_lr: float = 1e-3
    ae_patience: int = 10
    ae_max_steps: int | None = 1650
    epochs: int = 300
    batch_size: int = 200
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 20
    loss_mean: float = 0.36
    loss_alpha: float = 2.0
    loss_beta: float = 2.0
    finetune: bool = True
    finetune_epochs: int = 100
    finetune_lr: float = 1e-3
    center_frames: bool = True
    frame_noise: float = 1.5
    val_fraction: float = 0.1
    objective: str = "weighted"
    ranking_weight: float = 0.1
    ranking_loss: str = "logistic"
    ranking_scale: float = 10.0
    ranking_margin: float = 0.1
    ranking_pairs: int = 0
    precision: str = "float32"

    SETTINGS: ClassVar[Mapping[str, Mapping[str, Any]]] = {"default": {}, "faithful": _FAITHFUL}


#: A code dimension whose spread over the training songs is below this is "dead": it is
#: left unscaled. Dividing it by its tiny spread (as a plain standardisation does) multiplies
#: it by up to 1e6 once the end-to-end stage brings it to life, which saturated the regressor's
#: sigmoid in its first epoch (every song scored 0 on a 570-song corpus, seed 1).
DEAD_CODE_SD = 1e-3


def code_scale(codes: torch.Tensor) -> torch.Tensor:
    """Return the per-dimension scale that standardises the joint codes.

    Parameters
    ----------
    codes : torch.Tensor
        Joint codes of the training songs, shape (N, C).

    Returns
    -------
    torch.Tensor
        Shape (C,): each dimension's standard deviation, or 1 where it is below
        ``DEAD_CODE_SD`` (a dead dimension is centred but not magnified).
    """
    sd = codes.std(0, unbiased=False)
    return torch.where(sd < DEAD_CODE_SD, torch.ones_like(sd), sd)


class AutoenchorderNet(nn.Module):
    """The whole network: both encoders, the fixed code standardisation and the regressor."""

    def __init__(
        self, dense: DenseAutoencoder, sequence: SequenceAutoencoder, regressor: DeepRegressor
    ):
        super().__init__()
        self.dense, self.sequence, self.regressor = dense, sequence, regressor
        width = dense.code_size + sequence.code_size
        self.register_buffer("code_shift", torch.zeros(width))
        self.register_buffer("code_scale", torch.ones(width))

    def codes(self, x: torch.Tensor, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Return standardised joint codes (B, 40) of features (B, d) and frames (B, T, D)."""
        frames = frames[:, : int(lengths.max())]
        joint = torch.cat([self.dense.encode(x), self.sequence.encode(frames, lengths)], dim=1)
        return (joint - self.code_shift) / self.code_scale

    def forward(self, x: torch.Tensor, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Predict popularity / 100, shape (B,)."""
        return self.regressor(self.codes(x, frames, lengths))


@register_model
class Autoenchorder(Model):
    """Autoen-chorder: dual autoencoder + deep regressor on low-level features and sequences."""

    name = "autoenchorder"
    family = "autoenchorder"
    config_class = AutoenchorderConfig
    config: AutoenchorderConfig
    tasks = ("regression",)

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        return (self.config.lowlevel_group, "sequences")

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        train, val = split_validation(train, val, fraction=cfg.val_fraction, seed=cfg.seed)
        device = resolve_device(cfg.device)
        precision = resolve_training_precision(cfg.precision, device)
        self.feature_names_ = train.feature_names(cfg.lowlevel_group)
        self.lowlevel_scaler_ = ColumnScaler("minmax").fit(self._dense_inputs(train))
        frames = [self._centered(s) for s in train.sequences if len(s)]
        self.frame_scaler_ = ColumnScaler("standard").fit(np.concatenate(frames))
        x_tr, f_tr, n_tr = self._tensors(train, device)
        x_va, f_va, n_va = self._tensors(val, device)
        y_tr = torch.as_tensor(train.y / 100.0, dtype=torch.float32, device=device)
        y_va = torch.as_tensor(val.y / 100.0, dtype=torch.float32, device=device)
        sd = float(np.std(train.y / 100.0)) or 1.0
        objective = objective_from_config(cfg, sd=sd)
        # a ranking loss alone gives no popularity scale for an MAE: stop on Spearman instead
        monitor = "val_spearman" if objective.arbitrary_scale else "val_mae"
        metric = spearman_metric if objective.arbitrary_scale else mae_metric
        mode = "max" if objective.arbitrary_scale else "min"

        with seeded(cfg.seed):
            self.net_ = self._build(x_tr.shape[1], f_tr.shape[2]).to(device)
            ae = TrainSettings(
                epochs=cfg.ae_epochs,
                batch_size=cfg.ae_batch_size,
                max_steps=cfg.ae_max_steps,
                lr=cfg.ae_lr,
                patience=cfg.ae_patience,
            )
            run = dict(seed=cfg.seed, quiet=cfg.quiet)
            self.history_ += train_module(
                self.net_.dense,
                lambda m, b: F.mse_loss(m(b[0]), b[0]),
                (x_tr,),
                (x_va,),
                ae,
                stage="lowlevel-autoencoder",
                **run,
            )
            with training_precision(self.net_, precision):
                self.history_ += train_module(
                    self.net_.sequence,
                    lambda m, b: _sequence_loss(m, b, noise=cfg.frame_noise),
                    (f_tr, n_tr),
                    (f_va, n_va),
                    ae,
                    stage="sequence-autoencoder",
                    **run,
                )

            codes_tr = predict_batches(self.net_.codes, (x_tr, f_tr, n_tr))
            self.net_.code_shift.copy_(codes_tr.mean(0))
            self.net_.code_scale.copy_(code_scale(codes_tr))
            codes_tr = predict_batches(self.net_.codes, (x_tr, f_tr, n_tr))
            codes_va = predict_batches(self.net_.codes, (x_va, f_va, n_va))

            def loss(module: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
                return objective(module(*batch[:-1]), batch[-1])

            head = TrainSettings(
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                weight_decay=cfg.weight_decay,
                patience=cfg.patience,
                monitor=monitor,
                mode=mode,
            )
            self.history_ += train_module(
                self.net_.regressor,
                loss,
                (codes_tr, y_tr),
                (codes_va, y_va),
                head,
                stage="regressor",
                metrics=metric,
                **run,
            )
            if cfg.finetune:
                tune = self._end_to_end_settings(monitor=monitor, mode=mode)

                def noisy_loss(module: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
                    x, frames, lengths, y = batch
                    if module.training and cfg.frame_noise > 0:
                        frames = frames + cfg.frame_noise * torch.randn_like(frames)
                    return loss(module, (x, frames, lengths, y))

                with training_precision(self.net_, precision):
                    self.history_ += train_module(
                        self.net_,
                        noisy_loss,
                        (x_tr, f_tr, n_tr, y_tr),
                        (x_va, f_va, n_va, y_va),
                        tune,
                        stage="finetune",
                        metrics=metric,
                        **run,
                    )
        self.training_precision_ = precision
        self.net_.eval()
        if objective.arbitrary_scale:  # scores on no scale: map them to popularity (train rows)
            raw = predict_batches(self.net_, (x_tr, f_tr, n_tr), batch_size=512)
            self.calibration_ = ScoreCalibration.fit(raw.cpu().double().numpy(), train.y)

    def _build(self, d: int, frame_dim: int) -> AutoenchorderNet:
        cfg = self.config
        dense = DenseAutoencoder(autoencoder_widths(d, code=cfg.lowlevel_code))
        sequence = SequenceAutoencoder(
            frame_dim,
            code=cfg.sequence_code,
            hidden=cfg.sequence_hidden,
            encoder=cfg.sequence_encoder,
            num_layers=cfg.sequence_layers,
            heads=cfg.heads,
        )
        regressor = DeepRegressor(
            cfg.lowlevel_code + cfg.sequence_code,
            n_layers=cfg.n_layers,
            width=cfg.width,
            dropout=cfg.dropout,
        )
        return AutoenchorderNet(dense, sequence, regressor)

    def _end_to_end_settings(self, monitor: str = "val_mae", mode: str = "min") -> TrainSettings:
        """Settings of a stage that trains everything end to end (from the two-stage model).

        It keeps the weights it started from when no epoch beats them on the validation split:
        end to end must not leave the two-stage model worse.
        """
        cfg = self.config
        return TrainSettings(
            epochs=cfg.finetune_epochs,
            batch_size=cfg.batch_size,
            lr=cfg.finetune_lr,
            weight_decay=cfg.weight_decay,
            patience=cfg.patience,
            monitor=monitor,
            mode=mode,
            keep_start=True,
        )

    def _dense_inputs(self, ds: PopularityDataset) -> np.ndarray:
        """The low-level features, and with ``center_frames`` each song's mean frame beside them."""
        features = ds.features(self.config.lowlevel_group)
        if not self.config.center_frames:
            return features
        dim = ds.sequence_dim or 0
        means = np.stack([s.mean(0) if len(s) else np.zeros(dim, np.float32) for s in ds.sequences])
        return np.hstack([features, means])

    def _centered(self, frames: np.ndarray) -> np.ndarray:
        """Frames (T, D) minus their mean frame when ``center_frames`` (else unchanged)."""
        return frames - frames.mean(0) if self.config.center_frames else frames

    def _tensors(
        self, ds: PopularityDataset, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.lowlevel_scaler_.transform(self._dense_inputs(ds))
        scaled = [
            self.frame_scaler_.transform(self._centered(s)) if len(s) else s for s in ds.sequences
        ]
        frames, lengths = pad_sequences(scaled)
        return torch.as_tensor(x, dtype=torch.float32, device=device), frames.to(device), lengths

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        if ds.feature_names(self.config.lowlevel_group) != self.feature_names_:
            raise ModelError("the dataset's low-level columns differ from the training columns")
        device = next(self.net_.parameters()).device
        self.net_.eval()
        out = predict_batches(self.net_, self._tensors(ds, device), batch_size=512)
        raw = out.cpu().double().numpy()
        if hasattr(self, "calibration_"):
            return clip_popularity(self.calibration_(raw), ds, model=self.name)
        return clip_popularity(raw * 100.0, ds, model=self.name)

    def codes(self, ds: PopularityDataset) -> np.ndarray:
        """The songs' standardised joint codes (low-level and sequence), the regressor's input.

        Parameters
        ----------
        ds : PopularityDataset

        Returns
        -------
        np.ndarray, float32, shape (N, lowlevel_code + sequence_code)
        """
        self.check_fitted()
        ds.require(*self.required_parts)
        device = next(self.net_.parameters()).device
        self.net_.eval()
        return predict_batches(self.net_.codes, self._tensors(ds, device)).cpu().numpy()

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "feature_names": self.feature_names_,
            "frame_dim": int(self.frame_scaler_.shift_.shape[0]),
        }
        arrays = {
            **module_arrays("net", self.net_),
            **self.lowlevel_scaler_.to_arrays("lowlevel_scaler"),
            **self.frame_scaler_.to_arrays("frame_scaler"),
        }
        if hasattr(self, "calibration_"):
            arrays.update(self.calibration_.to_arrays("calibration"))
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.feature_names_ = list(state["feature_names"])
        self.lowlevel_scaler_ = ColumnScaler.from_arrays("minmax", arrays, "lowlevel_scaler")
        self.frame_scaler_ = ColumnScaler.from_arrays("standard", arrays, "frame_scaler")
        self.net_ = self._build(int(self.lowlevel_scaler_.shift_.shape[0]), int(state["frame_dim"]))
        load_module_arrays(self.net_, "net", arrays)
        self.net_.eval()
        if Objective(kind=self.config.objective).arbitrary_scale:
            self.calibration_ = ScoreCalibration.from_arrays(arrays, "calibration")


@dataclass
class AutoenchorderTransformerConfig(AutoenchorderConfig):
    """Autoen-chorder's options with the transformer sequence encoder as the default."""

    sequence_encoder: str = "transformer"


@register_model
class AutoenchorderTransformer(Autoenchorder):
    """Autoen-chorder with a small masked transformer instead of the LSTM encoder."""

    name = "autoenchorder-transformer"
    family = "alternate"
    config_class = AutoenchorderTransformerConfig


def _sequence_loss(
    module: nn.Module, batch: tuple[torch.Tensor, ...], *, noise: float = 0.0
) -> torch.Tensor:
    """Reconstruction MSE over the real steps (from noisy frames while training with ``noise``)."""
    frames, lengths = batch
    frames = frames[:, : int(lengths.max())]  # drop the padding no row of this batch needs
    inputs = frames
    if noise > 0 and module.training:
        inputs = frames + noise * torch.randn_like(frames)
    return masked_mse(module(inputs, lengths), frames, lengths)
