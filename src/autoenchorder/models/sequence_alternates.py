"""Sequence alternates the Autoen-chorder study tried: a dense autoencoder, then a head on its code.

The blog post (reference/autoen-chorder-blog.md, "Alternate Models") describes them in a
sentence each; these are our readings, built from the same blocks as the main models. All are
trained in two stages -- a dense autoencoder on tabular features, then HitMusicNet's
feed-forward head on its (frozen, standardised) code and a summary of the embedding sequence:

``"single-ae"``
    One dense autoencoder over the low-level features *and* the mean-pooled embedding sequence
    (concatenated, MinMax-scaled), then HitMusicNet's feed-forward head on the code. Pooling
    loses the temporal order -- the study's stated reason for moving on.
``"rnn"``
    The low-level features are compressed by a dense autoencoder (to 20) first; then an LSTM
    over the packed embedding sequence, a linear layer to 20, concatenated with the (frozen,
    standardised) low-level code, and HitMusicNet's feed-forward head, trained together.
``"hmn-embedding"`` (HMN + VGGish)
    HitMusicNet's autoencoder over all the tabular features the dataset has; its code is
    concatenated with the mean-pooled embedding (standardised) and fed to HitMusicNet's head.

All are regression models on popularity 0-100 (the network's sigmoid output is popularity /
100). Every scaler and autoencoder is fitted on the training rows only. ``lossnet`` is in
:mod:`autoenchorder.models.lossnet`, the transformer variant of Autoen-chorder in
:mod:`autoenchorder.models.autoenchorder`.
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
from autoenchorder.models.base import (
    Model,
    ModelConfig,
    clip_popularity,
    resolve_groups,
    split_validation,
)
from autoenchorder.models.blocks import (
    DenseAutoencoder,
    HitMusicNetRegressor,
    LSTMSequenceEncoder,
    autoencoder_widths,
    hmn_autoencoder_widths,
    hmn_regressor_widths,
    init_xavier,
    load_module_arrays,
    masked_mean,
    module_arrays,
    pad_sequences,
)
from autoenchorder.models.registry import register_model
from autoenchorder.models.scaling import ColumnScaler
from autoenchorder.models.training import (
    TrainSettings,
    adamw_settings,
    mae_metric,
    predict_batches,
    resolve_device,
    seeded,
    train_module,
)

SUMMARIES = ("none", "mean", "lstm")


def pooled_frames(sequences: list[np.ndarray]) -> np.ndarray:
    """Mean of each sequence's frames.

    Parameters
    ----------
    sequences : list of np.ndarray, each (T_i, D)

    Returns
    -------
    np.ndarray, float64, shape (N, D)
        Zero rows for empty sequences.
    """
    d = sequences[0].shape[1]
    return np.stack(
        [s.mean(axis=0, dtype=np.float64) if len(s) else np.zeros(d) for s in sequences]
    )


@dataclass
class AESequenceConfig(ModelConfig):
    """Options shared by ``single-ae``, ``rnn`` and ``hmn-embedding``.

    Attributes
    ----------
    groups : tuple of str, str or None
        Tabular groups for the autoencoder (None: all the dataset has).
    pool_into_autoencoder : bool
        Append the mean-pooled frames to the autoencoder's input (``single-ae``).
    summary : str
        What the head gets of the sequence besides the code: ``"none"``, ``"mean"`` (pooled
        frames, standardised) or ``"lstm"`` (an LSTM over the packed sequence, then a linear
        layer to ``sequence_code``).
    code : int or None
        Autoencoder code width; None takes HitMusicNet's rule (``compress``).
    compress : str
        HitMusicNet's code rule when ``code`` is None: ``"auto"`` d/5, ``"high"``, ``"small"``.
    sequence_hidden, sequence_code : int
        LSTM width and its projection (``summary="lstm"``).
    alpha, beta, gamma : float
        HitMusicNet's head widths as fractions of the head's input width.
    n_layers : int
    dropout : float
    ae_epochs, ae_batch_size, ae_patience, epochs, batch_size, patience : int
    ae_lr, lr, weight_decay : float
    val_fraction : float
        Share of ``train`` carved out for early stopping when no ``val`` is given.
    """

    groups: tuple[str, ...] | str | None = ("lowlevel",)
    pool_into_autoencoder: bool = False
    summary: str = "none"
    code: int | None = None
    compress: str = "auto"
    sequence_hidden: int = 64
    sequence_code: int = 20
    alpha: float = 1.0
    beta: float = 0.5
    gamma: float = 1 / 3
    n_layers: int = 4
    dropout: float = 0.25
    ae_epochs: int = 200
    ae_batch_size: int = 256
    ae_lr: float = 1e-3
    ae_patience: int = 10
    epochs: int = 300
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 20
    val_fraction: float = 0.1


class CodeSequenceHead(nn.Module):
    """Head over a (frozen) tabular code and a sequence summary: HitMusicNet's regressor.

    Parameters
    ----------
    code_dim, frame_dim : int
    summary : str
        ``"none"``, ``"mean"`` (masked mean of the frames) or ``"lstm"``.
    sequence_hidden, sequence_code : int
        LSTM width and the width of its projection (``summary="lstm"``).
    alpha, beta, gamma : float
        Regressor widths as fractions of its input width (:func:`hmn_regressor_widths`).
    n_layers : int
    dropout : float
    """

    def __init__(
        self,
        code_dim: int,
        frame_dim: int,
        *,
        summary: str,
        sequence_hidden: int = 64,
        sequence_code: int = 20,
        alpha: float = 1.0,
        beta: float = 0.5,
        gamma: float = 1 / 3,
        n_layers: int = 4,
        dropout: float = 0.25,
    ):
        super().__init__()
        if summary not in SUMMARIES:
            raise ModelError(f"unknown summary {summary!r}; use {', '.join(SUMMARIES)}")
        self.summary = summary
        extra = {"none": 0, "mean": frame_dim, "lstm": sequence_code}[summary]
        if summary == "lstm":
            self.sequence = LSTMSequenceEncoder(frame_dim, hidden=sequence_hidden)
            self.to_code = nn.Linear(sequence_hidden, sequence_code)
        d = code_dim + extra
        hidden = hmn_regressor_widths(d, alpha=alpha, beta=beta, gamma=gamma, n_layers=n_layers)
        self.regressor = HitMusicNetRegressor(d, hidden, dropout=dropout)
        init_xavier(self.regressor)

    def forward(
        self, codes: torch.Tensor, frames: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Predict popularity / 100 of shape (B,) from codes (B, c) and frames (B, T, D)."""
        frames = frames[:, : int(lengths.max())]
        if self.summary == "none":
            joint = codes
        elif self.summary == "mean":
            joint = torch.cat([codes, masked_mean(frames, lengths)], dim=1)
        else:
            joint = torch.cat([codes, self.to_code(self.sequence(frames, lengths))], dim=1)
        return self.regressor(joint)


