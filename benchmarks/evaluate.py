"""Benchmark: the paired bootstrap of the report against the plain per-resample loop.

The reference is what one would write with the reference libraries: for every resample and
every model, ``sklearn.metrics`` (MAE, MSE, R^2) and ``scipy.stats.spearmanr``. Both use the
same resamples; the table shows their times and the largest difference of any replicate
(they must agree to rounding). Then the whole report (numbers and figures) of a demo-sized run.

    python benchmarks/evaluate.py [--n 1500] [--models 9] [--n-boot 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.stats import spearmanr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from autoenchorder.evaluate.bootstrap import paired_bootstrap, resample_blocks
from autoenchorder.evaluate.output import write_report
from autoenchorder.evaluate.report import ReportSettings
from autoenchorder.evaluate.rundir import RunWriter
from machine import print_machine


def reference_loop(
    y: np.ndarray, predictions: dict[str, np.ndarray], index: np.ndarray
) -> np.ndarray:
    out = np.zeros((len(index), len(predictions), 4))
    for b, rows in enumerate(index):
        yt = y[rows]
        for m, pred in enumerate(predictions.values()):
            yp = pred[rows]
            out[b, m] = (
                mean_absolute_error(yt, yp),
                mean_squared_error(yt, yp),
                r2_score(yt, yp),
                spearmanr(yt, yp).statistic,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1500, help="test songs")
    parser.add_argument("--models", type=int, default=9)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument(
        "--reference-boot",
        type=int,
        default=200,
        help="resamples for the (slow) reference loop; its time is scaled up",
    )
    args = parser.parse_args()
    print_machine()
    rng = np.random.default_rng(0)
    y = np.clip(rng.normal(40, 17, args.n), 0, 100).round()
    predictions = {
        f"m{k}": np.clip(y + rng.normal(0, 5 + k, args.n), 0, 100).round(1)
        for k in range(args.models)
    }
    metrics = ["mae", "mse", "r2", "spearman"]

    started = time.perf_counter()
    ours = paired_bootstrap(y, predictions, metrics=metrics, n_boot=args.n_boot, seed=0)
    ours_seconds = time.perf_counter() - started

    index = np.concatenate(resample_blocks(args.n, n_boot=args.reference_boot, seed=0))
    started = time.perf_counter()
    reference = reference_loop(y, predictions, index)
    reference_seconds = (time.perf_counter() - started) * args.n_boot / args.reference_boot
    ours_replicates = np.stack(
        [ours.replicates[m][: args.reference_boot] for m in predictions], axis=1
    )
    gap = float(np.max(np.abs(ours_replicates - reference)))

    table = Table(
        title=f"paired bootstrap: {args.models} models x {args.n} songs x {args.n_boot} resamples, "
        "MAE/MSE/R²/Spearman"
    )
    for column in ("implementation", "seconds", "speed-up", "max |replicate difference|"):
        table.add_column(column, justify="right")
    table.add_row(
        "per-resample sklearn + scipy loop (reference)",
        f"{reference_seconds:.1f} (from {args.reference_boot} resamples)",
        "1.0x",
        "",
    )
    table.add_row(
        "autoenchorder paired_bootstrap",
        f"{ours_seconds:.2f}",
        f"{reference_seconds / ours_seconds:.0f}x",
        f"{gap:.1e}",
    )
    console = Console(width=120)
    console.print(table)

    with tempfile.TemporaryDirectory() as tmp:
        run = RunWriter(tmp, study="bench")
        ids = [f"s{i}" for i in range(args.n)]
        for model, pred in predictions.items():
            run.add_predictions(model, ids=ids, y_true=y, y_pred=pred)
        for figures in (False, True):
            started = time.perf_counter()
            write_report(tmp, settings=ReportSettings(n_boot=args.n_boot, figures=figures))
            console.print(
                f"whole report ({'with' if figures else 'without'} figures): "
                f"{time.perf_counter() - started:.1f} s"
            )


if __name__ == "__main__":
    main()
