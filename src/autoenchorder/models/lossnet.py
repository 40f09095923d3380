"""LossNet: HitMusicNet plus a sequence network that learns HitMusicNet's errors.

One of the alternates of the Autoen-chorder study (reference/autoen-chorder-blog.md,
"Alternate Models"), in our reading: HitMusicNet is trained first; a network on the embedding
sequence (the mean frame, or an LSTM, then a small MLP) learns HitMusicNet's residual
``y - hmn(x)``; the prediction is ``hmn(x) + correction``. The residuals it learns from are
*out-of-fold*: the training rows are split into ``residual_folds`` folds (artist-grouped when
artists are known) and each fold's residuals come from a HitMusicNet fitted on the other folds,
so the correction learns the errors HitMusicNet makes on songs it has not seen -- in-sample
residuals would be shrunk by HitMusicNet's own overfitting. The HitMusicNet used at prediction
time is fitted on all training rows; validation residuals (for early stopping) come from it.

A regression model on popularity 0-100; every scaler is fitted on the training rows only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.splits import kfold_splits
from autoenchorder.errors import ModelError
from autoenchorder.models.base import (
    Model,
    ModelConfig,
    check_finite,
    clip_popularity,
    split_validation,
)
from autoenchorder.models.blocks import (
    LSTMSequenceEncoder,
    load_module_arrays,
    masked_mean,
    module_arrays,
    pad_sequences,
)
from autoenchorder.models.hitmusicnet import HitMusicNet
from autoenchorder.models.registry import register_model
from autoenchorder.models.scaling import ColumnScaler
from autoenchorder.models.training import (
    adamw_settings,
    predict_batches,
    resolve_device,
    seeded,
    train_module,
)


@dataclass
class LossNetConfig(ModelConfig):
    """Options of ``lossnet``.

    Attributes
    ----------
    hmn_setting : str
        HitMusicNet's setting (``"default"`` or ``"faithful"``).
    hmn_groups : tuple of str, str or None
        HitMusicNet's tabular groups (None: all the dataset has).
    hmn_options : dict or None
        Further HitMusicNet config fields, e.g. ``{"epochs": 100, "batch_size": 64}``.
    residual_folds : int
        Folds for the out-of-fold residuals (>= 2); 0 uses in-sample residuals of the final
        HitMusicNet (biased towards 0; for comparison only).
    correction_summary : str
        What the correction network reads of the sequence: ``"mean"`` (the mean frame; the
        default, as residuals are noisy and an LSTM overfits them) or ``"lstm"``.
    correction_hidden : int
        Width of the correction network.
    dropout : float
        Dropout inside the correction network.
    epochs, batch_size, patience : int
    lr, weight_decay : float
    val_fraction : float
    """

    hmn_setting: str = "default"
    hmn_groups: tuple[str, ...] | str | None = None
    hmn_options: dict[str, Any] | None = None
    residual_folds: int = 3
    correction_summary: str = "mean"
    correction_hidden: int = 32
    dropout: float = 0.25
    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 20
    val_fraction: float = 0.1


class CorrectionNet(nn.Module):
    """A sequence summary and a small MLP predicting a standardised residual, shape (B,).

    Parameters
    ----------
    frame_dim : int
    summary : str
        ``"mean"`` (masked mean of the frames) or ``"lstm"`` (an LSTM over the packed sequence).
    hidden : int
        MLP (and LSTM) width.
    dropout : float
    """

    def __init__(
        self, frame_dim: int, *, summary: str = "mean", hidden: int = 32, dropout: float = 0.25
    ):
        super().__init__()
        if summary not in ("mean", "lstm"):
            raise ModelError(f"unknown correction summary {summary!r}; use 'mean' or 'lstm'")
        self.summary = summary
        if summary == "lstm":
            self.sequence = LSTMSequenceEncoder(frame_dim, hidden=hidden)
        width = hidden if summary == "lstm" else frame_dim
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
        )

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Map frames (B, T, D) with lengths (B,) to shape (B,)."""
        frames = frames[:, : int(lengths.max())]
        if self.summary == "lstm":
            summary = self.sequence(frames, lengths)
        else:
            summary = masked_mean(frames, lengths)
        return self.mlp(summary).squeeze(-1)


