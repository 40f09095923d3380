"""Where work runs: the ``--engine / --address / --gpus-per-worker / --device`` options.

``extract``, ``predict``, ``search`` and ``demo`` take these options from here, so their
choices, defaults and wording are declared once; each command says in one phrase what runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from autoenchorder.engine.spec import ENGINES

Command = TypeVar("Command", bound=Callable)

#: Where a network runs; auto: CUDA when there is one.
DEVICE_CHOICES = ("cpu", "cuda", "auto")


def engine_option(what: str, *, name: str = "engine") -> Callable[[Command], Command]:
    """``--engine local|ray`` (default local); ``what`` says what the workers do.

    Parameters
    ----------
    what : str
        The sentence of the help saying what runs where, e.g. "Where the per-file work runs".
    name : str
        The command function's parameter name.
    """
    return click.option(
        "--engine",
        name,
        type=click.Choice(ENGINES),
        default="local",
        show_default=True,
        help=f"{what}: local processes on this machine, or Ray actors on a cluster (pip install "
        "autoenchorder[ray]).",
    )


def address_option(command: Command) -> Command:
    """``--address``: the Ray cluster to join (with ``--engine ray``)."""
    return click.option(
        "--address",
        default=None,
        metavar="ADDRESS",
        help="With --engine ray: 'auto' (the cluster `ray start` made on this machine), "
        "HOST:6379 or ray://HOST:10001; default: a Ray started for this run.",
    )(command)


def gpus_per_worker_option(command: Command) -> Command:
    """``--gpus-per-worker``: GPUs each Ray actor reserves."""
    return click.option(
        "--gpus-per-worker",
        default=0.0,
        show_default=True,
        type=click.FloatRange(min=0),
        help="With --engine ray: GPUs each worker reserves (0.5: two share a GPU); use with "
        "--device cuda.",
    )(command)


def device_option(what: str, *, default: str | None = None) -> Callable[[Command], Command]:
    """``--device cpu|cuda|auto``; ``what`` says what runs there and the default.

    Parameters
    ----------
    what : str
        The help's sentence, e.g. "Where the networks train [default: cpu]".
    default : str or None
        None: the command decides (its help says how).
    """
    return click.option(
        "--device",
        type=click.Choice(DEVICE_CHOICES),
        default=default,
        show_default=default is not None,
        help=f"{what}; auto: CUDA when there is one.",
    )


#: An embedder network's arithmetic (autoenchorder.precision); auto: bfloat16 where
#: the CPU (or GPU) runs it natively.
PRECISION_CHOICES = ("float32", "bfloat16", "auto")


def precision_option(
    *, default: str = "float32", training: bool = False
) -> Callable[[Command], Command]:
    """``--precision float32|bfloat16|auto``: the embedder network's arithmetic.

    Parameters
    ----------
    default : str
        The command's default (``extract``: float32, the published networks' own).
    training : bool
        The command also trains Autoen-chorder with it (``demo``): said in the help.
    """
    also = (
        " The same for Autoen-chorder's LSTM training steps (weights, validation and "
        "prediction stay float32)."
        if training
        else ""
    )
    return click.option(
        "--precision",
        type=click.Choice(PRECISION_CHOICES),
        default=default,
        show_default=True,
        help="The embedder network's arithmetic: float32 (the published model's), or bfloat16 "
        "(1.5-2x faster musicnn on CPUs with native bfloat16, outputs within ~1 %; recorded "
        "in the store and its models' bundles); auto: bfloat16 where native." + also,
    )
