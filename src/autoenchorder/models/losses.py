r"""Losses: Autoen-chorder's outlier-weighted squared error.

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
"""

from __future__ import annotations

import numpy as np
import torch

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
