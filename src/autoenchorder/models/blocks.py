"""The torch building blocks of every network model: dense and sequence autoencoders, regressors.

Width rules follow the reference implementations:

- HitMusicNet's autoencoder (dmgutierrez/hitmusicnet ``train_autoencoder``): hidden widths
  ``int(d / 2)``, ``int(d / 3)`` and code ``int(d / 5)`` ("auto"), ``int(d / 7)`` ("high") or
  ``int(d / 4)`` ("small") -- Python ``int`` truncation, so d = 228 gives 228-114-76-45.
- HitMusicNet's regressor (``get_hidden_neurons``): ``int(round(alpha * d))``,
  ``int(round(beta * d))`` for each middle layer, ``int(round(gamma * d))``, then the output;
  Python's ``round`` (half to even), so d = 45 gives 45-22-15-1.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from autoenchorder import precision as precision_module
from autoenchorder.errors import ModelError

#: divisor of the input width giving HitMusicNet's code size, by compression level
HMN_CODE_DIVISORS: dict[str, int] = {"auto": 5, "high": 7, "small": 4}


def hmn_autoencoder_widths(d: int, *, compress: str = "auto") -> tuple[int, int, int, int]:
    """Return the encoder widths of HitMusicNet's autoencoder: ``(d, d/2, d/3, code)``, truncated.

    Parameters
    ----------
    d : int
        Input width.
    compress : str
        ``"auto"`` (code d/5), ``"high"`` (d/7) or ``"small"`` (d/4).

    Returns
    -------
    tuple of int
        e.g. ``(228, 114, 76, 45)`` for d = 228, "auto".
    """
    if compress not in HMN_CODE_DIVISORS:
        known = ", ".join(HMN_CODE_DIVISORS)
        raise ModelError(f"unknown compression {compress!r}; choose from {known}")
    code = int(d / HMN_CODE_DIVISORS[compress])
    if code < 1:
        raise ModelError(f"{d} input features are too few for a {compress!r} code")
    return d, int(d / 2), int(d / 3), code


def autoencoder_widths(d: int, *, code: int) -> tuple[int, ...]:
    """Return encoder widths ``(d, d/2, d/3, code)``, dropping hidden widths <= ``code``.

    Parameters
    ----------
    d : int
        Input width.
    code : int
        Code width.

    Returns
    -------
    tuple of int
        e.g. ``(207, 103, 69, 20)``.
    """
    hidden = tuple(w for w in (int(d / 2), int(d / 3)) if w > code)
    return (d, *hidden, code)


def hmn_regressor_widths(
    d: int, *, alpha: float = 1.0, beta: float = 0.5, gamma: float = 1 / 3, n_layers: int = 4
) -> tuple[int, ...]:
    """Return the hidden widths of HitMusicNet's regressor (the output layer excluded).

    Parameters
    ----------
    d : int
        Input width (the code size).
    alpha, beta, gamma : float
        First, middle and last hidden width as fractions of ``d``.
    n_layers : int
        Dense layers including the output (the original uses 4: alpha, beta, gamma, output).

    Returns
    -------
    tuple of int
        e.g. ``(45, 22, 15)`` for d = 45.
    """
    if n_layers < 3:
        raise ModelError("HitMusicNet's regressor needs at least 3 layers")
    middle = [int(round(beta * d))] * (n_layers - 3)
    return (int(round(alpha * d)), *middle, int(round(gamma * d)))


def _mlp(widths: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for w_in, w_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(w_in, w_out), nn.ReLU()]
    return layers


def init_xavier(module: nn.Module, *, bias: float = 0.0) -> None:
    """Xavier-uniform weights and constant ``bias`` for every ``nn.Linear`` inside ``module``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.constant_(layer.bias, bias)


