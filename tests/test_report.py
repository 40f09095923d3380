import base64
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autoenchorder import __version__
from autoenchorder.errors import DataError
from autoenchorder.evaluate.output import write_report
from autoenchorder.evaluate.report import ReportSettings
from autoenchorder.evaluate.rundir import (
    RunWriter,
    find_studies,
    read_run,
    read_study,
)
from autoenchorder.published import STUDY_WIN_PERCENT, STUDY_WIN_SHARE

N_TEST = 60
#: The family each model's class would give (``type(model).family``).
FAMILY = {
    "random-normal": "baseline",
    "mean": "baseline",
    "gbdt": "baseline",
    "hitmusicnet": "hitmusicnet",
    "hitmusicnet-meta": "hitmusicnet",
    "autoenchorder": "autoenchorder",
}


def _history(epochs):
    return [
        {"stage": stage, "epoch": e, "train_loss": 1.0 / (e + 1), "val_loss": 1.2 / (e + 1)}
        for stage in ("autoencoder", "regressor")
        for e in range(epochs)
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny run with two studies: audio models on one, descriptor models on the other."""
    root = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    ids = [f"song{i:03d}" for i in range(N_TEST)]
    y = np.clip(rng.normal(40, 17, N_TEST), 0, 100)
    audio = RunWriter(root, study="procedural", title="Procedural corpus", order=0)
    audio.set_dataset("procedural", n=400, info={"oracle_r2": 0.8})
    audio.set_split("grouped-by-artist holdout 85/15 seed 0", seed=0, n_train=340, n_test=N_TEST)
    predictions = {
        "random-normal": rng.normal(40, 17, N_TEST),
        "mean": np.full(N_TEST, 40.0),
        "hitmusicnet": y + rng.normal(0, 12, N_TEST),
        "autoenchorder": y + rng.normal(0, 6, N_TEST),
    }
    for model, pred in predictions.items():
        history = _history(5) if model in ("hitmusicnet", "autoenchorder") else None
        audio.add_model(
            model, family=FAMILY[model], config={"seed": 0}, fit_seconds=1.5, history=history
        )
        y_std = np.full(N_TEST, 6.0) if model == "autoenchorder" else None
        audio.add_predictions(model, ids=ids, y_true=y, y_pred=pred, y_std=y_std)
        audio.add_predictions(model, ids=ids[:10], y_true=y[:10], y_pred=pred[:10], set_name="val")
    audio.set_headline("autoenchorder", "hitmusicnet")
    audio.add_learning_curve(
        {"model": m, "n_train": n, "seed": s, "r2": 0.5 - 10 / n + 0.01 * s}
        for m in ("hitmusicnet", "autoenchorder")
        for n in (50, 100, 200)
        for s in range(2)
    )
    audio.add_note("tiny synthetic run")
    descriptors = RunWriter(root, study="musicoset", title="MusicOSet descriptors", order=1)
    descriptors.set_split(
        "grouped-by-artist holdout 85/15 seed 0", seed=0, n_train=340, n_test=N_TEST
    )
    for model, sd in (("mean", None), ("gbdt", 8.0), ("hitmusicnet-meta", 9.0)):
        pred = np.full(N_TEST, 40.0) if sd is None else y + rng.normal(0, sd, N_TEST)
        descriptors.add_predictions(model, ids=ids, y_true=y, y_pred=pred, family=FAMILY[model])
    return root


@pytest.fixture(scope="module")
def report(run_dir):
    return write_report(run_dir, settings=ReportSettings(n_boot=200))


def test_run_directory_round_trip(run_dir):
    studies = read_run(run_dir)
    assert [s.name for s in studies] == ["procedural", "musicoset"]
    audio = studies[0]
    assert audio.models == ["random-normal", "mean", "hitmusicnet", "autoenchorder"]
    assert audio.family("autoenchorder") == "autoenchorder" and audio.family("mean") == "baseline"
    assert audio.meta["split"]["n_test"] == N_TEST and audio.meta["machine"]["cpu_count"] >= 1
    assert len(audio.curves["hitmusicnet"]) == 10 and "random-normal" not in audio.curves
    assert len(audio.learning_curve) == 12
    ids, y_true, preds = audio.aligned("test")
    assert len(ids) == N_TEST and set(preds) == set(audio.models)
    ids_val, _, _ = audio.aligned("val")
    assert len(ids_val) == 10


def test_resume_a_study_without_predictions(tmp_path):
    RunWriter(tmp_path, study="s").set_split("holdout", seed=0, n_train=2, n_test=2)
    again = RunWriter(tmp_path, study="s", resume=True)
    assert again.meta["split"]["kind"] == "holdout"
    again.add_predictions("a", ids=["x", "y"], y_true=[1.0, 2.0], y_pred=[1.5, 2.5])
    assert len(read_study(tmp_path / "s").predictions) == 2


def test_resume_keeps_what_was_written(run_dir, tmp_path):
    writer = RunWriter(tmp_path, study="s")
    writer.add_predictions("a", ids=["x", "y"], y_true=[1.0, 2.0], y_pred=[1.5, 2.5])
    again = RunWriter(tmp_path, study="s", resume=True)
    again.add_predictions("b", ids=["x", "y"], y_true=[1.0, 2.0], y_pred=[1.0, 2.0])
    study = read_study(tmp_path / "s")
    assert set(study.predictions["model"]) == {"a", "b"}
    # re-adding a model's test predictions replaces them instead of duplicating rows
    again.add_predictions("b", ids=["x", "y"], y_true=[1.0, 2.0], y_pred=[3.0, 3.0])
    assert len(read_study(tmp_path / "s").predictions) == 4


def test_html_has_every_section_and_embedded_figures(report):
    html = report.html.read_text(encoding="utf-8")
    for heading in (
        "Summary",
        "Procedural corpus",
        "MusicOSet descriptors",
        "Metrics on the test set",
        "Differences against hitmusicnet",
        "Song-by-song win rate against hitmusicnet",
        "Error by popularity range",
        "Predicted vs true",
        "Error by popularity decile",
        "Target and predicted distributions",
        "Training curves",
        "Learning curve",
        "Uncertainty calibration",
        "Models",
        "Machine and method",
    ):
        assert heading in html, heading
    images = html.split("data:image/png;base64,")[1:]
    # procedural: scatter, deciles, distributions, training and learning curves; musicoset: 3
    assert len(images) == 8
    first = base64.b64decode(images[0].split("'")[0])
    assert first.startswith(b"\x89PNG")
    assert "src='http" not in html and "<script" not in html  # self-contained, nothing fetched


def test_summary_states_the_headline_with_interval(report):
    html = report.html.read_text(encoding="utf-8")
    headline = report.studies[0].headline
    comparison = headline["comparison"]
    assert (comparison["model_a"], comparison["model_b"]) == ("autoenchorder", "hitmusicnet")
    d = comparison["difference"]
    assert d["low"] <= d["estimate"] <= d["high"]
    assert "95 % CI" in html and "grouped-by-artist holdout 85/15 seed 0" in html
    # the procedural study records its noise ceiling: the summary relates R^2 to it
    share = 100 * comparison["a"]["estimate"] / 0.8
    assert f"oracle R²) is 0.800: autoenchorder reaches {share:.0f} % of it" in html
    # without a headline in run.json the descriptor study compares its best model with a baseline
    second = report.studies[1].headline["comparison"]
    assert second["model_b"] in ("mean", "gbdt")


def test_every_number_is_written_as_csv_and_json(report):
    folder = report.data_dir / "procedural"
    for name in (
        "metrics",
        "differences",
        "win_rates",
        "win_by_range",
        "error_by_range",
        "error_by_decile",
        "models",
        "learning_curve",
        "calibration",
    ):
        assert (folder / f"{name}.csv").exists(), name
    metrics = pd.read_csv(folder / "metrics.csv")
    mae = metrics.query("model == 'autoenchorder' and metric == 'mae'").iloc[0]
    mae_01 = metrics.query("model == 'autoenchorder' and metric == 'mae_01'").iloc[0]
    assert mae_01["estimate"] == pytest.approx(mae["estimate"] / 100, rel=1e-5)
    summary = json.loads((report.data_dir / "summary.json").read_text())
    assert [s["study"] for s in summary["studies"]] == ["procedural", "musicoset"]
    differences = pd.read_csv(folder / "differences.csv")
    pairs = {frozenset(p) for p in zip(differences["model_a"], differences["model_b"], strict=True)}
    assert len(pairs) == 6  # every pair of the 4 models, each once
    win = pd.read_csv(folder / "win_rates.csv").set_index("model_a").loc["autoenchorder"]
    assert win["a_better"] + win["b_better"] + win["ties"] == N_TEST


def test_classification_study(tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 80)
    run = RunWriter(tmp_path, task="classification", class_names=["low", "mid", "high"])
    ids = [str(i) for i in range(80)]
    run.add_predictions("mean", ids=ids, y_true=y, y_pred=np.ones(80), family="baseline")
    run.add_predictions("hitmusicnet", ids=ids, y_true=y, y_pred=y, family="hitmusicnet")
    out = write_report(tmp_path, settings=ReportSettings(n_boot=100))
    html = out.html.read_text(encoding="utf-8")
    assert "Confusion matrices" in html and "macro-F1" in html
    assert out.studies[0].headline["best"]["model"] == "hitmusicnet"


def test_evaluate_command_prints_tables_and_writes_report(run_dir, tmp_path):
    from autoenchorder.commands.evaluate import command

    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        command, [str(run_dir), "--out", str(out), "--n-boot", "100", "--no-figures"]
    )
    assert result.exit_code == 0, result.output
    assert "autoenchorder" in result.output and "won songs against hitmusicnet" in result.output
    assert out.exists() and (tmp_path / "r_data" / "summary.json").exists()


@pytest.mark.parametrize("layout", ["missing", "empty", "bad-json", "repeated-rows"])
def test_bad_run_directories_raise_data_error(tmp_path, layout):
    target = tmp_path / "run"
    if layout != "missing":
        target.mkdir()
    if layout == "bad-json":
        (target / "run.json").write_text("{not json")
    if layout == "repeated-rows":
        RunWriter(target).add_predictions("a", ids=["x", "y"], y_true=[1, 2], y_pred=[1, 2])
        table = pd.read_parquet(target / "predictions.parquet")
        pd.concat([table, table]).to_parquet(target / "predictions.parquet")
    with pytest.raises(DataError):
        read_run(target)[0].aligned("test")


def test_single_study_folder_is_its_own_run(run_dir):
    assert find_studies(run_dir / "musicoset") == [run_dir / "musicoset"]


def test_family_is_the_callers_and_is_stored_in_run_json(tmp_path):
    writer = RunWriter(tmp_path)
    # a name that reads like another family: the family is what the caller says, not the name
    writer.add_model("hitmusicnet-ish", family="alternate")
    writer.add_model("hitmusicnet-ish", fit_seconds=2.0)  # an update keeps the recorded family
    writer.add_predictions("gbdt", ids=["x"], y_true=[1.0], y_pred=[2.0])  # not recorded: other
    meta = json.loads((tmp_path / "run.json").read_text())
    assert meta["models"]["hitmusicnet-ish"]["family"] == "alternate"
    assert meta["models"]["gbdt"]["family"] == "other"
    assert read_study(tmp_path).family("hitmusicnet-ish") == "alternate"
    with pytest.raises(ValueError, match="family"):
        writer.add_model("new-model")
    with pytest.raises(ValueError, match="family"):
        writer.add_model("new-model", family="famous")


@pytest.mark.parametrize("recorded", [None, "", "famous"], ids=["missing", "empty", "unknown"])
def test_old_run_dirs_without_a_family_read_other(tmp_path, recorded):
    writer = RunWriter(tmp_path)
    writer.add_predictions(
        "autoenchorder", ids=["x"], y_true=[1.0], y_pred=[2.0], family="baseline"
    )
    meta = json.loads((tmp_path / "run.json").read_text())
    if recorded is None:
        del meta["models"]["autoenchorder"]["family"]
    else:
        meta["models"]["autoenchorder"]["family"] = recorded
    (tmp_path / "run.json").write_text(json.dumps(meta))
    assert read_study(tmp_path).family("autoenchorder") == "other"  # never guessed from the name


def test_calibration_of_the_model_with_a_predictive_sd(report):
    study = report.studies[0]
    table = study.calibration.set_index("model")
    assert list(table.index) == ["autoenchorder"]  # the only model that recorded y_std
    error = np.abs(study.predictions["autoenchorder"] - study.y_true)
    assert table.loc["autoenchorder", "within_1sd"] == pytest.approx(np.mean(error <= 6.0))
    assert table.loc["autoenchorder", "mean_sd"] == pytest.approx(6.0)


def test_run_files_are_readable_by_others(run_dir):
    for path in (run_dir / "procedural").rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o044 == 0o044, path


@pytest.mark.parametrize("case", ["one-model", "three-songs", "constant-target"])
def test_report_survives_degenerate_runs(tmp_path, case):
    rng = np.random.default_rng(4)
    n = 3 if case == "three-songs" else 30
    y = np.full(n, 50.0) if case == "constant-target" else rng.uniform(0, 100, n)
    run = RunWriter(tmp_path)
    models = ["hitmusicnet"] if case == "one-model" else ["mean", "hitmusicnet", "autoenchorder"]
    for model in models:
        run.add_predictions(
            model,
            ids=[str(i) for i in range(n)],
            y_true=y,
            y_pred=np.clip(y + rng.normal(0, 5, n), 0, 100),
            family=FAMILY[model],
        )
    out = write_report(tmp_path, settings=ReportSettings(n_boot=100))
    html = out.html.read_text(encoding="utf-8")
    assert "Metrics on the test set" in html and "Summary" in html
    if case == "one-model":
        assert out.studies[0].headline["comparison"] is None
    if case == "constant-target":
        assert np.isnan(out.studies[0].value("hitmusicnet", "r2")["estimate"])


def test_a_study_without_predictions_is_skipped_not_fatal(tmp_path):
    good = RunWriter(tmp_path, study="good")
    good.add_predictions("a", ids=["x", "y", "z"], y_true=[1.0, 2.0, 4.0], y_pred=[1.5, 2.5, 3.0])
    RunWriter(tmp_path, study="empty", resume=True)  # run.json and no model yet
    out = write_report(tmp_path, settings=ReportSettings(n_boot=100, figures=False))
    assert [r.study.name for r in out.studies] == ["good"]
    assert "empty" in out.skipped
    assert "<b>empty</b> was not scored" in out.html.read_text(encoding="utf-8")


def test_target_checks_follow_the_numbers(report):
    audio, descriptors = report.studies
    comparison = audio.headline["comparison"]
    checks = {c["check"].split(" (")[0]: c for c in audio.headline["checks"]}
    beats = checks["autoenchorder beats hitmusicnet"]
    assert beats["met"] == (comparison["difference"]["low"] > 0)
    closer = checks[
        f"autoenchorder is closer than hitmusicnet on more than {STUDY_WIN_PERCENT} % of songs"
    ]
    assert closer["met"] == (comparison["win_rate"]["share"] > STUDY_WIN_SHARE)
    ceiling = checks["autoenchorder reaches 90 % of the noise ceiling"]
    assert ceiling["met"] == (comparison["a"]["estimate"] / 0.8 >= 0.9)
    # the study's win rate belongs to Autoen-chorder vs HitMusicNet only
    assert not any(str(STUDY_WIN_PERCENT) in c["check"] for c in descriptors.headline["checks"])
    gbdt = [c for c in descriptors.headline["checks"] if "gradient boosting" in c["check"]]
    assert len(gbdt) == 1


GOLDEN = Path(__file__).parent / "data" / "evaluate" / "report_no_figures.html"


def _golden_run(root):
    """A fixed run: two studies, every family, a headline, a learning curve, a fixed machine."""
    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(80)]
    y = np.clip(rng.normal(40, 17, 80), 0, 100)
    audio = RunWriter(root, study="p", title="P", order=0)
    audio.set_dataset("procedural", n=400, info={"oracle_r2": 0.8})
    audio.set_split("holdout", seed=0, n_train=300, n_test=80)
    families = {**FAMILY, "lossnet": "alternate"}
    for model in ("random-normal", "mean", "gbdt", "hitmusicnet", "autoenchorder", "lossnet"):
        audio.add_model(model, family=families[model], config={"seed": 0}, fit_seconds=1.5)
        y_std = np.full(80, 7.0) if model == "autoenchorder" else None
        pred = y + rng.normal(0, 8, 80)
        audio.add_predictions(model, ids=ids, y_true=y, y_pred=pred, y_std=y_std)
    audio.set_headline("autoenchorder", "hitmusicnet")
    classes = RunWriter(
        root, study="c", task="classification", class_names=["low", "mid", "high"], order=1
    )
    labels = rng.integers(0, 3, 80)
    for model in ("mean", "hitmusicnet"):
        classes.add_model(model, family=FAMILY[model])
        classes.add_predictions(model, ids=ids, y_true=labels, y_pred=rng.integers(0, 3, 80))
    for study in ("p", "c"):  # the page names the machine: make it the same everywhere
        meta = json.loads((root / study / "run.json").read_text())
        meta["machine"] = {"processor": "test CPU", "cpu_count": 2, "python": "3.x"}
        (root / study / "run.json").write_text(json.dumps(meta))


def test_report_page_is_unchanged_for_the_same_run(tmp_path):
    # the page of a fixed run, figures off, stored as data: refactoring must not change it
    _golden_run(tmp_path / "run")
    out = write_report(tmp_path / "run", settings=ReportSettings(n_boot=200, figures=False))
    page = re.sub(r"Generated .*? UTC", "Generated (time) UTC", out.html.read_text("utf-8"))
    page = page.replace(f"autoenchorder {__version__}", "autoenchorder (version)")
    if os.environ.get("AUTOENCHORDER_WRITE_GOLDEN"):  # after a deliberate change of the page
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(page, encoding="utf-8")
    assert page == GOLDEN.read_text(encoding="utf-8")


def test_a_headline_on_spearman_is_stated_and_checked_on_spearman(tmp_path):
    """A study of ranking objectives compares its headline pair on Spearman, not R²."""
    rng = np.random.default_rng(3)
    ids = [f"s{i}" for i in range(80)]
    y = np.clip(rng.normal(40, 17, 80), 0, 100)
    run = RunWriter(tmp_path, study="ranking", title="Objectives", order=0)
    run.set_dataset("procedural", n=400, info={"oracle_r2": 0.8})
    # "ranking" orders the songs perfectly but on a squashed scale (bad R², Spearman 1)
    run.add_predictions(
        "ranking", ids=ids, y_true=y, y_pred=40 + (y - 40) / 4, family="autoenchorder"
    )
    run.add_predictions(
        "mse", ids=ids, y_true=y, y_pred=y + rng.normal(0, 9, 80), family="autoenchorder"
    )
    run.set_headline("ranking", "mse", metric="spearman")
    study = write_report(tmp_path, settings=ReportSettings(n_boot=200)).studies[0]
    comparison = study.headline["comparison"]
    assert comparison["metric"] == "spearman" and comparison["a"]["estimate"] == pytest.approx(1.0)
    checks = {c["check"]: c for c in study.headline["checks"]}
    beats = checks["ranking beats mse (Spearman ρ difference interval above 0)"]
    assert beats["met"] == (comparison["difference"]["low"] > 0) and beats["met"]
    assert not any("noise ceiling" in c for c in checks)  # the ceiling is an R² figure
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<b>ranking</b> orders songs by popularity better than <b>mse</b>" in html


@pytest.mark.parametrize("extra_noise", [0.0, 8.0])
def test_a_headline_whose_target_is_to_match_is_checked_by_the_intervals_upper_end(
    tmp_path, extra_noise
):
    """A study asking whether A costs anything checks "A at least matches B", not "beats"."""
    rng = np.random.default_rng(5)
    ids = [f"s{i}" for i in range(200)]
    y = rng.uniform(0, 100, 200)
    base = y + rng.normal(0, 10, 200)
    run = RunWriter(tmp_path, study="cost", title="Does it cost?", order=0)
    run.add_predictions("base", ids=ids, y_true=y, y_pred=base, family="hitmusicnet")
    # "joint" is the same model plus a little noise (a tie), or plus much more (a real loss)
    joint = base + rng.normal(0, 1, 200) + rng.normal(0, 1, 200) * extra_noise
    run.add_predictions("joint", ids=ids, y_true=y, y_pred=joint, family="hitmusicnet")
    run.set_headline("joint", "base", target="matches")
    study = write_report(tmp_path, settings=ReportSettings(n_boot=300, figures=False)).studies[0]
    d = study.headline["comparison"]["difference"]
    (check,) = [c for c in study.headline["checks"] if c["check"].startswith("joint")]
    words = "joint at least matches base (R² difference interval reaches 0 or above)"
    assert check["check"] == words and check["met"] == (d["high"] >= 0)
    assert check["met"] == (extra_noise == 0.0)  # a tie matches; a clear loss does not
    with pytest.raises(ValueError, match="target"):
        run.set_headline("joint", "base", target="ties")


def test_win_rates_stay_readable_in_an_80_column_terminal(tmp_path):
    import io

    from rich.console import Console

    from autoenchorder.evaluate.report import analyse_study
    from autoenchorder.evaluate.run_reader import read_study
    from autoenchorder.terminal import print_headlines

    rng = np.random.default_rng(1)
    ids = [f"song{i:03d}" for i in range(N_TEST)]
    y = rng.uniform(0, 100, N_TEST)
    writer = RunWriter(tmp_path, study="s", title="long labels")
    long = "a model whose label is far too long to fit beside its numbers in 80 columns"
    for k, (key, noise) in enumerate((("base", 20.0), ("one", 10.0), ("two", 5.0))):
        label = f"{long} ({k})"
        writer.add_model(key, family="other", label=label, config={"seed": 0})
        pred = y + rng.normal(0, noise, N_TEST)
        writer.add_predictions(key, ids=ids, y_true=y, y_pred=pred)
    writer.set_headline("two", "base")
    report = analyse_study(read_study(tmp_path / "s"), ReportSettings(n_boot=50))
    console = Console(width=80, file=io.StringIO(), record=True)
    print_headlines([report], console)
    text = console.export_text()
    won = text[text.index("won songs against") :]
    rows = report.win_rates[report.win_rates["model_b"] == report.reference]
    assert len(rows) == 2
    for _, row in rows.iterrows():  # every count and share is printed whole
        assert f"{100 * row['share']:.1f} %" in won
        assert re.search(rf"│\s+{row['a_better']} │\s+{row['b_better']} │", won), won
    assert "…" not in won
