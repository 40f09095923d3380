"""Audio decoding: formats, channels, windows, resampling, streaming, discovery and bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from autoenchorder.audio.io import (
    audio_info,
    check_finite,
    discover_audio,
    is_silent,
    iter_blocks,
    load_audio,
    to_mono,
)
from autoenchorder.errors import AudioError

EXAMPLE_AUDIO = Path(__file__).resolve().parents[1] / "examples" / "audio"
CLIPS = {
    "ogg": ("singularity_awakening_20s.ogg", 20.0),
    "mp3": ("singularity_coherence_15s.mp3", 15.0),
    "wav": ("singularity_media_threat_12s.wav", 12.0),
    "flac": ("singularity_nebula_20s.flac", 20.0),
}
SR = 16000


def _clip(fmt: str) -> Path:
    path = EXAMPLE_AUDIO / CLIPS[fmt][0]
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture
def stereo_wav(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A 2 s, 16 kHz stereo float wav of two different tones, and its samples (2, n)."""
    t = np.arange(2 * SR) / SR
    data = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.sin(2 * np.pi * 660 * t)])
    data = data.astype(np.float32)
    path = tmp_path / "tones.wav"
    sf.write(path, data.T, SR, subtype="FLOAT")
    return path, data


# --- decoding -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(CLIPS))
def test_every_format_decodes_at_its_native_rate(fmt: str) -> None:
    path = _clip(fmt)
    y, sr = load_audio(path)
    stereo, sr2 = load_audio(path, mono=False)
    assert sr == sr2 == 48000
    assert y.dtype == np.float32 and y.ndim == 1
    assert stereo.shape == (2, y.size)
    assert abs(y.size / sr - CLIPS[fmt][1]) < 0.1
    assert np.all(np.isfinite(y)) and 0.01 < np.max(np.abs(y)) < 2.0
    np.testing.assert_allclose(y, stereo.mean(axis=0), rtol=0, atol=1e-7)
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.frames) == (48000, 2, y.size)


