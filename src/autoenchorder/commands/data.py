"""``autoenchorder data info SOURCE`` (what a source loads to, what it lost) and ``data where``."""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import ENV_VAR, KNOWN_SOURCES, candidate_roots, find_root
from autoenchorder.data.sources.registry import SOURCES, DataSpec, load_dataset
from autoenchorder.errors import DataError

#: histogram of a regression target: 10 bins over 0-100, bar width in characters
HIST_BINS = np.linspace(0, 100, 11)
BAR_WIDTH = 40


def target_summary(ds: PopularityDataset) -> dict:
    """Mean, sd and quantiles of a regression target; class counts of a classification one.

    Parameters
    ----------
    ds : PopularityDataset

    Returns
    -------
    dict
        ``{"mean", "sd", "quantiles": {q: value}, "histogram": [(lo, hi, count), ...],
        "missing"}`` (over the rows whose popularity is known; ``missing`` counts the others,
        and alone is returned when none is known) or ``{"classes": {name: count}}``.
    """
    if ds.task == "classification":
        names = ds.class_names or [str(c) for c in range(int(ds.y.max(initial=0)) + 1)]
        counts = np.bincount(ds.y, minlength=len(names))
        return {"classes": dict(zip(names, counts.tolist(), strict=True))}
    known = ds.popularity_known()
    y, missing = ds.y[known], int((~known).sum())
    if not len(y):
        return {"missing": missing}
    counts, edges = np.histogram(y, bins=HIST_BINS)
    qs = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
    return {
        "mean": float(np.mean(y)),
        "sd": float(np.std(y, ddof=1)) if len(y) > 1 else 0.0,
        "quantiles": dict(zip(qs, np.quantile(y, qs).tolist(), strict=True)),
        "histogram": [
            (float(lo), float(hi), int(c))
            for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
        ],
        "missing": missing,
    }


def _bar(count: int, largest: int) -> str:
    return "█" * (round(BAR_WIDTH * count / largest) if largest else 0)


def print_info(ds: PopularityDataset, console: Console, *, show_split: bool = True) -> None:
    """Print the summary tables of a dataset.

    Parameters
    ----------
    ds : PopularityDataset
    console : rich.console.Console
    show_split : bool
        Also compute and describe the default holdout split.
    """
    overview = Table(title=f"{ds.name or 'dataset'}: {len(ds)} tracks, {ds.task}")
    overview.add_column("part")
    overview.add_column("size", justify="right")
    overview.add_column("detail")
    for group, cols in ds.column_groups.items():
        preview = ", ".join(cols[:4]) + (", ..." if len(cols) > 4 else "")
        overview.add_row(f"group {group}", str(len(cols)), preview)
    if ds.sequences is not None:
        lengths = ds.lengths
        overview.add_row(
            "sequences", str(len(lengths)),
            f"D={ds.sequence_dim}, T mean {lengths.mean():.1f}, min {lengths.min()}, "
            f"max {lengths.max()}",
        )  # fmt: skip
    if ds.artist is not None:
        known = ds.artist[ds.artist != ""]
        overview.add_row("artists", str(len(np.unique(known))), f"{len(ds) - len(known)} unknown")
    if show_split and len(ds) > 1:
        from autoenchorder.data.splits import holdout_split  # noqa: PLC0415

        try:
            split = holdout_split(ds)
        except DataError as exc:
            overview.add_row("default split", "-", f"[yellow]not possible: {exc}[/yellow]")
        else:
            overview.add_row(
                "default split", f"{len(split.train_ids)}/{len(split.test_ids)}", split.kind
            )
    console.print(overview)
    console.print(_target_table(ds))
    for table in _report_tables(ds.info):
        console.print(table)


def _target_table(ds: PopularityDataset) -> Table:
    summary = target_summary(ds)
    if "classes" in summary:
        table = Table(title="target: class counts")
        table.add_column("class")
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
        table.add_column("")
        largest = max(summary["classes"].values(), default=0)
        for name, count in summary["classes"].items():
            table.add_row(name, str(count), f"{count / len(ds):.1%}", _bar(count, largest))
        return table
    if "quantiles" not in summary:
        extra = [] if ds.extra_targets is None else list(ds.extra_targets.columns)
        table = Table(title=f"target: popularity unknown for all {summary['missing']} rows")
        table.add_column("known instead")
        for name in extra:
            table.add_row(f"{name} ({int(ds.extra_targets[name].notna().sum())} rows)")
        return table
    q = summary["quantiles"]
    unknown = f" ({summary['missing']} rows without it)" if summary["missing"] else ""
    title = (
        f"target{unknown}: mean {summary['mean']:.2f}, sd {summary['sd']:.2f}; quantiles "
        + ", ".join(f"{int(k * 100)}%={v:g}" for k, v in q.items())
    )
    table = Table(title=title)
    table.add_column("popularity")
    table.add_column("count", justify="right")
    table.add_column("")
    largest = max(c for _, _, c in summary["histogram"])
    for lo, hi, count in summary["histogram"]:
        table.add_row(f"{lo:.0f}-{hi:.0f}", str(count), _bar(count, largest))
    return table


