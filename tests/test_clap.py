"""CLAP embedder: the Embedder contract, parity with transformers called directly, batching,
streaming, where the snapshot is looked for, and the errors of a missing snapshot, a missing
extra and an unreachable Hub.

No real weights are downloaded (tests never reach the network). The snapshot is a randomly
initialised ``ClapModel`` (seeded) saved with ``save_pretrained`` into a temporary folder, next
to a ``ClapFeatureExtractor``'s ``save_pretrained``: the layout of
``snapshot_download("laion/clap-htsat-unfused")``. Its audio tower and feature extractor have
exactly the configuration of laion/clap-htsat-unfused, written out below from the checkpoint's
``config.json`` and ``preprocessor_config.json`` (transformers' ``ClapAudioConfig`` defaults
equal that checkpoint's audio tower except the two keys its config.json sets; the extractor's
defaults differ from it in ``frequency_min`` and ``truncation``, so every value is spelled
out). The text tower is shrunk to one narrow layer: the embedder never loads it, and the
RoBERTa-base tower of the checkpoint would take most of the test's time and ~500 MB of disk.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from autoenchorder.audio.embed import Embedding, available_embedders, get_embedder
from autoenchorder.audio.embed import clap_weights as cw
from autoenchorder.audio.embed import weights as registry
from autoenchorder.audio.embed.clap import ClapEmbedder
from autoenchorder.audio.embed.clap_published import write_random_snapshot
from autoenchorder.audio.io import load_audio
from autoenchorder.cli import USER_ERROR_STATUS, cli
from autoenchorder.errors import AudioError, ModelError, WeightsError

try:
    import transformers
except ImportError:  # the optional extra autoenchorder[clap]
    transformers = None
NO_TRANSFORMERS = "the optional extra autoenchorder[clap] (transformers) is not installed"
needs_transformers = pytest.mark.skipif(transformers is None, reason=NO_TRANSFORMERS)
needs_hub = pytest.mark.skipif(
    importlib.util.find_spec("huggingface_hub") is None,
    reason="huggingface_hub (of the optional extra autoenchorder[clap]) is not installed",
)

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "examples" / "audio" / "singularity_awakening_20s.ogg"  # 20 s, 48 kHz stereo


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    """A snapshot folder: random ClapModel (seed 0) of the published configuration."""
    if transformers is None:
        pytest.skip(NO_TRANSFORMERS)
    return write_random_snapshot(tmp_path_factory.mktemp("clap_snapshot"), seed=0)


@pytest.fixture(scope="module")
def embedder(snapshot: Path) -> ClapEmbedder:
    return get_embedder("clap", weights=snapshot, batch_size=2)


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, int]:
    if not CLIP.is_file():
        pytest.skip(f"example clip {CLIP} not found")
    return load_audio(CLIP, mono=True)


@pytest.fixture(scope="module")
def clip_embedding(embedder: ClapEmbedder, clip) -> Embedding:
    """The embedder's output on the clip, computed once for the tests that read it."""
    return embedder.embed(*clip)


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No weights folder, weights cache or Hugging Face cache outside ``tmp_path``."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(registry.WEIGHTS_ENV, str(tmp_path / "mine"))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path


def _assert_close_rel(actual: np.ndarray, expected: np.ndarray, rel: float = 1e-5) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=rel * np.abs(expected).max())


def _reference(snapshot: Path, windows: list[np.ndarray]) -> np.ndarray:
    """transformers called directly: ClapFeatureExtractor + ClapModel.get_audio_features."""
    extractor = transformers.ClapFeatureExtractor.from_pretrained(snapshot)
    model = transformers.ClapModel.from_pretrained(snapshot).eval()
    inputs = extractor(windows, sampling_rate=48000, return_tensors="pt")
    with torch.inference_mode():
        return model.get_audio_features(**inputs).pooler_output.numpy()


# ------------------------------------------------------------------------------------------
# The Embedder contract and parity
# ------------------------------------------------------------------------------------------


