"""The sequence models give the same output whichever way a song reaches them.

Training runs every network in train mode with gradients; ``predict`` runs it in eval mode
without gradients, in batches where shorter songs are padded (and packed for LSTMs). With
dropout and frame noise off these must agree, song by song, for every sequence model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models import make_model
from autoenchorder.models.blocks import TransformerSequenceEncoder
from synthetic_popularity import learnable_dataset

#: tiny trainings, dropout and frame noise off (train and eval mode then compute the same thing)
SEQUENCE_MODELS = {
    "autoenchorder-lstm": (
        "autoenchorder",
        dict(epochs=2, ae_epochs=1, finetune_epochs=1, sequence_hidden=8, width=8, dropout=0.0,
             frame_noise=0.0),
    ),
    "autoenchorder-transformer": (
        "autoenchorder-transformer",
        dict(epochs=2, ae_epochs=1, finetune_epochs=1, sequence_hidden=8, heads=2, width=8,
             dropout=0.0, frame_noise=0.0, sequence_layers=2),
    ),
    "single-ae": ("single-ae", dict(epochs=2, ae_epochs=1, dropout=0.0)),
    "rnn": ("rnn", dict(epochs=2, ae_epochs=1, dropout=0.0, sequence_hidden=8)),
    "hmn-embedding": ("hmn-embedding", dict(epochs=2, ae_epochs=1, dropout=0.0)),
    "lossnet": (
        "lossnet",
        dict(epochs=2, residual_folds=0, dropout=0.0, correction_summary="lstm",
             correction_hidden=8, hmn_options=dict(epochs=2, ae_epochs=1, dropout=0.0)),
    ),
}  # fmt: skip


def _songs() -> PopularityDataset:
    """40 songs of 3-8 frames, one of a single frame and one without frames."""
    ds = learnable_dataset(40, seed=3, max_len=8)
    sequences = list(ds.sequences)
    sequences[1] = sequences[1][:1]
    sequences[2] = sequences[2][:0]
    return replace(ds, sequences=sequences)


@pytest.fixture(scope="module")
def fitted() -> dict:
    ds = _songs()
    models = {}
    for key, (name, options) in SEQUENCE_MODELS.items():
        models[key] = make_model(name, seed=0, quiet=True, **options).fit(ds.take(np.arange(30)))
    return models


def _training_forward(model, ds: PopularityDataset) -> np.ndarray:
    """The output the training loss sees: train mode, gradients on, one padded batch."""
    cpu = torch.device("cpu")
    if model.name.startswith("autoenchorder"):
        net, inputs, scale = model.net_, model._tensors(ds, cpu), 100.0
    elif model.name == "lossnet":
        net, inputs, scale = model.correction_, model._frames(ds, cpu), model.residual_sd_
    else:
        x, frames, lengths = model._tensors(ds, cpu)
        net, inputs, scale = model.head_, (model._codes(x), frames, lengths), 100.0
    net.train()
    try:
        out = net(*inputs)
    finally:
        net.eval()
    return out.detach().double().numpy() * scale


def _prediction_path(model, ds: PopularityDataset) -> np.ndarray:
    """The same quantity through the code ``predict`` uses (eval mode, no gradients)."""
    return model.correction(ds) if model.name == "lossnet" else model.predict(ds)


@pytest.mark.parametrize("key", list(SEQUENCE_MODELS))
def test_training_and_prediction_paths_agree(key, fitted) -> None:
    model, ds = fitted[key], _songs()
    np.testing.assert_allclose(
        _prediction_path(model, ds), _training_forward(model, ds), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("key", list(SEQUENCE_MODELS))
def test_padding_does_not_change_a_song(key, fitted) -> None:
    """Each song scored alone (no padding) equals its score in a padded batch."""
    model, ds = fitted[key], _songs()
    batch = _prediction_path(model, ds)
    alone = np.array([_prediction_path(model, ds.take(np.array([i])))[0] for i in range(len(ds))])
    np.testing.assert_allclose(batch, alone, rtol=1e-5, atol=1e-4)


def test_transformer_prediction_does_not_take_the_fused_fast_path(monkeypatch, fitted) -> None:
    """Eval mode must run the implementation training ran, not PyTorch's fused encoder kernel."""

    def refuse(*args, **kwargs):
        raise AssertionError("torch._transformer_encoder_layer_fwd was called")

    monkeypatch.setattr(torch, "_transformer_encoder_layer_fwd", refuse)
    model = fitted["autoenchorder-transformer"]
    assert isinstance(model.net_.sequence.sequence_encoder, TransformerSequenceEncoder)
    assert np.isfinite(model.predict(_songs())).all()


def test_transformer_encoder_matches_torch_reference_layers() -> None:
    """Our forward is PyTorch's own layer (training path) with the same weights."""
    torch.manual_seed(0)
    encoder = TransformerSequenceEncoder(5, d_model=16, heads=2, num_layers=2)
    x, lengths = torch.randn(6, 7, 5), torch.tensor([1, 3, 7, 5, 2, 7])
    valid = torch.arange(7)[None, :] < lengths[:, None]
    encoder.train()
    steps = encoder.encoder(encoder.project(x) + encoder.positions[:7], src_key_padding_mask=~valid)
    weights = valid.unsqueeze(-1).float()
    reference = (steps * weights).sum(1) / weights.sum(1)
    encoder.eval()
    with torch.no_grad():
        torch.testing.assert_close(encoder(x, lengths), reference, rtol=1e-5, atol=1e-5)


def _output_module(model) -> torch.nn.Module:
    if model.name.startswith("autoenchorder"):
        return model.net_
    return model.correction_ if model.name == "lossnet" else model.head_


@pytest.mark.parametrize("key", list(SEQUENCE_MODELS))
def test_non_finite_output_is_an_error_naming_the_rows(key, fitted) -> None:
    """A NaN raw output for one song is an error naming it, never a popularity clipped to 0."""
    model, ds = fitted[key], _songs()

    def poison_row_5(module, inputs, output):
        return output.index_fill(0, torch.tensor([5]), float("nan"))

    handle = _output_module(model).register_forward_hook(poison_row_5)
    try:
        with pytest.raises(ModelError, match=rf"non-finite.* 1 of 40 rows: {ds.ids[5]} \(row 5\)"):
            model.predict(ds)
    finally:
        handle.remove()
    assert np.isfinite(model.predict(ds)).all()