def _report_tables(info: dict) -> list[Table]:
    tables = []
    joins = info.get("join_losses") or []
    if joins:
        table = Table(title="joins")
        for col in ("left", "right", "how", "matched", "left only", "right only", "examples"):
            table.add_column(col, justify="right" if col in ("matched",) else "left")
        for j in joins:
            examples = ", ".join((j.get("examples_left") or [])[:1])
            left, right = Path(j["left"]).name, Path(j["right"]).name
            table.add_row(
                left, right, j.get("how", "inner"), str(j["matched"]),
                str(j["left_unmatched"]), str(j["right_unmatched"]), examples,
            )  # fmt: skip
        tables.append(table)
    for key, title in (("validation", "validation"), ("feature_validation", "feature values")):
        report = info.get(key)
        if report:
            tables.append(_validation_table(report, title))
    extras = {
        k: info[k]
        for k in (
            "duplicates", "repeated_track_rows", "lyrics_sentinel_rows", "store_failures",
            "sequence_losses", "audio_matched", "audio_missing", "audio_root_mismatch",
            "corpus",
        )
        if k in info
    }  # fmt: skip
    if extras:
        table = Table(title="other checks")
        table.add_column("check")
        table.add_column("result")
        for key, value in extras.items():
            table.add_row(key.replace("_", " "), _format_value(value))
        tables.append(table)
    return tables


def _format_value(value: object) -> str:
    """A report value as text: dicts as ``key=value`` pairs, examples on their own line."""
    if not isinstance(value, dict):
        return str(value)
    pairs = ", ".join(f"{k}={_short(v)}" for k, v in value.items() if k != "examples")
    examples = value.get("examples")
    return pairs + (f"\ne.g. {', '.join(map(str, examples[:3]))}" if examples else "")


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return "{" + _format_value(value) + "}"
    return str(value)


def _validation_table(report: dict, title: str) -> Table:
    table = Table(title=f"{title} (policy {report['policy']})")
    table.add_column("check")
    table.add_column("rows", justify="right")
    table.add_column("examples")
    table.add_row("rows in", str(report["rows_in"]), "")
    for key, value in report.items():
        if isinstance(value, int) and value and key not in ("rows_in", "rows_out", "dropped"):
            table.add_row(
                key.replace("_", " "), str(value), ", ".join(report["examples"].get(key, [])[:3])
            )
    if report.get("nan_by_column"):
        worst = sorted(report["nan_by_column"].items(), key=lambda kv: -kv[1])[:5]
        table.add_row("NaN by column", "", ", ".join(f"{c}: {n}" for c, n in worst))
    if report.get("missing_kept"):
        kept = report["missing_kept"]
        table.add_row(
            "kept as NaN (models impute)",
            str(sum(kept.values())),
            ", ".join(f"{c}: {n}" for c, n in list(kept.items())[:5]),
        )
    table.add_row("dropped", str(report["dropped"]), "")
    table.add_row("rows out", str(report["rows_out"]), "")
    return table


@click.group(name="data")
def command() -> None:
    """Inspect dataset sources."""


@command.command(name="info")
@click.argument("source", type=click.Choice(list(SOURCES)))
@click.option(
    "--root",
    default=None,
    help=f"Source folder (default: ${ENV_VAR}/SOURCE, ./data/SOURCE or ../shared/data/SOURCE); "
    "catalog: the song folder or URI.",
)
@click.option(
    "--labels",
    type=click.Path(path_type=Path),
    default=None,
    help="catalog: the labels CSV (id or path, popularity[, artist]).",
)
@click.option(
    "--store",
    default=None,
    help="catalog/procedural: the feature store made by `extract` (a folder or a URI).",
)
@click.option(
    "--embedder", default=None, help="catalog/procedural: attach this embedder's sequences."
)
@click.option(
    "--feature-sets",
    default="all",
    show_default=True,
    help="spotgentrack: comma-separated groups, or 'audio' / 'all'.",
)
@click.option(
    "--on-bad",
    type=click.Choice(["drop", "impute", "fail"]),
    default="drop",
    show_default=True,
    help="Policy for bad rows.",
)
@click.option("--no-split", is_flag=True, help="Do not compute the default holdout split.")
def info(
    source: str,
    root: str | None,
    labels: Path | None,
    store: str | None,
    embedder: str | None,
    feature_sets: str,
    on_bad: str,
    no_split: bool,
) -> None:
    """Load SOURCE and print row counts, target distribution, groups, joins and validation."""

    def text(path: Path | str | None) -> str | None:
        return None if path is None else str(path)

    spec = DataSpec(
        source, root=text(root), store=text(store), labels=text(labels), embedder=embedder,
        feature_sets=tuple(feature_sets.split(",")) if source == "spotgentrack" else None,
        on_bad=on_bad,
    )  # fmt: skip
    console = Console()
    with console.status(f"loading {source} ..."):
        ds = load_dataset(spec)
    where = ds.info["data_spec"].get("root") or ds.info.get("source")
    console.print(f"[bold]{source}[/bold] from {where}")
    print_info(ds, console, show_split=not no_split)


@command.command(name="where")
def where() -> None:
    """Show where each known dataset was found, and every place it was looked for."""
    table = Table(title=f"dataset folders (first existing one wins; ${ENV_VAR}, ./data, ../shared)")
    table.add_column("source")
    table.add_column("found")
    table.add_column("looked in (in order)")
    table.add_column("comes from")
    for source, known in KNOWN_SOURCES.items():
        found = find_root(source)
        looked = [
            f"{'[green]*[/green]' if path.is_dir() else '-'} {how}: {path}"
            for how, path in candidate_roots(source)
        ]
        table.add_row(
            source,
            str(found) if found else "[yellow]not found[/yellow]",
            "\n".join(looked),
            known.origin,
        )
    console = Console()
    console.print(table)
    if ENV_VAR not in os.environ:
        console.print(
            f"${ENV_VAR} is not set; set it to a folder holding one sub-folder per source."
        )
