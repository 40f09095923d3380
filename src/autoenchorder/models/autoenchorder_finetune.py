"""Autoen-chorder with musicnn in series: its sequence branch trains musicnn's upper layers too.

``autoenchorder-finetune`` reads musicnn's *input* -- the ``musicnn-logmel`` sequences of a
feature store, one flattened [187, 96] log-mel patch per frame -- and runs the pretrained
musicnn (MSD, from the PyPI weights) in front of Autoen-chorder's sequence branch, so musicnn's
200-d penultimate frames are computed inside the model instead of read from the store.

How it trains (``fit``):

1. musicnn's frozen lower layers run once per song, without gradients, and their outputs are
   held for the whole fit (``finetune_from`` says where the trainable part starts):

   ==============  =========================================  ===============================
   finetune_from   frozen, computed once per song              trainable (at ``musicnn_lr``)
   ==============  =========================================  ===============================
   ``backend``     front-end, mid-end, temporal pooling        dense 1506 -> 200 (the default)
                   -> [P, 1506] per song
   ``midend``      front-end -> [P, 561, 187]                   mid-end convs and the dense
   ``frontend``    nothing (the log-mel patches themselves)     front-end, mid-end and dense
   ==============  =========================================  ===============================

   91 % of musicnn's time is the front-end's timbral convolutions, so ``backend`` and
   ``midend`` epochs cost a fraction of a forward pass; ``frontend`` runs the whole network
   forwards and backwards every epoch (offered, far too slow on a CPU).
2. The trainable part's first output is exactly the ``musicnn-msd`` embedding (same patches,
   same weights), and Autoen-chorder's own stages run on it as in ``autoenchorder``: the two
   autoencoders, then the regressor on the frozen codes (and its own end-to-end stage only with
   ``finetune=True``). The scalers are fitted on these frames and then kept.
3. The series stage ("musicnn-series"): musicnn's trainable layers and the whole Autoen-chorder
   network end to end, at two learning rates (``musicnn_lr`` for musicnn, ``finetune_lr`` for the
   rest), with the frame noise and early stopping of Autoen-chorder's end-to-end stage. It
   replaces that stage, so with ``autoenchorder``'s defaults the two models differ only in
   whether musicnn's layers train in the end-to-end stage.

Prediction runs musicnn (the tuned weights, kept in the state) on the song's patches, then
Autoen-chorder as usual; a bundle needs no musicnn weights, and ``predict`` on audio works
through the ``musicnn-logmel`` embedder the bundle's feature spec names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.autoenchorder import Autoenchorder, AutoenchorderConfig, AutoenchorderNet
from autoenchorder.models.base import split_validation
from autoenchorder.models.blocks import load_module_arrays, module_arrays
from autoenchorder.models.losses import objective_from_config
from autoenchorder.models.registry import register_model
from autoenchorder.models.training import resolve_device, seeded, train_module

#: Where the trainable part of musicnn may start (see the module docstring).
FINETUNE_FROM: tuple[str, ...] = ("backend", "midend", "frontend")


@dataclass
class AutoenchorderFinetuneConfig(AutoenchorderConfig):
    """Autoen-chorder's options plus musicnn's (see :class:`AutoenchorderConfig` for the rest).

    Attributes
    ----------
    musicnn : str
        Which pretrained musicnn: ``"msd"`` (as the ``musicnn-msd`` embedder) or ``"mtt"``.
    weights : str or None
        The musicnn weights folder (default: where ``autoenchorder weights`` put them).
    finetune_from : str
        ``"backend"`` (default), ``"midend"`` or ``"frontend"``: the lowest trained part.
    musicnn_lr : float
        Learning rate of musicnn's trainable layers in the series stage (Autoen-chorder's own
        layers use ``finetune_lr``).
    prefix_batch : int
        Patches per forward pass of the frozen layers (1 is the fastest on one CPU core).
    finetune : bool
        Autoen-chorder's own end-to-end stage on the frozen frames before the series stage
        (off: the series stage takes its place).
    """

    musicnn: str = "msd"
    weights: str | None = None
    finetune_from: str = "backend"
    musicnn_lr: float = 1e-4
    prefix_batch: int = 1
    finetune: bool = False


class MusicnnSeries:
    """musicnn split into a frozen prefix (run once per song) and a trainable upper part.

    Parameters
    ----------
    net : MusicnnNet
        The network; its parameters' ``requires_grad`` is set here (frozen ones off).
    finetune_from : str
        One of :data:`FINETUNE_FROM`.
    """

    def __init__(self, net: nn.Module, finetune_from: str) -> None:
        if finetune_from not in FINETUNE_FROM:
            raise ModelError(
                f"finetune_from must be one of {', '.join(FINETUNE_FROM)}, got {finetune_from!r}"
            )
        self.net, self.finetune_from = net, finetune_from
        trainable: list[nn.Module] = [net.dense]
        if finetune_from in ("midend", "frontend"):
            trainable.append(net.midend)
        if finetune_from == "frontend":
            trainable.append(net.frontend)
        self.parameters = [p for module in trainable for p in module.parameters()]

    def unfreeze(self) -> None:
        """Let gradients reach the trainable layers only (the logits layer is never used)."""
        for p in self.net.parameters():
            p.requires_grad_(False)
        for p in self.parameters:
            p.requires_grad_(True)

    def prefix(self, patches: torch.Tensor) -> torch.Tensor:
        """The frozen layers' output for log-mel patches [P, 187, 96] (no gradient).

        Returns
        -------
        torch.Tensor
            float32: ``backend`` [P, 1506]; ``midend`` [P, 561, 187] (420 KB a patch held for
            the fit); ``frontend`` the patches themselves.
        """
        net = self.net
        with torch.no_grad():
            if self.finetune_from == "backend":
                return net.pooled(net.midend_features(net.frontend_features(patches)))[2]
            if self.finetune_from == "midend":
                return net.frontend_features(patches)
            return patches

    def upper(self, held: torch.Tensor) -> torch.Tensor:
        """The trainable layers: the prefix's output -> penultimate frames [P, 200]."""
        net = self.net
        if self.finetune_from == "frontend":
            held = net.frontend_features(held)
        if self.finetune_from in ("midend", "frontend"):
            held = net.pooled(net.midend_features(held))[2]
        return net.backend(held)

    def hold(self, sequences: Sequence[np.ndarray], *, batch: int, device: torch.device):
        """The prefix of every song's patches: a list of tensors, one per song."""
        from autoenchorder.audio.embed.musicnn import patches_from_frames  # noqa: PLC0415

        held = []
        for frames in sequences:
            if len(frames) == 0:
                raise ModelError("a song has no musicnn-logmel patch (shorter than 3 s?)")
            patches = torch.from_numpy(np.ascontiguousarray(patches_from_frames(frames)))
            parts = [
                self.prefix(patches[s : s + batch].to(device))
                for s in range(0, len(patches), batch)
            ]
            held.append(torch.cat(parts))
        return held

    def frames(self, held: Sequence[torch.Tensor]) -> list[np.ndarray]:
        """The penultimate frames [P_i, 200] of held prefixes, as float32 arrays (no gradient)."""
        with torch.no_grad():
            return [self.upper(h).cpu().numpy().astype(np.float32) for h in held]


