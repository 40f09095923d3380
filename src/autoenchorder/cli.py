"""The ``autoenchorder`` command: one entry point whose sub-commands map onto the stages.

Each sub-command lives in a module of :mod:`autoenchorder.commands` and is imported only when it
is run, so ``autoenchorder --help`` stays fast (no torch import). A command module exposes a
``click.Command`` (or ``click.Group``) named ``command``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from autoenchorder import __version__
from autoenchorder.errors import AutoenchorderError

#: sub-command name -> (module under autoenchorder.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "Run the whole study offline: corpus, features, models, report, predictions."),
    "extract": ("extract", "Extract low-level features (and embeddings) from audio into a store."),
    "weights": ("weights", "Set up, download and list pretrained embedder weights."),
    "train": ("train", "Fit a model on a dataset, report test metrics, save a bundle."),
    "search": ("search", "Hyper-parameter search (Optuna grid / TPE) on one or many workers."),
    "embed": ("embed", "Embed one audio file with a pretrained embedder; print or save it."),
    "corpus": ("corpus", "Render a procedural music corpus whose popularity is known."),
    "evaluate": ("evaluate", "Score a run directory with bootstrap CIs and write the HTML report."),
    "predict": (
        "predict",
        "Predict the popularity of songs from their audio with a trained bundle.",
    ),
    "serve": ("serve", "Serve a web page and HTTP API that score songs with a trained bundle."),
    "data": (
        "data",
        "Inspect dataset sources: row counts, target distribution, joins, validation.",
    ),
}


#: Exit status of a user error (a bad argument, bad data, missing weights ...), as click's own.
USER_ERROR_STATUS = 2
#: Exit status after Ctrl-C (128 + SIGINT), as a shell reports it.
ABORTED_STATUS = 130


class LazyGroup(click.Group):
    """A click group that imports each sub-command's module on first use.

    It also turns every user error into one line on stderr and an exit status, whether it is
    run as the ``autoenchorder`` program (:func:`main`) or through ``click.testing.CliRunner``.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: D102
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: D102
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"autoenchorder.commands.{COMMANDS[cmd_name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:  # noqa: D102
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(  # noqa: D102
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        status = run_reporting_errors(
            lambda: super(LazyGroup, self).main(
                args, prog_name, complete_var, standalone_mode=False, **extra
            )
        )
        if standalone_mode:
            sys.exit(status)
        return status


def one_line(text: str) -> str:
    """Collapse a message onto one line (exception texts may hold newlines and indents)."""
    return " ".join(str(text).split())


def run_reporting_errors(run: Callable[[], Any]) -> int:
    """Run a command line; report user errors as one line on stderr instead of a traceback.

    Parameters
    ----------
    run : callable
        Runs click in non-standalone mode and returns the command's result.

    Returns
    -------
    int
        0 on success (or the command's own integer status), :data:`USER_ERROR_STATUS` for an
        :class:`~autoenchorder.errors.AutoenchorderError` or a usage error, click's status for
        its other exceptions, :data:`ABORTED_STATUS` after Ctrl-C. Programming errors (anything
        else) still raise, with their traceback.
    """
    try:
        status = run()
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return ABORTED_STATUS
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"error: {one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except AutoenchorderError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        return USER_ERROR_STATUS
    return status if isinstance(status, int) else 0


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="autoenchorder")
def cli() -> None:
    """Predict a song's popularity from its audio: extract, train, evaluate, predict."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and exit with status 2.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit status.
    """
    return cli.main(args=argv, prog_name="autoenchorder", standalone_mode=False)


if __name__ == "__main__":
    sys.exit(main())
