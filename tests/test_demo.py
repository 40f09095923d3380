"""The quick demo end to end: corpus, features, models, report, predictions (a few minutes).

The first run finds no MusicOSet (the procedural study runs, a note says where to put the
data); the second finds it, resumes the procedural study from its files and adds MusicOSet.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from autoenchorder.audio.embed.weights import locate_weights
from autoenchorder.cli import main
from autoenchorder.data import locations
from autoenchorder.errors import WeightsError
from conftest import missing_data_reason


def _flat(text: str) -> str:
    return " ".join(text.split())  # the console wraps long lines


@pytest.mark.slow
def test_quick_demo_runs_end_to_end(tmp_path, capsys, monkeypatch):
    try:
        locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights not set up (make weights): {exc}")
    # The first run needs no data; the second (the resume) uses MusicOSet where it is found.
    musicoset_root = locations.find_root("musicoset")
    no_musicoset = missing_data_reason("musicoset") if musicoset_root is None else ""
    out = tmp_path / "demo"
    # No MusicOSet anywhere the demo looks: an empty AUTOENCHORDER_DATA, a working directory
    # without data/, and a repository without ../shared/data beside it.
    (tmp_path / "empty").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.setenv(locations.ENV_VAR, str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(locations, "_REPO", tmp_path / "elsewhere" / "repo")
    status = main(["demo", "--quick", "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    flat = _flat(printed)
    assert "Skipping the MusicOSet study. MusicOSet data not found." in flat
    assert "Put the MusicOSet folder at ./data/musicoset" in flat
    assert "marianaossilva.github.io" in flat  # where it comes from
    assert not (out / "musicoset").exists()

    html = (out / "report.html").read_text()
    assert "Procedural audio corpus" in html
    assert "data:image/png;base64," in html or "<svg" in html

    procedural = pd.read_parquet(out / "procedural" / "predictions.parquet")
    assert {"hitmusicnet", "autoenchorder", "mean", "gbdt"} <= set(procedural["model"])
    test_ids = procedural.loc[procedural["model"] == "autoenchorder", "id"]
    assert len(test_ids) == len(set(test_ids)) > 0
    assert procedural["y_pred"].between(0, 100).all()

    bundles = out / "bundles" / "autoenchorder"
    assert sorted(p.name for p in bundles.iterdir()) == ["seed-0", "seed-1"]
    assert all((p / "bundle.json").is_file() for p in bundles.iterdir())
    # Each member's model card has its test metrics, each inside its bootstrap interval.
    for member in bundles.iterdir():
        metrics = json.loads((member / "bundle.json").read_text())["metrics"]
        assert metrics["n_test"] == len(test_ids)
        for name, (low, high) in metrics["test_ci"].items():
            assert low <= metrics["test"][name] <= high, name
    # ... and the ensemble's: the test metrics of the members' mean prediction (the predictor's)
    ensemble = metrics["ensemble"]
    assert ensemble["n_members"] == 2
    member_rows = procedural[procedural["model"] == "autoenchorder"].set_index("id")
    ensemble_rows = procedural[procedural["model"] == "autoenchorder-ensemble"].set_index("id")
    ensemble_mae = (ensemble_rows["y_pred"] - ensemble_rows["y_true"]).abs().mean()
    assert ensemble["test"]["mae"] == pytest.approx(ensemble_mae)  # the report's ensemble row
    assert ensemble["n_test"] == len(member_rows)
    assert "predicted" in printed and "ensemble" in printed and "report:" in printed
    # musicnn ran in bfloat16 where this CPU runs it natively (--precision auto), and the
    # report, the store and the bundles say which
    import torch

    from autoenchorder.precision import native_bfloat16

    precision = "bfloat16" if native_bfloat16(torch.device("cpu")) else "float32"
    run = json.loads((out / "procedural" / "run.json").read_text())
    assert f"musicnn-msd sequences computed in {precision}" in run["notes"]
    assert f"musicnn-msd in {precision}" in flat
    spec = json.loads((bundles / "seed-0" / "bundle.json").read_text())["feature_spec"]
    assert spec["embedder"].get("precision", "float32") == precision

    # A second run finds MusicOSet and resumes: nothing is rendered, extracted or fitted again
    # for the procedural study (the same predictions come back); MusicOSet is added.
    if musicoset_root is None:
        pytest.skip(f"the first run passed; the resume with MusicOSet needs it: {no_musicoset}")
    status = main(["demo", "--quick", "--out", str(out), "--musicoset", str(musicoset_root)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "0 rendered now" in printed and "0 done" in printed
    fitted = [line for line in printed.splitlines() if " fit " in line]
    again_procedural = [line for line in fitted if line.split()[0] == "procedural"]
    assert again_procedural and all(line.endswith("(cached)") for line in again_procedural)
    assert any(line.split()[0] == "musicoset" for line in fitted)
    again = pd.read_parquet(out / "procedural" / "predictions.parquet")
    pd.testing.assert_frame_equal(
        again.sort_values(["model", "id"]).reset_index(drop=True),
        procedural.sort_values(["model", "id"]).reset_index(drop=True),
    )
    musicoset = pd.read_parquet(out / "musicoset" / "predictions.parquet")
    assert {"gbdt", "gbdt+metadata", "hitmusicnet"} <= set(musicoset["model"])
    assert "MusicOSet" in (out / "report.html").read_text()


def test_a_musicoset_folder_that_is_not_there_is_one_line_at_once(tmp_path, capsys):
    missing = tmp_path / "no-such-folder"
    status = main(["demo", "--quick", "--out", str(tmp_path / "demo"), "--musicoset", str(missing)])
    assert status == 2
    assert "does not exist" in _flat(capsys.readouterr().err)
    assert not (tmp_path / "demo").exists()  # refused before the corpus is made
