"""The musicnn network (Pons & Serra, 2019) in PyTorch, loaded from its TensorFlow checkpoint.

Layer by layer as ``musicnn.models.build_musicnn`` defines it (``MSD_musicnn`` and
``MTT_musicnn`` share the architecture: 64 mid-end filters, 200 back-end units, 50 tags); all
batch normalisations are inference-mode ``tf.compat.v1.layers.batch_normalization`` with
epsilon 1e-3, applied *after* the ReLU as in the original:

front-end (input ``x`` [B, 187, 96] log-mel, first a scalar batch norm):
    timbral: zero-pad time by 3 on both sides, conv 7x38 and 7x67 (204 filters each, valid),
    ReLU, BN, max over frequency;
    temporal: conv 128x1, 64x1, 32x1 (51 filters each, TF ``"same"`` padding: 63/64, 31/32,
    15/16 frames before/after), ReLU, BN, max over frequency;
    concatenated in the order [7x38, 7x67, 128, 64, 32] -> 561 channels per frame.
mid-end: three conv layers over time (kernel 7, zero-pad 3, 64 filters, ReLU, BN) with
    residual connections on the 2nd and 3rd; dense concatenation [front-end, c1, c1+c2,
    c1+c2+c3] -> 753 channels per frame.
back-end: max and mean over time (``max_pool``, ``mean_pool``: 753 each), interleaved as TF's
    flatten of [753, 2] does (max_0, mean_0, max_1, ...), BN, dense 1506->200, ReLU, BN
    (``penultimate``), dense 200->50 (logits), sigmoid (the taggram).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from autoenchorder.errors import WeightsError

BN_EPSILON = 1e-3
#: (checkpoint conv name, BN name, time kernel, freq kernel, filters, time padding before/after)
_FRONTEND = (
    ("conv2d", "batch_normalization_1", 7, 38, 204, (3, 3)),
    ("conv2d_1", "batch_normalization_2", 7, 67, 204, (3, 3)),
    ("conv2d_2", "batch_normalization_3", 128, 1, 51, (63, 64)),
    ("conv2d_3", "batch_normalization_4", 64, 1, 51, (31, 32)),
    ("conv2d_4", "batch_normalization_5", 32, 1, 51, (15, 16)),
)
_MIDEND = (
    ("conv2d_5", "batch_normalization_6"),
    ("conv2d_6", "batch_normalization_7"),
    ("conv2d_7", "batch_normalization_8"),
)
FRONTEND_DIM = 561
POOL_DIM = 753
PENULTIMATE_DIM = 200
N_TAGS = 50


def _bn_affine(ckpt: Mapping[str, np.ndarray], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inference batch norm as ``x * scale + shift`` (float64 folding, float32 result)."""
    gamma = ckpt[f"{name}/gamma"].astype(np.float64)
    beta = ckpt[f"{name}/beta"].astype(np.float64)
    mean = ckpt[f"{name}/moving_mean"].astype(np.float64)
    var = ckpt[f"{name}/moving_variance"].astype(np.float64)
    scale = gamma / np.sqrt(var + BN_EPSILON)
    shift = beta - mean * scale
    return torch.from_numpy(scale.astype(np.float32)), torch.from_numpy(shift.astype(np.float32))


