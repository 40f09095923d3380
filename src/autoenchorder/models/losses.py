r"""Losses: Autoen-chorder's outlier-weighted squared error, and a pairwise ranking objective.

The study (reference/autoen-chorder-blog.md, "Additional Model Considerations") prints

.. math:: \frac{1}{N} \sum_{i=1}^{N} \exp\left(\left(\frac{t_i - \mu}{\alpha\, s}\right)^2
          \cdot \frac{1}{\beta}\right)

and says it "multiplies the losses by a weighting factor". As printed, the formula is the
mean of the weights alone (it has no prediction in it), which cannot be a loss. Our reading,
used everywhere in this package:

.. math:: L = \frac{1}{N} \sum_{i=1}^{N} w_i\, (\hat y_i - t_i)^2, \qquad
          w_i = \exp\left(\frac{1}{\beta}\left(\frac{t_i - \mu}{\alpha\, s}\right)^2\right)

- ``t_i`` and ``\hat y_i`` are on the 0-1 scale (popularity / 100);
- ``\mu`` is a fixed centre (default 0.36, the study's best), *not* re-estimated per batch;
- ``s`` is the standard deviation (population, ``ddof=0``) of the *training* targets on the
  0-1 scale, computed once before training;
- ``\alpha = 2`` and ``\beta = 2`` by default; the weights multiply each example's squared
  error and the sum is divided by the batch size N (not by the sum of the weights), so a batch of
  typical songs has a loss close to plain MSE and outliers count more.

The network regressors choose their loss with :class:`Objective` (``mse``, ``weighted``,
``ranking``: :func:`pairwise_ranking_loss` alone, ``mixed``: MSE plus a weighted ranking term).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.stats import rankdata

from autoenchorder.errors import ModelError
from autoenchorder.published import STUDY_BEST

#: the study's best weighting parameters
DEFAULT_LOSS_MEAN = float(STUDY_BEST["loss_mean"])
DEFAULT_LOSS_ALPHA = float(STUDY_BEST["loss_alpha"])
DEFAULT_LOSS_BETA = float(STUDY_BEST["loss_beta"])


def outlier_weights(
    target: torch.Tensor,
    *,
    sd: float,
    mean: float = DEFAULT_LOSS_MEAN,
    alpha: float = DEFAULT_LOSS_ALPHA,
    beta: float = DEFAULT_LOSS_BETA,
) -> torch.Tensor:
    """Per-example weights ``exp(((t - mean) / (alpha * sd))**2 / beta)``.

    Parameters
    ----------
    target : torch.Tensor, shape (N,)
        Targets on the 0-1 scale.
    sd : float
        Standard deviation of the training targets on the 0-1 scale (> 0).
    mean, alpha, beta : float
        Centre, width and softness of the weighting.

    Returns
    -------
    torch.Tensor, shape (N,)
        Weights >= 1 (exactly 1 at ``t == mean``).
    """
    if not sd > 0 or not alpha > 0 or not beta > 0:
        raise ValueError(f"sd, alpha and beta must be > 0; got {sd}, {alpha}, {beta}")
    return torch.exp(((target - mean) / (alpha * sd)) ** 2 / beta)


def weighted_mse(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    sd: float,
    mean: float = DEFAULT_LOSS_MEAN,
    alpha: float = DEFAULT_LOSS_ALPHA,
    beta: float = DEFAULT_LOSS_BETA,
) -> torch.Tensor:
    """Outlier-weighted mean squared error (the reading in the module docstring).

    Parameters
    ----------
    prediction, target : torch.Tensor, shape (N,)
        On the 0-1 scale.
    sd, mean, alpha, beta : float
        See :func:`outlier_weights`.

    Returns
    -------
    torch.Tensor, scalar
        ``mean(w * (prediction - target)**2)``.
    """
    weights = outlier_weights(target, sd=sd, mean=mean, alpha=alpha, beta=beta)
    return (weights * (prediction - target) ** 2).mean()


def target_sd(y01: np.ndarray) -> float:
    """Population standard deviation of training targets on the 0-1 scale (1.0 if constant)."""
    sd = float(np.std(np.asarray(y01, dtype=np.float64)))
    return sd if sd > 0 else 1.0


# ---------------------------------------------------------------------------- ranking
#: Pairwise ranking losses :func:`pairwise_ranking_loss` knows.
RANKING_LOSSES: tuple[str, ...] = ("logistic", "margin")
#: Training objectives of the network regressors (see :class:`Objective`).
OBJECTIVES: tuple[str, ...] = ("mse", "weighted", "ranking", "mixed")


def pairwise_ranking_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    *,
    kind: str = "logistic",
    scale: float = 10.0,
    margin: float = 0.1,
    max_pairs: int = 0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Mean pairwise ranking loss over the ordered pairs of a batch ("is A more popular than B").

    Every pair ``(i, j)`` with ``target[i] > target[j]`` asks for ``prediction[i] >
    prediction[j]``; with ``d = prediction[i] - prediction[j]`` its loss is

    - ``"logistic"`` (RankNet, Burges et al. 2005): :math:`\log(1 + e^{-\sigma d})`, the
      cross-entropy of :math:`P(i \succ j) = \mathrm{sigmoid}(\sigma d)` against 1, computed
      as ``softplus(-scale * d)`` (no overflow for any ``d``);
    - ``"margin"`` (hinge): :math:`\max(0, m - d)`.

    Pairs of equal targets (ties) carry no order and are left out. The loss depends on the
    predictions only through differences, so adding a constant to every prediction leaves it
    unchanged; that is also why a model trained on it alone predicts on an arbitrary scale.

    Parameters
    ----------
    prediction, target : torch.Tensor, shape (N,)
        Scores and the targets that order them (any scale; popularity / 100 in the models).
    kind : str
        ``"logistic"`` or ``"margin"``.
    scale : float
        ``sigma`` of the logistic loss, in inverse units of ``prediction`` (10 on the 0-1
        scale: a gap of 0.1, ten popularity points, is a logit of 1).
    margin : float
        ``m`` of the margin loss, in units of ``prediction``.
    max_pairs : int
        0: all ``N (N - 1) / 2`` pairs of the batch (an ``N x N`` matrix; 256 rows are 65k
        entries). Otherwise this many pairs ``(i, j)`` drawn uniformly with replacement from
        ``generator`` (the global torch generator when None), ties and ``i == j`` then dropped.
    generator : torch.Generator or None

    Returns
    -------
    torch.Tensor, scalar
        Mean loss over the ordered pairs; 0 (still attached to ``prediction``'s graph) when the
        batch has none (one row, or all targets equal).
    """
    if kind not in RANKING_LOSSES:
        raise ValueError(f"unknown ranking loss {kind!r}; use {' or '.join(RANKING_LOSSES)}")
    if prediction.shape != target.shape or prediction.dim() != 1:
        raise ValueError(
            f"prediction and target must both be (N,); got {tuple(prediction.shape)} and "
            f"{tuple(target.shape)}"
        )
    n = prediction.shape[0]
    if max_pairs and max_pairs < n * (n - 1) // 2:
        first = torch.randint(n, (max_pairs,), generator=generator).to(prediction.device)
        second = torch.randint(n, (max_pairs,), generator=generator).to(prediction.device)
        order = torch.sign(target[first] - target[second])  # +1, -1, or 0 for a tie
        keep = order != 0
        gaps = order[keep] * (prediction[first[keep]] - prediction[second[keep]])
    else:
        ordered = target[:, None] > target[None, :]  # (N, N): row i should rank above column j
        gaps = (prediction[:, None] - prediction[None, :])[ordered]
    if gaps.numel() == 0:
        return prediction.sum() * 0.0
    if kind == "logistic":
        return torch.nn.functional.softplus(-scale * gaps).mean()
    return torch.relu(margin - gaps).mean()