@register_model
class LossNet(Model):
    """HitMusicNet plus a sequence network that learns its out-of-fold residuals."""

    name = "lossnet"
    family = "alternate"
    config_class = LossNetConfig
    config: LossNetConfig
    tasks = ("regression",)

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        groups = self.hmn_.groups_ if hasattr(self, "hmn_") else self.config.hmn_groups
        if groups == "audio-only":
            groups = ("lowlevel",)
        return (*(groups if isinstance(groups, tuple) else ()), "sequences")

    def _hmn(self, seed: int) -> HitMusicNet:
        cfg = self.config
        options: dict[str, Any] = {
            "setting": cfg.hmn_setting,
            "groups": cfg.hmn_groups,
            "seed": seed,
            "device": cfg.device,
            "quiet": cfg.quiet,
        }
        return HitMusicNet(**{**options, **(cfg.hmn_options or {})})

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        train, val = split_validation(train, val, fraction=cfg.val_fraction, seed=cfg.seed)
        self.hmn_ = self._hmn(cfg.seed).fit(train, val)
        self.history_ += [{**h, "stage": f"hmn-{h['stage']}"} for h in self.hmn_.history_]
        r_tr = train.y - self._out_of_fold(train)
        r_va = val.y - self.hmn_.predict(val)
        self.residual_sd_ = float(np.std(r_tr)) or 1.0
        device = resolve_device(cfg.device)
        frames = [s for s in train.sequences if len(s)]
        self.frame_scaler_ = ColumnScaler("standard").fit(np.concatenate(frames))
        f_tr, n_tr = self._frames(train, device)
        f_va, n_va = self._frames(val, device)
        t_tr = torch.as_tensor(r_tr / self.residual_sd_, dtype=torch.float32, device=device)
        t_va = torch.as_tensor(r_va / self.residual_sd_, dtype=torch.float32, device=device)
        with seeded(cfg.seed):
            self.correction_ = self._build_correction(f_tr.shape[2]).to(device)
            self.history_ += train_module(
                self.correction_,
                lambda m, b: F.mse_loss(m(b[0], b[1]), b[2]),
                (f_tr, n_tr, t_tr),
                (f_va, n_va, t_va),
                adamw_settings(cfg),
                seed=cfg.seed,
                stage="correction",
                quiet=cfg.quiet,
            )
        self.correction_.eval()

    def _build_correction(self, frame_dim: int) -> CorrectionNet:
        cfg = self.config
        return CorrectionNet(
            frame_dim,
            summary=cfg.correction_summary,
            hidden=cfg.correction_hidden,
            dropout=cfg.dropout,
        )

    def _out_of_fold(self, train: PopularityDataset) -> np.ndarray:
        """HitMusicNet predictions of every training row by a model that did not see it."""
        k = self.config.residual_folds
        if k == 0:
            return self.hmn_.predict(train)
        if k < 2:
            raise ModelError("residual_folds must be 0 (in-sample) or >= 2")
        prediction = np.empty(len(train))
        for split in kfold_splits(train, k=k, seed=self.config.seed):
            fold_train, fold_test = split.apply(train)
            model = self._hmn(self.config.seed + 1 + split.fold).fit(fold_train)
            prediction[train.positions(split.test_ids)] = model.predict(fold_test)
        return prediction

    def _frames(
        self, ds: PopularityDataset, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scaled = [self.frame_scaler_.transform(s) if len(s) else s for s in ds.sequences]
        frames, lengths = pad_sequences(scaled)
        return frames.to(device), lengths

    def correction(self, ds: PopularityDataset) -> np.ndarray:
        """The learned correction of HitMusicNet's prediction, popularity points, shape (N,)."""
        self.check_fitted()
        device = next(self.correction_.parameters()).device
        out = predict_batches(self.correction_, self._frames(ds, device), batch_size=512)
        return check_finite(out.cpu().double().numpy(), ds, model=self.name) * self.residual_sd_

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        return clip_popularity(self.hmn_.predict(ds) + self.correction(ds), ds, model=self.name)

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        hmn_meta, hmn_arrays = self.hmn_.to_state()
        state = {
            "hmn": hmn_meta,
            "residual_sd": self.residual_sd_,
            "frame_dim": int(self.frame_scaler_.shift_.shape[0]),
        }
        arrays = {
            **{f"hmn.{k}": v for k, v in hmn_arrays.items()},
            **module_arrays("correction", self.correction_),
            **self.frame_scaler_.to_arrays("frame_scaler"),
        }
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        hmn_arrays = {k[4:]: v for k, v in arrays.items() if k.startswith("hmn.")}
        self.hmn_ = HitMusicNet.from_state(state["hmn"], hmn_arrays)
        self.residual_sd_ = float(state["residual_sd"])
        self.frame_scaler_ = ColumnScaler.from_arrays("standard", arrays, "frame_scaler")
        self.correction_ = self._build_correction(int(state["frame_dim"]))
        load_module_arrays(self.correction_, "correction", arrays)
        self.correction_.eval()
