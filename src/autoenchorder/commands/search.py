r"""``autoenchorder search``: hyper-parameter search over the study grid, on one or many workers.

Examples
--------
The exact grid on 4 local processes (SQLite study in the output folder)::

    autoenchorder search --model autoenchorder --data procedural --root corpus --store store \
        --embedder musicnn-msd --workers 4 --out runs/search

A budgeted TPE search shared by several machines (start the same command on each)::

    autoenchorder search ... --sampler tpe --n-trials 200 \
        --storage postgresql://user@db-host/optuna --study-name ae-tpe --out runs/search
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from autoenchorder.commands.train import config_options, data_options, data_spec, model_config
from autoenchorder.config import ConfigError, read_toml
from autoenchorder.published import STUDY_GRID


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
    help="SQLAlchemy URL of the study (default: sqlite file OUT/study.db).",
)
@click.option("--study-name", default="autoenchorder", show_default=True)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Local worker processes on the study.",
)
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

    console = Console(stderr=True)
    base = model_options(model_name, model_config(config_file, overrides))
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
    console.print(
        f"[bold]{study_name}[/bold]: {spec.sampler} search of {spec.budget} trials "
        f"({spec.grid_size} grid points) on {workers} worker(s), storage {spec.storage}"
    )
    study = run_workers(spec, objective, workers=workers, progress=True)
    summary = write_results(study, out, base_config=base)
    _print_top(console, out / "trials.csv", columns=["trial", "state", *spec.space, "value"])
    console.print(
        f"best trial {summary['trial']}: {metric} {summary['value']:.4f} with {summary['params']}"
    )
    console.print(f"results: {out / 'trials.csv'}, {out / 'best_config.toml'}")


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
