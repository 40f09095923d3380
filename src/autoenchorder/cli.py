"""The ``autoenchorder`` command: one entry point whose sub-commands map onto the stages.

Each sub-command lives in a module of :mod:`autoenchorder.commands` and is imported only when it
is run, so ``autoenchorder --help`` stays fast (no torch import). A command module exposes a
``click.Command`` (or ``click.Group``) named ``command``.
"""

from __future__ import annotations

import importlib
import sys

import click
from rich.console import Console

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
    "data": (
        "data",
        "Inspect dataset sources: row counts, target distribution, joins, validation.",
    ),
}


class LazyGroup(click.Group):
    """A click group that imports each sub-command's module on first use."""

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
    try:
        status = cli.main(args=argv, prog_name="autoenchorder", standalone_mode=False)
    except click.exceptions.Abort:
        Console(stderr=True).print("[red]aborted[/red]")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except AutoenchorderError as exc:
        Console(stderr=True).print(f"[bold red]error:[/bold red] {exc}")
        return 2
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
