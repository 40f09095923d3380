"""The one training loop every network model uses (it fits on one screen: :func:`train_module`).

Minibatches are drawn from a tuple of equally long tensors (inputs, lengths, targets ...) with a
seeded ``torch.Generator``; the loss function decides what a batch means. After each epoch the
loop evaluates the validation tensors (loss plus any extra metrics), records one history entry,
stops early when the monitored value has not improved for ``patience`` epochs (Keras's rule) and
restores the best epoch's weights.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from autoenchorder.errors import ModelError

Batch = tuple[torch.Tensor, ...]
LossFn = Callable[[nn.Module, Batch], torch.Tensor]
MetricsFn = Callable[[nn.Module, Batch], dict[str, float]]


@dataclass(frozen=True)
class TrainSettings:
    """How one training stage runs.

    Attributes
    ----------
    epochs, batch_size : int
    max_steps : int or None
        Also stop after the epoch in which this many optimizer steps have been taken, so a
        budget set on a small dataset does not grow with the data (None: epochs alone).
    lr, weight_decay : float
        Optimizer step size and weight decay (L2 for Adam, decoupled for AdamW).
    optimizer : str
        ``"adam"`` or ``"adamw"``.
    patience : int or None
        Stop after this many epochs without improvement of ``monitor``; None never stops early.
    monitor : str
        The history key that decides the best epoch: ``"val_loss"``, ``"train_loss"`` or any key
        the metrics function returns (``"val_mae"``, ``"val_acc"`` ...).
    mode : str
        ``"min"`` or ``"max"``: whether smaller or larger ``monitor`` is better.
    restore_best : bool
        Load the best epoch's weights at the end (False keeps the last epoch's, as Keras does).
    keep_start : bool
        Score the weights the stage starts from on the validation rows too: if no epoch beats
        them, they are what the stage leaves (with ``restore_best``). For a stage that refines
        a trained model (end to end), so that it never leaves the model worse than it found it.
    """

    epochs: int = 100
    batch_size: int = 256
    max_steps: int | None = None
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: int | None = 5
    monitor: str = "val_loss"
    mode: str = "min"
    restore_best: bool = True
    keep_start: bool = False

    def epoch_budget(self, n: int) -> int:
        """Epochs to run on ``n`` training rows: ``epochs``, fewer if ``max_steps`` is reached."""
        if self.max_steps is None:
            return self.epochs
        steps_per_epoch = max(1, math.ceil(n / self.batch_size))
        return max(1, min(self.epochs, math.ceil(self.max_steps / steps_per_epoch)))


def train_module(
    module: nn.Module,
    loss_fn: LossFn,
    train: Batch,
    val: Batch | None,
    settings: TrainSettings,
    *,
    seed: int,
    stage: str,
    metrics: MetricsFn | None = None,
    parameters: Iterable[nn.Parameter] | None = None,
    quiet: bool = False,
) -> list[dict[str, Any]]:
    """Train ``module`` in place and return its per-epoch history.

    Parameters
    ----------
    module : nn.Module
        On the device of the tensors.
    loss_fn : callable
        ``loss_fn(module, batch) -> scalar tensor``, the mean loss of a batch.
    train, val : tuple of torch.Tensor
        Tensors sharing their first dimension (N); ``val`` may be None.
    settings : TrainSettings
    seed : int
        Seeds the shuffling generator (weights and dropout are seeded by :func:`seeded`).
    stage : str
        Name recorded in the history and shown on the progress bar.
    metrics : callable or None
        ``metrics(module, val) -> {"val_mae": ...}``, evaluated after each epoch.
    parameters : iterable of nn.Parameter or None
        What the optimizer updates (default: all of ``module``'s parameters).
    quiet : bool
        Hide the progress bar.

    Returns
    -------
    list of dict
        One ``{"stage", "epoch", "train_loss", "val_loss", ...metrics}`` per epoch run.
    """
    check_monitor(module, loss_fn, val, settings, metrics)
    n = len(train[0])
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(module.parameters() if parameters is None else parameters, settings)
    sign = 1.0 if settings.mode == "min" else -1.0
    history: list[dict[str, Any]] = []
    best_score, best_state, waited = float("inf"), None, 0
    if settings.keep_start and val is not None:  # the weights the stage starts from compete
        start = evaluate(module, loss_fn, val, settings.batch_size, metrics).get(settings.monitor)
        if start is not None and math.isfinite(sign * start):
            best_score, best_state = sign * start, copy.deepcopy(module.state_dict())
    with _progress(quiet) as bar:
        epochs = settings.epoch_budget(n)
        task = bar.add_task(stage, total=epochs, losses="")
        for epoch in range(1, epochs + 1):
            module.train()
            order, total = torch.randperm(n, generator=generator), 0.0
            for start in range(0, n, settings.batch_size):
                batch = tuple(t[order[start : start + settings.batch_size]] for t in train)
                loss = loss_fn(module, batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.detach() * len(batch[0])  # no .item(): no sync per step
            record: dict[str, Any] = {
                "stage": stage,
                "epoch": epoch,
                "train_loss": float(total) / n,
            }
            if val is not None:
                record.update(evaluate(module, loss_fn, val, settings.batch_size, metrics))
            history.append(record)
            shown = "  ".join(
                f"{k} {v:.4g}" for k, v in record.items() if k not in ("stage", "epoch")
            )
            bar.update(task, advance=1, losses=shown)
            score = sign * record[settings.monitor]
            if math.isfinite(score) and score < best_score:
                best_score, best_state, waited = score, copy.deepcopy(module.state_dict()), 0
            else:
                waited += 1
                if settings.patience is not None and waited >= settings.patience:
                    break
    if best_state is None:
        # no epoch gave a finite score: the weights are NaN or never scored; do not keep them
        raise ModelError(
            f"{stage}: {settings.monitor} was not finite in any of {len(history)} epoch(s) "
            f"(last record {history[-1]}); lower the learning rate or check the inputs for NaN"
        )
    if settings.restore_best:
        module.load_state_dict(best_state)
    module.eval()
    return history


def check_monitor(
    module: nn.Module,
    loss_fn: LossFn,
    val: Batch | None,
    settings: TrainSettings,
    metrics: MetricsFn | None,
) -> None:
    """Raise ModelError before any training if ``settings.monitor`` or ``mode`` cannot work.

    ``"train_loss"`` is always recorded, ``"val_loss"`` when there is validation data, and a
    metric only if ``metrics`` returns it: those keys are found by evaluating the metrics once
    on the first validation rows (in eval mode, without gradients: nothing is changed).
    """
    if settings.mode not in ("min", "max"):
        raise ModelError(f"unknown mode {settings.mode!r}; use 'min' or 'max'")
    choices = ["train_loss"]
    if val is not None:
        choices.append("val_loss")
        if metrics is not None and settings.monitor not in choices:
            was_training = module.training
            head = tuple(t[: settings.batch_size] for t in val)
            found = evaluate(module, loss_fn, head, settings.batch_size, metrics)
            choices += [key for key in found if key != "val_loss"]
            module.train(was_training)
    if settings.monitor not in choices:
        raise ModelError(
            f"cannot monitor {settings.monitor!r}: the records of this stage have "
            f"{', '.join(repr(c) for c in dict.fromkeys(choices))}"
        )


def evaluate(
    module: nn.Module,
    loss_fn: LossFn,
    data: Batch,
    batch_size: int,
    metrics: MetricsFn | None = None,
) -> dict[str, float]:
    """Mean loss over ``data`` (as ``"val_loss"``) plus ``metrics(module, data)``, in eval mode."""
    module.eval()
    n, total = len(data[0]), 0.0
    with torch.no_grad():
        for start in range(0, n, batch_size):
            batch = tuple(t[start : start + batch_size] for t in data)
            total += loss_fn(module, batch).item() * len(batch[0])
        result = {"val_loss": total / n}
        if metrics is not None:
            result.update(metrics(module, data))
    return result


def predict_batches(
    fn: Callable[..., torch.Tensor], data: Batch, *, batch_size: int = 1024
) -> torch.Tensor:
    """Apply ``fn(*batch)`` to ``data`` in batches without gradients; outputs concatenated."""
    with torch.no_grad():
        outs = [
            fn(*(t[s : s + batch_size] for t in data)) for s in range(0, len(data[0]), batch_size)
        ]
    return torch.cat(outs)


def adamw_settings(cfg: Any, **extra: Any) -> TrainSettings:
    """Return a supervised stage's settings: AdamW on the budget of ``cfg``.

    ``cfg`` is any config with ``epochs``, ``batch_size``, ``lr``, ``weight_decay`` and
    ``patience``; ``extra`` sets further :class:`TrainSettings` fields (``monitor`` ...).
    """
    return TrainSettings(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        optimizer="adamw",
        patience=cfg.patience,
        **extra,
    )


def mae_metric(module: nn.Module, data: Batch) -> dict[str, float]:
    """``{"val_mae": ...}``: mean absolute error of ``module(*data[:-1])`` against ``data[-1]``."""
    prediction = predict_batches(module, data[:-1], batch_size=512)
    return {"val_mae": float((prediction - data[-1]).abs().mean())}


def make_optimizer(
    parameters: Iterable[nn.Parameter], settings: TrainSettings
) -> torch.optim.Optimizer:
    """Return Adam or AdamW with the settings' learning rate and weight decay."""
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
    if settings.optimizer not in kinds:
        raise ModelError(f"unknown optimizer {settings.optimizer!r}; use 'adam' or 'adamw'")
    # the fused kernel takes about a third less time per step on CPU for these small networks
    return kinds[settings.optimizer](
        parameters, lr=settings.lr, weight_decay=settings.weight_decay, fused=True
    )


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generators and ask for deterministic kernels while inside.

    On exit the global random state (CPU and, when initialised, CUDA) and the determinism flag
    are restored, so a fit does not change the randomness of the code around it. numpy and
    ``random`` are not touched: the models use explicit ``np.random.default_rng(seed)``
    generators.
    """
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    cpu_state = torch.random.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)
        torch.random.set_rng_state(cpu_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def resolve_device(name: str) -> torch.device:
    """Return the torch device for ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"``.

    ``"auto"`` is CUDA when torch sees a CUDA device, else the CPU. ``"cuda"`` without one is a
    :class:`~autoenchorder.errors.ModelError` that says so (and how to run anyway).
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ModelError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'auto'")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(
            f"device {name!r} asked for, but torch sees no CUDA device "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
            "use --device cpu, or auto to take CUDA only where there is one"
        )
    if name.startswith("cuda:") and int(name[5:]) >= torch.cuda.device_count():
        raise ModelError(f"device {name!r}: torch sees {torch.cuda.device_count()} CUDA device(s)")
    return torch.device(name)


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[losses]}"),
        disable=quiet,
        transient=False,
    )