class SeriesNet(nn.Module):
    """musicnn's trainable part in front of Autoen-chorder, fed by song index (series stage).

    The held prefixes and the scaled low-level features of every song (training and
    validation) are plain attributes, not buffers, so the loop's best-epoch copies hold only
    the weights. ``forward(index)`` mirrors :meth:`Autoenchorder._tensors` in torch: the
    song's mean frame is taken out of its frames (``center_frames``) and scaled into the dense
    branch's input, the centred frames standardised with the frame scaler.
    """

    def __init__(
        self,
        series: MusicnnSeries,
        net: AutoenchorderNet,
        held: list[torch.Tensor],
        lowlevel: torch.Tensor,
        scalers: dict[str, torch.Tensor],
        *,
        center: bool,
        noise: float,
    ) -> None:
        super().__init__()
        self.musicnn, self.net = series.net, net
        self.series, self.held, self.lowlevel = series, held, lowlevel
        self.scalers, self.center, self.noise = scalers, center, noise

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """Predict popularity / 100 of the songs ``index`` (positions in ``held``), shape (B,)."""
        songs = index.tolist()
        counts = torch.tensor([len(self.held[i]) for i in songs], dtype=torch.int64)
        penultimate = self.series.upper(torch.cat([self.held[i] for i in songs]))
        device = penultimate.device
        owner = torch.repeat_interleave(torch.arange(len(songs)), counts).to(device)
        mean = (
            penultimate.new_zeros(len(songs), penultimate.shape[1]).index_add(0, owner, penultimate)
            / counts.to(device)[:, None]
        )
        frames = penultimate - mean[owner] if self.center else penultimate
        frames = (frames - self.scalers["frame_shift"]) / self.scalers["frame_scale"]
        if self.training and self.noise > 0:
            frames = frames + self.noise * torch.randn_like(frames)
        starts = torch.cumsum(counts, 0) - counts
        step = torch.arange(int(counts.sum())) - torch.repeat_interleave(starts, counts)
        padded = frames.new_zeros(len(songs), int(counts.max()), frames.shape[1])
        padded = padded.index_put((owner, step.to(device)), frames)
        x = self.lowlevel[index.to(self.lowlevel.device)]
        if self.center:
            scaled_mean = (mean - self.scalers["mean_shift"]) / self.scalers["mean_scale"]
            x = torch.cat([x, scaled_mean], dim=1)
        return self.net(x, padded, counts)


