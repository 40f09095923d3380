"""The options of scoring songs with a bundle, shared by ``predict`` and ``serve``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

Command = TypeVar("Command", bound=Callable)


def scoring_options(command: Command) -> Command:
    """Add ``--windows`` and ``--mc-passes`` (the Predictor's timeline and uncertainty)."""
    command = click.option(
        "--mc-passes",
        type=click.IntRange(min=0),
        default=30,
        show_default=True,
        help="MC dropout passes for the uncertainty of a single bundle (0: off).",
    )(command)
    return click.option(
        "--windows",
        type=click.IntRange(min=0),
        default=3,
        show_default=True,
        help="Windows of the timeline view per long song (0: none). The headline is made from "
        "the input the model was trained on (the whole file, or its window).",
    )(command)