class AESequenceModel(Model):
    """Two stages: a dense autoencoder on tabular features, then a head on code + sequence.

    The base of ``single-ae``, ``rnn`` and ``hmn-embedding`` (see the module docstring); not
    registered itself.
    """

    family = "alternate"
    config_class: ClassVar[type[ModelConfig]] = AESequenceConfig
    config: AESequenceConfig
    tasks = ("regression",)

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        groups = getattr(self, "groups_", self.config.groups)
        if groups == "audio-only":
            groups = ("lowlevel",)
        return (*(groups if isinstance(groups, tuple) else ()), "sequences")

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        self.groups_ = resolve_groups(train, cfg.groups)
        train.require(*self.groups_)
        self.feature_names_ = train.feature_names(self.groups_)
        train, val = split_validation(train, val, fraction=cfg.val_fraction, seed=cfg.seed)
        device = resolve_device(cfg.device)
        self.input_scaler_ = ColumnScaler("minmax").fit(self._raw_inputs(train))
        frames = [s for s in train.sequences if len(s)]
        self.frame_scaler_ = ColumnScaler("standard").fit(np.concatenate(frames))
        x_tr, f_tr, n_tr = self._tensors(train, device)
        x_va, f_va, n_va = self._tensors(val, device)
        y_tr = torch.as_tensor(train.y / 100.0, dtype=torch.float32, device=device)
        y_va = torch.as_tensor(val.y / 100.0, dtype=torch.float32, device=device)
        run = dict(seed=cfg.seed, quiet=cfg.quiet)
        with seeded(cfg.seed):
            self.autoencoder_ = DenseAutoencoder(self._widths(x_tr.shape[1])).to(device)
            init_xavier(self.autoencoder_)
            self.history_ += train_module(
                self.autoencoder_,
                lambda m, b: F.mse_loss(m(b[0]), b[0]),
                (x_tr,),
                (x_va,),
                TrainSettings(
                    epochs=cfg.ae_epochs,
                    batch_size=cfg.ae_batch_size,
                    lr=cfg.ae_lr,
                    patience=cfg.ae_patience,
                ),
                stage="autoencoder",
                **run,
            )
            code_tr = predict_batches(self.autoencoder_.encode, (x_tr,))
            self.code_scaler_ = ColumnScaler("standard").fit(code_tr.cpu().numpy())
            c_tr, c_va = self._codes(x_tr), self._codes(x_va)
            self.head_ = self._build_head(c_tr.shape[1], f_tr.shape[2]).to(device)
            self.history_ += train_module(
                self.head_,
                lambda m, b: F.mse_loss(m(*b[:-1]), b[-1]),
                (c_tr, f_tr, n_tr, y_tr),
                (c_va, f_va, n_va, y_va),
                adamw_settings(cfg, monitor="val_mae"),
                stage="head",
                metrics=mae_metric,
                **run,
            )
        self.autoencoder_.eval()
        self.head_.eval()

    def _widths(self, d: int) -> tuple[int, ...]:
        cfg = self.config
        if cfg.code is None:
            return hmn_autoencoder_widths(d, compress=cfg.compress)
        return autoencoder_widths(d, code=cfg.code)

    def _build_head(self, code_dim: int, frame_dim: int) -> CodeSequenceHead:
        cfg = self.config
        return CodeSequenceHead(
            code_dim,
            frame_dim,
            summary=cfg.summary,
            sequence_hidden=cfg.sequence_hidden,
            sequence_code=cfg.sequence_code,
            alpha=cfg.alpha,
            beta=cfg.beta,
            gamma=cfg.gamma,
            n_layers=cfg.n_layers,
            dropout=cfg.dropout,
        )

    def _raw_inputs(self, ds: PopularityDataset) -> np.ndarray:
        x = ds.features(self.groups_)
        if self.config.pool_into_autoencoder:
            x = np.hstack([x, pooled_frames(ds.sequences)])
        return x

    def _tensors(
        self, ds: PopularityDataset, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.input_scaler_.transform(self._raw_inputs(ds))
        scaled = [self.frame_scaler_.transform(s) if len(s) else s for s in ds.sequences]
        frames, lengths = pad_sequences(scaled)
        return torch.as_tensor(x, dtype=torch.float32, device=device), frames.to(device), lengths

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        self.autoencoder_.eval()
        codes = predict_batches(self.autoencoder_.encode, (x,)).cpu().numpy()
        return torch.as_tensor(
            self.code_scaler_.transform(codes), dtype=torch.float32, device=x.device
        )

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        if ds.feature_names(self.groups_) != self.feature_names_:
            raise ModelError("the dataset's feature columns differ from the training columns")
        device = next(self.head_.parameters()).device
        x, frames, lengths = self._tensors(ds, device)
        out = predict_batches(self.head_, (self._codes(x), frames, lengths), batch_size=512)
        return clip_popularity(out.cpu().double().numpy() * 100.0, ds, model=self.name)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "groups": list(self.groups_),
            "feature_names": self.feature_names_,
            "ae_widths": list(self.autoencoder_.widths),
            "frame_dim": int(self.frame_scaler_.shift_.shape[0]),
        }
        arrays = {
            **module_arrays("autoencoder", self.autoencoder_),
            **module_arrays("head", self.head_),
            **self.input_scaler_.to_arrays("input_scaler"),
            **self.code_scaler_.to_arrays("code_scaler"),
            **self.frame_scaler_.to_arrays("frame_scaler"),
        }
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.groups_ = tuple(state["groups"])
        self.feature_names_ = list(state["feature_names"])
        self.autoencoder_ = DenseAutoencoder(state["ae_widths"])
        load_module_arrays(self.autoencoder_, "autoencoder", arrays)
        self.head_ = self._build_head(self.autoencoder_.code_size, int(state["frame_dim"]))
        load_module_arrays(self.head_, "head", arrays)
        self.autoencoder_.eval()
        self.head_.eval()
        self.input_scaler_ = ColumnScaler.from_arrays("minmax", arrays, "input_scaler")
        self.code_scaler_ = ColumnScaler.from_arrays("standard", arrays, "code_scaler")
        self.frame_scaler_ = ColumnScaler.from_arrays("standard", arrays, "frame_scaler")