def test_mono_is_the_mean_of_the_channels(stereo_wav: tuple[Path, np.ndarray]) -> None:
    path, data = stereo_wav
    stereo, _ = load_audio(path, mono=False)
    mono, _ = load_audio(path)
    np.testing.assert_array_equal(stereo, data)
    np.testing.assert_allclose(mono, (data[0] + data[1]) / 2, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(to_mono(mono), mono)


@pytest.mark.parametrize("fmt", sorted(CLIPS))
def test_window_equals_a_slice_of_the_full_decode(fmt: str) -> None:
    path = _clip(fmt)
    full, sr = load_audio(path, mono=False)
    offset, duration = 2.5, 3.0
    window, sr2 = load_audio(path, mono=False, offset=offset, duration=duration)
    start = round(offset * sr)
    assert sr2 == sr
    assert window.shape == (2, round(duration * sr))
    np.testing.assert_allclose(window, full[:, start : start + window.shape[1]], atol=1e-6)


def test_window_running_past_the_end_is_cut(stereo_wav: tuple[Path, np.ndarray]) -> None:
    path, data = stereo_wav
    tail, _ = load_audio(path, mono=False, offset=1.5, duration=10.0)
    np.testing.assert_array_equal(tail, data[:, round(1.5 * SR) :])


@pytest.mark.parametrize("target", [8000, 22050, 44100])
def test_resampling_sets_rate_and_length(stereo_wav: tuple[Path, np.ndarray], target: int) -> None:
    path, data = stereo_wav
    y, sr = load_audio(path, sr=target)
    stereo, _ = load_audio(path, sr=target, mono=False)
    assert sr == target
    assert y.dtype == np.float32
    assert abs(y.size - data.shape[1] * target / SR) <= 1
    assert stereo.shape == (2, y.size)
    # a 440 Hz tone stays a 440 Hz tone
    spectrum = np.abs(np.fft.rfft(stereo[0]))
    assert np.fft.rfftfreq(stereo.shape[1], 1 / sr)[np.argmax(spectrum)] == pytest.approx(
        440, abs=1
    )


def test_iter_blocks_concatenate_to_the_full_decode(stereo_wav: tuple[Path, np.ndarray]) -> None:
    path, _ = stereo_wav
    for mono in (True, False):
        full, sr = load_audio(path, mono=mono)
        blocks = list(iter_blocks(path, block_seconds=0.3, mono=mono))
        starts = [start for start, _, _ in blocks]
        assert all(block_sr == sr for _, _, block_sr in blocks)
        assert starts == pytest.approx([i * 0.3 for i in range(len(blocks))])
        assert len(blocks) == math.ceil(full.shape[-1] / (0.3 * sr))
        np.testing.assert_array_equal(np.concatenate([b for _, b, _ in blocks], axis=-1), full)


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_iter_blocks_of_lossy_files_match_load_audio(fmt: str) -> None:
    path = _clip(fmt)
    full, _ = load_audio(path)
    streamed = np.concatenate([b for _, b, _ in iter_blocks(path, block_seconds=4.0)])
    np.testing.assert_allclose(streamed, full, atol=1e-6)


def test_silence_is_flagged_not_refused(tmp_path: Path) -> None:
    path = tmp_path / "silence.flac"
    sf.write(path, np.zeros(SR, dtype=np.float32), SR)
    y, _ = load_audio(path)
    assert y.size == SR
    assert is_silent(y)
    assert not is_silent(np.r_[y, 0.01])


# --- bad input ------------------------------------------------------------------------------


def _assert_audio_error(path: Path, reason: str, **kwargs: object) -> None:
    with pytest.raises(AudioError, match=reason) as caught:
        load_audio(path, **kwargs)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    assert caught.value.reason


def test_missing_file(tmp_path: Path) -> None:
    _assert_audio_error(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    _assert_audio_error(path, "empty")


def test_text_file_renamed_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("these are not the samples you are looking for\n" * 20)
    _assert_audio_error(path, "not readable as audio")


@pytest.mark.parametrize("damage", ["truncated header", "corrupt header"])
def test_damaged_wav_header(stereo_wav: tuple[Path, np.ndarray], damage: str) -> None:
    path, _ = stereo_wav
    raw = path.read_bytes()
    bad = path.with_name("bad.wav")
    if damage == "truncated header":
        bad.write_bytes(raw[:20])  # RIFF/WAVE magic, then the fmt chunk cut short
    else:
        bad.write_bytes(b"XXXX" + raw[4:8] + b"JUNK" + raw[12:])  # no RIFF/WAVE magic
    _assert_audio_error(bad, "not readable as audio")


def test_nan_samples_in_a_float_wav(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    samples = np.zeros(SR, dtype=np.float32)
    samples[[10, 500]] = np.nan
    samples[700] = np.inf
    sf.write(path, samples, SR, subtype="FLOAT")
    _assert_audio_error(path, "3 NaN or infinite samples")
    with pytest.raises(AudioError, match="NaN or infinite"):
        list(iter_blocks(path, block_seconds=0.5))


def test_offset_past_the_end(stereo_wav: tuple[Path, np.ndarray]) -> None:
    path, _ = stereo_wav
    _assert_audio_error(path, "past the end", offset=5.0)


def test_bad_window_and_absurd_duration(stereo_wav: tuple[Path, np.ndarray]) -> None:
    path, _ = stereo_wav
    _assert_audio_error(path, "bad window", offset=-1.0)
    _assert_audio_error(path, "bad window", duration=0.0)
    _assert_audio_error(path, "longer than the limit", max_duration=1.0)


def test_streaming_bad_files_raises_audio_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.flac"
    empty.touch()
    with pytest.raises(AudioError, match="empty"):
        list(iter_blocks(empty, block_seconds=1.0))
    with pytest.raises(AudioError, match="not found"):
        audio_info(tmp_path / "missing.ogg")


def test_check_finite_names_the_problem() -> None:
    with pytest.raises(AudioError, match="zero length"):
        check_finite(np.zeros(0, dtype=np.float32), "x.wav")
    check_finite(np.zeros(3, dtype=np.float32))


# --- discovery ------------------------------------------------------------------------------


def test_discover_audio_recurses_sorts_and_skips_hidden(tmp_path: Path) -> None:
    names = [
        "b/song.mp3",
        "a/deep/er/track.FLAC",
        "a/one.wav",
        "z.ogg",
        ".hidden/ghost.wav",
        "a/.dotfile.wav",
        "a/cover.jpg",
        "readme.txt",
    ]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in discover_audio(tmp_path)]
    assert found == ["a/deep/er/track.FLAC", "a/one.wav", "b/song.mp3", "z.ogg"]
    assert discover_audio(tmp_path / "z.ogg") == [tmp_path / "z.ogg"]
    with pytest.raises(AudioError, match="no such file or folder"):
        discover_audio(tmp_path / "missing")
