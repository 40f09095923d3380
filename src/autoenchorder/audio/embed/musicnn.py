"""musicnn embedders: ``musicnn-msd`` (default) and ``musicnn-mtt``.

The pretrained MSD_musicnn / MTT_musicnn models of the PyPI wheel ``musicnn==0.1.0``, run in
PyTorch (:mod:`.musicnn_net`) on musicnn's own front-end (:mod:`.musicnn_frontend`). One frame
of the output sequence per 3 s patch (187 log-mel frames), no overlap by default.

Choices (see docs/embeddings.md):

- resampling to 16 kHz with ``soxr_hq`` (librosa >= 0.10's default) unless
  ``res_type="kaiser_best"`` (resampy, the default of the librosa of musicnn's era);
- musicnn's ``log10(10000 * float16(mel) + 1)`` computed with NumPy 1 promotion (float32);
- inputs shorter than one patch (2.976 s at 16 kHz): the original has no output (its extractor
  fails); we raise :class:`~autoenchorder.errors.AudioError` by default, or pad to one patch
  with ``short_input="repeat"`` (repeat-pad, as musicnn was trained) or ``"zero"``;
- a trailing partial patch is dropped, as in the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from autoenchorder.audio.embed import musicnn_frontend as fe
from autoenchorder.audio.embed.base import Embedder, Embedding, register_embedder
from autoenchorder.audio.embed.musicnn_net import (
    N_TAGS,
    PENULTIMATE_DIM,
    POOL_DIM,
    MusicnnNet,
)
from autoenchorder.audio.embed.tf_checkpoint import read_checkpoint
from autoenchorder.audio.embed.weights import locate_weights
from autoenchorder.audio.io import check_finite, iter_blocks, resample
from autoenchorder.errors import AudioError, ModelError
from autoenchorder.precision import DEFAULT_PRECISION, autocast, resolve_precision
from autoenchorder.side_by_side import current_pool

MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir", "voice",
    "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello", "no voice",
    "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill",
    "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental",
    "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy",
    "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop",
    "sad", "House", "happy",
)  # fmt: skip

#: Output layers and their widths; names as musicnn's extractor calls them.
LAYERS: dict[str, int] = {
    "penultimate": PENULTIMATE_DIM,
    "max_pool": POOL_DIM,
    "mean_pool": POOL_DIM,
    "taggram": N_TAGS,
}
SHORT_INPUT_POLICIES = ("error", "repeat", "zero")
#: Patches per forward pass in bfloat16 (the fastest on one CPU core; float32's is 1).
BFLOAT16_BATCH = 4
_MODELS = {"msd": ("MSD_musicnn", MSD_TAGS), "mtt": ("MTT_musicnn", MTT_TAGS)}


class MusicnnEmbedder(Embedder):
    """musicnn as an :class:`~autoenchorder.audio.embed.base.Embedder`.

    Parameters
    ----------
    dataset : {"msd", "mtt"}
        Which pretrained model: Million Song Dataset or MagnaTagATune.
    layer : {"penultimate", "max_pool", "mean_pool", "taggram"}
        The output sequence: the 200-d penultimate layer (default), the 753-d temporal max or
        mean pool, or the 50 tag probabilities (names in :attr:`tags`).
    weights : str or Path or None
        The musicnn weights folder (holding ``MSD_musicnn/`` and ``MTT_musicnn/``) or a
        checkpoint prefix; default: :func:`~autoenchorder.audio.embed.weights.locate_weights`.
    hop_frames : int
        Log-mel frames between patch starts (187: no overlap, as the original's default).
    res_type : str
        Resampler to 16 kHz: ``"soxr_hq"`` (default) or ``"kaiser_best"``.
    short_input : {"error", "repeat", "zero"}
        What to do with input shorter than one patch (see the module docstring).
    batch_size : int or None
        Patches per forward pass; None: 1 in float32, 4 in bfloat16. In float32, 1 is the
        fastest on one CPU core (``benchmarks/embeddings.py``, 120 s signal: 127x real time
        against 101x with 4 and 95x with 16: a bigger batch's activations no longer fit the
        cache); in bfloat16 (half the bytes) 4 is (90 s signal, AMD EPYC with AVX512-BF16:
        141x against 117x with 1); larger batches pay off on a GPU.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ..., or ``"auto"`` (CUDA if available).
    block_seconds : float
        Block length when :meth:`embed_file` streams a file.
    precision : {"float32", "bfloat16", "auto"}
        The network's arithmetic (:mod:`~autoenchorder.precision`): float32 (the
        published model's, default) or bfloat16 (1.5-2x faster on CPUs with native bfloat16,
        outputs within ~1 %); ``"auto"``: bfloat16 where native.
    """

    version = "musicnn-0.1.0"
    sample_rate = fe.SAMPLE_RATE
    window_seconds = fe.PATCH_FRAMES * fe.HOP / fe.SAMPLE_RATE
    #: whether the constructor loads the network (the log-mel patch variant needs none)
    loads_network: bool = True

    def __init__(
        self,
        *,
        dataset: str = "msd",
        layer: str = "penultimate",
        weights: str | Path | None = None,
        hop_frames: int = fe.PATCH_FRAMES,
        res_type: str = "soxr_hq",
        short_input: str = "error",
        batch_size: int | None = None,
        device: str = "cpu",
        block_seconds: float = 60.0,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if dataset not in _MODELS:
            raise ModelError(f"musicnn dataset must be one of {sorted(_MODELS)}, got {dataset!r}")
        if layer not in LAYERS:
            raise ModelError(f"musicnn layer must be one of {list(LAYERS)}, got {layer!r}")
        if short_input not in SHORT_INPUT_POLICIES:
            raise ModelError(f"short_input must be one of {SHORT_INPUT_POLICIES}")
        if hop_frames < 1 or (batch_size is not None and batch_size < 1) or block_seconds <= 0:
            raise ModelError("hop_frames and batch_size must be >= 1, block_seconds > 0")
        tags = _MODELS[dataset][1]
        self.name = f"musicnn-{dataset}"
        self.layer = layer
        self.dim = LAYERS[layer]
        self.tags = tags
        self.hop_frames = int(hop_frames)
        self.hop_seconds = self.hop_frames * fe.HOP / fe.SAMPLE_RATE
        self.res_type = res_type
        self.short_input = short_input
        self.block_seconds = float(block_seconds)
        if device == "auto":  # as VGGish: the GPU when there is one
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelError(f"device {device!r} requested but CUDA is not available")
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device)
        if batch_size is None:
            batch_size = BFLOAT16_BATCH if self.precision == "bfloat16" else 1
        self.batch_size = int(batch_size)
        if self.loads_network:
            self.net = load_musicnn_net(dataset, weights).to(self.device)

    # -- public API ---------------------------------------------------------------------------

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        """Embed a mono waveform (see :meth:`Embedder.embed`); one frame per patch."""
        y = np.asarray(y, dtype=np.float32)
        if y.ndim != 1:
            raise AudioError(None, f"expected a mono signal [n], got shape {y.shape}")
        check_finite(y)
        y16 = resample(y, orig_sr=int(sr), target_sr=fe.SAMPLE_RATE, res_type=self.res_type)
        return self.embed_logmel(fe.log_mel(y16))

    def embed_logmel(self, logmel: np.ndarray, *, path: str | Path | None = None) -> Embedding:
        """Embed a precomputed musicnn log-mel spectrogram [T, 96] (float32)."""
        return self.embed_logmel_layers(logmel, path=path, layers=(self.layer,))[self.layer]

    def embed_layers(self, y: np.ndarray, sr: int) -> dict[str, Embedding]:
        """Every output layer at once (one forward pass): ``{layer: Embedding}``.

        Parameters
        ----------
        y : np.ndarray, float32, shape (n,)
            Mono samples.
        sr : int
            Their sample rate.

        Returns
        -------
        dict of str to Embedding
            Keys ``"penultimate"`` [T, 200], ``"max_pool"``, ``"mean_pool"`` [T, 753] and
            ``"taggram"`` [T, 50] (tag names in :attr:`tags`).
        """
        y = np.asarray(y, dtype=np.float32)
        check_finite(y)
        y16 = resample(y, orig_sr=int(sr), target_sr=fe.SAMPLE_RATE, res_type=self.res_type)
        return self.embed_logmel_layers(fe.log_mel(y16), layers=tuple(LAYERS))

    def embed_logmel_layers(
        self,
        logmel: np.ndarray,
        *,
        layers: tuple[str, ...],
        path: str | Path | None = None,
    ) -> dict[str, Embedding]:
        """Embed a log-mel spectrogram [T, 96], returning the requested ``layers``."""
        logmel = self._pad_short(np.asarray(logmel, dtype=np.float32), path)
        starts = fe.patch_starts(logmel.shape[0], hop_frames=self.hop_frames)
        patches = ((int(s), logmel[s : s + fe.PATCH_FRAMES]) for s in starts)
        return self._embed_patches(patches, layers)

    def embed_file(self, path: str | Path) -> Embedding:
        """Embed a whole file, streaming it in blocks (memory independent of its length).

        Gives the same frames as ``embed(*load_audio(path))`` up to float rounding.
        """
        stream = self._stream_patches(path)
        first = next(stream, None)
        if first is None:  # shorter than one patch: the short-input policy on the whole signal
            return self.embed_logmel(self._short_logmel(path), path=path)
        return self._embed_patches(_chain(first, stream), (self.layer,))[self.layer]

    # -- internals ----------------------------------------------------------------------------

    def _stream_patches(self, path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first frame, patch [187, 96])`` for every complete patch of a file."""
        resampler: fe.StreamingResampler | None = None
        mel = fe.StreamingLogMel()
        buffer = np.zeros((0, fe.N_MELS), dtype=np.float32)
        buffer_start = 0  # absolute frame index of buffer[0]
        next_start = 0
        for _, block, sr in iter_blocks(path, block_seconds=self.block_seconds):
            if resampler is None:
                resampler = fe.StreamingResampler(sr, fe.SAMPLE_RATE, res_type=self.res_type)
            new = mel.push(resampler.push(block))
            buffer, buffer_start, next_start = yield from self._patches(
                buffer, buffer_start, next_start, new
            )
        if resampler is None:
            return
        new = np.concatenate([mel.push(resampler.finish()), mel.finish()])
        yield from self._patches(buffer, buffer_start, next_start, new)

    def _patches(
        self, buffer: np.ndarray, buffer_start: int, next_start: int, new: np.ndarray
    ) -> Iterator[tuple[int, np.ndarray]]:
        buffer = np.concatenate([buffer, new]) if new.size else buffer
        while next_start + fe.PATCH_FRAMES <= buffer_start + buffer.shape[0]:
            offset = next_start - buffer_start
            yield next_start, buffer[offset : offset + fe.PATCH_FRAMES].copy()
            next_start += self.hop_frames
        drop = min(next_start - buffer_start, buffer.shape[0])
        return buffer[drop:], buffer_start + drop, next_start

    def _short_logmel(self, path: str | Path) -> np.ndarray:
        from autoenchorder.audio.io import load_audio  # noqa: PLC0415

        y, sr = load_audio(path, sr=fe.SAMPLE_RATE, mono=True, res_type=self.res_type)
        return fe.log_mel(y)

    def _pad_short(self, logmel: np.ndarray, path: str | Path | None) -> np.ndarray:
        n = logmel.shape[0]
        if n >= fe.PATCH_FRAMES:
            return logmel
        seconds = fe.PATCH_FRAMES * fe.HOP / fe.SAMPLE_RATE
        if self.short_input == "error" or n == 0:
            raise AudioError(
                path,
                f"too short for musicnn: {n} log-mel frames, one 3 s patch needs "
                f"{fe.PATCH_FRAMES} (about {seconds:.3f} s of audio); the original musicnn has "
                "no output for such input. Use short_input='repeat' or 'zero' to pad.",
            )
        if self.short_input == "repeat":
            reps = -(-fe.PATCH_FRAMES // n)
            return np.tile(logmel, (reps, 1))[: fe.PATCH_FRAMES]
        silence = fe.log_compress(np.zeros((1, fe.N_MELS), dtype=np.float32))  # log10(1) = 0
        pad = np.repeat(silence, fe.PATCH_FRAMES - n, axis=0)
        return np.concatenate([logmel, pad])

    def _embed_patches(
        self, patches: Iterable[tuple[int, np.ndarray]], layers: tuple[str, ...]
    ) -> dict[str, Embedding]:
        """Run ``(first frame, patch [187, 96])`` pairs through the network in batches.

        Inside a :func:`~autoenchorder.side_by_side.side_by_side` block the batches of a CPU
        network run on its workers, one core each (same frames, in order).
        """
        starts: list[int] = []

        def batches() -> Iterator[list[np.ndarray]]:
            pending: list[np.ndarray] = []
            for start, patch in patches:
                starts.append(start)
                pending.append(np.asarray(patch, dtype=np.float32))
                if len(pending) == self.batch_size:
                    yield pending
                    pending = []
            if pending:
                yield pending

        def run(batch: list[np.ndarray]) -> dict[str, np.ndarray]:
            with torch.inference_mode(), autocast(self.precision, self.device):
                result = self.net(torch.from_numpy(np.stack(batch)).to(self.device))
                return {name: result[name].float().cpu().numpy() for name in layers}

        pool = current_pool() if self.device.type == "cpu" else None
        results = list(pool.ordered(run, batches()) if pool else map(run, batches()))
        times = np.asarray(starts, dtype=np.float64) * (fe.HOP / fe.SAMPLE_RATE)
        return {
            name: Embedding(
                np.concatenate([r[name] for r in results])
                if results
                else np.zeros((0, LAYERS[name]), np.float32),
                times,
            )
            for name in layers
        }


class MusicnnLogmelEmbedder(MusicnnEmbedder):
    """musicnn's *input*: each 3 s log-mel patch, flattened, as one frame (``musicnn-logmel``).

    The frames are the patches musicnn-msd / -mtt would run through the network, in the same
    order and at the same times (same resampling, streaming and short-input policy), each
    [187, 96] patch flattened row-major to 17,952 values (float32, exactly the network's input).
    Storing them (``extract --embedder musicnn-logmel``) lets a model run or train musicnn on a
    corpus without decoding its audio again (``autoenchorder-finetune``); reshape a frame with
    :func:`patches_from_frames`. No weights are loaded.

    Parameters
    ----------
    hop_frames, res_type, short_input, block_seconds
        As :class:`MusicnnEmbedder`.
    device, precision : str
        Accepted for ``extract --device`` / ``--precision`` and ignored: there is no network to
        run (the frames are float32 log-mels).
    """

    version = "musicnn-0.1.0-logmel"
    loads_network = False

    def __init__(
        self,
        *,
        hop_frames: int = fe.PATCH_FRAMES,
        res_type: str = "soxr_hq",
        short_input: str = "error",
        block_seconds: float = 60.0,
        device: str = "cpu",
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        del device, precision  # nothing runs on them
        super().__init__(
            hop_frames=hop_frames,
            res_type=res_type,
            short_input=short_input,
            block_seconds=block_seconds,
        )
        self.name = "musicnn-logmel"
        self.layer = "logmel"
        self.dim = PATCH_DIM
        self.tags = ()

    def _embed_patches(
        self, patches: Iterable[tuple[int, np.ndarray]], layers: tuple[str, ...]
    ) -> dict[str, Embedding]:
        starts: list[int] = []
        frames: list[np.ndarray] = []
        for start, patch in patches:
            starts.append(start)
            frames.append(np.asarray(patch, dtype=np.float32).reshape(-1))
        times = np.asarray(starts, dtype=np.float64) * (fe.HOP / fe.SAMPLE_RATE)
        stacked = np.stack(frames) if frames else np.zeros((0, PATCH_DIM), np.float32)
        return dict.fromkeys(layers, Embedding(stacked, times))


#: Width of a ``musicnn-logmel`` frame: one flattened [187, 96] patch.
PATCH_DIM = fe.PATCH_FRAMES * fe.N_MELS


def patches_from_frames(frames: np.ndarray) -> np.ndarray:
    """``musicnn-logmel`` frames [P, 17952] as musicnn input patches [P, 187, 96] (a view)."""
    frames = np.asarray(frames)
    if frames.ndim != 2 or frames.shape[1] != PATCH_DIM:
        raise ModelError(
            f"musicnn-logmel frames must be [P, {PATCH_DIM}] (flattened [187, 96] patches), "
            f"got shape {frames.shape}"
        )
    return frames.reshape(len(frames), fe.PATCH_FRAMES, fe.N_MELS)


def load_musicnn_net(dataset: str = "msd", weights: str | Path | None = None) -> MusicnnNet:
    """The pretrained musicnn network (``"msd"`` or ``"mtt"``) from the PyPI weights.

    Parameters
    ----------
    dataset : {"msd", "mtt"}
    weights : str or Path or None
        As :class:`MusicnnEmbedder`'s ``weights``.

    Returns
    -------
    MusicnnNet
        In eval mode, on the CPU.
    """
    if dataset not in _MODELS:
        raise ModelError(f"musicnn dataset must be one of {sorted(_MODELS)}, got {dataset!r}")
    return MusicnnNet.from_checkpoint(
        read_checkpoint(_checkpoint_prefix(weights, _MODELS[dataset][0]))
    )


def _chain(first: tuple[int, np.ndarray], rest: Iterator[tuple[int, np.ndarray]]):
    yield first
    yield from rest


def _checkpoint_prefix(weights: str | Path | None, model_dir: str) -> str:
    """Checkpoint prefix of ``model_dir`` given a weights folder, a prefix, or nothing."""
    if weights is None:
        return str(locate_weights("musicnn") / model_dir) + "/"
    weights = Path(weights)
    if (weights / model_dir / ".index").is_file():
        return str(weights / model_dir) + "/"
    if weights.is_dir() and (weights / ".index").is_file():
        return str(weights) + "/"
    return str(weights)


@register_embedder("musicnn-msd")
def _musicnn_msd(**options: object) -> MusicnnEmbedder:
    return MusicnnEmbedder(dataset="msd", **options)  # type: ignore[arg-type]


@register_embedder("musicnn-mtt")
def _musicnn_mtt(**options: object) -> MusicnnEmbedder:
    return MusicnnEmbedder(dataset="mtt", **options)  # type: ignore[arg-type]


@register_embedder("musicnn-logmel")
def _musicnn_logmel(**options: object) -> MusicnnLogmelEmbedder:
    return MusicnnLogmelEmbedder(**options)  # type: ignore[arg-type]
