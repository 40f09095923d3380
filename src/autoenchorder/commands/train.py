"""``autoenchorder train --model NAME --data SOURCE ... --out BUNDLE``: fit, score, bundle.

Also defines the data options (``--data``, ``--root``, ``--store``, ``--labels``,
``--embedder``) and the config options (``--config``, ``--set``) that ``autoenchorder search``
shares.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from autoenchorder import storage
from autoenchorder.commands.engine_options import device_option
from autoenchorder.config import ConfigError, read_toml
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.sources.registry import SOURCES, DataSpec
from autoenchorder.train.api import TrainResult


def data_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options that name a dataset (see :class:`~autoenchorder.train.api.DataSpec`)."""
    options = [
        click.option(
            "--data",
            "source",
            required=True,
            type=click.Choice(sorted(SOURCES)),
            help="Dataset source.",
        ),
        click.option(
            "--root",
            callback=lambda ctx, param, value: path_or_uri(value),
            default=None,
            help="The source's folder (catalog: audio folder; procedural: corpus).",
        ),
        click.option(
            "--store",
            callback=lambda ctx, param, value: path_or_uri(value),
            default=None,
            help="Feature store of extracted features (catalog, procedural): a folder or a "
            "URI (s3://bucket/store).",
        ),
        click.option(
            "--labels",
            type=click.Path(exists=True, path_type=Path),
            default=None,
            help="Labels CSV of a catalog.",
        ),
        click.option(
            "--embedder",
            default=None,
            help="Use this embedder's sequences from --store (e.g. musicnn-msd).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config TOML`` and repeatable ``--set key=value`` model options."""
    func = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="One model config field (TOML value, e.g. --set lr=2e-4 --set finetune=true).",
    )(func)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, path_type=Path),
        default=None,
        help="TOML file of model config fields (top level, or a [model] table).",
    )(func)


#: ``--device``: where the networks run (sets the config's ``device``).
network_device_option = device_option("Where the networks train and predict [default: cpu]")


def with_device(config: dict[str, Any], device: str | None) -> dict[str, Any]:
    """``config`` with ``device`` set (checked now: cuda without CUDA fails before any data)."""
    if device is None:
        return config
    from autoenchorder.models.training import resolve_device  # noqa: PLC0415

    resolve_device(device)
    return {**config, "device": device}


def path_or_uri(value: str | None) -> Path | str | None:
    """``--root``, ``--store``: a local path (checked to exist) as a Path, a URI as it is."""
    if value is None:
        return None
    location = storage.as_location(value)
    if isinstance(location, Path) and not location.exists():
        raise click.BadParameter(f"Path '{value}' does not exist.")
    return location


def data_spec(
    source: str,
    root: Path | str | None,
    store: Path | str | None,
    labels: Path | None,
    embedder: str | None,
) -> DataSpec:
    """Build a :class:`DataSpec` from the CLI options (paths made absolute, URIs kept)."""

    def text(path: Path | str | None) -> str | None:
        if path is None or isinstance(path, str):
            return path
        return str(path.resolve())

    return DataSpec(
        source, root=text(root), store=text(store), labels=text(labels), embedder=embedder
    )


def model_config(config_file: Path | None, overrides: tuple[str, ...]) -> dict[str, Any]:
    """Merge a TOML config file and ``key=value`` overrides into one dict of config fields.

    Raises
    ------
    ConfigError
        A bad file or an override without ``=``.
    """
    config: dict[str, Any] = {}
    if config_file is not None:
        document = read_toml(config_file)
        table = document.get("model", document)
        if not isinstance(table, Mapping):
            raise ConfigError(f"{config_file}: [model] must be a table")
        config.update(table)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        config[key.strip()] = parse_value(raw.strip())
    return config