@dataclass(frozen=True)
class Objective:
    """A network regressor's training loss: ``objective(prediction, target) -> scalar``.

    ============  ==================================================================
    ``kind``      loss
    ============  ==================================================================
    ``mse``       mean squared error
    ``weighted``  the study's outlier-weighted MSE (:func:`weighted_mse`)
    ``ranking``   :func:`pairwise_ranking_loss` alone: predictions on an arbitrary
                  scale, which the model calibrates to popularity after fitting
    ``mixed``     MSE + ``ranking_weight`` * ranking loss (keeps the popularity scale)
    ============  ==================================================================

    Attributes
    ----------
    kind : str
        One of :data:`OBJECTIVES`.
    ranking_weight : float
        Weight of the ranking loss in ``"mixed"`` (>= 0).
    ranking_loss : str
        ``"logistic"`` or ``"margin"`` (see :func:`pairwise_ranking_loss`).
    ranking_scale, ranking_margin : float
        The ranking loss's ``scale`` and ``margin``.
    ranking_pairs : int
        Pairs drawn per batch (0: all pairs of the batch).
    sd, mean, alpha, beta : float
        The weighting of ``"weighted"`` (see :func:`outlier_weights`), in the targets' units.
    """

    kind: str = "mse"
    ranking_weight: float = 0.1
    ranking_loss: str = "logistic"
    ranking_scale: float = 10.0
    ranking_margin: float = 0.1
    ranking_pairs: int = 0
    sd: float = 1.0
    mean: float = DEFAULT_LOSS_MEAN
    alpha: float = DEFAULT_LOSS_ALPHA
    beta: float = DEFAULT_LOSS_BETA

    def __post_init__(self) -> None:
        """Refuse unknown kinds and impossible settings before any training."""
        if self.kind not in OBJECTIVES:
            raise ModelError(f"unknown objective {self.kind!r}; use {', '.join(OBJECTIVES)}")
        if self.ranking_loss not in RANKING_LOSSES:
            raise ModelError(
                f"unknown ranking_loss {self.ranking_loss!r}; use {' or '.join(RANKING_LOSSES)}"
            )
        if not self.ranking_weight >= 0 or not self.ranking_scale > 0 or self.ranking_pairs < 0:
            raise ModelError(
                "ranking_weight must be >= 0, ranking_scale > 0 and ranking_pairs >= 0; got "
                f"{self.ranking_weight}, {self.ranking_scale}, {self.ranking_pairs}"
            )

    @property
    def arbitrary_scale(self) -> bool:
        """True when the predictions have no popularity scale (``"ranking"``): calibrate them."""
        return self.kind == "ranking"

    def __call__(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the batch's loss.

        Parameters
        ----------
        prediction, target : torch.Tensor, shape (N,)

        Returns
        -------
        torch.Tensor, scalar
        """
        if self.kind == "mse":
            return torch.nn.functional.mse_loss(prediction, target)
        if self.kind == "weighted":
            return weighted_mse(
                prediction, target, sd=self.sd, mean=self.mean, alpha=self.alpha, beta=self.beta
            )
        ranking = pairwise_ranking_loss(
            prediction,
            target,
            kind=self.ranking_loss,
            scale=self.ranking_scale,
            margin=self.ranking_margin,
            max_pairs=self.ranking_pairs,
        )
        if self.kind == "ranking":
            return ranking
        return torch.nn.functional.mse_loss(prediction, target) + self.ranking_weight * ranking


def objective_from_config(cfg: Any, *, sd: float, mean: float | None = None) -> Objective:
    """Return the :class:`Objective` a model config asks for.

    Parameters
    ----------
    cfg : model config
        Has ``objective`` and the ``ranking_*`` options, and ``loss_alpha`` / ``loss_beta``
        (and ``loss_mean``) for ``"weighted"``.
    sd : float
        Standard deviation of the training targets in the units the network is trained on.
    mean : float or None
        The weighting centre in those units (default: ``cfg.loss_mean``).

    Returns
    -------
    Objective
    """
    return Objective(
        kind=cfg.objective,
        ranking_weight=cfg.ranking_weight,
        ranking_loss=cfg.ranking_loss,
        ranking_scale=cfg.ranking_scale,
        ranking_margin=cfg.ranking_margin,
        ranking_pairs=cfg.ranking_pairs,
        sd=sd,
        mean=cfg.loss_mean if mean is None else mean,
        alpha=cfg.loss_alpha,
        beta=cfg.loss_beta,
    )


def spearman_metric(module: torch.nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
    """``{"val_spearman": ...}`` of ``module(*data[:-1])`` against ``data[-1]`` (average ranks).

    The early-stopping score of a ranking objective, whose predictions have no scale for an
    MAE to mean anything (NaN when either side is constant).
    """
    module.eval()
    with torch.no_grad():
        outs = [
            module(*(t[s : s + 1024] for t in data[:-1])) for s in range(0, len(data[-1]), 1024)
        ]
    prediction = torch.cat(outs).double().cpu().numpy()
    target = data[-1].double().cpu().numpy()
    if np.ptp(prediction) == 0 or np.ptp(target) == 0:
        return {"val_spearman": float("nan")}
    rho = np.corrcoef(rankdata(prediction), rankdata(target))[0, 1]
    return {"val_spearman": float(rho)}
