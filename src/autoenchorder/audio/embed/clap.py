"""CLAP (LAION, through Hugging Face ``transformers``): one 512-d audio embedding per window.

``get_embedder("clap", weights=DIR, hop_seconds=5.0, device="cpu")`` runs the audio tower of a
CLAP checkpoint (``laion/clap-htsat-unfused`` by default) on windows of the model's input
length (``nb_max_samples / sampling_rate`` of its feature extractor: 10 s at 48 kHz).

* Windows start at ``0, hop, 2 hop ...`` seconds; ``times`` are those starts, as for musicnn
  and VGGish. The default hop is 5 s (half a window): a 30 s preview gives 5 frames instead of
  3, at twice the cost of no overlap (``hop_seconds=10``). A trailing part shorter than a
  window is dropped (as musicnn drops its last partial patch); a whole input shorter than one
  window gives one frame, padded by the feature extractor's own ``padding``
  (``repeatpad``: the clip repeated, then zeros, as CLAP was trained) unless
  ``short_input="error"``.
* Each window goes through the snapshot's own ``ClapFeatureExtractor`` and
  ``ClapAudioModelWithProjection``; frames are the projected embedding L2-normalised, exactly
  what ``ClapModel.get_audio_features(...).pooler_output`` returns (``normalize=False`` keeps
  the raw projection). Every window is exactly the model's length, so ``is_longer`` is False
  for all of them (the extractor's random crops and fusion never apply).
* Resampling to 48 kHz uses :func:`autoenchorder.audio.io.resample` (``soxr_hq`` by default,
  what ``librosa.load(sr=48000)`` does since librosa 0.10);
  :meth:`ClapEmbedder.embed_file` streams a long file in constant memory with the same frames.
* ``transformers`` is the optional extra ``autoenchorder[clap]``; this module imports it only
  when an embedder is built, so the registry and ``weights list`` work without it. Weights:
  :mod:`autoenchorder.audio.embed.clap_weights`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from autoenchorder.audio.embed.base import Embedder, Embedding, register_embedder
from autoenchorder.audio.embed.clap_weights import (
    WEIGHT_SPEC,
    locate_snapshot,
    require_transformers,
)
from autoenchorder.audio.embed.musicnn_frontend import StreamingResampler
from autoenchorder.audio.io import check_finite, resample, to_mono
from autoenchorder.errors import AudioError, ModelError, WeightsError

#: Inputs shorter than one window: pad them (CLAP's own treatment) or refuse them.
SHORT_INPUT_POLICIES: tuple[str, ...] = ("pad", "error")


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


class ClapEmbedder(Embedder):
    """CLAP audio embeddings: one ``dim``-d frame per window of the model's input length.

    Parameters
    ----------
    weights : str or Path or None
        A snapshot folder (see :mod:`~autoenchorder.audio.embed.clap_weights`); ``None``: the
        weight set ``clap`` or the Hugging Face cache.
    hop_seconds : float
        Distance between window starts, in (0, window] seconds.
    batch_size : int
        Windows per network call.
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    res_type : str
        Resampler to the model's rate (see :func:`autoenchorder.audio.io.resample`).
    short_input : {"pad", "error"}
        Inputs shorter than one window: one padded window, or :class:`AudioError`.
    normalize : bool
        L2-normalise the projected embeddings (CLAP's joint space, as ``get_audio_features``).
    block_seconds : float
        Length of the blocks :meth:`embed_file` decodes at a time.
    """

    name = "clap"
    version = "1"

    def __init__(
        self,
        *,
        weights: str | Path | None = None,
        hop_seconds: float = 5.0,
        batch_size: int = 8,
        device: str = "cpu",
        res_type: str = "soxr_hq",
        short_input: str = "pad",
        normalize: bool = True,
        block_seconds: float = 30.0,
    ) -> None:
        if short_input not in SHORT_INPUT_POLICIES:
            raise ValueError(
                f"short_input must be one of {SHORT_INPUT_POLICIES}, not {short_input!r}"
            )
        if batch_size < 1 or block_seconds <= 0:
            raise ValueError("batch_size must be >= 1 and block_seconds > 0")
        transformers = require_transformers()
        self.snapshot = locate_snapshot(weights)
        self.device = _resolve_device(device)
        self.feature_extractor, self.model = self._load(transformers, self.snapshot)
        self.sample_rate = int(self.feature_extractor.sampling_rate)
        self.window_samples = int(self.feature_extractor.nb_max_samples)
        self.window_seconds = self.window_samples / self.sample_rate
        if not 0 < hop_seconds <= self.window_seconds:
            raise ValueError(
                f"hop_seconds must be in (0, {self.window_seconds}], not {hop_seconds}"
            )
        self.hop_samples = int(round(hop_seconds * self.sample_rate))
        self.hop_seconds = self.hop_samples / self.sample_rate
        self.dim = int(self.model.config.projection_dim)
        self.batch_size = batch_size
        self.res_type = res_type
        self.short_input = short_input
        self.normalize = normalize
        self.block_seconds = block_seconds

    def _load(self, transformers, folder: Path) -> tuple[object, torch.nn.Module]:
        # A full ClapModel snapshot also holds the text tower: transformers reports its weights
        # as unexpected at warning level, which is expected here, so it is silenced while loading
        # (missing audio weights are checked below instead).
        verbosity = transformers.logging.get_verbosity()
        progress = transformers.utils.logging.is_progress_bar_enabled()
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()  # a bar per load, in every worker
        try:
            extractor = transformers.ClapFeatureExtractor.from_pretrained(
                folder, local_files_only=True
            )
            model, info = transformers.ClapAudioModelWithProjection.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32, output_loading_info=True
            )
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            # RuntimeError: weights whose shapes do not fit config.json.
            raise WeightsError(
                f"cannot load the CLAP snapshot in {folder}: {exc}. "
                f"Fetch a fresh copy with: {WEIGHT_SPEC.obtain}"
            ) from exc
        finally:
            transformers.logging.set_verbosity(verbosity)
            if progress:
                transformers.utils.logging.enable_progress_bar()
        # transformers fills weights absent from the file with random values and only warns:
        # an incomplete audio tower must be an error, not silently different embeddings.
        missing = sorted(info["missing_keys"]) + sorted(k for k, *_ in info["mismatched_keys"])
        if missing:
            raise WeightsError(
                f"the CLAP snapshot in {folder} lacks {len(missing)} weight(s) of the audio "
                f"tower (e.g. {', '.join(missing[:3])}); fetch a complete copy with: "
                f"{WEIGHT_SPEC.obtain}"
            )
        return extractor, model.to(self.device).eval()

    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        """Run windows of audio at :attr:`sample_rate` through the model, in batches.

        Parameters
        ----------
        windows : list of np.ndarray, float32, each shape (window_samples,)
            (A shorter one is padded by the feature extractor's own ``padding``.)

        Returns
        -------
        np.ndarray, float32, shape (len(windows), dim)
        """
        out = np.empty((len(windows), self.dim), dtype=np.float32)
        for start in range(0, len(windows), self.batch_size):
            batch = windows[start : start + self.batch_size]
            features = self.feature_extractor(
                batch, sampling_rate=self.sample_rate, return_tensors="pt"
            )["input_features"].to(self.device, torch.float32)
            # Every window is exactly the model's length (or padded to it): never "longer".
            is_longer = torch.zeros((len(batch), 1), dtype=torch.bool, device=self.device)
            with torch.inference_mode():
                embeds = self.model(input_features=features, is_longer=is_longer).audio_embeds
                if self.normalize:
                    embeds = torch.nn.functional.normalize(embeds, dim=-1)
            out[start : start + len(batch)] = embeds.float().cpu().numpy()
        return out

    def window_starts(self, n: int) -> list[int]:
        """Sample indices where the windows of an ``n``-sample signal start.

        Raises
        ------
        AudioError
            ``n`` shorter than one window with ``short_input="error"``, or ``n == 0``.
        """
        if n >= self.window_samples:
            return list(range(0, n - self.window_samples + 1, self.hop_samples))
        if n == 0 or self.short_input == "error":
            raise AudioError(
                None,
                f"too short for clap: {n / self.sample_rate:.3f} s, one window is "
                f"{self.window_seconds:g} s; use short_input='pad' to pad it as CLAP does",
            )
        return [0]

    def _embedding(self, frames: np.ndarray, starts: list[int]) -> Embedding:
        times = np.asarray(starts, dtype=np.float64) / self.sample_rate
        return Embedding(frames=frames, times=times)

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        """Embed a waveform.

        Parameters
        ----------
        y : np.ndarray, shape (n,) or (channels, n)
            Samples at ``sr`` (channels are averaged).
        sr : int
            Sample rate.

        Returns
        -------
        Embedding
            ``frames`` (T, dim) float32 and ``times`` ``k * hop_seconds``.

        Raises
        ------
        AudioError
            Empty, not finite, or shorter than one window with ``short_input="error"``.
        """
        y = np.asarray(to_mono(np.asarray(y)), dtype=np.float32)
        if y.size == 0:
            raise AudioError(None, "empty signal")
        check_finite(y)
        y = resample(y, orig_sr=int(sr), target_sr=self.sample_rate, res_type=self.res_type)
        starts = self.window_starts(y.shape[0])
        windows = [y[s : s + self.window_samples] for s in starts]
        return self._embedding(self.embed_windows(windows), starts)

    def embed_file(self, path: str | Path) -> Embedding:
        """Embed a whole file, decoded and resampled block by block in constant memory.

        The frames are those :meth:`embed` gives for the whole decoded file (to float
        rounding of the streamed resampling), in the same batches.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        Embedding

        Raises
        ------
        AudioError
            Unreadable, or shorter than one window with ``short_input="error"``.
        """
        from autoenchorder.audio.io import iter_blocks, load_audio  # noqa: PLC0415

        frames: list[np.ndarray] = []
        starts: list[int] = []
        pending: list[np.ndarray] = []  # windows not yet run, fewer than one batch
        buffer = np.zeros(0, dtype=np.float32)
        buffer_start = 0  # index (at the model's rate) of buffer[0]
        resampler: StreamingResampler | None = None

        def take_windows(flush: bool) -> None:
            nonlocal buffer, buffer_start
            next_start = starts[-1] + self.hop_samples if starts else 0
            while next_start + self.window_samples <= buffer_start + buffer.size:
                offset = next_start - buffer_start
                pending.append(buffer[offset : offset + self.window_samples].copy())
                starts.append(next_start)
                next_start += self.hop_samples
                if len(pending) == self.batch_size:
                    frames.append(self.embed_windows(pending))
                    pending.clear()
            if flush and pending:
                frames.append(self.embed_windows(pending))
                pending.clear()
            keep_from = min(next_start, buffer_start + buffer.size)  # hop <= window
            buffer = buffer[keep_from - buffer_start :]
            buffer_start = keep_from

        for _, block, sr in iter_blocks(path, block_seconds=self.block_seconds):
            if resampler is None:
                resampler = StreamingResampler(sr, self.sample_rate, res_type=self.res_type)
            buffer = np.concatenate([buffer, resampler.push(block)])
            take_windows(flush=False)
        assert resampler is not None  # iter_blocks raises on an empty file
        buffer = np.concatenate([buffer, resampler.finish()])
        take_windows(flush=True)
        if not starts:  # shorter than one window: the short-input policy on the whole file
            y, sr = load_audio(path, mono=True)
            try:
                return self.embed(y, sr)
            except AudioError as exc:
                raise AudioError(path, exc.reason) from None
        return self._embedding(np.concatenate(frames), starts)


@register_embedder("clap")
def _make_clap(**options: object) -> ClapEmbedder:
    return ClapEmbedder(**options)  # type: ignore[arg-type]


__all__ = ["SHORT_INPUT_POLICIES", "ClapEmbedder", "WEIGHT_SPEC"]
