"""The quick demo end to end: corpus, features, models, report, predictions (a few minutes)."""

from __future__ import annotations

import pandas as pd
import pytest

from autoenchorder.audio.embed.weights import locate_weights
from autoenchorder.cli import main
from autoenchorder.errors import WeightsError


@pytest.mark.slow
def test_quick_demo_runs_end_to_end(tmp_path, musicoset_root, capsys):
    try:
        locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights not set up (make weights): {exc}")
    out = tmp_path / "demo"
    status = main(["demo", "--quick", "--out", str(out), "--musicoset", str(musicoset_root)])
    assert status == 0
    printed = capsys.readouterr().out

    html = (out / "report.html").read_text()
    for heading in ("Procedural audio corpus", "MusicOSet"):
        assert heading in html
    assert "data:image/png;base64," in html or "<svg" in html

    procedural = pd.read_parquet(out / "procedural" / "predictions.parquet")
    assert {"hitmusicnet", "autoenchorder", "mean", "gbdt"} <= set(procedural["model"])
    test_ids = procedural.loc[procedural["model"] == "autoenchorder", "id"]
    assert len(test_ids) == len(set(test_ids)) > 0
    assert procedural["y_pred"].between(0, 100).all()
    musicoset = pd.read_parquet(out / "musicoset" / "predictions.parquet")
    assert {"gbdt", "gbdt+metadata", "hitmusicnet"} <= set(musicoset["model"])

    bundles = out / "bundles" / "autoenchorder"
    assert sorted(p.name for p in bundles.iterdir()) == ["seed-0", "seed-1"]
    assert all((p / "bundle.json").is_file() for p in bundles.iterdir())
    assert "predicted" in printed and "ensemble" in printed and "report:" in printed

    # A second run resumes: nothing is rendered, extracted or fitted again, and the same
    # predictions come back.
    status = main(["demo", "--quick", "--out", str(out), "--musicoset", str(musicoset_root)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "0 rendered now" in printed and "0 done" in printed
    fitted_lines = [line for line in printed.splitlines() if " fit " in line]
    assert fitted_lines and all(line.endswith("(cached)") for line in fitted_lines)
    again = pd.read_parquet(out / "procedural" / "predictions.parquet")
    pd.testing.assert_frame_equal(
        again.sort_values(["model", "id"]).reset_index(drop=True),
        procedural.sort_values(["model", "id"]).reset_index(drop=True),
    )
