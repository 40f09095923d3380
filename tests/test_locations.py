"""Where datasets are looked for: --root, $AUTOENCHORDER_DATA, ./data, ../shared/data."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from autoenchorder.cli import cli
from autoenchorder.data import locations
from autoenchorder.data.locations import (
    ENV_VAR,
    KNOWN_SOURCES,
    candidate_roots,
    find_root,
    require_root,
)
from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.errors import DataError

SPOTGENTRACK = Path(__file__).resolve().parent / "data" / "spotgentrack"


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """A working directory without ./data and an empty $AUTOENCHORDER_DATA folder."""
    env = tmp_path / "env"
    env.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env))
    monkeypatch.chdir(cwd)
    # no ../shared beside this "repository", whatever the machine has
    monkeypatch.setattr(locations, "_REPO", tmp_path / "repo")
    return env, cwd


def test_candidates_in_order(nowhere):
    env, cwd = nowhere
    assert candidate_roots("musicoset") == [
        (ENV_VAR, env / "musicoset"),
        ("./data", cwd / "data" / "musicoset"),
        ("../shared/data", env.parent / "shared" / "data" / "musicoset"),
    ]


def test_unset_variable_is_not_a_candidate(nowhere, monkeypatch):
    monkeypatch.delenv(ENV_VAR)
    assert [how for how, _ in candidate_roots("hit-predictor")] == ["./data", "../shared/data"]


def test_environment_wins_over_working_directory(nowhere):
    env, cwd = nowhere
    (cwd / "data" / "spotgentrack").mkdir(parents=True)
    assert find_root("spotgentrack") == cwd / "data" / "spotgentrack"
    (env / "spotgentrack").mkdir()
    assert find_root("spotgentrack") == env / "spotgentrack"


def test_explicit_root_wins_and_must_exist(nowhere, tmp_path):
    env, _ = nowhere
    (env / "musicoset").mkdir()
    assert find_root("musicoset", tmp_path) == tmp_path
    with pytest.raises(DataError, match="does not exist"):
        find_root("musicoset", tmp_path / "missing")


def test_missing_source_says_where_it_looked_and_where_it_comes_from(nowhere):
    env, cwd = nowhere
    assert find_root("spotgentrack") is None
    with pytest.raises(DataError) as caught:
        require_root("spotgentrack")
    message = str(caught.value)
    assert str(env / "spotgentrack") in message and str(cwd / "data" / "spotgentrack") in message
    assert "./data/spotgentrack" in message and ENV_VAR in message and "--root" in message
    assert "Kaggle" in message and "low_level_audio_features.csv" in message


def test_every_known_source_names_its_origin():
    assert "marianaossilva.github.io/DSW2019" in KNOWN_SOURCES["musicoset"].origin
    assert "theoverman/the-spotify-hit-predictor-dataset" in KNOWN_SOURCES["hit-predictor"].origin


def test_load_dataset_finds_the_root_through_the_environment(nowhere):
    env, _ = nowhere
    (env / "spotgentrack").symlink_to(SPOTGENTRACK, target_is_directory=True)
    ds = load_dataset(DataSpec("spotgentrack", feature_sets=("audio",)))
    assert ds.info["data_spec"]["root"] == str(env / "spotgentrack")
    assert sorted(ds.column_groups) == ["descriptors", "lowlevel"]


def test_data_where_lists_what_it_found_and_where_it_looked(nowhere):
    env, cwd = nowhere
    (env / "spotgentrack").mkdir()
    result = CliRunner(env={ENV_VAR: str(env), "COLUMNS": "400"}).invoke(cli, ["data", "where"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    (row,) = [line for line in lines if "│ spotgentrack" in line]
    assert f"│ {env / 'spotgentrack'} " in row  # found through the environment
    assert f"* {ENV_VAR}: {env / 'spotgentrack'}" in result.output
    assert f"- ./data: {cwd / 'data' / 'musicoset'}" in result.output
    assert "marianaossilva.github.io/DSW2019" in result.output
    assert "is not set" not in result.output


def test_data_info_without_root_uses_the_environment(nowhere):
    env, _ = nowhere
    (env / "spotgentrack").symlink_to(SPOTGENTRACK, target_is_directory=True)
    result = CliRunner(env={ENV_VAR: str(env), "COLUMNS": "200"}).invoke(
        cli, ["data", "info", "spotgentrack", "--no-split"]
    )
    assert result.exit_code == 0, result.output
    assert f"spotgentrack from {env / 'spotgentrack'}" in result.output


def test_shared_folder_beside_the_repository_is_the_last_resort(nowhere, tmp_path):
    shared = tmp_path / "shared" / "data" / "hit-predictor"
    shared.mkdir(parents=True)
    assert find_root("hit-predictor") == shared


def test_train_without_root_names_where_to_put_the_data(nowhere, capsys):
    from autoenchorder.cli import main

    assert main(["train", "--model", "mean", "--data", "musicoset", "--out", "b"]) == 2
    err = capsys.readouterr().err
    assert "MusicOSet data not found" in err and "marianaossilva.github.io/DSW2019" in err
