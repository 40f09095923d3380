"""VGGish: parity with the originals, both weight layouts, batching, streaming, edge cases.

Reference outputs in tests/data/vggish_reference were made by scripts/make_vggish_reference.py
with the official front-end code and torchvggish's network (PyPI torchvggish 0.2) given the
deterministic random weights of ``random_vggish_weights``, regenerated here from the same seed.
"""

from __future__ import annotations

import importlib.util
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from autoenchorder.audio.embed import available_embedders, get_embedder
from autoenchorder.audio.embed import vggish_frontend as fe
from autoenchorder.audio.embed.tf_checkpoint import write_checkpoint
from autoenchorder.audio.embed.vggish import VGGish, default_weight_files
from autoenchorder.audio.embed.vggish_resample import resample_kaiser_best
from autoenchorder.audio.embed.vggish_tf_v1 import read_checkpoint_v1
from autoenchorder.audio.embed.vggish_weights import (
    expected_shapes,
    read_pca,
    read_tf_state,
    read_torch_state,
)
from autoenchorder.audio.io import load_audio
from autoenchorder.errors import AudioError, WeightsError

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "tests" / "data" / "vggish_reference"
EXAMPLE_AUDIO = REPO / "examples" / "audio"
REAL_CLIPS = sorted(p.name[: -len(".npz")] for p in REFERENCE.glob("singularity_*.npz"))
ALL_INPUTS = [*REAL_CLIPS, "chirp_22050.synthetic"]


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "make_vggish_reference", REPO / "scripts" / "make_vggish_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF_SCRIPT = _load_script()


def _signal(name: str) -> tuple[np.ndarray, int]:
    if name.endswith(".synthetic"):
        return REF_SCRIPT.chirp(), REF_SCRIPT.CHIRP_SR
    path = EXAMPLE_AUDIO / name
    if not path.is_file():
        pytest.skip(f"real clip {path} not found")
    return load_audio(path, mono=False)


# Torch -> TF layout, written out independently of the library's mapping: TF-Slim kernels are
# HWIO for convolutions and (in, out) for dense layers.
TF_NAMES = {
    "features.0": "vggish/conv1",
    "features.3": "vggish/conv2",
    "features.6": "vggish/conv3/conv3_1",
    "features.8": "vggish/conv3/conv3_2",
    "features.11": "vggish/conv4/conv4_1",
    "features.13": "vggish/conv4/conv4_2",
    "embeddings.0": "vggish/fc1/fc1_1",
    "embeddings.2": "vggish/fc1/fc1_2",
    "embeddings.4": "vggish/fc2",
}


