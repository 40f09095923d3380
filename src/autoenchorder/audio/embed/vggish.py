"""VGGish in PyTorch: the official front-end, the network, and the PCA / 8-bit post-processing.

``get_embedder("vggish", weights=PATH, pca=PATH, postprocess=False, final_relu=False)`` returns
one 128-d frame per 0.96 s of audio, with the example start times (0, 0.96, 1.92 ... s).

* Front-end: :mod:`autoenchorder.audio.embed.vggish_frontend` (the official numbers).
* Network: conv64-pool-conv128-pool-conv256x2-pool-conv512x2-pool (3x3 convolutions, ReLU,
  2x2 max-pools), flattened in NHWC order (6 x 4 x 512 = 12288), fc 4096 -> fc 4096 -> fc 128.
  The TF original has no activation after the last layer; the torch ports (torchvggish) add a
  ReLU there, which ``final_relu=True`` reproduces.
* Post-processing (``postprocess=True``): ``(e - means) @ eigen_vectors.T``, clipped to
  [-2, 2], scaled by 255 / 4 and made 8-bit: ``quantize="truncate"`` casts to uint8 as the
  official ``vggish_postprocess.py`` does (values floor), ``quantize="round"`` rounds as
  torchvggish does (half to even). Frames stay float32 holding the integers 0..255.
* Weights: either layout (see :mod:`autoenchorder.audio.embed.vggish_weights`); without
  ``weights`` the files are looked up by :func:`~autoenchorder.audio.embed.weights.locate_weights`
  (``autoenchorder weights fetch vggish`` downloads them).
* Inputs shorter than one example (0.975 s) have no output in the official code: they raise
  :class:`~autoenchorder.errors.AudioError` by default, or are zero-padded to one example with
  ``short_input="pad"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from autoenchorder.audio.embed import vggish_frontend as fe
from autoenchorder.audio.embed.base import Embedder, Embedding, register_embedder
from autoenchorder.audio.embed.vggish_weights import (
    CONV_CHANNELS,
    PCAParams,
    expected_shapes,
    read_pca,
    read_state,
)
from autoenchorder.audio.embed.weights import (
    WeightFile,
    WeightSpec,
    locate_weights,
    register_weights,
    search_dirs,
)
from autoenchorder.errors import AudioError, ModelError, WeightsError
from autoenchorder.precision import DEFAULT_PRECISION, autocast, resolve_precision

#: Output dimension.
EMBEDDING_SIZE: int = 128
#: Clipping range of the quantised post-processing.
QUANTIZE_MIN: float = -2.0
QUANTIZE_MAX: float = 2.0
#: How the post-processing makes 8-bit values.
QUANTIZE_MODES: tuple[str, ...] = ("truncate", "round")

_RELEASE = "https://github.com/harritaylor/torchvggish/releases/download/v0.1"
#: torchvggish's file names; each embeds the first 8 hex digits of the file's SHA-256.
TORCH_WEIGHTS_FILE = "vggish-10086976.pth"
TORCH_PCA_FILE = "vggish_pca_params-970ea276.pth"
#: The official TensorFlow release's file names.
TF_WEIGHTS_FILE = "vggish_model.ckpt"
TF_PCA_FILE = "vggish_pca_params.npz"
TF_RELEASE = "https://storage.googleapis.com/audioset"

#: Weight set "vggish": the torchvggish port's two files (288,567,937 and 181,358 bytes).
WEIGHT_SPEC = register_weights(
    WeightSpec(
        name="vggish",
        files=(
            WeightFile(TORCH_WEIGHTS_FILE, "10086976", f"{_RELEASE}/{TORCH_WEIGHTS_FILE}"),
            WeightFile(TORCH_PCA_FILE, "970ea276", f"{_RELEASE}/{TORCH_PCA_FILE}"),
        ),
        obtain="autoenchorder weights fetch vggish",
        description=(
            "VGGish (AudioSet) weights + PCA, torchvggish layout; the official TF files "
            f"{TF_WEIGHTS_FILE} + {TF_PCA_FILE} ({TF_RELEASE}) in the same folder also work"
        ),
    )
)


class VGGishNetwork(nn.Module):
    """The VGGish network, with torchvggish's module names (its ``state_dict`` loads as is).

    Parameters
    ----------
    final_relu : bool
        Apply a ReLU to the 128-d output (torchvggish) instead of returning the linear layer's
        output (the TF original).
    """

    def __init__(self, *, final_relu: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for index, channels in enumerate(CONV_CHANNELS):
            layers += [
                nn.Conv2d(in_channels, channels, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
            ]
            in_channels = channels
            if index in (0, 1, 3, 5):  # pool after conv1, conv2, conv3_2, conv4_2
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_SIZE),
        )
        self.final_relu = final_relu

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        """Embed log-mel examples.

        Parameters
        ----------
        examples : torch.Tensor, float32, shape (B, 96, 64)

        Returns
        -------
        torch.Tensor, float32, shape (B, 128)
        """
        x = self.features(examples.unsqueeze(1))  # (B, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as TF-Slim's flatten
        x = self.embeddings(x)
        return torch.relu(x) if self.final_relu else x


def postprocess_embeddings(
    embeddings: np.ndarray, pca: PCAParams, *, quantize: str = "truncate"
) -> np.ndarray:
    """PCA (with whitening) and 8-bit quantisation of raw VGGish embeddings.

    Parameters
    ----------
    embeddings : np.ndarray, shape (T, 128)
        Raw network outputs.
    pca : PCAParams
    quantize : {"truncate", "round"}
        ``"truncate"``: cast to uint8 (the official code); ``"round"``: round half to even
        first (torchvggish).

    Returns
    -------
    np.ndarray, float32, shape (T, 128)
        Integers in [0, 255].
    """
    if quantize not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, not {quantize!r}")
    projected = (np.asarray(embeddings, dtype=np.float64) - pca.means) @ pca.eigen_vectors.T
    clipped = np.clip(projected, QUANTIZE_MIN, QUANTIZE_MAX)
    scaled = (clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN))
    if quantize == "round":
        scaled = np.round(scaled)
    return scaled.astype(np.uint8).astype(np.float32)


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def default_weight_files() -> tuple[Path, Path]:
    """Find the VGGish weights and PCA files in the standard folders.

    The torchvggish files are looked for first (:func:`locate_weights`), then the official TF
    files in the same folders (the checkpoint as one V1 file or as a V2 ``.index`` prefix).

    Returns
    -------
    weights, pca : Path

    Raises
    ------
    WeightsError
        Neither layout found: names the files, the folders searched and the fetch command.
    """
    try:
        folder = locate_weights("vggish")
    except WeightsError as not_found:
        for candidate in search_dirs(WEIGHT_SPEC):
            checkpoint = candidate / TF_WEIGHTS_FILE
            has_checkpoint = checkpoint.is_file() or Path(f"{checkpoint}.index").is_file()
            if has_checkpoint and (candidate / TF_PCA_FILE).is_file():
                return checkpoint, candidate / TF_PCA_FILE
        raise WeightsError(
            f"{not_found}\nThe official TensorFlow files {TF_WEIGHTS_FILE} + {TF_PCA_FILE} "
            "are accepted in the same folders, or pass weights=PATH (and pca=PATH)."
        ) from None
    return folder / TORCH_WEIGHTS_FILE, folder / TORCH_PCA_FILE


class VGGish(Embedder):
    """VGGish embeddings: 128-d per 0.96 s example of 16 kHz audio.

    Parameters
    ----------
    weights : str or Path or None
        ``vggish-10086976.pth`` (torchvggish ``state_dict``) or ``vggish_model.ckpt`` (official
        TF checkpoint, V1 file or V2 prefix). ``None``: :func:`default_weight_files`.
    pca : str or Path or None
        ``vggish_pca_params-970ea276.pth`` or ``vggish_pca_params.npz``; only read when
        ``postprocess`` is on. ``None``: next to the default weights, or next to ``weights``
        under either name.
    postprocess : bool
        Apply PCA + 8-bit quantisation (see :func:`postprocess_embeddings`).
    quantize : {"truncate", "round"}
        Quantisation rounding: official (truncate) or torchvggish (round).
    final_relu : bool
        ReLU on the output as torchvggish (off: the TF original's linear output).
    resampler : {"kaiser_best", "soxr_hq"}
        Resampler to 16 kHz; ``kaiser_best`` is the official one.
    short_input : {"error", "pad"}
        Inputs shorter than one example: raise :class:`AudioError` or zero-pad.
    batch_size : int
        Examples per network call.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    block_seconds : float
        Length of the blocks :meth:`embed_file` decodes at a time.
    verify_checksums : bool
        Check a TF checkpoint's CRC-32C checksums while loading (slow for 288 MB in pure
        Python; files fetched by ``autoenchorder weights fetch`` are already SHA-256 checked).
    precision : {"float32", "bfloat16", "auto"}
        The network's arithmetic (:mod:`~autoenchorder.precision`): float32 (the
        published model's, default) or bfloat16; ``"auto"``: bfloat16 where native.
    """

    name = "vggish"
    version = "1"
    sample_rate = fe.SAMPLE_RATE
    window_seconds = fe.EXAMPLE_HOP_SECONDS
    hop_seconds = fe.EXAMPLE_HOP_SECONDS
    dim = EMBEDDING_SIZE

    def __init__(
        self,
        *,
        weights: str | Path | None = None,
        pca: str | Path | None = None,
        postprocess: bool = False,
        quantize: str = "truncate",
        final_relu: bool = False,
        resampler: str = "kaiser_best",
        short_input: str = "error",
        batch_size: int = 32,
        device: str = "cpu",
        block_seconds: float = 30.0,
        verify_checksums: bool = True,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if quantize not in QUANTIZE_MODES:
            raise ValueError(f"quantize must be one of {QUANTIZE_MODES}, not {quantize!r}")
        if resampler not in fe.RESAMPLERS:
            raise ValueError(f"resampler must be one of {fe.RESAMPLERS}, not {resampler!r}")
        if short_input not in fe.SHORT_INPUT_POLICIES:
            raise ValueError(
                f"short_input must be one of {fe.SHORT_INPUT_POLICIES}, not {short_input!r}"
            )
        if batch_size < 1 or block_seconds <= 0:
            raise ValueError("batch_size must be >= 1 and block_seconds > 0")
        self.postprocess = postprocess
        self.quantize = quantize
        self.final_relu = final_relu
        self.resampler = resampler
        self.short_input = short_input
        self.batch_size = batch_size
        self.block_seconds = block_seconds
        self.device = _resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if weights is None:
            weights, default_pca = default_weight_files()
            pca = pca if pca is not None else default_pca
        self.weights_path = Path(weights)
        self.network = self._build_network(
            self.weights_path, final_relu=final_relu, verify=verify_checksums
        )
        self.pca: PCAParams | None = None
        if postprocess:
            self.pca = read_pca(pca if pca is not None else self._pca_beside(self.weights_path))

    def _build_network(self, path: Path, *, final_relu: bool, verify: bool) -> VGGishNetwork:
        state = read_state(path, verify=verify)
        with torch.device("meta"):  # no random initialisation, no second copy of 288 MB
            network = VGGishNetwork(final_relu=final_relu)
        tensors = {
            k: torch.from_numpy(np.require(v, requirements=("C", "W"))) for k, v in state.items()
        }
        network.load_state_dict(tensors, strict=True, assign=True)
        return network.to(self.device).eval()

    @staticmethod
    def _pca_beside(weights: Path) -> Path:
        for name in (TORCH_PCA_FILE, TF_PCA_FILE):
            if (weights.parent / name).is_file():
                return weights.parent / name
        raise WeightsError(
            f"postprocess=True needs the PCA parameters: pass pca=PATH, or put {TORCH_PCA_FILE} "
            f"or {TF_PCA_FILE} next to {weights}"
        )

    def embed_examples(self, examples: np.ndarray) -> np.ndarray:
        """Run the network (and post-processing) on log-mel examples, in batches.

        Parameters
        ----------
        examples : np.ndarray, float32, shape (E, 96, 64)

        Returns
        -------
        np.ndarray, float32, shape (E, 128)
        """
        out = np.empty((examples.shape[0], EMBEDDING_SIZE), dtype=np.float32)
        with torch.inference_mode(), autocast(self.precision, self.device):
            for start in range(0, examples.shape[0], self.batch_size):
                batch = torch.from_numpy(
                    np.ascontiguousarray(examples[start : start + self.batch_size], np.float32)
                ).to(self.device)
                out[start : start + batch.shape[0]] = self.network(batch).float().cpu().numpy()
        if self.pca is not None:
            out = postprocess_embeddings(out, self.pca, quantize=self.quantize)
        return out

    def _embedding(self, frames: np.ndarray) -> Embedding:
        times = np.arange(frames.shape[0], dtype=np.float64) * fe.EXAMPLE_HOP_SECONDS
        return Embedding(frames=frames, times=times)

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        """Embed a waveform.

        Parameters
        ----------
        y : np.ndarray, shape (n,) or (channels, n)
            Samples at ``sr`` (channels are averaged, in float64).
        sr : int
            Sample rate.

        Returns
        -------
        Embedding
            ``frames`` (E, 128) float32 and ``times`` ``k * 0.96`` s.

        Raises
        ------
        AudioError
            Input shorter than one example (with ``short_input="error"``), empty or not finite.
        """
        y = np.asarray(y)
        if y.size == 0 or not np.isfinite(y).all():
            raise AudioError(None, "empty signal or NaN/infinite samples")
        examples = fe.waveform_to_examples(
            y, sr, resampler=self.resampler, short_input=self.short_input
        )
        return self._embedding(self.embed_examples(examples))

    def embed_file(self, path: str | Path) -> Embedding:
        """Embed a whole file, decoded block by block in memory independent of its length.

        The frames are those :meth:`embed` gives for the whole decoded file.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Embedding

        Raises
        ------
        AudioError
            Unreadable or too short (with ``short_input="error"``).
        """
        from autoenchorder.audio.io import iter_blocks, load_audio  # noqa: PLC0415

        frames: list[np.ndarray] = []
        pending: list[np.ndarray] = []  # examples not yet run, fewer than one batch
        frontend: fe.StreamingFrontend | None = None
        for _, block, sr in iter_blocks(path, block_seconds=self.block_seconds, mono=False):
            if frontend is None:
                frontend = fe.StreamingFrontend(sr, resampler=self.resampler)
            pending.append(frontend.push(block.mean(axis=0, dtype=np.float64)))
            pending = self._run_full_batches(pending, frames)
        assert frontend is not None  # iter_blocks raises on an empty file
        pending.append(frontend.finish())
        remaining = np.concatenate(pending)
        if remaining.shape[0]:
            frames.append(self.embed_examples(remaining))
        if not frames:  # shorter than one example: the short-input policy on the whole file
            y, sr = load_audio(path, mono=False)
            try:
                return self.embed(y, sr)
            except AudioError as exc:
                raise AudioError(path, exc.reason) from None
        return self._embedding(np.concatenate(frames))

    def _run_full_batches(
        self, pending: list[np.ndarray], frames: list[np.ndarray]
    ) -> list[np.ndarray]:
        # Embed whole batches only, so that the batches are those of one-shot embedding.
        examples = np.concatenate(pending)
        full = examples.shape[0] // self.batch_size * self.batch_size
        if full:
            frames.append(self.embed_examples(examples[:full]))
        return [examples[full:]]


@register_embedder("vggish")
def _make_vggish(**options: object) -> VGGish:
    return VGGish(**options)  # type: ignore[arg-type]


__all__ = [
    "EMBEDDING_SIZE",
    "VGGish",
    "VGGishNetwork",
    "WEIGHT_SPEC",
    "default_weight_files",
    "expected_shapes",
    "postprocess_embeddings",
]