class DenseAutoencoder(nn.Module):
    """Mirror-image dense autoencoder: ReLU layers, a ReLU code, a sigmoid reconstruction.

    Parameters
    ----------
    widths : sequence of int
        Encoder widths from input to code, e.g. ``(228, 114, 76, 45)``; the decoder mirrors them
        (45 -> 76 -> 114 -> 228).
    output : str
        ``"sigmoid"`` (HitMusicNet: inputs MinMax-scaled to [0, 1]) or ``"linear"`` (for
        standardised inputs).
    """

    def __init__(self, widths: Sequence[int], *, output: str = "sigmoid"):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2:
            raise ModelError("an autoencoder needs an input and a code width")
        if output not in ("sigmoid", "linear"):
            raise ModelError(f"unknown autoencoder output {output!r}; use 'sigmoid' or 'linear'")
        self.widths = widths
        self.encoder = nn.Sequential(*_mlp(widths))
        decoder = _mlp(widths[::-1])[:-1]  # no ReLU after the last layer
        self.decoder = nn.Sequential(
            *decoder, nn.Sigmoid() if output == "sigmoid" else nn.Identity()
        )

    @property
    def code_size(self) -> int:
        """Width of the code."""
        return self.widths[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs of shape (B, d) to codes of shape (B, code)."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruct inputs of shape (B, d)."""
        return self.decoder(self.encoder(x))


class HitMusicNetRegressor(nn.Module):
    """HitMusicNet's feed-forward head: ReLU layers, dropout after all but the last hidden layer.

    Parameters
    ----------
    d : int
        Input width.
    hidden : sequence of int
        Hidden widths, e.g. ``(45, 22, 15)`` (see :func:`hmn_regressor_widths`).
    out : int
        1 for regression (sigmoid output in [0, 1]) or the number of classes (raw logits;
        softmax is applied by the loss and at prediction).
    dropout : float
        Dropout rate (0.25 in the original).
    """

    def __init__(self, d: int, hidden: Sequence[int], *, out: int = 1, dropout: float = 0.25):
        super().__init__()
        layers: list[nn.Module] = []
        w_in = d
        for i, w in enumerate(hidden):
            layers += [nn.Linear(w_in, w), nn.ReLU()]
            if i < len(hidden) - 1:
                layers.append(nn.Dropout(dropout))
            w_in = w
        layers.append(nn.Linear(w_in, out))
        if out == 1:
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)
        self.out = out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return shape (B,) in [0, 1] for regression, or logits of shape (B, out)."""
        y = self.net(x)
        return y.squeeze(-1) if self.out == 1 else y


class DeepRegressor(nn.Module):
    """Autoen-chorder's deep feed-forward regressor: ``n_layers`` linear layers, sigmoid output.

    Every hidden layer has ``width`` units and a ReLU; all linear layers get Xavier-uniform
    weights and bias 0.1 (the study's cure for vanishing gradients).

    Parameters
    ----------
    d : int
        Input width (40: two 20-wide codes).
    n_layers : int
        Linear layers including the output: 7, 9 or 12 in the study.
    width : int
        Hidden width.
    dropout : float
        Dropout after each hidden ReLU (0 disables).
    """

    def __init__(self, d: int, *, n_layers: int = 7, width: int = 64, dropout: float = 0.0):
        super().__init__()
        if n_layers < 2:
            raise ModelError("the deep regressor needs at least 2 linear layers")
        layers: list[nn.Module] = []
        w_in = d
        for _ in range(n_layers - 1):
            layers += [nn.Linear(w_in, width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            w_in = width
        layers += [nn.Linear(w_in, 1), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        init_xavier(self, bias=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map inputs of shape (B, d) to predictions of shape (B,) in [0, 1]."""
        return self.net(x).squeeze(-1)


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """Return a boolean mask of shape (B, max_len), True on real steps, False on padding."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def masked_mean(frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the real steps of padded frames (B, T, D) with lengths (B,): shape (B, D)."""
    mask = padding_mask(lengths, frames.shape[1]).unsqueeze(-1).to(frames.dtype)
    return (frames * mask).sum(1) / mask.sum(1).clamp(min=1.0)


# --------------------------------------------------------------------------- AE + sequence


class LSTMSequenceEncoder(nn.Module):
    """LSTM over packed variable-length sequences; the last layer's final state is the summary.

    Padding never reaches the LSTM (``pack_padded_sequence``), so the summary of a sequence does
    not depend on how much padding its batch has. While training with ``training_dtype`` set
    (:func:`training_precision`), the LSTM runs over the padded batch in that dtype instead and
    the summary is each row's output at its last real step: the same quantity (a one-way LSTM's
    output at step t depends only on steps <= t), on the kernel that has a bfloat16 version.
    """

    def __init__(self, d: int, *, hidden: int, num_layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(d, hidden, num_layers=num_layers, batch_first=True)
        self.out_dim = hidden
        self.training_dtype: torch.dtype | None = None  # set by training_precision

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Summarise ``x`` of shape (B, T, d) with ``lengths`` (B,) into shape (B, hidden)."""
        if self.training and self.training_dtype is not None:
            out = padded_lstm(self.lstm, x, self.training_dtype)
            rows = torch.arange(len(lengths), device=out.device)
            return out[rows, lengths.to(out.device) - 1]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return h_n[-1]


def padded_lstm(lstm: nn.LSTM, x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Run a one-way, batch-first ``lstm`` over padded ``x`` with its products in ``dtype``.

    Parameters
    ----------
    lstm : nn.LSTM
        ``batch_first=True``, not bidirectional.
    x : torch.Tensor, shape (B, T, d)
    dtype : torch.dtype
        ``torch.float32`` (no autocast) or ``torch.bfloat16`` (autocast; weights stay float32).

    Returns
    -------
    torch.Tensor, float32, shape (B, T, hidden)
        Every step's output; steps past a row's length hold padding's outputs (callers mask or
        skip them).
    """
    if dtype == torch.float32:
        out, _ = lstm(x)
        return out
    with torch.autocast(x.device.type, dtype=dtype):
        out, _ = lstm(x)
    return out.float()


def resolve_training_precision(precision: str, device: torch.device) -> str:
    """The concrete precision of the sequence LSTMs' training steps on ``device``.

    Parameters
    ----------
    precision : {"float32", "bfloat16", "auto"}
        ``"auto"``: bfloat16 on a CPU with native bfloat16 instructions, else float32.
    device : torch.device

    Returns
    -------
    str
        ``"float32"`` or ``"bfloat16"``.

    Raises
    ------
    ModelError
        An unknown name, or bfloat16 where it is not native: oneDNN's bfloat16 LSTM needs
        AVX512-BF16 or AMX (elsewhere it cannot run at all), and on a GPU these steps are
        float32 (bfloat16 LSTMs there are not tested).
    """
    native = device.type == "cpu" and precision_module.native_bfloat16(device)
    if precision == "auto":
        return "bfloat16" if native else "float32"
    if precision == "bfloat16" and not native:
        raise ModelError(
            f"bfloat16 training steps need a CPU with native bfloat16 instructions "
            f"(AVX512-BF16 or AMX); this {device.type.upper()} is not one: use precision "
            "float32, or auto (bfloat16 only where native)"
        )
    return precision_module.resolve_precision(precision, device)  # checks the name


@contextlib.contextmanager
def training_precision(module: nn.Module, precision: str) -> Iterator[None]:
    """Train the sequence LSTMs inside ``module`` with products in ``precision`` while inside.

    Only their training steps change: in evaluation mode (validation losses, codes,
    predictions) they run packed in float32 as always, so a model's predictions do not depend
    on how it was trained. Weights, gradients' accumulation and the optimizer stay float32.

    Parameters
    ----------
    module : nn.Module
        Any module; its :class:`LSTMSequenceEncoder` and :class:`SequenceAutoencoder`
        submodules are switched (and switched back on exit).
    precision : {"float32", "bfloat16"}
        A value of :func:`resolve_training_precision`.
    """
    dtype = {"float32": None, "bfloat16": torch.bfloat16}[precision]
    switched = [
        m for m in module.modules() if isinstance(m, LSTMSequenceEncoder | SequenceAutoencoder)
    ]
    for m in switched:
        m.training_dtype = dtype
    try:
        yield
    finally:
        for m in switched:
            m.training_dtype = None


class TransformerSequenceEncoder(nn.Module):
    """A small pre-norm transformer encoder; padded steps are masked, the summary is a masked mean.

    The layers are ``nn.TransformerEncoderLayer`` modules (so their weights keep their names),
    but their forward pass is ours (:func:`_pre_norm_layer`) and is the same in training and
    evaluation. ``nn.TransformerEncoderLayer.forward`` switches, in eval mode without
    gradients, to a separate fused kernel (``torch._transformer_encoder_layer_fwd``, PyTorch's
    "fast path") whose masked softmax is vectorised per CPU instruction set; on AVX-512 CPUs it
    returned NaN for some padded songs, so a model trained on one implementation was scored
    with another.

    Parameters
    ----------
    d : int
        Frame width.
    d_model, heads, num_layers : int
        Transformer size; ``d_model`` must divide by ``heads``.
    max_len : int
        Longest sequence the sinusoidal position table covers (longer inputs are refused).
    """

    def __init__(
        self, d: int, *, d_model: int = 64, heads: int = 4, num_layers: int = 2, max_len: int = 4096
    ):
        super().__init__()
        self.project = nn.Linear(d, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=2 * d_model,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        position = torch.arange(max_len, dtype=torch.float32)[:, None]
        freq = torch.exp(
            torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model)
        )
        table = torch.zeros(max_len, d_model)
        table[:, 0::2] = torch.sin(position * freq)
        table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
        self.register_buffer("positions", table, persistent=False)
        self.out_dim = d_model

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Summarise ``x`` of shape (B, T, d) with ``lengths`` (B,) into shape (B, d_model)."""
        t = x.shape[1]
        if t > self.positions.shape[0]:
            raise ModelError(f"sequence of {t} steps is longer than {self.positions.shape[0]}")
        if len(lengths) and int(lengths.min()) < 1:
            # a song with no steps would leave its attention rows with nothing to attend to
            raise ModelError("every sequence needs at least one step (see pad_sequences)")
        valid = padding_mask(lengths.to(x.device), t)
        h = self.project(x) + self.positions[:t]
        for layer in self.encoder.layers:
            h = _pre_norm_layer(layer, h, valid)
        # where, not a product: a non-finite padded step must not reach the summary (inf * 0)
        h = torch.where(valid.unsqueeze(-1), h, torch.zeros((), dtype=h.dtype, device=h.device))
        return h.sum(1) / valid.sum(1, keepdim=True).to(h.dtype)


def _pre_norm_layer(
    layer: nn.TransformerEncoderLayer, x: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """One pre-norm encoder layer with ``layer``'s weights, the same in training and evaluation.

    Parameters
    ----------
    layer : nn.TransformerEncoderLayer
        ``norm_first=True``, ``batch_first=True``, ReLU.
    x : torch.Tensor, shape (B, T, d_model)
    valid : torch.Tensor, bool, shape (B, T)
        True on real steps; every row has at least one.

    Returns
    -------
    torch.Tensor, shape (B, T, d_model)
    """
    attention = layer.self_attn
    b, t, width = x.shape
    heads = attention.num_heads
    q, k, v = F.linear(layer.norm1(x), attention.in_proj_weight, attention.in_proj_bias).chunk(
        3, dim=-1
    )
    q, k, v = (z.reshape(b, t, heads, width // heads).transpose(1, 2) for z in (q, k, v))
    # keys of padded steps are masked for every query; (B, 1, 1, T) broadcasts over heads, queries
    dropout = attention.dropout if layer.training else 0.0
    mixed = F.scaled_dot_product_attention(
        q, k, v, attn_mask=valid[:, None, None, :], dropout_p=dropout
    )
    x = x + layer.dropout1(attention.out_proj(mixed.transpose(1, 2).reshape(b, t, width)))
    hidden = layer.dropout(layer.activation(layer.linear1(layer.norm2(x))))
    return x + layer.dropout2(layer.linear2(hidden))


class SequenceAutoencoder(nn.Module):
    """Autoencoder of variable-length embedding sequences (Autoen-chorder's second branch).

    Encoder: a sequence encoder (an LSTM over the packed sequence, or a masked transformer) then
    a linear layer to the code. Decoder: a linear layer from the code, repeated over the
    sequence's steps, an LSTM over the packed steps, and a linear projection back to the frame
    width (frames are standardised, so they are not squashed into the LSTM's (-1, 1)).

    Parameters
    ----------
    d : int
        Frame width (128 for VGGish, 200 for musicnn's penultimate layer).
    code : int
        Code width (20 in the study).
    hidden : int
        LSTM width (and transformer ``d_model``).
    encoder : str
        ``"lstm"`` (the study) or ``"transformer"`` (the study's "next step").
    num_layers : int
        LSTM (or transformer) layers.
    heads : int
        Attention heads of the transformer encoder.
    """

    def __init__(
        self,
        d: int,
        *,
        code: int = 20,
        hidden: int = 64,
        encoder: str = "lstm",
        num_layers: int = 1,
        heads: int = 4,
    ):
        super().__init__()
        if encoder == "lstm":
            self.sequence_encoder: nn.Module = LSTMSequenceEncoder(
                d, hidden=hidden, num_layers=num_layers
            )
        elif encoder == "transformer":
            self.sequence_encoder = TransformerSequenceEncoder(
                d, d_model=hidden, heads=heads, num_layers=num_layers
            )
        else:
            raise ModelError(f"unknown sequence encoder {encoder!r}; use 'lstm' or 'transformer'")
        self.to_code = nn.Linear(hidden, code)
        self.from_code = nn.Sequential(nn.Linear(code, hidden), nn.ReLU())
        self.decoder_lstm = nn.LSTM(hidden, hidden, num_layers=num_layers, batch_first=True)
        self.to_frames = nn.Linear(hidden, d)
        self.code_size = code
        self.training_dtype: torch.dtype | None = None  # set by training_precision

    def encode(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Map padded sequences (B, T, d) with ``lengths`` (B,) to codes of shape (B, code)."""
        return self.to_code(self.sequence_encoder(x, lengths))

    def decode(self, code: torch.Tensor, lengths: torch.Tensor, max_len: int) -> torch.Tensor:
        """Reconstruct padded sequences of shape (B, max_len, d); padded steps are zero."""
        steps = self.from_code(code).unsqueeze(1).expand(-1, max_len, -1)
        if self.training and self.training_dtype is not None:  # see LSTMSequenceEncoder
            out = padded_lstm(self.decoder_lstm, steps.contiguous(), self.training_dtype)
        else:
            packed = pack_padded_sequence(
                steps, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            out, _ = self.decoder_lstm(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=max_len)
        frames = self.to_frames(out)
        return frames * padding_mask(lengths, max_len).unsqueeze(-1).to(frames.dtype)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Reconstruct padded sequences (B, T, d)."""
        return self.decode(self.encode(x, lengths), lengths, x.shape[1])


def masked_mse(recon: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the real steps of padded sequences (B, T, d)."""
    mask = padding_mask(lengths, target.shape[1]).unsqueeze(-1).to(target.dtype)
    return ((recon - target) ** 2 * mask).sum() / (mask.sum() * target.shape[-1]).clamp(min=1.0)


def module_arrays(prefix: str, module: nn.Module) -> dict[str, np.ndarray]:
    """Return a module's state dict as numpy arrays named ``<prefix>.<parameter>``."""
    return {f"{prefix}.{k}": v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def load_module_arrays(module: nn.Module, prefix: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Load arrays written by :func:`module_arrays` into ``module`` (strict: all and only)."""
    names = module.state_dict().keys()
    state = {k: torch.from_numpy(np.array(arrays[f"{prefix}.{k}"])) for k in names}
    module.load_state_dict(state, strict=True)


def pad_sequences(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ragged frames into a zero-padded float32 tensor.

    Parameters
    ----------
    sequences : sequence of np.ndarray, each of shape (T_i, D)
        Empty sequences (T_i = 0) become one all-zero frame (the mean frame once
        standardised), so every sequence can be packed.

    Returns
    -------
    padded : torch.Tensor, float32, shape (N, max T_i, D)
    lengths : torch.Tensor, int64, shape (N,)
    """
    lengths = torch.tensor([max(1, len(s)) for s in sequences], dtype=torch.int64)
    d = sequences[0].shape[1]
    padded = torch.zeros(len(sequences), int(lengths.max()), d, dtype=torch.float32)
    for i, s in enumerate(sequences):
        padded[i, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return padded, lengths
