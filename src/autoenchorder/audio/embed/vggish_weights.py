"""VGGish weights in either published layout, read without pickle, mapped to one state dict.

Two layouts exist:

torchvggish (harritaylor/torchvggish release v0.1)
    ``vggish-10086976.pth``: a ``state_dict`` whose keys are those of ``nn.Sequential`` stacks,
    ``features.{0,3,6,8,11,13}.{weight,bias}`` (conv, OIHW) and
    ``embeddings.{0,2,4}.{weight,bias}`` (linear, out x in);
    ``vggish_pca_params-970ea276.pth``: ``{"pca_eigen_vectors": [128, 128], "pca_means": [128]}``.
official TensorFlow (tensorflow/models research/audioset/vggish)
    ``vggish_model.ckpt``: TF-Slim variables ``vggish/conv1/weights`` ... ``vggish/fc2/biases``
    (conv kernels HWIO, dense kernels in x out); ``vggish_pca_params.npz`` with the same two
    arrays as above.

Both are read as plain arrays: ``.pth`` files with ``torch.load(weights_only=True)`` (no
arbitrary pickle), ``.npz`` with ``allow_pickle=False``, checkpoints with the pure-Python reader
of :mod:`autoenchorder.audio.embed.tf_checkpoint` (tensor-bundle prefixes) or of
:mod:`autoenchorder.audio.embed.vggish_tf_v1` (single-file V1 checkpoints such as the
published ``vggish_model.ckpt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autoenchorder.errors import WeightsError

#: torchvggish module prefix of each convolution, in network order.
TORCH_CONV_KEYS: tuple[str, ...] = (
    "features.0",
    "features.3",
    "features.6",
    "features.8",
    "features.11",
    "features.13",
)
#: torchvggish module prefix of each fully connected layer, in network order.
TORCH_FC_KEYS: tuple[str, ...] = ("embeddings.0", "embeddings.2", "embeddings.4")
#: TF-Slim variable scope of each convolution, in network order.
TF_CONV_SCOPES: tuple[str, ...] = (
    "vggish/conv1",
    "vggish/conv2",
    "vggish/conv3/conv3_1",
    "vggish/conv3/conv3_2",
    "vggish/conv4/conv4_1",
    "vggish/conv4/conv4_2",
)
#: TF-Slim variable scope of each fully connected layer, in network order.
TF_FC_SCOPES: tuple[str, ...] = ("vggish/fc1/fc1_1", "vggish/fc1/fc1_2", "vggish/fc2")

#: Output channels of the convolutions.
CONV_CHANNELS: tuple[int, ...] = (64, 128, 256, 256, 512, 512)
#: (inputs, outputs) of the fully connected layers; 12288 = 6 x 4 x 512 flattened NHWC.
FC_SIZES: tuple[tuple[int, int], ...] = ((12288, 4096), (4096, 4096), (4096, 128))

#: Names of the PCA arrays in both layouts.
PCA_EIGEN_VECTORS = "pca_eigen_vectors"
PCA_MEANS = "pca_means"


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Shape of every tensor of the torchvggish ``state_dict``.

    Returns
    -------
    dict of str to tuple of int
        ``"features.0.weight" -> (64, 1, 3, 3)`` ... ``"embeddings.4.bias" -> (128,)``.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    in_channels = 1
    for key, out_channels in zip(TORCH_CONV_KEYS, CONV_CHANNELS, strict=True):
        shapes[f"{key}.weight"] = (out_channels, in_channels, 3, 3)
        shapes[f"{key}.bias"] = (out_channels,)
        in_channels = out_channels
    for key, (n_in, n_out) in zip(TORCH_FC_KEYS, FC_SIZES, strict=True):
        shapes[f"{key}.weight"] = (n_out, n_in)
        shapes[f"{key}.bias"] = (n_out,)
    return shapes


@dataclass(frozen=True)
class PCAParams:
    """VGGish's PCA (with whitening) post-processing parameters.

    Attributes
    ----------
    eigen_vectors : np.ndarray, float64, shape (128, 128)
        Rows are the output dimensions: ``pca = eigen_vectors @ (e - means)``.
    means : np.ndarray, float64, shape (128,)
    """

    eigen_vectors: np.ndarray
    means: np.ndarray


def tf_to_torch_state(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map TF-Slim VGGish variables to the torchvggish ``state_dict`` layout.

    Parameters
    ----------
    tensors : dict of str to np.ndarray
        Checkpoint variables; extra variables (optimizer slots, global step) are ignored.

    Returns
    -------
    dict of str to np.ndarray
        float32 arrays: conv kernels HWIO -> OIHW, dense kernels (in, out) -> (out, in).

    Raises
    ------
    WeightsError
        A VGGish variable is missing.
    """
    missing = [
        f"{scope}/{kind}"
        for scope in TF_CONV_SCOPES + TF_FC_SCOPES
        for kind in ("weights", "biases")
        if f"{scope}/{kind}" not in tensors
    ]
    if missing:
        raise WeightsError(f"not a VGGish checkpoint: missing variables {', '.join(missing)}")
    state: dict[str, np.ndarray] = {}
    for scope, key in zip(TF_CONV_SCOPES, TORCH_CONV_KEYS, strict=True):
        state[f"{key}.weight"] = np.ascontiguousarray(
            np.asarray(tensors[f"{scope}/weights"], dtype=np.float32).transpose(3, 2, 0, 1)
        )
        state[f"{key}.bias"] = np.asarray(tensors[f"{scope}/biases"], dtype=np.float32)
    for scope, key in zip(TF_FC_SCOPES, TORCH_FC_KEYS, strict=True):
        state[f"{key}.weight"] = np.ascontiguousarray(
            np.asarray(tensors[f"{scope}/weights"], dtype=np.float32).T
        )
        state[f"{key}.bias"] = np.asarray(tensors[f"{scope}/biases"], dtype=np.float32)
    return state


