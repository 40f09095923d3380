"""The ``autoenchorder`` entry point: every user error is one line on stderr and status 2."""

import sys
import types

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autoenchorder import errors
from autoenchorder.cli import COMMANDS, USER_ERROR_STATUS, cli, main
from autoenchorder.evaluate.rundir import RunWriter


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _instance(cls):
    if issubclass(cls, errors.AudioError):
        return cls("song.wav", "line one\n  line two")
    return cls("line one\n  line two")


ERROR_CLASSES = sorted(
    {errors.AutoenchorderError, *_subclasses(errors.AutoenchorderError)}, key=lambda c: c.__name__
)


@pytest.fixture
def failing_command(monkeypatch):
    """Register a sub-command ``boom`` that raises the exception it is given."""
    raised = {}
    module = types.ModuleType("autoenchorder.commands._boom")

    @click.command(name="boom")
    def command() -> None:
        raise raised["error"]

    module.command = command
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(COMMANDS, "boom", ("_boom", "raise an error"))
    return raised


def _assert_one_line_error(result, *, status=USER_ERROR_STATUS):
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("error_class", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_package_error_is_one_line_with_status_2(failing_command, error_class):
    failing_command["error"] = _instance(error_class)
    line = _assert_one_line_error(CliRunner().invoke(cli, ["boom"]))
    assert "line one line two" in line


def test_main_reports_package_errors_the_same_way(failing_command, capsys):
    failing_command["error"] = errors.DataError("no such\nthing")
    assert main(["boom"]) == USER_ERROR_STATUS
    assert capsys.readouterr().err == "error: no such thing\n"


def test_programming_errors_still_raise(failing_command):
    failing_command["error"] = KeyError("bug")
    with pytest.raises(KeyError):
        main(["boom"])


@pytest.mark.parametrize(
    "args",
    [["no-such-command"], ["evaluate", "--no-such-option", "."], ["evaluate"]],
    ids=["unknown-command", "unknown-option", "missing-argument"],
)
def test_usage_errors_are_one_line(args):
    line = _assert_one_line_error(CliRunner().invoke(cli, args))
    assert "--help" in line


def test_help_and_version_exit_0():
    assert CliRunner().invoke(cli, ["--help"]).exit_code == 0
    assert main(["--version"]) == 0


def _run_dir(tmp_path):
    writer = RunWriter(tmp_path / "run")
    for model in ("mean", "hitmusicnet"):
        writer.add_predictions(
            model,
            ids=[str(i) for i in range(20)],
            y_true=np.arange(20.0),
            y_pred=np.arange(20.0) + (model == "mean"),
        )
    return tmp_path / "run"


@pytest.mark.parametrize(
    "damage", ["text-predictions", "nan-target", "inf-prediction", "not-parquet", "run-json-list"]
)
def test_evaluate_on_malformed_predictions_is_one_line(tmp_path, damage):
    run = _run_dir(tmp_path)
    table = pd.read_parquet(run / "predictions.parquet")
    if damage == "text-predictions":
        table["y_pred"] = "abc"
    elif damage == "nan-target":
        table["y_true"] = np.nan
    elif damage == "inf-prediction":
        table.loc[3, "y_pred"] = np.inf
    table.to_parquet(run / "predictions.parquet")
    if damage == "not-parquet":
        (run / "predictions.parquet").write_text("not parquet")
    if damage == "run-json-list":
        (run / "run.json").write_text("[1, 2]")
    result = CliRunner().invoke(cli, ["evaluate", str(run), "--n-boot", "100", "--no-figures"])
    line = _assert_one_line_error(result)
    assert str(run) in line
