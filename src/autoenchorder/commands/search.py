r"""``autoenchorder search``: hyper-parameter search over the study grid, on one or many workers.

Examples
--------
The exact grid on 4 local processes (SQLite study in the output folder)::

    autoenchorder search --model autoenchorder --data procedural --root corpus --store store \
        --embedder musicnn-msd --workers 4 --out runs/search

A budgeted TPE search shared by several machines (start the same command on each)::

    autoenchorder search ... --sampler tpe --n-trials 200 \
        --storage postgresql://user@db-host/optuna --study-name ae-tpe --out runs/search

The grid on 8 Ray workers of a cluster (they all reach the PostgreSQL study)::

    autoenchorder search ... --engine ray --address auto --workers 8 \
        --storage postgresql://user@db-host/optuna --out runs/search

A worker that dies mid-trial (killed, its machine lost) does not lose its grid point: once its
heartbeat is 30 s old, another worker marks its trial FAIL and runs the point again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from autoenchorder.commands.engine_options import address_option, engine_option
from autoenchorder.commands.train import (
    config_options,
    data_options,
    data_spec,
    model_config,
    network_device_option,
    with_device,
)
from autoenchorder.config import ConfigError, read_toml
from autoenchorder.published import STUDY_GRID

if TYPE_CHECKING:
    from autoenchorder.engine import EngineSpec


def search_space(space_file: Path | None, params: tuple[str, ...]) -> dict[str, tuple[Any, ...]]:
    """The study grid, or the ``[space]`` table of a TOML file, restricted to ``params``.

    Parameters
    ----------
    space_file : Path or None
        TOML with a ``[space]`` table of ``name = [values...]`` (default: the study's grid).
    params : tuple of str
        Search only these parameters (empty: all of the space).

    Returns
    -------
    dict of str to tuple
    """
    if space_file is None:
        space: dict[str, tuple[Any, ...]] = dict(STUDY_GRID)
    else:
        table = read_toml(space_file).get("space")
        if not isinstance(table, dict) or not table:
            raise ConfigError(f"{space_file}: needs a [space] table of name = [values...]")
        space = {}
        for name, values in table.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"{space_file}: space.{name} must be a non-empty list")
            space[name] = tuple(values)
    unknown = [p for p in params if p not in space]
    if unknown:
        raise ConfigError(
            f"unknown search parameter(s) {', '.join(unknown)}; the space has {', '.join(space)}"
        )
    return {k: v for k, v in space.items() if not params or k in params}


@click.command("search")
@click.option(
    "--model",
    "model_name",
    default="autoenchorder",
    show_default=True,
    help="Registered model whose config fields the parameters set.",
)
@data_options
@config_options
@click.option(
    "--space",
    "space_file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="TOML with a [space] table (default: the study's grid).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    help="Search only this parameter of the space (repeatable); others keep the config.",
)
@click.option("--sampler", type=click.Choice(["grid", "tpe"]), default="grid", show_default=True)
@click.option(
    "--n-trials",
    type=click.IntRange(1),
    default=None,
    help="Total trial budget (required for tpe; caps the grid).",
)
@click.option(
    "--metric",
    default="mae",
    show_default=True,
    help="Validation metric to optimise (mae, mse, rmse, r2, spearman ...).",
)
@click.option(
    "--storage",
    default=None,
    help="Database URL of the study: sqlite:///PATH (default: OUT/study.db; one machine) or "
    "postgresql://USER@HOST:PORT/DB (workers on several machines; pip install "
    "autoenchorder[postgres]).",
)
@click.option("--study-name", default="autoenchorder", show_default=True)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Workers on the study: local processes, or Ray actors with --engine ray.",
)
@engine_option(
    "Where the workers run (every worker must reach --storage: a SQLite file serves one "
    "machine, a cluster needs postgresql://)"
)
@address_option
@network_device_option
@click.option("--seed", default=0, show_default=True, help="Seeds the split, grid order, models.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for trials.csv, best_config.toml / .json (and the SQLite study).",
)
def command(
    model_name: str,
    source: str,
    root: Path | None,
    store: Path | None,
    labels: Path | None,
    embedder: str | None,
    config_file: Path | None,
    overrides: tuple[str, ...],
    space_file: Path | None,
    params: tuple[str, ...],
    sampler: str,
    n_trials: int | None,
    metric: str,
    storage: str | None,
    study_name: str,
    workers: int,
    engine: str,
    address: str | None,
    device: str | None,
    seed: int,
    out: Path,
) -> None:
    """Search hyper-parameters with Optuna; write the results table and the best config."""
    from autoenchorder.train.fit import model_options  # noqa: PLC0415
    from autoenchorder.train.search import (  # noqa: PLC0415
        ModelObjective,
        SearchSpec,
        run_workers,
        sqlite_url,
        write_results,
    )
    from autoenchorder.train.search_storage import shown_url  # noqa: PLC0415

    if address is not None and engine != "ray":
        raise click.UsageError("--address is for --engine ray")
    console = Console(stderr=True)
    base = model_options(model_name, with_device(model_config(config_file, overrides), device))
    space = search_space(space_file, params)
    for name, values in space.items():  # a value of the wrong type fails before any trial
        for value in values:
            model_options(model_name, {**base, name: value})
    out.mkdir(parents=True, exist_ok=True)
    spec = SearchSpec(
        space=space,
        sampler=sampler,
        n_trials=n_trials,
        storage=storage or sqlite_url(out / "study.db"),
        study_name=study_name,
        seed=seed,
        metric=metric,
    )
    objective = ModelObjective(
        model_name,
        data=data_spec(source, root, store, labels, embedder),
        base_config=base,
        seed=seed,
    )
    where = "Ray worker(s)" if engine == "ray" else "worker(s)"
    console.print(
        f"[bold]{study_name}[/bold]: {spec.sampler} search of {spec.budget} trials "
        f"({spec.grid_size} grid points) on {workers} {where}, storage {shown_url(spec.storage)}"
    )
    study = run_workers(
        spec, objective, workers=workers, progress=True, engine=_engine(engine, address, workers)
    )
    summary = write_results(study, out, base_config=base)
    _print_top(console, out / "trials.csv", columns=["trial", "state", *spec.space, "value"])
    console.print(
        f"best trial {summary['trial']}: {metric} {summary['value']:.4f} with {summary['params']}"
    )
    console.print(f"results: {out / 'trials.csv'}, {out / 'best_config.toml'}")


def _engine(name: str, address: str | None, workers: int) -> EngineSpec | None:
    """None for local processes (the search's own pool), else the Ray engine's spec."""
    if name == "local":
        return None
    from autoenchorder.engine import EngineSpec  # noqa: PLC0415

    return EngineSpec(name, workers=workers, address=address)


def _print_top(console: Console, csv: Path, *, columns: list[str], rows: int = 10) -> None:
    import pandas as pd  # noqa: PLC0415

    table = pd.read_csv(csv)
    keep = [c for c in columns if c in table.columns]
    view = Table(title=f"best {min(rows, len(table))} of {len(table)} trials")
    for column in keep:
        view.add_column(column, justify="right")
    for _, row in table.head(rows).iterrows():
        view.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row[keep]))
    console.print(view)