@register_model
class AutoenchorderFinetune(Autoenchorder):
    """Autoen-chorder on musicnn's log-mel patches, musicnn's upper layers trained with it."""

    name = "autoenchorder-finetune"
    family = "alternate"
    config_class = AutoenchorderFinetuneConfig
    config: AutoenchorderFinetuneConfig

    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        self._frames_cache = None  # frames of an earlier fit's musicnn
        objective = objective_from_config(cfg, sd=float(np.std(train.y / 100.0)) or 1.0)
        if objective.arbitrary_scale:
            raise ModelError(
                f"{self.name} trains on a popularity scale; objective {cfg.objective!r} "
                "(a ranking loss alone) is not supported"
            )
        train, val = split_validation(train, val, fraction=cfg.val_fraction, seed=cfg.seed)
        device = resolve_device(cfg.device)
        self.musicnn_ = self._pretrained().to(device)
        series = MusicnnSeries(self.musicnn_, cfg.finetune_from)
        series.unfreeze()
        held = series.hold(
            list(train.sequences) + list(val.sequences), batch=cfg.prefix_batch, device=device
        )
        frames = series.frames(held)
        # Autoen-chorder's own stages on the pretrained musicnn frames (= musicnn-msd's)
        super()._fit(
            _with_frames(train, frames[: len(train)]), _with_frames(val, frames[len(train) :])
        )
        both = _with_frames(_concat(train, val), frames)
        features = both.features(cfg.lowlevel_group)
        lowlevel = self.lowlevel_scaler_.transform(self._dense_inputs(both))[:, : features.shape[1]]
        n_features = features.shape[1]
        scalers = {
            "frame_shift": self.frame_scaler_.shift_,
            "frame_scale": self.frame_scaler_.scale_,
            "mean_shift": self.lowlevel_scaler_.shift_[n_features:],
            "mean_scale": self.lowlevel_scaler_.scale_[n_features:],
        }
        model = SeriesNet(
            series,
            self.net_,
            held,
            torch.as_tensor(lowlevel, dtype=torch.float32, device=device),
            {k: torch.as_tensor(v, dtype=torch.float32, device=device) for k, v in scalers.items()},
            center=cfg.center_frames,
            noise=cfg.frame_noise,
        )
        index = torch.arange(len(held))
        y = torch.as_tensor(both.y / 100.0, dtype=torch.float32, device=device)
        n_train = len(train)

        def loss(module: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return objective(module(batch[0]), batch[1])

        def mae(module: nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
            with torch.no_grad():
                out = torch.cat([module(data[0][s : s + 512]) for s in range(0, len(data[0]), 512)])
            return {"val_mae": float((out - data[1]).abs().mean())}

        settings = self._end_to_end_settings()
        groups = [
            {"params": series.parameters, "lr": cfg.musicnn_lr},
            {"params": list(self.net_.parameters())},
        ]
        with seeded(cfg.seed):
            self.history_ += train_module(
                model,
                loss,
                (index[:n_train], y[:n_train]),
                (index[n_train:], y[n_train:]),
                settings,
                seed=cfg.seed,
                stage="musicnn-series",
                metrics=mae,
                parameters=groups,  # type: ignore[arg-type]  (param groups: two learning rates)
                quiet=cfg.quiet,
            )
        for p in self.musicnn_.parameters():
            p.requires_grad_(False)
        self.musicnn_.eval()
        self.net_.eval()

    def _pretrained(self) -> nn.Module:
        from autoenchorder.audio.embed.musicnn import load_musicnn_net  # noqa: PLC0415

        return load_musicnn_net(self.config.musicnn, self.config.weights)

    def _musicnn_frames(self, ds: PopularityDataset) -> PopularityDataset:
        """``ds`` with its log-mel patches replaced by the (tuned) musicnn's frames [P_i, 200].

        The last call's frames are kept: musicnn has no dropout, so repeated predictions of
        the same rows (MC dropout's passes, the Predictor's headline and windows) run it once.
        The cache holds the patch arrays themselves, so their ids cannot be reused meanwhile.
        """
        sequences = list(ds.sequences or [])
        cached = getattr(self, "_frames_cache", None)
        if (
            cached is not None
            and len(cached[0]) == len(sequences)
            and all(a is b for a, b in zip(cached[0], sequences, strict=True))
        ):
            return _with_frames(ds, cached[1])
        framed = self._run_musicnn(ds)
        self._frames_cache = (sequences, framed.sequences)
        return framed

    def _run_musicnn(self, ds: PopularityDataset) -> PopularityDataset:
        device = next(self.musicnn_.parameters()).device
        series = MusicnnSeries(self.musicnn_, "frontend")  # held = the patches: all at once
        held = series.hold(
            ds.sequences or [], batch=max(1, self.config.prefix_batch), device=device
        )
        return _with_frames(ds, series.frames(held))

    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        return super()._predict(self._musicnn_frames(ds))

    def codes(self, ds: PopularityDataset) -> np.ndarray:  # noqa: D102
        self.check_fitted()
        ds.require(*self.required_parts)
        return super().codes(self._musicnn_frames(ds))

    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = super()._state()
        arrays.update(module_arrays("musicnn", self.musicnn_))
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        from autoenchorder.audio.embed.musicnn_net import MusicnnNet  # noqa: PLC0415

        super()._load_state(state, arrays)
        self._frames_cache = None
        self.musicnn_ = MusicnnNet().to(memory_format=torch.channels_last)
        load_module_arrays(self.musicnn_, "musicnn", arrays)
        for p in self.musicnn_.parameters():
            p.requires_grad_(False)
        self.musicnn_.eval()


def _with_frames(ds: PopularityDataset, frames: Sequence[np.ndarray]) -> PopularityDataset:
    """``ds`` with ``frames`` as its sequences (one per row, same lengths and times)."""
    return dataclasses.replace(ds, sequences=list(frames), info=dict(ds.info))


def _concat(a: PopularityDataset, b: PopularityDataset) -> PopularityDataset:
    """The rows of ``a`` then ``b`` (the low-level group and sequences are all this uses)."""
    import pandas as pd  # noqa: PLC0415

    return dataclasses.replace(
        a,
        ids=np.concatenate([a.ids, b.ids]),
        y=np.concatenate([a.y, b.y]),
        tabular=pd.concat([a.tabular, b.tabular], ignore_index=True),
        sequences=list(a.sequences or []) + list(b.sequences or []),
        sequence_times=None
        if a.sequence_times is None or b.sequence_times is None
        else list(a.sequence_times) + list(b.sequence_times),
        artist=None
        if a.artist is None or b.artist is None
        else np.concatenate([a.artist, b.artist]),
        info=dict(a.info),
    )
