"""HitMusicNet (Martin-Gutierrez et al., IEEE Access 2020): autoencoder, then a small regressor.

The tabular features (all groups the dataset has, or a chosen subset; ``"audio-only"`` is the
207 low-level features) are scaled, compressed by a dense autoencoder (d -> d/2 -> d/3 -> code,
mirrored; see :func:`~autoenchorder.models.blocks.hmn_autoencoder_widths`), the codes are
scaled again and a feed-forward network (alpha / beta / gamma widths, dropout) predicts the
MinMax-scaled popularity through a sigmoid, or three classes (< 25, 25-64, >= 65) through a
softmax with balanced class weights.

Two settings (``setting="faithful"`` or ``"default"``; single options can still be overridden):

============================  ===========================  ===============================
option                        faithful (the original)      default (ours)
============================  ===========================  ===============================
input scaling, AE output      MinMax, sigmoid              log1p of heavy-tailed columns,
                                                           standardised; linear
code size                     "auto" d/5 (13 inputs: 2)    "small" d/4, at least 8
regressor input               the code                     [code, scaled inputs]
regressor widths, dropout     alpha/beta/gamma, 0.25       same rule, at least 32; 0.1
code scaling                  MinMax                       standardised
autoencoder training          Adam, batch 32, 50 epochs,   Adam, batch 256, 200 epochs,
                              stop on train loss (pat. 2)  stop on val loss (pat. 10),
                              last weights                 best weights
regressor optimizer           Adam lr 1e-3                 AdamW lr 1e-3, weight decay 1e-4
regressor stopping            val MAE, patience 5, keeps   val MAE, patience 20, restores
                              the last epoch's weights     the best epoch's weights
regressor heads               1                            3 seeds on the same code, mean
epochs, batch                 100, 256                     300, 256
============================  ===========================  ===============================

Several targets (``targets=("popularity", "billboard", "hit")``, default popularity alone): the
heads get one output per target, trained with a masked joint loss on each target's own scale
(:mod:`autoenchorder.models.multitarget`); popularity stays the first output and is what
``predict`` returns, :meth:`HitMusicNet.predict_targets` gives them all.

A teacher (``teacher_weight=w`` > 0, ``privileged=("billboard", "hit")``): the one output learns
``(1 - w) * popularity + w * teacher`` on the training rows, the teacher a gradient-boosted tree
model fitted out of fold on the features and those extra targets, which the fitted network
never reads (:mod:`autoenchorder.models.distillation`).

The default's scaling, code size and dropout were picked among 8 combinations by MAE on a
validation split carved from MusicOSet's *training* rows (never its test rows): 12.7 against
14.5 for the faithful choices. The minimum widths, the inputs beside the code, the log of
heavy-tailed columns and the 3 heads were added so that the 13 Spotify descriptors alone
(a 3-wide code and a 1-wide head before) are learnt at all, again judged on the validation
rows only (see docs/models.md).

Both settings fit the scalers and the autoencoder on the training split only; the original
fitted them on every row, test rows included (leakage), and trained one network across its
five folds. Not reproduced: the original's rounding of the training inputs to 3 decimals.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.base import (
    CLASS_NAMES,
    Model,
    ModelConfig,
    check_finite,
    clip_popularity,
    popularity_classes,
    resolve_groups,
    split_validation,
)
from autoenchorder.models.blocks import (
    DenseAutoencoder,
    HitMusicNetRegressor,
    autoencoder_widths,
    hmn_autoencoder_widths,
    hmn_regressor_widths,
    init_xavier,
    load_module_arrays,
    module_arrays,
)
from autoenchorder.models.calibration import ScoreCalibration
from autoenchorder.models.distillation import taught
from autoenchorder.models.losses import (
    DEFAULT_LOSS_ALPHA,
    DEFAULT_LOSS_BETA,
    DEFAULT_LOSS_MEAN,
    Objective,
    objective_from_config,
    spearman_metric,
    target_sd,
)
from autoenchorder.models.multitarget import MAIN_TARGET, TargetSet
from autoenchorder.models.registry import register_model
from autoenchorder.models.scaling import ColumnScaler
from autoenchorder.models.training import (
    LossFn,
    TrainSettings,
    predict_batches,
    resolve_device,
    seeded,
    train_module,
)

_FAITHFUL: dict[str, Any] = dict(
    input_scaler="minmax",
    compress="auto",
    dropout=0.25,
    code_scaler="minmax",
    ae_epochs=50,
    ae_batch_size=32,
    ae_patience=2,
    ae_monitor="train_loss",
    ae_restore_best=False,
    optimizer="adam",
    weight_decay=0.0,
    epochs=100,
    patience=5,
    restore_best=False,
    log_inputs=False,
    min_code=1,
    min_width=0,
    skip_inputs=False,
    n_seeds=1,
)


@dataclass
class HitMusicNetConfig(ModelConfig):
    """Options of HitMusicNet (defaults are the ``"default"`` setting; see the module table).

    Attributes
    ----------
    setting : str
        ``"default"`` or ``"faithful"``: which defaults the other options start from.
    groups : tuple of str, str or None
        Tabular column groups (None: all the dataset has; ``"audio-only"``: ``("lowlevel",)``).
    task : str
        ``"auto"`` (the dataset's), ``"regression"`` or ``"classification"`` (a regression
        dataset is then binned into HitMusicNet's three classes).
    compress : str
        Code size rule: ``"auto"`` d/5, ``"high"`` d/7, ``"small"`` d/4.
    min_code : int
        Smallest code width (capped at d); a rule giving less drops the hidden autoencoder
        layers not wider than the code (13 descriptors: 13 -> 8 instead of 13 -> 6 -> 4 -> 3).
    min_width : int
        Smallest hidden width of the regressor (0: the alpha / beta / gamma rule alone).
    skip_inputs : bool
        Feed the regressor the scaled inputs beside the scaled code (``[code, x]``), so what
        the code drops is still reachable; the alpha / beta / gamma widths then scale with
        ``code + d``.
    log_inputs : bool
        ``log1p`` the heavy-tailed columns (all values >= 0, skewness > 2 on the training
        rows, e.g. artist followers) before the input scaler.
    alpha, beta, gamma : float
        Regressor widths as fractions of the code size.
    n_layers : int
        Regressor dense layers including the output (4 in the original).
    dropout : float
    input_scaler, code_scaler : str
        ``"minmax"`` or ``"standard"``.
    ae_epochs, ae_batch_size, ae_patience : int
    ae_lr : float
    ae_monitor : str
        ``"train_loss"`` (the original) or ``"val_loss"``.
    ae_restore_best : bool
    epochs, batch_size, patience : int
    lr, weight_decay : float
    optimizer : str
        ``"adam"`` or ``"adamw"``.
    restore_best : bool
        Keep the best validation epoch's weights (the original keeps the last).
    class_weights : bool
        Balanced class weights for the classification loss (as the original).
    n_seeds : int
        Regressor heads trained on the same codes from seeds ``seed``, ``seed + 1`` ...;
        the prediction is their mean (of class probabilities in the 3-class mode).
    val_fraction : float
        Share of ``train`` carved out (seeded) for early stopping when no ``val`` is given.
    objective : str
        Regression loss (see :class:`~autoenchorder.models.losses.Objective`): ``"mse"`` (the
        original's), ``"weighted"`` (Autoen-chorder's outlier-weighted MSE), ``"ranking"`` (a
        pairwise ranking loss alone; early stopping then watches validation Spearman and the
        scores are calibrated to popularity on the training rows afterwards) or ``"mixed"``
        (MSE + ``ranking_weight`` * ranking loss).
    ranking_weight, ranking_loss, ranking_scale, ranking_margin, ranking_pairs
        The ranking term (see :class:`~autoenchorder.models.losses.Objective`); scale and
        margin are in units of the MinMax-scaled target.
    loss_mean, loss_alpha, loss_beta : float
        The weighting of ``"weighted"``: centre on the popularity / 100 scale, width, softness.
    targets : tuple of str
        ``("popularity",)`` (the original's one output), or popularity first and then columns
        of the dataset's ``extra_targets`` (e.g. ``"billboard"``, ``"hit"``): one output each,
        a masked joint loss (:mod:`~autoenchorder.models.multitarget`; ``objective`` must then
        be ``"mse"``).
    aux_weight : float
        Weight of each target but popularity in the joint loss.
    teacher_weight : float
        0 (the original): learn popularity. ``w`` in (0, 1]: learn ``(1 - w) * popularity +
        w * teacher`` on the training rows, the teacher a GBDT fitted out of fold on the
        training rows' features and ``privileged`` columns
        (:mod:`~autoenchorder.models.distillation`); early stopping still watches the
        validation rows' popularity.
    privileged : tuple of str
        Columns of the dataset's ``extra_targets`` the teacher sees beside the features (e.g.
        ``"billboard"``, ``"hit"``: outcomes known for training songs only); the fitted model
        never reads them. Empty: the teacher sees the features alone.
    """

    setting: str = "default"
    groups: tuple[str, ...] | str | None = None
    task: str = "auto"
    compress: str = "small"
    min_code: int = 8
    min_width: int = 32
    skip_inputs: bool = True
    log_inputs: bool = True
    alpha: float = 1.0
    beta: float = 0.5
    gamma: float = 1 / 3
    n_layers: int = 4
    dropout: float = 0.1
    input_scaler: str = "standard"
    code_scaler: str = "standard"
    ae_epochs: int = 200
    ae_batch_size: int = 256
    ae_lr: float = 1e-3
    ae_patience: int = 10
    ae_monitor: str = "val_loss"
    ae_restore_best: bool = True
    epochs: int = 300
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    patience: int = 20
    restore_best: bool = True
    class_weights: bool = True
    n_seeds: int = 3
    val_fraction: float = 0.1
    objective: str = "mse"
    ranking_weight: float = 0.1
    ranking_loss: str = "logistic"
    ranking_scale: float = 10.0
    ranking_margin: float = 0.1
    ranking_pairs: int = 0
    loss_mean: float = DEFAULT_LOSS_MEAN
    loss_alpha: float = DEFAULT_LOSS_ALPHA
    loss_beta: float = DEFAULT_LOSS_BETA
    targets: tuple[str, ...] = ("popularity",)
    aux_weight: float = 1.0
    teacher_weight: float = 0.0
    privileged: tuple[str, ...] = ()

    SETTINGS: ClassVar[Mapping[str, Mapping[str, Any]]] = {"default": {}, "faithful": _FAITHFUL}


@register_model
class HitMusicNet(Model):
    """HitMusicNet regressor / 3-class classifier on tabular features (see the module doc)."""

    name = "hitmusicnet"
    family = "hitmusicnet"
    config_class = HitMusicNetConfig
    config: HitMusicNetConfig

    @property
    def required_parts(self) -> tuple[str, ...]:  # noqa: D102
        if hasattr(self, "groups_"):
            return self.groups_
        groups = self.config.groups
        if groups == "audio-only":
            return ("lowlevel",)
        return tuple(groups) if isinstance(groups, tuple | list) else ()

    @property
    def uses_rows_without_popularity(self) -> bool:  # noqa: D102
        several = tuple(self.config.targets) != (MAIN_TARGET,)
        return several and self.config.task in ("auto", "regression")

    # ------------------------------------------------------------------ fit
    def _fit(self, train: PopularityDataset, val: PopularityDataset | None) -> None:
        cfg = self.config
        self.groups_ = resolve_groups(train, cfg.groups)
        train.require(*self.groups_)
        self.feature_names_ = train.feature_names(self.groups_)
        self.task_ = self._mode(train)  # a regression dataset may be fitted as classes
        train, val = split_validation(train, val, fraction=cfg.val_fraction, seed=cfg.seed)
        device = resolve_device(cfg.device)

        features = train.features(self.groups_)
        self.log_columns_ = _heavy_tailed(features) if cfg.log_inputs else _no_columns(features)
        self.input_scaler_ = ColumnScaler(cfg.input_scaler).fit(self._logged(features))
        x_train, x_val = self._inputs(train, device), self._inputs(val, device)
        y_train, y_val = self._targets(train, fit=True), self._targets(val)
        learnt = self._taught(train, features)  # popularity, or its blend with a teacher's
        if learnt is not train:
            y_train = self._targets(learnt)
        # built (and a bad option refused) before any training
        objective = None if self.task_ == "classification" else self._objective(y_train)
        ranks_only = objective is not None and objective.arbitrary_scale
        target_set = self._target_set(train)

        with seeded(cfg.seed):
            widths = self._autoencoder_widths(x_train.shape[1])
            output = "sigmoid" if cfg.input_scaler == "minmax" else "linear"
            self.autoencoder_ = DenseAutoencoder(widths, output=output)
            init_xavier(self.autoencoder_)  # Keras's glorot-uniform weights, zero biases
            self.autoencoder_.to(device)
            ae_settings = TrainSettings(
                epochs=cfg.ae_epochs,
                batch_size=cfg.ae_batch_size,
                lr=cfg.ae_lr,
                patience=cfg.ae_patience,
                monitor=cfg.ae_monitor,
                restore_best=cfg.ae_restore_best,
            )
            self.history_ += train_module(
                self.autoencoder_,
                lambda m, b: F.mse_loss(m(b[0]), b[0]),
                (x_train,),
                (x_val,),
                ae_settings,
                seed=cfg.seed,
                stage="autoencoder",
                quiet=cfg.quiet,
            )
            code_train = self._encode(x_train)
            self.code_scaler_ = ColumnScaler(cfg.code_scaler).fit(code_train.cpu().numpy())
            c_train, c_val = self._head_inputs(x_train), self._head_inputs(x_val)

            d_head = c_train.shape[1]
            hidden = hmn_regressor_widths(
                d_head, alpha=cfg.alpha, beta=cfg.beta, gamma=cfg.gamma, n_layers=cfg.n_layers
            )
            hidden = tuple(max(w, cfg.min_width) for w in hidden)
            out = 1 if self.task_ == "regression" else len(self.class_names_)
            out = out if target_set is None else len(target_set)
            classification = self.task_ == "classification"
            settings = TrainSettings(
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                lr=cfg.lr,
                weight_decay=cfg.weight_decay,
                optimizer=cfg.optimizer,
                patience=cfg.patience,
                monitor=(
                    "val_acc" if classification else "val_spearman" if ranks_only else "val_mae"
                ),
                mode="max" if classification or ranks_only else "min",
                restore_best=cfg.restore_best,
            )
            y_train, y_val = y_train.to(device), y_val.to(device)
            if objective is None:
                loss_fn = self._classification_loss(y_train)
            else:
                loss_fn = _objective_loss(objective)
            metric = _accuracy if classification else spearman_metric if ranks_only else _mae
            train_data, val_data = (c_train, y_train), (c_val, y_val)
            if target_set is not None:  # popularity and the extra targets, masked
                loss_fn, metric = target_set.loss, target_set.val_mae
                train_data = (c_train, *target_set.tensors(learnt, device))
                val_data = (c_val, *target_set.tensors(val, device))
            if cfg.n_seeds < 1:
                raise ModelError(f"n_seeds must be at least 1, not {cfg.n_seeds}")
            self.regressors_ = []
            for i in range(cfg.n_seeds):
                if i > 0:  # the first head draws from the stream seeded above, as with one head
                    torch.manual_seed(cfg.seed + i)
                regressor = HitMusicNetRegressor(d_head, hidden, out=out, dropout=cfg.dropout)
                init_xavier(regressor)
                regressor.to(device)
                self.history_ += train_module(
                    regressor,
                    loss_fn,
                    train_data,
                    val_data,
                    settings,
                    seed=cfg.seed + i,
                    stage="regressor" if cfg.n_seeds == 1 else f"regressor {i + 1}",
                    metrics=metric,
                    quiet=cfg.quiet,
                )
                self.regressors_.append(regressor)
            if ranks_only:  # scores on no scale: map them to popularity on the training rows
                self.calibration_ = ScoreCalibration.fit(self._raw_output(c_train), train.y)

    def _taught(self, train: PopularityDataset, features: np.ndarray) -> PopularityDataset:
        """``train``, or a copy learning a teacher's blend (``teacher_weight`` > 0).

        ``features`` (N, F) are ``train``'s raw features of the model's groups.
        """
        cfg = self.config
        if cfg.teacher_weight == 0 and not cfg.privileged:
            return train
        if cfg.teacher_weight == 0:
            raise ModelError("privileged columns are for a teacher: set teacher_weight > 0")
        if self.task_ != "regression":
            raise ModelError("a teacher blends popularity scores: it needs the regression task")
        blended, _ = taught(
            train,
            features,
            tuple(cfg.privileged),
            weight=cfg.teacher_weight,
            seed=cfg.seed,
        )
        return blended

    def _target_set(self, train: PopularityDataset) -> TargetSet | None:
        """The fitted targets of a multi-target fit (None with popularity alone)."""
        targets = tuple(self.config.targets)
        if targets == (MAIN_TARGET,):
            self.target_set_ = None
            return None
        if self.task_ != "regression":
            raise ModelError("several targets need the regression task (popularity first)")
        if self.config.objective != "mse":
            raise ModelError(
                f"several targets are trained with the masked joint loss (MSE and BCE); "
                f"objective={self.config.objective!r} is for popularity alone"
            )
        self.target_set_ = TargetSet.fit(train, targets, aux_weight=self.config.aux_weight)
        return self.target_set_

    def predict_targets(self, ds: PopularityDataset) -> pd.DataFrame:
        """Every output of the model, each on its own scale.

        Parameters
        ----------
        ds : PopularityDataset

        Returns
        -------
        pd.DataFrame, shape (N, K)
            One column per target of ``config.targets``: popularity 0-100 (as ``predict``),
            scores in their units, a binary label's probability.
        """
        self.check_fitted()
        ds.require(*self.groups_)
        target_set = getattr(self, "target_set_", None)
        if target_set is None:
            return pd.DataFrame({MAIN_TARGET: self.predict(ds)})
        device = next(self.autoencoder_.parameters()).device
        head_inputs = self._head_inputs(self._inputs(ds, device))
        raw = torch.stack(
            [predict_batches(r.eval(), (head_inputs,)).cpu().double() for r in self.regressors_]
        )
        # the mean over heads of each output on its own scale (probabilities for labels)
        per_head = [target_set.outputs(r.numpy()) for r in raw]
        return sum(per_head[1:], per_head[0]) / len(per_head)

    def _objective(self, y_train: torch.Tensor) -> Objective:
        """The regression objective on the MinMax-scaled targets ``y_train`` (N,).

        The outlier weights depend on ``(t - mean) / sd`` only, which an affine rescaling of
        the targets leaves unchanged: the centre is moved to the MinMax scale and the sd taken
        there, so ``"weighted"`` weighs each song as Autoen-chorder's loss on popularity / 100.
        """
        centre = self.target_scaler_.transform(np.array([100.0 * self.config.loss_mean]))
        known = y_train.cpu().numpy()
        sd = target_sd(known[np.isfinite(known)])
        return objective_from_config(self.config, sd=sd, mean=float(np.ravel(centre)[0]))

    def _mode(self, train: PopularityDataset) -> str:
        task = self.config.task
        if task not in ("auto", "regression", "classification"):
            raise ModelError(f"unknown task {task!r}; use auto, regression or classification")
        mode = train.task if task == "auto" else task
        if train.task == "classification" and mode == "regression":
            raise ModelError("cannot regress popularity from a classification dataset")
        if mode == "classification":
            if train.task == "classification":
                n = len(train.class_names) if train.class_names else int(train.y.max()) + 1
                self.class_names_ = list(train.class_names or map(str, range(n)))
            else:
                self.class_names_ = list(CLASS_NAMES)
        return mode

    def _targets(self, ds: PopularityDataset, *, fit: bool = False) -> torch.Tensor:
        if self.task_ == "classification":
            labels = ds.y if ds.task == "classification" else popularity_classes(ds.y)
            return torch.as_tensor(labels, dtype=torch.int64)
        known = ds.popularity_known()  # several targets: some training rows may have none
        if fit:
            self.target_scaler_ = ColumnScaler("minmax").fit(ds.y[known])
        scaled = np.where(known, self.target_scaler_.transform(ds.y), np.nan)
        return torch.as_tensor(scaled, dtype=torch.float32)

    def _classification_loss(self, y_train: torch.Tensor) -> LossFn:
        n_classes = len(self.class_names_)
        counts = torch.bincount(y_train, minlength=n_classes).double()
        # scikit-learn's "balanced": n / (k * count); a class absent from train gets weight 0
        weights = torch.where(counts > 0, len(y_train) / (n_classes * counts), 0.0).float()
        if not self.config.class_weights:
            weights = torch.ones(n_classes)
        weights = weights.to(y_train.device)

        def loss(module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
            per_example = F.cross_entropy(module(batch[0]), batch[1], reduction="none")
            return (per_example * weights[batch[1]]).mean()

        return loss

    # ------------------------------------------------------------------ predict
    def _predict(self, ds: PopularityDataset) -> np.ndarray:
        if ds.feature_names(self.groups_) != self.feature_names_:
            raise ModelError("the dataset's feature columns differ from the training columns")
        device = next(self.autoencoder_.parameters()).device
        self.autoencoder_.eval()
        head_inputs = self._head_inputs(self._inputs(ds, device))
        mean = check_finite(self._raw_output(head_inputs), ds, model=self.name)
        if self.task_ == "classification":
            return mean
        if hasattr(self, "calibration_"):
            return clip_popularity(self.calibration_(mean), ds, model=self.name)
        return clip_popularity(self.target_scaler_.inverse_transform(mean), ds, model=self.name)

    def _raw_output(self, head_inputs: torch.Tensor) -> np.ndarray:
        """The heads' mean output (of class probabilities) on ``head_inputs`` (N, d_head)."""
        outs = []
        for regressor in self.regressors_:
            regressor.eval()
            out = predict_batches(regressor, (head_inputs,)).cpu().double()
            if getattr(self, "target_set_", None) is not None:  # popularity: the first output
                out = torch.sigmoid(out[:, 0])
            outs.append(torch.softmax(out, dim=1) if self.task_ == "classification" else out)
        return torch.stack(outs).mean(dim=0).numpy()

    def codes(self, ds: PopularityDataset) -> np.ndarray:
        """The songs' scaled autoencoder codes, the regressor's view of them.

        Parameters
        ----------
        ds : PopularityDataset

        Returns
        -------
        np.ndarray, float32, shape (N, code size)
        """
        self.check_fitted()
        ds.require(*self.groups_)
        device = next(self.autoencoder_.parameters()).device
        return self._scale_codes(self._encode(self._inputs(ds, device))).cpu().numpy()

    # ------------------------------------------------------------------ helpers
    def _autoencoder_widths(self, d: int) -> tuple[int, ...]:
        cfg = self.config
        widths = hmn_autoencoder_widths(d, compress=cfg.compress)
        if widths[-1] >= cfg.min_code:
            return widths
        return autoencoder_widths(d, code=min(d, cfg.min_code))

    def _logged(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64).copy()
        x[:, self.log_columns_] = np.log1p(np.maximum(x[:, self.log_columns_], 0.0))
        return x

    def _inputs(self, ds: PopularityDataset, device: torch.device) -> torch.Tensor:
        x = self.input_scaler_.transform(self._logged(ds.features(self.groups_)))
        return torch.as_tensor(x, dtype=torch.float32, device=device)

    def _head_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Scaled codes of inputs ``x`` (N, d), with ``x`` beside them if ``skip_inputs``."""
        codes = self._scale_codes(self._encode(x))
        return torch.cat([codes, x], dim=1) if self.config.skip_inputs else codes

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        self.autoencoder_.eval()
        return predict_batches(self.autoencoder_.encode, (x,))

    def _scale_codes(self, codes: torch.Tensor) -> torch.Tensor:
        scaled = self.code_scaler_.transform(codes.cpu().numpy())
        return torch.as_tensor(scaled, dtype=torch.float32, device=codes.device)

    # ------------------------------------------------------------------ state
    def _state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "groups": list(self.groups_),
            "feature_names": self.feature_names_,
            "class_names": getattr(self, "class_names_", None),
            "ae_widths": list(self.autoencoder_.widths),
            "regressor_hidden": [
                m.out_features for m in self.regressors_[0].net if isinstance(m, torch.nn.Linear)
            ][:-1],
            "n_heads": len(self.regressors_),
        }
        if getattr(self, "target_set_", None) is not None:
            state["targets"] = self.target_set_.to_state()
        arrays = {
            **module_arrays("autoencoder", self.autoencoder_),
            **{
                k: v
                for i, regressor in enumerate(self.regressors_)
                for k, v in module_arrays(_head_prefix(i), regressor).items()
            },
            **self.input_scaler_.to_arrays("input_scaler"),
            "input_log": self.log_columns_.astype(np.uint8),
            **self.code_scaler_.to_arrays("code_scaler"),
        }
        if self.task_ == "regression":
            arrays.update(self.target_scaler_.to_arrays("target_scaler"))
        if hasattr(self, "calibration_"):
            arrays.update(self.calibration_.to_arrays("calibration"))
        return state, arrays

    def _load_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        cfg = self.config
        self.groups_ = tuple(state["groups"])
        self.feature_names_ = list(state["feature_names"])
        if state.get("class_names") is not None:
            self.class_names_ = list(state["class_names"])
        output = "sigmoid" if cfg.input_scaler == "minmax" else "linear"
        self.autoencoder_ = DenseAutoencoder(state["ae_widths"], output=output)
        load_module_arrays(self.autoencoder_, "autoencoder", arrays)
        out = 1 if self.task_ == "regression" else len(self.class_names_)
        self.target_set_ = None
        if state.get("targets") is not None:
            self.target_set_ = TargetSet.from_state(state["targets"])
            out = len(self.target_set_)
        d_head = self.autoencoder_.code_size + (len(self.feature_names_) if cfg.skip_inputs else 0)
        self.regressors_ = []
        for i in range(int(state.get("n_heads", 1))):
            regressor = HitMusicNetRegressor(
                d_head, state["regressor_hidden"], out=out, dropout=cfg.dropout
            )
            load_module_arrays(regressor, _head_prefix(i), arrays)
            regressor.eval()
            self.regressors_.append(regressor)
        self.autoencoder_.eval()
        self.input_scaler_ = ColumnScaler.from_arrays(cfg.input_scaler, arrays, "input_scaler")
        self.log_columns_ = np.asarray(arrays["input_log"], dtype=bool)
        self.code_scaler_ = ColumnScaler.from_arrays(cfg.code_scaler, arrays, "code_scaler")
        if self.task_ == "regression":
            self.target_scaler_ = ColumnScaler.from_arrays("minmax", arrays, "target_scaler")
        if self.task_ == "regression" and Objective(kind=cfg.objective).arbitrary_scale:
            self.calibration_ = ScoreCalibration.from_arrays(arrays, "calibration")


def _head_prefix(i: int) -> str:
    """Array-name prefix of the i-th regressor head (the first keeps the one-head name)."""
    return "regressor" if i == 0 else f"regressor{i}"


def _heavy_tailed(x: np.ndarray) -> np.ndarray:
    """Mask of the columns of ``x`` (N, F) that are >= 0 with skewness > 2: shape (F,), bool.

    Missing values (NaN, imputed later by the input scaler) are left out of the statistics.
    """
    x = np.asarray(x, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    with warnings.catch_warnings():  # a column without finite values: not logged
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(x, axis=0)
        centred = x - np.nanmean(x, axis=0)
        third = np.nanmean(centred**3, axis=0)
        skew = np.where(sd > 0, third / np.where(sd > 0, sd, 1.0) ** 3, 0.0)
        return (np.nanmin(x, axis=0) >= 0) & (skew > 2.0)


def _no_columns(x: np.ndarray) -> np.ndarray:
    return np.zeros(np.asarray(x).shape[1], dtype=bool)


def _objective_loss(objective: Objective) -> LossFn:
    """``loss(module, (inputs, targets))`` of a regression objective."""

    def loss(module: torch.nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return objective(module(batch[0]), batch[1])

    return loss


def _mae(module: torch.nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
    prediction = predict_batches(module, data[:1])
    return {"val_mae": float((prediction - data[1]).abs().mean())}


def _accuracy(module: torch.nn.Module, data: tuple[torch.Tensor, ...]) -> dict[str, float]:
    logits = predict_batches(module, data[:1])
    return {"val_acc": float((logits.argmax(1) == data[1]).float().mean())}
