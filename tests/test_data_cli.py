from pathlib import Path

from click.testing import CliRunner

from autoenchorder.cli import cli, main

SPOTGENTRACK = Path(__file__).resolve().parent / "data" / "spotgentrack"


def test_data_info_prints_counts_target_and_joins():
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["data", "info", "spotgentrack", "--root", str(SPOTGENTRACK)]
    )
    assert result.exit_code == 0, result.output
    assert "spotgentrack: 5 tracks, regression" in result.output
    assert "group lowlevel" in result.output and "207" in result.output
    assert "low_level_audio_features.csv" in result.output  # join losses table
    assert "grouped-by-artist stratified holdout 85/15 seed 0" in result.output
    assert "nan features" in result.output  # validation report


def test_data_info_catalog_needs_labels_and_store(capsys):
    assert main(["data", "info", "catalog", "--root", str(SPOTGENTRACK)]) == 2
    assert "--labels" in capsys.readouterr().err