def _to_tf(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    tensors = {"global_step": np.int64(5)}  # extra variables must be ignored
    for key, scope in TF_NAMES.items():
        weight = state[f"{key}.weight"]
        kernel = weight.transpose(2, 3, 1, 0) if weight.ndim == 4 else weight.T
        tensors[f"{scope}/weights"] = np.ascontiguousarray(kernel)
        tensors[f"{scope}/biases"] = state[f"{key}.bias"]
    return tensors


@pytest.fixture(scope="module")
def weight_dir(tmp_path_factory) -> Path:
    """Random VGGish weights saved in both layouts (torchvggish .pth and TF checkpoint).

    Made once per test session: pytest-xdist workers share the session's temporary root, and
    the first worker to take the lock writes the ~1 GB of files while the others wait.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = root / "vggish_weights", root / "vggish_weights.done"
    try:
        (root / "vggish_weights.lock").mkdir()
    except FileExistsError:
        deadline = time.monotonic() + 600
        while not done.exists():
            if time.monotonic() > deadline:
                pytest.fail("timed out waiting for another worker to write the VGGish weights")
            time.sleep(0.5)
        return folder
    folder.mkdir()
    _write_weights(folder)
    done.touch()
    return folder


def _write_weights(folder: Path) -> None:
    state, pca = REF_SCRIPT.random_vggish_weights(expected_shapes())
    torch.save({k: torch.from_numpy(v) for k, v in state.items()}, folder / "vggish-10086976.pth")
    torch.save(
        {k: torch.from_numpy(v) for k, v in pca.items()},
        folder / "vggish_pca_params-970ea276.pth",
    )
    write_checkpoint(folder / "vggish_model.ckpt", _to_tf(state))
    np.savez(folder / "vggish_pca_params.npz", **pca)


@pytest.fixture(scope="module")
def embedder(weight_dir) -> VGGish:
    """The default configuration (TF-original linear output, no post-processing), .pth layout."""
    return get_embedder("vggish", weights=weight_dir / "vggish-10086976.pth")


@pytest.fixture(scope="module")
def references() -> dict[str, dict[str, np.ndarray]]:
    return {name: dict(np.load(REFERENCE / f"{name}.npz")) for name in ALL_INPUTS}


def _assert_close_rel(actual: np.ndarray, expected: np.ndarray, rel: float) -> None:
    np.testing.assert_allclose(actual, expected, rtol=rel, atol=rel * np.abs(expected).max())


# ------------------------------------------------------------------------------------------
# Parity with the originals
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_INPUTS)
def test_frontend_matches_official_waveform_to_examples(name, references):
    ref = references[name]
    y, sr = _signal(name)
    examples = fe.waveform_to_examples(y, sr)
    assert examples.dtype == np.float32
    assert examples.shape == (int(ref["num_examples"]), 96, 64)
    head = ref["examples_head"]
    np.testing.assert_allclose(examples[: head.shape[0]], head, rtol=0, atol=1e-5)
    np.testing.assert_allclose(examples[-1:], ref["examples_tail"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", ALL_INPUTS)
def test_embedding_matches_torchvggish_without_final_relu(name, references, embedder):
    y, sr = _signal(name)
    result = embedder.embed(y, sr)
    _assert_close_rel(result.frames, references[name]["embedding_linear"], 1e-4)
    assert result.frames.dtype == np.float32
    np.testing.assert_allclose(result.times, 0.96 * np.arange(result.frames.shape[0]))


def test_bfloat16_is_close_to_float32(weight_dir, embedder):
    y, sr = _signal(REAL_CLIPS[0])
    with warnings.catch_warnings():  # bfloat16 is emulated (and says so) on CPUs without it
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = get_embedder(
            "vggish", weights=weight_dir / "vggish-10086976.pth", precision="bfloat16"
        )
    exact, rounded = embedder.embed(y, sr).frames, fast.embed(y, sr).frames
    assert rounded.dtype == np.float32 and rounded.shape == exact.shape
    assert not np.array_equal(exact, rounded)  # the network did run in bfloat16
    assert np.linalg.norm(rounded - exact) / np.linalg.norm(exact) < 0.05


@pytest.mark.parametrize("name", [REAL_CLIPS[0], "chirp_22050.synthetic"])
def test_final_relu_and_rounding_match_torchvggish(name, references, weight_dir):
    ported = get_embedder(
        "vggish",
        weights=weight_dir / "vggish-10086976.pth",
        final_relu=True,
        postprocess=True,
        quantize="round",
        pca=weight_dir / "vggish_pca_params-970ea276.pth",
    )
    y, sr = _signal(name)
    frames = ported.embed(y, sr).frames
    expected = references[name]["postprocessed_round"]
    # Values within 1e-6 of a .5 boundary may round either way; none flip by more than 1.
    assert np.abs(frames - expected).max() <= 1
    assert np.mean(frames != expected) < 0.01
    # the raw ReLU output itself
    ported.pca, saved = None, ported.pca
    try:
        _assert_close_rel(ported.embed(y, sr).frames, references[name]["embedding_relu"], 1e-4)
    finally:
        ported.pca = saved


def test_official_truncating_postprocess_hand_computed(references, weight_dir):
    """Official vggish_postprocess: PCA, clip [-2, 2], x 255/4, cast to uint8 (truncation)."""
    name = REAL_CLIPS[-1]
    official = get_embedder(
        "vggish",
        weights=weight_dir / "vggish-10086976.pth",
        postprocess=True,
        pca=weight_dir / "vggish_pca_params.npz",
    )
    _, pca = REF_SCRIPT.random_vggish_weights(expected_shapes())
    raw = references[name]["embedding_linear"].astype(np.float64)
    projected = np.dot(pca["pca_eigen_vectors"], raw.T - pca["pca_means"].reshape(-1, 1)).T
    expected = ((np.clip(projected, -2.0, 2.0) + 2.0) * (255.0 / 4.0)).astype(np.uint8)
    y, sr = _signal(name)
    frames = official.embed(y, sr).frames
    assert frames.dtype == np.float32 and frames.shape == expected.shape
    assert frames.min() >= 0 and frames.max() <= 255 and np.all(frames == np.floor(frames))
    assert np.abs(frames - expected).max() <= 1
    assert np.mean(frames != expected) < 0.01
    assert np.any(frames == 0) and np.any(frames == 255)  # clipping was exercised


@pytest.mark.parametrize("sr", [8000, 11025, 22050, 44100, 48000, 12345])
@pytest.mark.parametrize("seconds", [0.0005, 2.5])
def test_polyphase_resampler_matches_resampy(sr, seconds):
    import resampy

    x = np.random.default_rng(sr).standard_normal(int(seconds * sr))
    expected = resampy.resample(x, sr, 16000, filter="kaiser_best")
    actual = resample_kaiser_best(x, sr)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-9)


# ------------------------------------------------------------------------------------------
# Weight layouts
# ------------------------------------------------------------------------------------------


def test_both_weight_layouts_give_identical_tensors_and_outputs(weight_dir, embedder):
    from_torch = read_torch_state(weight_dir / "vggish-10086976.pth")
    from_tf = read_tf_state(weight_dir / "vggish_model.ckpt", verify=False)
    assert list(from_torch) == list(from_tf) == list(expected_shapes())
    for key in from_torch:
        np.testing.assert_array_equal(from_torch[key], from_tf[key], err_msg=key)
    tf_embedder = VGGish(weights=weight_dir / "vggish_model.ckpt", verify_checksums=False)
    y = np.random.default_rng(3).standard_normal(3 * 16000).astype(np.float32)
    np.testing.assert_array_equal(
        tf_embedder.embed(y, 16000).frames, embedder.embed(y, 16000).frames
    )


def test_pca_parameters_identical_from_npz_and_pth(weight_dir, tmp_path):
    from_npz = read_pca(weight_dir / "vggish_pca_params.npz")
    from_pth = read_pca(weight_dir / "vggish_pca_params-970ea276.pth")
    _, pca = REF_SCRIPT.random_vggish_weights(expected_shapes())
    torch.save(dict(pca), tmp_path / "numpy_arrays.pth")  # NumPy arrays inside a .pth
    from_numpy_pth = read_pca(tmp_path / "numpy_arrays.pth")
    for params in (from_pth, from_numpy_pth):
        np.testing.assert_array_equal(params.eigen_vectors, from_npz.eigen_vectors)
        np.testing.assert_array_equal(params.means, from_npz.means)


def test_v1_checkpoint_reader_matches_tensorflow():
    """A V1 file written by TensorFlow's own Saver, as the published vggish_model.ckpt."""
    tensors = read_checkpoint_v1(REFERENCE / "tf_v1_small.ckpt")
    expected = np.load(REFERENCE / "tf_v1_small.npz")
    assert sorted(k.replace("/", "__") for k in tensors) == sorted(expected.files)
    for name, array in tensors.items():
        want = expected[name.replace("/", "__")]
        assert array.dtype == want.dtype and array.shape == want.shape, name
        np.testing.assert_array_equal(array, want, err_msg=name)


@pytest.mark.parametrize(
    "payload",
    [
        {"features.0.weight": torch.zeros(64, 1, 3, 3)},  # missing tensors
        {k: torch.zeros(2) for k in expected_shapes()},  # wrong shapes
    ],
)
def test_wrong_state_dict_is_a_weights_error(tmp_path, payload):
    path = tmp_path / "bad.pth"
    torch.save(payload, path)
    with pytest.raises(WeightsError, match="bad.pth"):
        read_torch_state(path)


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled code ran",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _Evil()}, path)
    with pytest.raises(WeightsError, match="evil.pth"):
        read_torch_state(path)


def test_missing_weights_message_names_files_paths_and_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOENCHORDER_WEIGHTS", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(WeightsError) as info:
        VGGish()
    message = str(info.value)
    assert "vggish-10086976.pth" in message
    assert str(tmp_path / "env" / "vggish") in message
    assert str(tmp_path / "cache" / "autoenchorder" / "weights" / "vggish") in message
    assert "autoenchorder weights fetch vggish" in message
    assert "vggish_model.ckpt" in message


@pytest.mark.parametrize("layout", ["torch", "tf"])
def test_default_weights_found_in_search_dirs(tmp_path, monkeypatch, weight_dir, layout):
    folder = tmp_path / "vggish"
    folder.mkdir()
    names = (
        ["vggish-10086976.pth", "vggish_pca_params-970ea276.pth"]
        if layout == "torch"
        else ["vggish_model.ckpt", "vggish_pca_params.npz"]
    )
    for source in weight_dir.iterdir():
        if source.name.startswith(tuple(names)):
            (folder / source.name).symlink_to(source)
    monkeypatch.setenv("AUTOENCHORDER_WEIGHTS", str(tmp_path))
    assert default_weight_files() == (folder / names[0], folder / names[1])


# ------------------------------------------------------------------------------------------
# Shapes, batching, streaming, short inputs
# ------------------------------------------------------------------------------------------


def test_registry_and_declared_timing(embedder):
    assert "vggish" in available_embedders()
    assert (embedder.name, embedder.dim, embedder.sample_rate) == ("vggish", 128, 16000)
    assert embedder.hop_seconds == pytest.approx(0.96)


def test_thirty_seconds_gives_31_frames(embedder):
    y = np.random.default_rng(0).standard_normal((2, 30 * 44100)).astype(np.float32) * 0.1
    result = embedder.embed(y, 44100)
    assert result.frames.shape == (31, 128)
    np.testing.assert_allclose(result.times, np.arange(31) * 0.96)


@pytest.mark.parametrize("batch_size", [1, 5])
def test_batched_equals_one_shot(embedder, batch_size, monkeypatch):
    examples = fe.waveform_to_examples(*_signal("chirp_22050.synthetic"))
    one_shot = embedder.embed_examples(examples)
    monkeypatch.setattr(embedder, "batch_size", batch_size)
    # The CPU picks float32 convolution kernels by batch shape (on AVX-512 machines a batch of
    # one sums in another order), so the rounding error scales with the embeddings' magnitude
    # (~7 here): a few float32 ulps of the largest value, far below a swapped or shifted frame.
    scale = float(np.abs(one_shot).max())
    np.testing.assert_allclose(
        embedder.embed_examples(examples), one_shot, rtol=1e-5, atol=1e-5 * scale
    )


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("resampler", ["kaiser_best", "soxr_hq"])
def test_streaming_frontend_equals_one_shot(sr, resampler):
    rng = np.random.default_rng(sr)
    y = rng.standard_normal(int(7.3 * sr)) * 0.3
    one_shot = fe.waveform_to_examples(y, sr, resampler=resampler)
    cuts = np.sort(rng.integers(0, y.shape[0], size=6))
    streamed = list(fe.stream_examples(iter(np.split(y, cuts)), sr, resampler=resampler))
    streamed = np.concatenate(streamed)
    assert streamed.shape == one_shot.shape == (7, 96, 64)
    # kaiser_best: the same filter phases up to the rounding of t = k / ratio (float64);
    # soxr_hq computes in single precision in FFT blocks, not exactly shift-invariant.
    tolerance = 1e-6 if resampler == "kaiser_best" else 1e-3
    np.testing.assert_allclose(streamed, one_shot, rtol=0, atol=tolerance)


@pytest.mark.parametrize("block_seconds", [0.5, 3.7])
def test_embed_file_streamed_equals_one_shot(embedder, monkeypatch, block_seconds):
    path = EXAMPLE_AUDIO / REAL_CLIPS[0]
    if not path.is_file():
        pytest.skip(f"real clip {path} not found")
    y, sr = load_audio(path, mono=False)
    monkeypatch.setattr(embedder, "batch_size", 4)  # full batches complete mid-stream
    one_shot = embedder.embed(y, sr)
    monkeypatch.setattr(embedder, "block_seconds", block_seconds)
    streamed = embedder.embed_file(path)
    np.testing.assert_array_equal(streamed.frames, one_shot.frames)
    np.testing.assert_array_equal(streamed.times, one_shot.times)


@pytest.mark.parametrize(
    ("samples", "examples"),
    [(fe.EXAMPLE_SAMPLES - 1, 0), (fe.EXAMPLE_SAMPLES, 1), (2 * 15360 + 240 - 1, 1)],
)
def test_example_count_at_the_boundaries(samples, examples):
    y = np.random.default_rng(1).standard_normal(samples)
    if examples == 0:
        with pytest.raises(AudioError, match="shorter than one VGGish example"):
            fe.waveform_to_examples(y, 16000)
    else:
        assert fe.waveform_to_examples(y, 16000).shape[0] == examples


def test_short_input_policy(weight_dir, embedder, tmp_path):
    y = np.random.default_rng(2).standard_normal(12000).astype(np.float32) * 0.1  # 0.5 s
    with pytest.raises(AudioError, match="short_input='pad'"):
        embedder.embed(y, 24000)
    path = tmp_path / "short.wav"
    sf.write(path, y, 24000, subtype="FLOAT")
    with pytest.raises(AudioError, match="short.wav"):
        embedder.embed_file(path)
    padding = get_embedder("vggish", weights=weight_dir / "vggish-10086976.pth", short_input="pad")
    padded = padding.embed_file(path)
    assert padded.frames.shape == (1, 128) and padded.times.tolist() == [0.0]
    # padding is zeros at 16 kHz appended to the resampled signal
    y16k = fe.pad_short(fe.resample_to_16k(y, 24000))
    np.testing.assert_array_equal(
        padded.frames, padding.embed_examples(fe.frame_examples(fe.log_mel(y16k)))
    )