@dataclass
class SingleAEConfig(AESequenceConfig):
    """``single-ae``: one autoencoder over low-level features + pooled frames, HMN's head."""

    pool_into_autoencoder: bool = True
    summary: str = "none"


@register_model
class SingleAutoencoder(AESequenceModel):
    """One autoencoder over the low-level features and the mean-pooled sequence, then HMN's head."""

    name = "single-ae"
    config_class = SingleAEConfig


@dataclass
class RNNConfig(AESequenceConfig):
    """``rnn``: low-level code (20) + an LSTM summary of the sequence (20), HMN's head."""

    code: int | None = 20
    summary: str = "lstm"


@register_model
class RNNModel(AESequenceModel):
    """Compressed low-level features plus an LSTM regressor branch over the sequence."""

    name = "rnn"
    config_class = RNNConfig


@dataclass
class HMNEmbeddingConfig(AESequenceConfig):
    """``hmn-embedding``: HMN's autoencoder over all tabular groups + the pooled embedding."""

    groups: tuple[str, ...] | str | None = None
    summary: str = "mean"


@register_model
class HMNEmbedding(AESequenceModel):
    """HitMusicNet's autoencoder code concatenated with the mean-pooled embedding, HMN's head."""

    name = "hmn-embedding"
    config_class = HMNEmbeddingConfig


__all__ = [
    "AESequenceModel",
    "CodeSequenceHead",
    "HMNEmbedding",
    "RNNModel",
    "SingleAutoencoder",
    "pooled_frames",
]
