"""``autoenchorder serve --model BUNDLE``: the web page and HTTP API on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from autoenchorder.commands.scoring_options import scoring_options


@click.command(name="serve")
@click.option(
    "--model",
    "bundles",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Bundle folder (repeat, or give a folder of bundles, for an ensemble).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network).",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Scoring processes (each loads the model once); 0: score in the server's own "
    "process, one song at a time.",
)
@click.option(
    "--queue",
    default=4,
    show_default=True,
    type=click.IntRange(min=0),
    help="Requests that may wait for a scoring process; more get 503 with Retry-After.",
)
@click.option(
    "--max-upload-mb",
    default=100.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Largest upload per file, MB (larger: 413).",
)
@click.option(
    "--max-minutes",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Longest song, minutes (longer: 422).",
)
@click.option(
    "--token",
    default=None,
    envvar="AUTOENCHORDER_TOKEN",
    help="Require this token on every API request (Authorization: Bearer TOKEN); "
    "also read from $AUTOENCHORDER_TOKEN.",
)
@scoring_options
def command(
    bundles: tuple[Path, ...],
    host: str,
    port: int,
    workers: int,
    queue: int,
    max_upload_mb: float,
    max_minutes: float,
    token: str | None,
    mc_passes: int,
    windows: int,
) -> None:
    """Serve a page where musicians score a song or compare two mixes, and its HTTP API.

    The page is at http://HOST:PORT/, the API's description at /docs. Nothing the page needs
    comes from outside this machine.
    """
    try:
        import uvicorn  # noqa: PLC0415

        from autoenchorder.serve.app import create_app  # noqa: PLC0415
        from autoenchorder.serve.settings import ServeSettings  # noqa: PLC0415
    except ImportError as exc:
        raise click.ClickException(
            f"serve needs the 'serve' extra ({exc.name} is missing): "
            "pip install 'autoenchorder[serve]'"
        ) from None
    settings = ServeSettings(
        bundles=bundles,
        host=host,
        port=port,
        workers=workers,
        queue=queue,
        max_upload_mb=max_upload_mb,
        max_minutes=max_minutes,
        token=token or None,
        mc_passes=mc_passes,
        windows=windows,
    )
    app = create_app(settings)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    click.echo(f"autoenchorder: http://{shown}:{port}/  (API: /docs; Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=3)