def parse_value(raw: str) -> Any:
    """Read a TOML value (``2e-4``, ``true``, ``[7, 9]``, ``"x"``); a bare word is a string.

    The value's type is checked against the model's config field later, by
    :func:`autoenchorder.train.fit.model_options` (``finetune=no`` is refused there).
    """
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def print_metrics(console: Console, metrics: Mapping[str, Any], *, title: str) -> None:
    """Print validation and test metrics side by side."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("validation", justify="right")
    table.add_column("test", justify="right")
    val, test = metrics.get("val", {}), metrics.get("test", {})
    for key, value in test.items():
        if isinstance(value, float):
            table.add_row(key, f"{val.get(key, float('nan')):.4f}", f"{value:.4f}")
        elif isinstance(value, int):
            table.add_row(key, str(val.get(key, "")), str(value))
    console.print(table)


@click.command("train")
@click.option(
    "--model",
    "model_name",
    required=True,
    help="Registered model name (e.g. hitmusicnet, autoenchorder, gbdt, lossnet).",
)
@data_options
@config_options
@click.option("--seed", default=0, show_default=True, help="Seeds the split and the model.")
@click.option(
    "--test-size",
    default=0.15,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Share of the dataset held out for testing.",
)
@click.option(
    "--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write."
)
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Also record the model and its test predictions in this run directory "
    "(read by `autoenchorder evaluate`; added to an existing run).",
)
@network_device_option
@click.option("--quiet", is_flag=True, help="No progress bars.")
def command(
    model_name: str,
    source: str,
    root: Path | str | None,
    store: Path | str | None,
    labels: Path | None,
    embedder: str | None,
    config_file: Path | None,
    overrides: tuple[str, ...],
    seed: int,
    test_size: float,
    out: Path,
    run_dir: Path | None,
    device: str | None,
    quiet: bool,
) -> None:
    """Fit a model on a dataset's training split, report test metrics and save a bundle."""
    from autoenchorder.bundle import feature_spec_from_dataset, save_bundle  # noqa: PLC0415
    from autoenchorder.train.api import load_dataset, train_model  # noqa: PLC0415
    from autoenchorder.train.fit import model_options  # noqa: PLC0415

    console = Console(stderr=True)
    # an unknown model, option or option type fails before the data is loaded
    config = model_options(model_name, with_device(model_config(config_file, overrides), device))
    if quiet:
        config.setdefault("quiet", True)
    spec = data_spec(source, root, store, labels, embedder)
    dataset = load_dataset(spec)
    console.print(f"[bold]{model_name}[/bold] on {dataset!r}")
    result = train_model(model_name, dataset, config, seed=seed, test_size=test_size)
    print_metrics(console, result.metrics, title=f"{model_name}: {result.metrics['split']}")
    groups = [
        g
        for g in getattr(result.model, "groups_", result.model.required_parts)
        if g in dataset.column_groups
    ]
    path = save_bundle(
        result.model,
        out,
        metrics={**result.metrics, "test_ci": test_intervals(result, seed=seed)},
        extra={
            "dataset": dataset.name,
            "data_spec": spec.__dict__,
            "seed": seed,
            "split": result.metrics["split"],
            "n_rows": len(dataset),
        },
        feature_spec=feature_spec_from_dataset(
            dataset, groups=groups, lowlevel_compat=_store_compat(store)
        ),
        training_index=_training_index(result, dataset, seed=seed),
    )
    console.print(f"bundle: {path}")
    if run_dir is not None:
        record_run(run_dir, model_name, dataset, result)
        console.print(f"run directory: {run_dir}")


def test_intervals(result: TrainResult, *, seed: int, n_boot: int = 1000) -> dict[str, Any]:
    """95 % percentile-bootstrap intervals of the test metrics (``{name: [low, high]}``).

    Resampling the test songs, as ``evaluate`` does; the bundle's model card shows them.
    """
    from autoenchorder.evaluate.bootstrap import metric_intervals  # noqa: PLC0415

    if result.test_truth is None:
        return {}
    return metric_intervals(
        result.test_truth, result.test_predictions, result.task, seed=seed, n_boot=n_boot
    )


def _training_index(result: TrainResult, dataset: PopularityDataset, *, seed: int) -> Any:
    """The model's training songs in its code space (None for a classifier: no popularity)."""
    from autoenchorder.models.codes import build_training_index  # noqa: PLC0415

    if result.task != "regression" or dataset.task != "regression":
        return None
    train_rows, _ = result.split.apply(dataset)
    return build_training_index(result.model, train_rows, seed=seed)


def _store_compat(store: Path | str | None) -> str | None:
    """The low-level ``compat`` mode a feature store was made with (None without a store)."""
    if store is None:
        return None
    from autoenchorder.data.store import FeatureStore  # noqa: PLC0415

    return (FeatureStore(store).manifest.get("config") or {}).get("compat")


def record_run(run_dir: Path, name: str, dataset: PopularityDataset, result: TrainResult) -> None:
    """Add a trained model and its test predictions to an evaluate run directory.

    Parameters
    ----------
    run_dir : Path
        The run (study) folder; an existing one keeps its other models.
    name : str
        Model name (the key in the run's files).
    dataset : PopularityDataset
    result : TrainResult
    """
    from autoenchorder.evaluate.rundir import RunWriter  # noqa: PLC0415

    metrics = result.metrics
    run = RunWriter(
        run_dir,
        title=dataset.name,
        task=result.task,
        class_names=result.class_names,
        resume=True,
    )
    run.set_dataset(dataset.name, n=len(dataset))
    run.set_split(
        metrics["split"],
        seed=metrics["seed"],
        n_train=metrics["n_train"],
        n_val=metrics["n_val"],
        n_test=metrics["n_test"],
    )
    run.add_model(
        name,
        family=type(result.model).family,
        config=result.model.config,
        fit_seconds=metrics["fit_seconds"],
        history=result.model.history_,
    )
    run.add_predictions(
        name,
        ids=result.split.test_ids,
        y_true=result.test_truth,
        y_pred=result.test_predictions,
        proba=result.test_proba,
    )