class MusicnnNet(nn.Module):
    """musicnn (MSD/MTT variant) for inference; build it with :meth:`from_checkpoint`.

    ``forward(x)`` takes log-mel patches [B, T, 96] (T = 187 for the pretrained models) and
    returns a dict of float32 tensors: ``"taggram"`` [B, 50], ``"penultimate"`` [B, 200],
    ``"max_pool"`` and ``"mean_pool"`` [B, 753].
    """

    def __init__(self) -> None:
        super().__init__()
        self.input_bn = _Affine(1)
        self.frontend = nn.ModuleList(
            nn.Conv2d(1, filters, (kt, kf)) for _, _, kt, kf, filters, _ in _FRONTEND
        )
        self.frontend_bn = nn.ModuleList(_Affine(f) for *_, f, _ in _FRONTEND)
        self.frontend_pad = [pad for *_, pad in _FRONTEND]
        self.midend = nn.ModuleList(
            [nn.Conv1d(FRONTEND_DIM, 64, 7), nn.Conv1d(64, 64, 7), nn.Conv1d(64, 64, 7)]
        )
        self.midend_bn = nn.ModuleList(_Affine(64) for _ in range(3))
        self.pool_bn = _Affine(2 * POOL_DIM)
        self.dense = nn.Linear(2 * POOL_DIM, PENULTIMATE_DIM)
        self.dense_bn = _Affine(PENULTIMATE_DIM)
        self.logits = nn.Linear(PENULTIMATE_DIM, N_TAGS)

    @classmethod
    def from_checkpoint(cls, ckpt: Mapping[str, np.ndarray]) -> MusicnnNet:
        """Build the network from the variables of a musicnn TensorFlow checkpoint.

        Parameters
        ----------
        ckpt : mapping of str to np.ndarray
            As returned by :func:`autoenchorder.audio.embed.tf_checkpoint.read_checkpoint`
            (optimizer slots such as ``.../Adam`` are ignored).

        Raises
        ------
        WeightsError
            A variable is missing or has an unexpected shape.
        """
        net = cls()
        try:
            net._load(ckpt)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise WeightsError(f"not a musicnn (MSD/MTT) checkpoint: {exc}") from exc
        return net.eval().to(memory_format=torch.channels_last)

    def _load(self, ckpt: Mapping[str, np.ndarray]) -> None:
        def tensor(name: str) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(ckpt[name], dtype=np.float32))

        with torch.no_grad():
            self.input_bn.set(*_bn_affine(ckpt, "batch_normalization"))
            for conv, bn, (conv_name, bn_name, *_) in zip(
                self.frontend, self.frontend_bn, _FRONTEND, strict=True
            ):
                # TF HWIO [kt, kf, 1, out] -> torch OIHW [out, 1, kt, kf]
                # Channels whose BN scale is negative get negated filters: the max over
                # frequency of the negated map is minus the min of the original (see forward).
                scale, shift = _bn_affine(ckpt, bn_name)
                sign = torch.where(scale < 0, -1.0, 1.0)
                kernel = tensor(f"{conv_name}/kernel").permute(3, 2, 0, 1)
                conv.weight.copy_(kernel * sign[:, None, None, None])
                conv.bias.copy_(tensor(f"{conv_name}/bias") * sign)
                bn.set(scale, shift)
            for conv, bn, (conv_name, bn_name) in zip(
                self.midend, self.midend_bn, _MIDEND, strict=True
            ):
                # TF [7, channels, 1, out] (conv over time with a full-width kernel) -> Conv1d
                conv.weight.copy_(tensor(f"{conv_name}/kernel")[:, :, 0, :].permute(2, 1, 0))
                conv.bias.copy_(tensor(f"{conv_name}/bias"))
                bn.set(*_bn_affine(ckpt, bn_name))
            self.pool_bn.set(*_bn_affine(ckpt, "batch_normalization_9"))
            self.dense.weight.copy_(tensor("dense/kernel").T)
            self.dense.bias.copy_(tensor("dense/bias"))
            self.dense_bn.set(*_bn_affine(ckpt, "batch_normalization_10"))
            self.logits.weight.copy_(tensor("dense_1/kernel").T)
            self.logits.bias.copy_(tensor("dense_1/bias"))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Run the network on log-mel patches ``x`` [B, T, 96]; see the class docstring."""
        max_pool, mean_pool, flat = self.pooled(self.midend_features(self.frontend_features(x)))
        penultimate = self.backend(flat)
        taggram = torch.sigmoid(self.logits(penultimate))
        return {
            "taggram": taggram,
            "penultimate": penultimate,
            "max_pool": max_pool,
            "mean_pool": mean_pool,
        }

    # The stages of ``forward`` one by one, so a caller can run the lower ones once (frozen)
    # and train the upper ones (autoenchorder.models.autoenchorder_finetune).

    def frontend_features(self, x: torch.Tensor) -> torch.Tensor:
        """The front-end: log-mel patches [B, T, 96] -> [B, 561, T] (timbral and temporal)."""
        x = self.input_bn(x).unsqueeze(1)  # [B, 1, T, 96]
        branches = []
        for conv, bn, (before, after) in zip(
            self.frontend, self.frontend_bn, self.frontend_pad, strict=True
        ):
            padded = F.pad(x, (0, 0, before, after)).contiguous(memory_format=torch.channels_last)
            z = conv(padded)  # [B, C, T, F'] (channels-last: the fastest CPU conv here)
            # The original: max over frequency of BN(ReLU(z)). BN and ReLU are monotonic per
            # channel, so that is BN(ReLU(max z)) where the BN scale is >= 0 and
            # BN(ReLU(min z)) where it is < 0; those channels' filters were negated at load
            # time, so min z = -max(-z) and a single max pass serves both.
            m = F.max_pool2d(z, kernel_size=(1, z.shape[3])).squeeze(3)  # [B, C, T]
            sign = torch.where(bn.scale < 0, -1.0, 1.0)[:, None]
            branches.append(bn(torch.relu(m * sign), channel_dim=1))
        return torch.cat(branches, dim=1)  # [B, 561, T]

    def midend_features(self, front: torch.Tensor) -> torch.Tensor:
        """The mid-end: front-end output [B, 561, T] -> dense concatenation [B, 753, T]."""
        layers = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.midend, self.midend_bn, strict=True)):
            out = bn(torch.relu(conv(F.pad(h, (3, 3)))), channel_dim=1)
            h = out if i == 0 else out + h
            layers.append(h)
        return torch.cat(layers, dim=1)  # [B, 753, T]

    def pooled(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Temporal pooling of [B, 753, T]: ``(max_pool, mean_pool, flat)``, flat [B, 1506]."""
        max_pool = features.amax(dim=2)
        mean_pool = features.mean(dim=2)
        flat = torch.stack([max_pool, mean_pool], dim=2).reshape(features.shape[0], 2 * POOL_DIM)
        return max_pool, mean_pool, flat

    def backend(self, flat: torch.Tensor) -> torch.Tensor:
        """The back-end up to the penultimate layer: [B, 1506] -> [B, 200]."""
        return self.dense_bn(torch.relu(self.dense(self.pool_bn(flat))))


class _Affine(nn.Module):
    """A folded inference batch norm: ``x * scale + shift`` along one channel axis."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(channels))
        self.register_buffer("shift", torch.zeros(channels))

    def set(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        self.scale.copy_(scale)
        self.shift.copy_(shift)

    def forward(self, x: torch.Tensor, channel_dim: int = -1) -> torch.Tensor:
        if channel_dim == -1 or channel_dim == x.ndim - 1:
            return x * self.scale + self.shift
        shape = [1] * x.ndim
        shape[channel_dim] = -1
        return x * self.scale.view(shape) + self.shift.view(shape)
