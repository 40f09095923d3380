"""Several targets at once: one network output per target, a masked joint loss.

A dataset may carry, besides its popularity ``y``, further targets of the same songs in
``ds.extra_targets`` (NaN where a song has none; e.g. MusicOSet's Billboard year-end score and a
hit / non-hit label). A multi-target head has one output per target, popularity first (the
output every report, bundle and page reads). Each target is learnt on its own scale:

- ``"popularity"`` and every *score* (a column with values other than 0 and 1): MinMax-scaled on
  the training rows, a sigmoid on the output, squared error (popularity exactly as the
  single-target model learns it);
- a *binary* label (finite values all 0 or 1): a logit output, binary cross-entropy.

The joint loss is ``sum_k w_k * L_k`` with ``L_k`` the mean loss of target ``k`` over the rows of
the batch that have it (a missing target contributes nothing, and a target no row of the batch
has contributes 0), ``w_0 = 1`` for popularity and ``w_k = aux_weight`` for the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.training import predict_batches

#: the name of the main target (the dataset's ``y``), always the first output
MAIN_TARGET = "popularity"
SCORE, BINARY = "score", "binary"


def masked_joint_loss(
    raw: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    *,
    kinds: Sequence[str],
    weights: torch.Tensor,
) -> torch.Tensor:
    """The weighted sum over targets of each target's mean loss over the rows that have it.

    Parameters
    ----------
    raw : torch.Tensor, shape (B, K)
        Network outputs before any activation.
    target : torch.Tensor, shape (B, K)
        Scores MinMax-scaled to [0, 1], labels 0 / 1; any finite value where ``mask`` is 0.
    mask : torch.Tensor, shape (B, K)
        1.0 where the row has the target, 0.0 where it is missing.
    kinds : sequence of str, length K
        ``"score"`` (sigmoid, squared error) or ``"binary"`` (binary cross-entropy on logits).
    weights : torch.Tensor, shape (K,)
        Weight of each target's mean loss.

    Returns
    -------
    torch.Tensor, scalar
    """
    if raw.shape != target.shape or raw.shape != mask.shape or raw.shape[1] != len(kinds):
        raise ModelError(
            f"outputs {tuple(raw.shape)}, targets {tuple(target.shape)} and mask "
            f"{tuple(mask.shape)} must agree with {len(kinds)} target kinds"
        )
    binary = torch.tensor([k == BINARY for k in kinds], device=raw.device)
    squared = (torch.sigmoid(raw) - target) ** 2
    cross_entropy = F.binary_cross_entropy_with_logits(raw, target, reduction="none")
    per_element = torch.where(binary, cross_entropy, squared) * mask
    # each target's mean over the rows that have it; a target absent from the batch counts 0
    per_target = per_element.sum(0) / mask.sum(0).clamp(min=1.0)
    return (per_target * weights).sum()


def require_extra_targets(ds: PopularityDataset, names: Sequence[str]) -> None:
    """Raise ModelError naming each of ``names`` that ``ds.extra_targets`` lacks.

    Parameters
    ----------
    ds : PopularityDataset
    names : sequence of str
        Columns expected in ``ds.extra_targets``.
    """
    have = [] if ds.extra_targets is None else list(ds.extra_targets.columns)
    unknown = [n for n in names if n not in have]
    if unknown:
        raise ModelError(
            f"dataset {ds.name!r} has no extra target {', '.join(map(repr, unknown))} "
            f"(it has {have or 'none'}; e.g. load MusicOSet with extra_targets=...)"
        )


@dataclass
class TargetSet:
    """The targets of a multi-target fit, and their scaling fitted on the training rows.

    Attributes
    ----------
    names : tuple of str, length K
        ``("popularity", ...)``: the main target, then ``ds.extra_targets`` columns.
    kinds : tuple of str, length K
        ``"score"`` or ``"binary"`` per target (popularity is a score).
    low, high : tuple of float, length K
        MinMax range of each score on the training rows (0 and 1 for a binary label).
    aux_weight : float
        Weight of every target but popularity in the joint loss.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    aux_weight: float = 1.0

    @classmethod
    def fit(
        cls, train: PopularityDataset, names: Sequence[str], *, aux_weight: float = 1.0
    ) -> TargetSet:
        """Check the targets exist and fit their kinds and ranges on ``train``.

        Parameters
        ----------
        train : PopularityDataset
            Training rows (a regression dataset with ``extra_targets`` for names beyond the
            first).
        names : sequence of str
            ``"popularity"`` first, then column names of ``train.extra_targets``.
        aux_weight : float
            Weight of the extra targets in the joint loss (>= 0).

        Returns
        -------
        TargetSet

        Raises
        ------
        ModelError
            Popularity not first, a repeated or unknown target, one no training row has, or a
            classification dataset.
        """
        names = tuple(names)
        if not names or names[0] != MAIN_TARGET:
            raise ModelError(f"targets must start with {MAIN_TARGET!r} (the main output): {names}")
        if len(set(names)) != len(names):
            raise ModelError(f"targets repeat a name: {names}")
        if train.task != "regression":
            raise ModelError("several targets are for a regression dataset (popularity first)")
        if not aux_weight >= 0:
            raise ModelError(f"aux_weight must be >= 0, not {aux_weight}")
        require_extra_targets(train, names[1:])
        extra = train.extra_targets
        popularity = train.y[train.popularity_known()]
        if popularity.size == 0:
            raise ModelError(f"no training row has the target {MAIN_TARGET!r}")
        kinds, low, high = [SCORE], [0.0], [100.0]
        low[0], high[0] = float(np.min(popularity)), float(np.max(popularity))
        for name in names[1:]:
            assert extra is not None
            values = extra[name].to_numpy(np.float64)
            known = values[np.isfinite(values)]
            if known.size == 0:
                raise ModelError(f"no training row has the target {name!r}")
            if np.isin(known, (0.0, 1.0)).all():
                kinds.append(BINARY)
                low.append(0.0)
                high.append(1.0)
            else:
                kinds.append(SCORE)
                low.append(float(known.min()))
                high.append(float(known.max()))
        return cls(names, tuple(kinds), tuple(low), tuple(high), float(aux_weight))

    def __len__(self) -> int:
        return len(self.names)

    def tensors(
        self, ds: PopularityDataset, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The scaled targets of ``ds`` and where they are known.

        Parameters
        ----------
        ds : PopularityDataset
        device : torch.device or str

        Returns
        -------
        target : torch.Tensor, float32, shape (N, K)
            Scaled scores and 0 / 1 labels; 0 where missing.
        mask : torch.Tensor, float32, shape (N, K)
            1 where known.
        """
        columns = [np.asarray(ds.y, dtype=np.float64)]
        for name in self.names[1:]:
            if ds.extra_targets is None or name not in ds.extra_targets.columns:
                columns.append(np.full(len(ds), np.nan))  # e.g. validation rows of a subset
            else:
                columns.append(ds.extra_targets[name].to_numpy(np.float64))
        values = np.stack(columns, axis=1).reshape(len(ds), len(self))
        low, high = np.array(self.low), np.array(self.high)
        span = np.where(high > low, high - low, 1.0)
        scaled = (values - low) / span
        known = np.isfinite(scaled)
        target = torch.as_tensor(np.where(known, scaled, 0.0), dtype=torch.float32, device=device)
        mask = torch.as_tensor(known, dtype=torch.float32, device=device)
        return target, mask

    def loss(self, module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """``loss(module, (inputs, target, mask))``: :func:`masked_joint_loss` of a batch."""
        weights = torch.full((len(self),), self.aux_weight, device=batch[0].device)
        weights[0] = 1.0
        return masked_joint_loss(
            module(batch[0]), batch[1], batch[2], kinds=self.kinds, weights=weights
        )

    def val_mae(self, module: torch.nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
        """Validation MAE of the main (popularity) output on the MinMax scale, as one head's."""
        main = torch.sigmoid(predict_batches(module, data[:1])[:, 0])
        return {"val_mae": float((main - data[1][:, 0]).abs().mean())}

    def outputs(self, raw: np.ndarray) -> pd.DataFrame:
        """Network outputs on each target's own scale.

        Parameters
        ----------
        raw : np.ndarray, shape (N, K)
            Outputs before any activation.

        Returns
        -------
        pd.DataFrame, shape (N, K)
            Scores in their original units (popularity 0-100 ...); a binary label's
            probability of 1.
        """
        prob = 1.0 / (1.0 + np.exp(-np.asarray(raw, dtype=np.float64)))
        low, high = np.array(self.low), np.array(self.high)
        binary = np.array([k == BINARY for k in self.kinds])
        values = np.where(binary, prob, low + prob * (high - low))
        return pd.DataFrame(values, columns=list(self.names))

    def to_state(self) -> dict[str, Any]:
        """JSON-able form (see :meth:`from_state`)."""
        return {
            "names": list(self.names),
            "kinds": list(self.kinds),
            "low": list(self.low),
            "high": list(self.high),
            "aux_weight": self.aux_weight,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TargetSet:
        """Rebuild from :meth:`to_state`'s output."""
        return cls(
            tuple(state["names"]),
            tuple(state["kinds"]),
            tuple(float(v) for v in state["low"]),
            tuple(float(v) for v in state["high"]),
            float(state["aux_weight"]),
        )
