"""``--device cpu|cuda|auto``: auto is CUDA only where there is one; cuda without it is refused."""

from __future__ import annotations

import pytest
import torch

from autoenchorder.cli import main
from autoenchorder.errors import ModelError
from autoenchorder.models.training import resolve_device

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def test_auto_is_cuda_where_there_is_one_else_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@no_cuda
@pytest.mark.parametrize("name", ["cuda", "cuda:0"])
def test_cuda_without_cuda_is_a_clear_model_error(name):
    with pytest.raises(ModelError, match=r"no CUDA device.*--device cpu"):
        resolve_device(name)


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu"])
def test_unknown_devices_are_refused(name):
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device(name)


@no_cuda
@pytest.mark.parametrize("command", ["train", "search"])
def test_commands_refuse_cuda_without_cuda_before_any_data(command, tmp_path, capsys):
    status = main(
        [command, "--model", "hitmusicnet", "--data", "procedural", "--root", str(tmp_path),
         "--device", "cuda", "--out", str(tmp_path / "out")]
    )  # fmt: skip
    assert status == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_a_network_fits_with_device_auto():
    from autoenchorder.commands.train import with_device
    from autoenchorder.train.api import train_model
    from synthetic_popularity import learnable_dataset

    assert with_device({"lr": 1e-3}, None) == {"lr": 1e-3}
    config = with_device({"epochs": 2, "ae_epochs": 1, "quiet": True}, "auto")
    assert config["device"] == "auto"
    ds = learnable_dataset(60, seed=2, with_sequences=False)
    result = train_model("hitmusicnet", ds, {**config, "groups": ("lowlevel",)}, seed=1)
    assert result.model.config.device == "auto"
    assert result.test_predictions.shape == (result.metrics["n_test"],)
