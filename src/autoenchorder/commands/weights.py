"""``autoenchorder weights``: set up, download and list pretrained embedder weights."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from autoenchorder.audio.embed import weights as registry


@click.group(name="weights")
def command() -> None:
    """Set up, download and list pretrained embedder weights."""


@command.command(name="setup")
@click.argument("names", nargs=-1, required=True)
def setup(names: tuple[str, ...]) -> None:
    """Obtain and verify the weights NAMES offline-capable way (e.g. `musicnn` from PyPI)."""
    console = Console()
    for name in names:
        with console.status(f"setting up {name} weights ..."):
            console.print(registry.setup_weights(name))


@command.command(name="fetch")
@click.argument("names", nargs=-1, required=True)
@click.option("--timeout", default=60.0, show_default=True, help="Network timeout, seconds.")
def fetch(names: tuple[str, ...], timeout: float) -> None:
    """Download the weights NAMES from their URLs, verifying SHA-256 checksums.

    `clap` is a snapshot of laion/clap-htsat-unfused from the Hugging Face Hub.
    """
    console = Console()
    for name in names:
        with console.status(f"downloading {name} weights ..."):
            console.print(registry.fetch_weights(name, timeout=timeout))


@command.command(name="list")
def list_weights() -> None:
    """Show every known weight set, where it was found, or how to get it."""
    table = Table(title="pretrained weights")
    table.add_column("name")
    table.add_column("files", justify="right")
    table.add_column("status")
    table.add_column("description / how to get")
    for spec in registry.available_weight_specs():
        try:
            where = registry.locate_weights(spec.name)
        except registry.WeightsError:
            status, note = "[red]missing[/red]", spec.obtain
        else:
            status, note = f"[green]present[/green] {where}", spec.description
        table.add_row(spec.name, str(len(spec.files)), status, note)
    Console().print(table)