def check_state(state: dict[str, np.ndarray], source: str | Path) -> None:
    """Raise :class:`WeightsError` unless ``state`` has exactly VGGish's tensors and shapes.

    Parameters
    ----------
    state : dict of str to np.ndarray
        torchvggish-layout tensors.
    source : str or Path
        Where they came from, for the message.
    """
    shapes = expected_shapes()
    missing = sorted(set(shapes) - set(state))
    if missing:
        raise WeightsError(f"{source}: not VGGish weights, missing {', '.join(missing)}")
    wrong = [
        f"{key} {tuple(state[key].shape)} (expected {shape})"
        for key, shape in shapes.items()
        if tuple(state[key].shape) != shape
    ]
    if wrong:
        raise WeightsError(f"{source}: wrong tensor shapes: {'; '.join(wrong)}")


def _torch_load(path: Path) -> object:
    import pickle  # noqa: PLC0415  (only for its exception type; nothing is unpickled freely)

    import torch  # noqa: PLC0415

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # Files saved with NumPy arrays inside (the PCA parameters may be): allow exactly the
        # NumPy reconstruction functions, still refusing any other global.
        allowed = [np.ndarray, np.dtype, type(np.dtype(np.float32)), type(np.dtype(np.float64))]
        reconstruct = getattr(np, "_core", np).multiarray._reconstruct  # type: ignore[attr-defined]
        allowed.append(reconstruct)
        try:
            with torch.serialization.safe_globals(allowed):
                return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001  (any failure here means "not plain weights")
            raise WeightsError(f"{path}: not a plain tensor file ({exc})") from exc
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise WeightsError(f"{path}: cannot read ({exc})") from exc


def _as_array(value: object) -> np.ndarray:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()  # type: ignore[attr-defined]
    return np.asarray(value)


