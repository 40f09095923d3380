"""musicnn: parity with the original (TF) implementation on real clips, streaming, batching."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from autoenchorder.audio.embed import musicnn_frontend as fe
from autoenchorder.audio.io import load_audio, resample
from autoenchorder.errors import AudioError, ModelError, WeightsError
from conftest import EXAMPLE_CLIPS

REF = Path(__file__).parent / "data" / "musicnn_reference"
CLIPS = EXAMPLE_CLIPS


def _embedder(dataset: str, **options):
    from autoenchorder.audio.embed import get_embedder

    return get_embedder(f"musicnn-{dataset}", **options)


@pytest.fixture(scope="module", params=CLIPS, ids=lambda p: p.name)
def clip(request) -> tuple[Path, np.ndarray, int, dict]:
    path = request.param
    y, sr = load_audio(path)
    return path, y, sr, dict(np.load(REF / f"{path.stem}.npz"))


# ----------------------------------------------------------------------------- front-end


def test_log_compress_reproduces_numpy1_promotion() -> None:
    # Hand computation: round to float16 first, then 10000 x + 1 and log10 without overflow
    # (float16 arithmetic, NumPy 2's result, would give inf for x > 6.55).
    mel = np.array([[0.1, 7.0, 100.0, 0.0]], dtype=np.float32)
    rounded = np.array([0.0999755859375, 7.0, 100.0, 0.0])  # float16(0.1) = 0.0999755859375
    expected = np.log10(rounded * 10000.0 + 1.0)
    out = fe.log_compress(mel)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "res_type,key", [("soxr_hq", "frontend"), ("kaiser_best", "kaiser_best/frontend")]
)
def test_frontend_matches_original(clip, res_type: str, key: str) -> None:
    _, y, sr, ref = clip
    logmel = fe.log_mel(resample(y, orig_sr=sr, target_sr=fe.SAMPLE_RATE, res_type=res_type))
    assert logmel.shape[0] == int(ref["n_frames"])
    np.testing.assert_allclose(logmel[: ref[key].shape[0]], ref[key], atol=1e-5, rtol=0)


def test_patch_count_matches_librosa_time_to_frames() -> None:
    import librosa

    n = librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
    assert n == fe.PATCH_FRAMES
    assert fe.patch_starts(186).size == 0
    np.testing.assert_array_equal(fe.patch_starts(187 * 3 + 5), [0, 187, 374])
    np.testing.assert_array_equal(fe.patch_starts(250, hop_frames=20), [0, 20, 40, 60])


@pytest.mark.parametrize("orig_sr", [48000, 44100, 22050, 16000])
@pytest.mark.parametrize("res_type", ["soxr_hq", "kaiser_best"])
def test_streaming_resampler_equals_one_shot(orig_sr: int, res_type: str) -> None:
    rng = np.random.default_rng(orig_sr)
    y = rng.standard_normal(int(orig_sr * 2.3)).astype(np.float32) * 0.3
    one_shot = resample(y, orig_sr=orig_sr, target_sr=16000, res_type=res_type)
    stream = fe.StreamingResampler(orig_sr, 16000, res_type=res_type, margin_seconds=0.25)
    cuts = np.sort(rng.integers(0, y.size, 9))
    parts = [stream.push(b) for b in np.split(y, cuts)] + [stream.finish()]
    streamed = np.concatenate(parts)
    assert streamed.shape == one_shot.shape
    np.testing.assert_allclose(streamed, one_shot, atol=1e-5)


def test_streaming_logmel_equals_one_shot() -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal(16000 * 3 + 77).astype(np.float32) * 0.2
    mel = fe.StreamingLogMel()
    parts = [mel.push(b) for b in np.split(y, [100, 5000, 5001, 30000])] + [mel.finish()]
    np.testing.assert_allclose(np.concatenate(parts), fe.log_mel(y), atol=1e-5)


# ----------------------------------------------------------------------------- network parity


@pytest.mark.parametrize("dataset", ["msd", "mtt"])
def test_outputs_match_original(musicnn_weights, clip, dataset: str) -> None:
    _, y, sr, ref = clip
    model = f"{dataset.upper()}_musicnn"
    outputs = _embedder(dataset).embed_layers(y, sr)
    for layer in ("taggram", "penultimate", "max_pool", "mean_pool"):
        out = outputs[layer]
        expected = ref[f"{model}/{layer}"]
        assert out.frames.shape == expected.shape, layer
        np.testing.assert_allclose(out.frames, expected, atol=1e-3, rtol=0, err_msg=layer)
    np.testing.assert_allclose(out.times, np.arange(expected.shape[0]) * 187 * 256 / 16000)


def test_kaiser_best_matches_original_era_resampler(musicnn_weights, clip) -> None:
    _, y, sr, ref = clip
    outputs = _embedder("msd", res_type="kaiser_best").embed_layers(y, sr)
    for layer in ("taggram", "penultimate"):
        out = outputs[layer].frames
        expected = ref[f"kaiser_best/MSD_musicnn/{layer}"]
        np.testing.assert_allclose(out, expected, atol=1e-3, rtol=0, err_msg=layer)


def test_tag_names_are_the_originals(musicnn_weights) -> None:
    labels = json.loads((REF / "labels.json").read_text())
    assert list(_embedder("msd").tags) == labels["MSD_musicnn"]
    assert list(_embedder("mtt").tags) == labels["MTT_musicnn"]


# ----------------------------------------------------------------------------- batching, streaming


def test_batch_size_does_not_change_frames(musicnn_weights) -> None:
    y, sr = load_audio(CLIPS[0])
    one = _embedder("msd", batch_size=1).embed(y, sr)
    many = _embedder("msd", batch_size=4).embed_layers(y, sr)
    np.testing.assert_allclose(one.frames, many["penultimate"].frames, atol=1e-5)
    np.testing.assert_array_equal(one.times, many["penultimate"].times)


@pytest.mark.parametrize("res_type", ["soxr_hq", "kaiser_best"])
def test_streamed_file_equals_one_shot(musicnn_weights, res_type: str) -> None:
    path = min(CLIPS, key=lambda p: sf.info(p).duration)  # the shortest real clip, many blocks
    opts = {"res_type": res_type, "hop_frames": 120, "batch_size": 3}
    one_shot = _embedder("msd", **opts).embed(*load_audio(path))
    streamed = _embedder("msd", block_seconds=2.1, **opts).embed_file(path)
    assert streamed.frames.shape == one_shot.frames.shape
    np.testing.assert_allclose(streamed.times, one_shot.times)
    np.testing.assert_allclose(streamed.frames, one_shot.frames, atol=1e-4)


def test_overlapping_hop(musicnn_weights) -> None:
    y = np.random.default_rng(0).standard_normal(16000 * 5).astype(np.float32) * 0.1
    out = _embedder("msd", hop_frames=61).embed(y, 16000)
    n_frames = 1 + y.size // 256
    assert out.frames.shape == ((n_frames - 187) // 61 + 1, 200)
    np.testing.assert_allclose(np.diff(out.times), 61 * 256 / 16000)


# ----------------------------------------------------------------------------- short input


@pytest.mark.parametrize("n_samples,patches", [(186 * 256, 1), (186 * 256 - 1, 0), (4000, 0)])
def test_short_input_policy(musicnn_weights, n_samples: int, patches: int) -> None:
    y = np.random.default_rng(2).standard_normal(n_samples).astype(np.float32) * 0.1
    if patches:
        assert _embedder("msd").embed(y, 16000).frames.shape == (1, 200)
        return
    with pytest.raises(AudioError, match="too short for musicnn"):
        _embedder("msd").embed(y, 16000)
    for policy in ("repeat", "zero"):
        out = _embedder("msd", short_input=policy).embed(y, 16000)
        assert out.frames.shape == (1, 200)
        np.testing.assert_array_equal(out.times, [0.0])


def test_short_file_streams_to_the_same_policy(musicnn_weights, tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    y = np.random.default_rng(3).standard_normal(22050).astype(np.float32) * 0.1
    sf.write(path, y, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="too short"):
        _embedder("msd").embed_file(path)
    out = _embedder("msd", short_input="repeat").embed_file(path)
    expected = _embedder("msd", short_input="repeat").embed(y, 22050)
    np.testing.assert_allclose(out.frames, expected.frames, atol=1e-4)


# ----------------------------------------------------------------------------- errors


def test_bad_options() -> None:
    from autoenchorder.audio.embed.musicnn import MusicnnEmbedder

    with pytest.raises(ModelError, match="layer"):
        MusicnnEmbedder(layer="cnn9")
    with pytest.raises(ModelError, match="short_input"):
        MusicnnEmbedder(short_input="loop")


def test_missing_weights_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autoenchorder.audio.embed.musicnn import MusicnnEmbedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("AUTOENCHORDER_WEIGHTS", str(tmp_path / "w"))
    monkeypatch.setattr(
        "autoenchorder.audio.embed.weights.search_dirs",
        lambda spec: [tmp_path / "w" / spec.name, tmp_path / "cache" / spec.name],
    )
    with pytest.raises(WeightsError) as info:
        MusicnnEmbedder()
    text = str(info.value)
    assert "MSD_musicnn/.index" in text and str(tmp_path / "w" / "musicnn") in text
    assert "autoenchorder weights setup musicnn" in text


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_embed_command_saves_sequence(musicnn_weights, tmp_path: Path, suffix: str) -> None:
    from click.testing import CliRunner

    from autoenchorder.commands.embed import command

    path = min(CLIPS, key=lambda p: sf.info(p).duration)
    out = tmp_path / f"seq{suffix}"
    result = CliRunner().invoke(command, [str(path), "--layer", "taggram", "--out", str(out)])
    assert result.exit_code == 0, result.output
    # the frames `extract` stores for the file (embed_file's streaming equals them to rounding)
    expected = _embedder("msd", layer="taggram").embed(*load_audio(path))
    if suffix == ".npz":
        saved = np.load(out)
        np.testing.assert_array_equal(saved["frames"], expected.frames)
        np.testing.assert_array_equal(saved["times"], expected.times)
        assert list(saved["columns"]) == list(_embedder("msd").tags)
    else:
        lines = out.read_text().splitlines()
        assert lines[0].split(",")[:3] == ["time", "rock", "pop"]
        assert len(lines) == 1 + expected.frames.shape[0]
        first = np.array(lines[1].split(",")[1:], dtype=float)
        np.testing.assert_allclose(first, expected.frames[0], rtol=1e-5)
