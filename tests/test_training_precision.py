"""Autoen-chorder's LSTM training steps in bfloat16: the same quantities, float32 everywhere else.

``training_precision`` switches the sequence LSTMs of a module to a padded run whose products
are in bfloat16 while they train; validation, codes and predictions keep the packed float32
path. These tests hold the padded path to the packed one, check that bfloat16 is really used
and only while training, and that the option reaches a fit and the demo's plan.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from autoenchorder import precision as prec
from autoenchorder.errors import ModelError
from autoenchorder.models import blocks, make_model
from autoenchorder.models.blocks import SequenceAutoencoder, padded_lstm, training_precision
from autoenchorder.study.settings import DemoSettings, procedural_models
from synthetic_popularity import learnable_dataset

#: bfloat16 LSTM steps run only where the CPU has bfloat16 instructions (elsewhere: refused)
NATIVE = prec.native_bfloat16(torch.device("cpu"))
needs_native = pytest.mark.skipif(
    not NATIVE, reason="this CPU has no native bfloat16 (AVX512-BF16 / AMX): the steps are refused"
)

TINY = dict(
    epochs=2, ae_epochs=2, finetune_epochs=2, sequence_hidden=8, width=8, frame_noise=0.0,
    dropout=0.0,
)  # fmt: skip


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """12 padded sequences of 1-9 frames (B, 9, 6); the padding holds large values on purpose."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 10, (12,), generator=g)
    lengths[0] = 9
    x = torch.randn(12, 9, 6, generator=g)
    x[torch.arange(9)[None, :] >= lengths[:, None]] = 50.0
    return x, lengths


def _autoencoder(seed: int = 0) -> SequenceAutoencoder:
    torch.manual_seed(seed)
    return SequenceAutoencoder(6, code=4, hidden=8)


def test_the_padded_run_gives_the_packed_summary_and_reconstruction_in_float32():
    x, lengths = _batch()
    ae = _autoencoder()
    ae.eval()
    with torch.no_grad():
        packed_code = ae.encode(x, lengths)
        packed_frames = ae.decode(packed_code, lengths, x.shape[1])
        ae.train()
        with training_precision(ae, "bfloat16"):
            ae.sequence_encoder.training_dtype = torch.float32  # the padded path, in float32
            ae.training_dtype = torch.float32
            padded_code = ae.encode(x, lengths)
            padded_frames = ae.decode(padded_code, lengths, x.shape[1])
    torch.testing.assert_close(padded_code, packed_code, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded_frames, packed_frames, atol=1e-5, rtol=1e-5)
    assert ae.training_dtype is None and ae.sequence_encoder.training_dtype is None


@needs_native
def test_bfloat16_steps_are_bfloat16_only_while_training():
    x, lengths = _batch(1)
    ae = _autoencoder(1)
    ae.eval()
    with torch.no_grad():
        reference = ae(x, lengths)
        with training_precision(ae, "bfloat16"):
            evaluated = ae(x, lengths)  # eval mode: the packed float32 path, bit for bit
            ae.train()
            trained = ae(x, lengths)
    assert torch.equal(evaluated, reference)
    assert trained.dtype == torch.float32
    difference = (trained - reference).abs().max().item()
    assert 0 < difference < 0.1  # rounded to bfloat16's 8 bits, not another computation


def test_the_switch_is_undone_when_training_fails():
    ae = _autoencoder()
    with pytest.raises(RuntimeError, match="stop"), training_precision(ae, "bfloat16"):
        assert ae.training_dtype == torch.bfloat16
        raise RuntimeError("stop")
    assert ae.training_dtype is None and ae.sequence_encoder.training_dtype is None


@needs_native
def test_padded_lstm_returns_float32_and_keeps_float32_weights():
    lstm = torch.nn.LSTM(6, 8, batch_first=True)
    x, _ = _batch()
    out = padded_lstm(lstm, x, torch.bfloat16)
    assert out.dtype == torch.float32 and out.shape == (12, 9, 8)
    assert all(p.dtype == torch.float32 for p in lstm.parameters())


@needs_native
def test_a_fit_with_bfloat16_steps_trains_them_and_predicts_in_float32(monkeypatch):
    ds = learnable_dataset(40, seed=4, max_len=6)
    used: list[torch.dtype] = []
    original = blocks.padded_lstm

    def spy(lstm, x, dtype):  # noqa: ANN001, ANN202
        used.append(dtype)
        return original(lstm, x, dtype)

    monkeypatch.setattr(blocks, "padded_lstm", spy)
    model = make_model("autoenchorder", seed=0, quiet=True, precision="bfloat16", **TINY)
    model.fit(ds.take(np.arange(30)))
    assert used and set(used) == {torch.bfloat16}
    assert model.training_precision_ == "bfloat16"
    steps = len(used)
    first, second = model.predict(ds), model.predict(ds)
    assert len(used) == steps  # prediction never takes the bfloat16 path
    assert np.isfinite(first).all() and np.array_equal(first, second)


def test_float32_and_auto_without_native_bfloat16_never_take_the_padded_path(monkeypatch):
    ds = learnable_dataset(30, seed=5, max_len=5)
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: False)

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the padded path ran")

    monkeypatch.setattr(blocks, "padded_lstm", refuse)
    for choice in ("float32", "auto"):
        model = make_model("autoenchorder", seed=0, quiet=True, precision=choice, **TINY)
        model.fit(ds)
        assert model.training_precision_ == "float32"


def test_bfloat16_steps_are_refused_where_they_are_not_native(monkeypatch):
    ds = learnable_dataset(20, seed=6, max_len=4)
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: False)
    model = make_model("autoenchorder", seed=0, quiet=True, precision="bfloat16", **TINY)
    with pytest.raises(ModelError, match="native bfloat16 .* use precision float32, or auto"):
        model.fit(ds)


def test_an_unknown_precision_is_refused_before_training():
    ds = learnable_dataset(20, seed=6, max_len=4)
    with pytest.raises(ModelError, match="unknown precision 'half'"):
        make_model("autoenchorder", seed=0, quiet=True, precision="half", **TINY).fit(ds)


@pytest.mark.parametrize(("native", "expected"), [(True, "bfloat16"), (False, "float32")])
def test_the_demo_trains_autoenchorder_in_the_precision_auto_picks(
    monkeypatch, tmp_path: Path, native: bool, expected: str
):
    monkeypatch.setattr(prec, "native_bfloat16", lambda device: native)
    runs = {run.key: run for run in procedural_models(DemoSettings(out=tmp_path))}
    for key in ("autoenchorder", "autoenchorder-faithful", "autoenchorder-transformer"):
        assert runs[key].config["precision"] == expected
    assert "precision" not in runs["rnn"].config
    pinned = procedural_models(DemoSettings(out=tmp_path, precision="float32"))
    assert {r.config.get("precision") for r in pinned if r.model.startswith("autoen")} == {
        "float32"
    }