def read_torch_state(path: str | Path) -> dict[str, np.ndarray]:
    """Read a torchvggish ``state_dict`` file (``vggish-10086976.pth``).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str to np.ndarray
        float32 tensors keyed as :func:`expected_shapes`.

    Raises
    ------
    WeightsError
        Unreadable, pickled code, or not VGGish's tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such weights file")
    loaded = _torch_load(path)
    if not isinstance(loaded, dict):
        raise WeightsError(f"{path}: expected a state_dict, found {type(loaded).__name__}")
    state = {str(k): _as_array(v).astype(np.float32, copy=False) for k, v in loaded.items()}
    check_state(state, path)
    return {key: state[key] for key in expected_shapes()}


def read_tf_state(path: str | Path, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Read the official TF checkpoint (V1 single file or tensor-bundle prefix).

    Parameters
    ----------
    path : str or Path
        ``vggish_model.ckpt``: a V1 checkpoint file, or a prefix with ``.index`` and
        ``.data-*`` files next to it.
    verify : bool
        Check the checkpoint's CRC-32C checksums (about 10 s for VGGish's 288 MB in pure
        Python; skip it for files whose SHA-256 was already checked).

    Returns
    -------
    dict of str to np.ndarray
        torchvggish-layout float32 tensors.

    Raises
    ------
    WeightsError
        Missing, corrupt or not VGGish.
    """
    path = Path(path)
    if Path(f"{path}.index").is_file():
        from autoenchorder.audio.embed.tf_checkpoint import read_checkpoint  # noqa: PLC0415

        tensors = read_checkpoint(path, verify=verify)
    elif path.is_file():
        from autoenchorder.audio.embed.vggish_tf_v1 import read_checkpoint_v1  # noqa: PLC0415

        tensors = read_checkpoint_v1(path, verify=verify)
    else:
        raise WeightsError(
            f"{path}: no such checkpoint (neither a file nor a prefix of {path}.index)"
        )
    state = tf_to_torch_state(tensors)
    check_state(state, path)
    return state


def read_state(path: str | Path, *, verify: bool = True) -> dict[str, np.ndarray]:
    """Read VGGish weights in either layout, chosen by the file name.

    Parameters
    ----------
    path : str or Path
        A ``.pth`` / ``.pt`` torchvggish ``state_dict``, or anything else as a TF checkpoint.
    verify : bool
        Check a TF checkpoint's CRC-32C checksums (see :func:`read_tf_state`).

    Returns
    -------
    dict of str to np.ndarray
        torchvggish-layout float32 tensors.
    """
    path = Path(path)
    if path.suffix in {".pth", ".pt"}:
        return read_torch_state(path)
    return read_tf_state(path, verify=verify)


def read_pca(path: str | Path) -> PCAParams:
    """Read the PCA parameters from ``vggish_pca_params.npz`` or ``vggish_pca_params-*.pth``.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    PCAParams
        float64 arrays, shapes checked.

    Raises
    ------
    WeightsError
        Unreadable or wrong shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such PCA parameters file")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                params = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise WeightsError(f"{path}: cannot read ({exc})") from exc
    else:
        loaded = _torch_load(path)
        if not isinstance(loaded, dict):
            raise WeightsError(f"{path}: expected a dict of arrays, found {type(loaded).__name__}")
        params = {str(k): _as_array(v) for k, v in loaded.items()}
    if PCA_EIGEN_VECTORS not in params or PCA_MEANS not in params:
        raise WeightsError(f"{path}: needs arrays {PCA_EIGEN_VECTORS!r} and {PCA_MEANS!r}")
    vectors = np.asarray(params[PCA_EIGEN_VECTORS], dtype=np.float64)
    means = np.asarray(params[PCA_MEANS], dtype=np.float64).reshape(-1)
    if vectors.shape != (128, 128) or means.shape != (128,):
        raise WeightsError(
            f"{path}: PCA shapes {vectors.shape} and {means.shape}, expected (128, 128) and (128,)"
        )
    return PCAParams(vectors, means)
