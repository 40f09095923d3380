from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from autoenchorder.errors import ModelError
from autoenchorder.models.blocks import (
    DeepRegressor,
    DenseAutoencoder,
    HitMusicNetRegressor,
    SequenceAutoencoder,
    autoencoder_widths,
    hmn_autoencoder_widths,
    hmn_regressor_widths,
    masked_mse,
    pad_sequences,
)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def dense_params(widths: list[int]) -> int:
    """Weights plus biases of a chain of dense layers, counted by hand."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


# The original (dmgutierrez/hitmusicnet, saved_models/.../autoencoder.json): 228 -> 114 -> 76 -> 45;
# int() truncation: 228/7 = 32.57 -> 32, 228/4 = 57.
@pytest.mark.parametrize(
    ("d", "compress", "expected"),
    [
        (228, "auto", (228, 114, 76, 45)),
        (228, "high", (228, 114, 76, 32)),
        (228, "small", (228, 114, 76, 57)),
        (207, "auto", (207, 103, 69, 41)),
        (97, "auto", (97, 48, 32, 19)),
    ],
)
def test_hmn_autoencoder_widths(d: int, compress: str, expected: tuple[int, ...]) -> None:
    assert hmn_autoencoder_widths(d, compress=compress) == expected


def test_hmn_autoencoder_parameter_count_matches_the_saved_model() -> None:
    ae = DenseAutoencoder(hmn_autoencoder_widths(228))
    # encoder 228*114+114 + 114*76+76 + 76*45+45, decoder the mirror image
    encoder = (228 * 114 + 114) + (114 * 76 + 76) + (76 * 45 + 45)
    decoder = (45 * 76 + 76) + (76 * 114 + 114) + (114 * 228 + 228)
    assert encoder == 26_106 + 8_740 + 3_465
    assert n_params(ae) == encoder + decoder
    x = torch.rand(5, 228)
    assert ae.encode(x).shape == (5, 45)
    recon = ae(x)
    assert recon.shape == (5, 228)
    assert recon.min() >= 0 and recon.max() <= 1  # sigmoid reconstruction
    assert (ae.encode(x) >= 0).all()  # ReLU code, as the original's "compressed" layer


def test_hmn_regressor_widths_and_parameters() -> None:
    hidden = hmn_regressor_widths(45)
    assert hidden == (45, 22, 15)  # round(22.5) = 22 (half to even), round(15.0) = 15
    net = HitMusicNetRegressor(45, hidden, dropout=0.25)
    # 45-45-22-15-1: 45*45+45 + 45*22+22 + 22*15+15 + 15*1+1
    assert n_params(net) == 2070 + 1012 + 345 + 16
    dropouts = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert [m.p for m in dropouts] == [0.25, 0.25]  # none after the last hidden layer
    out = net.eval()(torch.randn(7, 45))
    assert out.shape == (7,) and ((out > 0) & (out < 1)).all()
    logits = HitMusicNetRegressor(45, hidden, out=3).eval()(torch.randn(7, 45))
    assert logits.shape == (7, 3)


def test_hmn_regressor_more_layers_repeat_the_beta_width() -> None:
    assert hmn_regressor_widths(45, n_layers=6) == (45, 22, 22, 22, 15)
    with pytest.raises(ModelError):
        hmn_regressor_widths(45, n_layers=2)


def test_autoenchorder_dense_widths() -> None:
    assert autoencoder_widths(207, code=20) == (207, 103, 69, 20)
    assert autoencoder_widths(24, code=20) == (24, 20)  # hidden widths narrower than the code go
    ae = DenseAutoencoder(autoencoder_widths(207, code=20))
    assert n_params(ae) == dense_params([207, 103, 69, 20, 69, 103, 207])


@pytest.mark.parametrize("n_layers", [7, 9, 12])
def test_deep_regressor_layers_init_and_parameters(n_layers: int) -> None:
    torch.manual_seed(0)
    net = DeepRegressor(40, n_layers=n_layers, width=64)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == n_layers
    assert n_params(net) == (40 * 64 + 64) + (n_layers - 2) * (64 * 64 + 64) + (64 + 1)
    for layer in linears:
        bound = math.sqrt(6.0 / (layer.in_features + layer.out_features))  # Xavier uniform
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.8 * bound  # really spread over the range
        assert torch.all(layer.bias == 0.1)
    assert net(torch.randn(3, 40)).shape == (3,)


@pytest.mark.parametrize("encoder", ["lstm", "transformer"])
def test_sequence_autoencoder_shapes(encoder: str) -> None:
    torch.manual_seed(0)
    ae = SequenceAutoencoder(16, code=20, hidden=32, encoder=encoder).eval()
    x = torch.randn(4, 9, 16)
    lengths = torch.tensor([9, 3, 5, 1])
    assert ae.encode(x, lengths).shape == (4, 20)
    recon = ae(x, lengths)
    assert recon.shape == (4, 9, 16)
    assert torch.all(recon[1, 3:] == 0) and torch.all(recon[3, 1:] == 0)  # padding stays zero


@pytest.mark.parametrize("encoder", ["lstm", "transformer"])
def test_sequence_codes_do_not_depend_on_padding(encoder: str) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    ae = SequenceAutoencoder(6, code=5, hidden=16, encoder=encoder).eval()
    sequences = [rng.normal(size=(t, 6)).astype(np.float32) for t in (7, 2, 4)]
    padded, lengths = pad_sequences(sequences)
    extra = torch.cat([padded, torch.full((3, 11, 6), 99.0)], dim=1)  # long, loud padding
    with torch.no_grad():
        codes = ae.encode(padded, lengths)
        codes_long = ae.encode(extra, lengths)
        alone = torch.cat(
            [ae.encode(torch.from_numpy(s)[None], torch.tensor([len(s)])) for s in sequences]
        )
        recon, recon_long = ae(padded, lengths), ae(extra, lengths)
    torch.testing.assert_close(codes_long, codes, rtol=0, atol=1e-5)
    torch.testing.assert_close(alone, codes, rtol=0, atol=1e-5)
    torch.testing.assert_close(recon_long[:, :7], recon, rtol=0, atol=1e-5)


def test_unknown_sequence_encoder_is_refused() -> None:
    with pytest.raises(ModelError, match="sequence encoder"):
        SequenceAutoencoder(4, encoder="gru")


def test_masked_mse_by_hand() -> None:
    target = torch.tensor([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [9.0, 9.0]]])
    recon = torch.tensor([[[1.0, 1.0], [3.0, 6.0]], [[1.0, 0.0], [0.0, 0.0]]])
    lengths = torch.tensor([2, 1])  # the second sequence's second step is padding
    # squared errors on real steps: (0, 1, 0, 4) and (1, 0) -> 6 / 6 values
    assert masked_mse(recon, target, lengths).item() == pytest.approx(6 / 6)


def test_pad_sequences_handles_ragged_and_empty() -> None:
    frames, lengths = pad_sequences([np.ones((3, 2)), np.zeros((0, 2)), 2 * np.ones((1, 2))])
    assert frames.shape == (3, 3, 2) and frames.dtype == torch.float32
    assert lengths.tolist() == [3, 1, 1]  # an empty sequence becomes one zero frame
    assert frames[2, 0].tolist() == [2.0, 2.0] and frames[2, 1:].abs().sum() == 0