def test_contract_on_a_real_clip(embedder: ClapEmbedder, clip_embedding: Embedding) -> None:
    assert "clap" in available_embedders()
    assert (embedder.sample_rate, embedder.window_seconds, embedder.dim) == (48000, 10.0, 512)
    assert embedder.hop_seconds == 5.0
    out = clip_embedding
    # 20 s: windows start at 0, 5 and 10 s; the last 5 s alone is not a whole window.
    assert out.frames.shape == (3, 512) and out.frames.dtype == np.float32
    np.testing.assert_array_equal(out.times, [0.0, 5.0, 10.0])
    assert np.isfinite(out.frames).all()
    np.testing.assert_allclose(np.linalg.norm(out.frames, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(out.frames[0], out.frames[2])  # different audio, different frame


def test_equals_transformers_called_directly(clip_embedding, snapshot, clip) -> None:
    y, sr = clip
    assert sr == 48000  # no resampling: the windows are the file's own samples
    windows = [y[s : s + 480000] for s in (0, 240000, 480000)]
    _assert_close_rel(clip_embedding.frames, _reference(snapshot, windows))


def test_raw_projection_without_normalisation(snapshot, clip) -> None:
    y, sr = clip
    raw = get_embedder("clap", weights=snapshot, normalize=False, hop_seconds=10.0)
    normalised = get_embedder("clap", weights=snapshot, hop_seconds=10.0)
    frames = raw.embed(y[: 10 * sr], sr).frames
    assert frames.shape == (1, 512)
    assert abs(float(np.linalg.norm(frames)) - 1.0) > 1e-3
    _assert_close_rel(
        frames / np.linalg.norm(frames, axis=1, keepdims=True),
        normalised.embed(y[: 10 * sr], sr).frames,
    )


def test_batched_equals_one_by_one(clip_embedding, snapshot, clip) -> None:
    # The module's embedder runs batches of 2 (windows 0+5 s, then 10 s).
    single = get_embedder("clap", weights=snapshot, batch_size=1)
    _assert_close_rel(single.embed(*clip).frames, clip_embedding.frames)


def test_streamed_file_equals_one_shot(embedder: ClapEmbedder, clip, tmp_path: Path) -> None:
    # 16 s written at 44.1 kHz, so that the streamed resampling to 48 kHz is exercised too.
    y, sr = clip
    y44 = librosa.resample(y[: 16 * sr], orig_sr=sr, target_sr=44100, res_type="soxr_hq")
    path = tmp_path / "clip44.wav"
    sf.write(path, y44, 44100, subtype="FLOAT")
    streaming = get_embedder("clap", weights=embedder.snapshot, batch_size=2, block_seconds=3.0)
    streamed = streaming.embed_file(path)
    one_shot = embedder.embed(*load_audio(path, mono=True))
    np.testing.assert_array_equal(streamed.times, [0.0, 5.0])
    np.testing.assert_array_equal(one_shot.times, [0.0, 5.0])
    _assert_close_rel(streamed.frames, one_shot.frames, rel=1e-4)


def test_short_input_is_padded_as_clap_does_or_refused(embedder, snapshot, clip) -> None:
    y, sr = clip
    short = y[: 4 * sr]
    out = embedder.embed(short, sr)
    assert out.frames.shape == (1, 512)
    np.testing.assert_array_equal(out.times, [0.0])
    _assert_close_rel(out.frames, _reference(snapshot, [short]))  # the extractor's repeatpad
    strict = get_embedder("clap", weights=snapshot, short_input="error")
    with pytest.raises(AudioError, match="too short for clap"):
        strict.embed(short, sr)
    with pytest.raises(AudioError):
        embedder.embed(np.zeros(0, np.float32), sr)


def test_bad_options_are_refused(snapshot) -> None:
    with pytest.raises(ValueError, match="hop_seconds"):
        ClapEmbedder(weights=snapshot, hop_seconds=11.0)
    with pytest.raises(ValueError, match="short_input"):
        ClapEmbedder(weights=snapshot, short_input="zero")


# ------------------------------------------------------------------------------------------
# Where the snapshot comes from, and the errors
# ------------------------------------------------------------------------------------------


@needs_transformers
def test_missing_snapshot_names_every_place_and_the_fetch_command(isolated: Path) -> None:
    with pytest.raises(WeightsError) as info:
        ClapEmbedder()
    message = str(info.value)
    assert str(isolated / "mine" / "clap") in message
    assert str(isolated / "cache" / "autoenchorder" / "weights" / "clap") in message
    hub = isolated / "cache" / "huggingface" / "hub" / "models--laion--clap-htsat-unfused"
    assert str(hub) in message
    assert "autoenchorder weights fetch clap" in message
    (isolated / "empty").mkdir()
    with pytest.raises(WeightsError, match=r"config\.json.*model\.safetensors"):
        ClapEmbedder(weights=isolated / "empty")


def test_found_in_the_weights_folder_and_listed(isolated: Path, snapshot: Path) -> None:
    (isolated / "mine").mkdir()
    (isolated / "mine" / "clap").symlink_to(snapshot, target_is_directory=True)
    assert ClapEmbedder().snapshot == isolated / "mine" / "clap"
    listing = CliRunner().invoke(cli, ["weights", "list"], terminal_width=200)
    assert listing.exit_code == 0, listing.output
    rows = [line.split("│") for line in listing.output.splitlines() if line.count("│") > 2]
    row = next("│".join(cells) for cells in rows if cells[1].strip() == "clap")
    assert "present" in row and "missing" not in row
    assert "already present" in registry.setup_weights("clap")


def test_found_in_the_hugging_face_cache(isolated: Path) -> None:
    repo = isolated / "cache" / "huggingface" / "hub" / "models--laion--clap-htsat-unfused"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    incomplete, complete = repo / "snapshots" / "0ld", repo / "snapshots" / "abc123"
    for folder, files in ((incomplete, cw.SNAPSHOT_FILES[:2]), (complete, cw.SNAPSHOT_FILES)):
        folder.mkdir(parents=True)
        for name in files:
            (folder / name).write_text("{}")
    assert cw.locate_snapshot() == complete
    (repo / "refs" / "main").write_text("0ld")  # main points at a snapshot lacking weights
    assert cw.locate_snapshot() == complete


def test_incomplete_audio_tower_is_an_error(snapshot: Path, tmp_path: Path) -> None:
    # transformers would initialise the missing weight at random and only warn.
    from safetensors.torch import load_file, save_file  # noqa: PLC0415

    for name in (cw.CONFIG_FILE, cw.PREPROCESSOR_FILE):
        (tmp_path / name).write_bytes((snapshot / name).read_bytes())
    state = load_file(snapshot / cw.WEIGHTS_FILE)
    del state["audio_projection.linear2.weight"]
    save_file(state, tmp_path / cw.WEIGHTS_FILE, metadata={"format": "pt"})
    with pytest.raises(WeightsError, match=r"lacks 1 weight.*audio_projection\.linear2\.weight"):
        ClapEmbedder(weights=tmp_path)


def test_missing_transformers_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(ModelError) as info:
        ClapEmbedder(weights=tmp_path)
    assert "autoenchorder[clap]" in str(info.value)
    assert "transformers==" in str(info.value)


@needs_hub
def test_fetch_offline_is_a_clear_error(isolated: Path, monkeypatch) -> None:
    # Port 1 on the loopback: nothing listens, the connection is refused at once.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:1")
    target = isolated / "cache" / "autoenchorder" / "weights" / "clap"
    with pytest.raises(WeightsError) as info:
        registry.fetch_weights("clap", timeout=2.0)
    message = str(info.value)
    assert "could not download laion/clap-htsat-unfused" in message
    assert str(target) in message and "weights=DIR" in message
    result = CliRunner().invoke(cli, ["weights", "fetch", "clap", "--timeout", "2"])
    assert result.exit_code == USER_ERROR_STATUS, result.output
    assert result.stderr.startswith("error: could not download laion/clap-htsat-unfused")
