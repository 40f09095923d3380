"""The 207 low-level features: parity with plain librosa, column names, compat modes, edge cases.

The reference values come from :mod:`autoenchorder.audio.lowlevel_reference`, one plain librosa
call per feature with HitMusicNet's parameters; the published column order is checked against
``tests/data/spotgentrack_lowlevel_header.txt``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest

from autoenchorder.audio.io import load_audio, to_mono
from autoenchorder.audio.lowlevel import (
    LOWLEVEL_COLUMNS,
    MIN_SAMPLES,
    extract_lowlevel,
    lowlevel_dict,
)
from autoenchorder.audio.lowlevel.chroma import (
    _decimate,
    _octave_response,
    _octave_response_by_blocks,
    convolution_kernels,
    cqt_plan,
    estimate_tuning,
)
from autoenchorder.audio.lowlevel.kernels import mel_power
from autoenchorder.audio.lowlevel.spectral import magnitude_spectrogram, mel_bands, mel_basis
from autoenchorder.audio.lowlevel.temporal import frame_features
from autoenchorder.audio.lowlevel_reference import (
    PARITY_RTOL,
    column_family,
    extract_lowlevel_reference,
    parity_error,
)
from autoenchorder.errors import AudioError

EXAMPLE_AUDIO = Path(__file__).resolve().parents[1] / "examples" / "audio"
HEADER_FILE = Path(__file__).resolve().parent / "data" / "spotgentrack_lowlevel_header.txt"
CLIPS = {
    "ogg": "singularity_awakening_20s.ogg",
    "mp3": "singularity_coherence_15s.mp3",
    "wav": "singularity_media_threat_12s.wav",
    "flac": "singularity_nebula_20s.flac",
}
ONLY_IN_FIXED = {"spectral_centroid", "entropy_energy"}


def assert_parity(ours: np.ndarray, reference: np.ndarray) -> None:
    """Every feature within 1e-4 relative (family floors apply), NaN exactly where librosa's."""
    assert ours.shape == reference.shape == (207,)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    error = parity_error(ours, reference)
    bad = np.flatnonzero(error > PARITY_RTOL)
    detail = [f"{LOWLEVEL_COLUMNS[i]}: ours {ours[i]!r} vs librosa {reference[i]!r}" for i in bad]
    assert bad.size == 0, "\n".join(detail)


def _reference_quietly(y: np.ndarray, sr: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa's "n_fft too large" on the low CQT octaves
        return extract_lowlevel_reference(y, sr)


def _tone(sr: int, seconds: float, freqs: tuple[float, ...], amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) * (amplitude / len(freqs))
    return np.asarray(y, dtype=np.float32)


# --- column names ---------------------------------------------------------------------------


def _published_header() -> list[str]:
    lines = [ln for ln in HEADER_FILE.read_text().splitlines() if ln and not ln.startswith("#")]
    assert len(lines) == 1
    return lines[0].split(",")


def test_columns_match_the_published_header() -> None:
    header = _published_header()
    assert header[0] == ""  # the unnamed pandas index column
    assert header[-1] == "track_id"
    assert tuple(header[1:-1]) == LOWLEVEL_COLUMNS


def test_columns_spelling_and_known_positions() -> None:
    assert len(LOWLEVEL_COLUMNS) == len(set(LOWLEVEL_COLUMNS)) == 207
    assert LOWLEVEL_COLUMNS[:5] == ("Chroma_1", "Chroma_10", "Chroma_11", "Chroma_12", "Chroma_2")
    assert LOWLEVEL_COLUMNS.index("MEL_1") == 12
    assert LOWLEVEL_COLUMNS.index("MFCC_1") == 12 + 128
    assert LOWLEVEL_COLUMNS.index("Spectral_contrast_1") == 12 + 128 + 48
    assert LOWLEVEL_COLUMNS[-6:] == (
        "ZCR",
        "entropy_energy",
        "spectral_bandwith",  # sic, as published
        "spectral_centroid",
        "spectral_rollOff_max",
        "spectral_rollOff_min",
    )
    families = {column_family(n) for n in LOWLEVEL_COLUMNS}
    counts = {f: sum(column_family(n) == f for n in LOWLEVEL_COLUMNS) for f in families}
    assert counts["MFCC"] == 48 and counts["MEL"] == 128 and counts["Chroma"] == 12
    assert counts["Tonnetz"] == 6 and counts["Spectral_contrast"] == 7


# --- parity with plain librosa --------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(CLIPS))
def real_clip(request: pytest.FixtureRequest) -> tuple[np.ndarray, int, np.ndarray]:
    """A 10 s window of a real clip (mono, native rate) and its plain-librosa features."""
    path = EXAMPLE_AUDIO / CLIPS[request.param]
    if not path.exists():
        pytest.skip(f"{path} not available")
    y, sr = load_audio(path, duration=10.0)
    return y, sr, _reference_quietly(y, sr)


def test_parity_on_real_clips(real_clip: tuple[np.ndarray, int, np.ndarray]) -> None:
    y, sr, reference = real_clip
    assert sr == 48000
    assert_parity(extract_lowlevel(y, sr), reference)


def test_parity_check_catches_a_small_deviation(
    real_clip: tuple[np.ndarray, int, np.ndarray],
) -> None:
    _, _, reference = real_clip
    nudged = reference.copy()
    nudged[LOWLEVEL_COLUMNS.index("Chroma_5")] *= 1 + 5 * PARITY_RTOL
    with pytest.raises(AssertionError, match="Chroma_5"):
        assert_parity(nudged, reference)


@pytest.mark.parametrize("sr", [22050, 44100, 96000])
def test_shared_stft_and_tuning_are_librosas_exactly(sr: int) -> None:
    """The shared |STFT| is bit-identical and the tuning estimate identical to librosa's."""
    rng = np.random.default_rng(sr)
    y = (0.2 * rng.standard_normal(sr * 2)).astype(np.float32) + _tone(sr, 2.0, (451.0, 902.0))
    S = magnitude_spectrogram(y)
    np.testing.assert_array_equal(S, np.abs(librosa.stft(y)))
    assert estimate_tuning(S, sr) == librosa.estimate_tuning(y=y, sr=sr, bins_per_octave=36)


@pytest.mark.parametrize("sr", [16000, 22050, 44100, 96000])
def test_small_hop_octaves_by_fast_convolution_equal_the_per_frame_ffts(sr: int) -> None:
    """The blockwise octaves give the per-frame responses, exact zeros and quiet frames too.

    Loud music for 2 s, digital silence for 2 s, then noise 100 dB down for 4 s: frames wholly
    inside the quiet part must be accurate relative to their own level, although their blocks
    also hold loud samples, and frames of digital silence exactly 0.
    """
    rng = np.random.default_rng(sr)
    loud = (0.3 * rng.standard_normal(2 * sr)).astype(np.float32) + _tone(sr, 2.0, (55.0, 220.0))
    quiet = (1e-5 * rng.standard_normal(4 * sr)).astype(np.float32)
    y = np.concatenate([loud, np.zeros(2 * sr, dtype=np.float32), quiet])
    plan = cqt_plan(float(sr), 0.03)
    x = _decimate(y, plan.downsample_factor) if plan.downsample_factor > 1 else y
    octave_sr = sr / plan.downsample_factor
    blockwise = 0
    for octave, kernels in zip(plan.octaves, convolution_kernels(float(sr), 0.03), strict=True):
        assert (kernels is not None) == octave.by_convolution
        if kernels is not None:
            blockwise += 1
            framed = _octave_response(x, octave.hop, octave)
            fast = _octave_response_by_blocks(x, octave, kernels)
            assert fast.shape == framed.shape and fast.dtype == np.complex64
            np.testing.assert_array_equal(fast == 0, framed == 0)
            scale = np.abs(framed).max()
            np.testing.assert_allclose(fast, framed, rtol=0, atol=1e-5 * scale)
            centre = np.arange(framed.shape[1]) * 512 / sr
            half = octave.n_fft / 2 / octave_sr
            gap = x.copy()  # resampling rings into the silence: zero a stretch at this rate
            gap[x.size // 3 : x.size // 3 + 3 * octave.n_fft] = 0.0
            framed_gap = _octave_response(gap, octave.hop, octave)
            fast_gap = _octave_response_by_blocks(gap, octave, kernels)
            assert np.all(framed_gap == 0, axis=0).any()
            np.testing.assert_array_equal(fast_gap == 0, framed_gap == 0)
            inside = (centre - half > 4.05) & (centre + half < 7.95)
            assert inside.any()
            level = np.abs(framed[:, inside]).max()
            assert level < 1e-3 * scale
            np.testing.assert_allclose(fast[:, inside], framed[:, inside], atol=1e-4 * level)
        x = _decimate(x, 2)
        octave_sr /= 2
    assert blockwise >= 2


@pytest.mark.parametrize("sr", [16000, 22050, 48000])
def test_banded_mel_equals_the_dense_filter_bank(sr: int) -> None:
    rng = np.random.default_rng(sr)
    y = (0.3 * rng.standard_normal(sr)).astype(np.float32) + _tone(sr, 1.0, (330.0,))
    S = magnitude_spectrogram(y)
    dense = mel_basis(float(sr)) @ np.square(S)
    banded = mel_power(np.asfortranarray(S), *mel_bands(float(sr)))
    assert banded.dtype == np.float32 and banded.shape == dense.shape
    np.testing.assert_allclose(banded, dense, rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("n", [2048, 2049, 3000, 51711])
def test_zcr_and_rms_framing_match_librosa(n: int) -> None:
    """Edge padding, the 1e-10 zero threshold, -0.0 and sign changes at frame starts."""
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n).astype(np.float32)
    y[[0, -1]] = -1.0
    y[5:12] = [0.0, -0.0, 1e-11, -1e-11, 2e-10, -2e-10, 0.0]
    y[512:1024:2] *= -1
    zcr, rms = frame_features(y)
    assert zcr == pytest.approx(
        librosa.feature.zero_crossing_rate(y, frame_length=2048, hop_length=512).mean(),
        rel=1e-12,
    )
    np.testing.assert_allclose(rms, librosa.feature.rms(y=y)[0], rtol=1e-6)


def _edge_signals() -> dict[str, tuple[np.ndarray, int]]:
    rng = np.random.default_rng(20240601)
    stereo_96k = np.stack([_tone(96000, 1.5, (330.0, 990.0)), _tone(96000, 1.5, (523.25,))])
    saturated = np.clip(4.0 * _tone(44100, 1.5, (220.0,), amplitude=1.0), -1.0, 1.0)
    return {
        "silence": (np.zeros(44100 * 2, dtype=np.float32), 44100),
        "half-second": (_tone(44100, 0.5, (440.0, 660.0)), 44100),
        "96k-stereo-downmixed": (to_mono(stereo_96k), 96000),
        "clipping": (saturated.astype(np.float32), 44100),
        "noise": ((0.3 * rng.standard_normal(44100 * 2)).astype(np.float32), 44100),
        "22k-noise-bursts": (
            (rng.standard_normal(22050 * 2) * (np.arange(44100) % 5000 < 2500)).astype(np.float32),
            22050,
        ),
    }


@pytest.mark.parametrize("name", sorted(_edge_signals()))
def test_parity_on_edge_signals(name: str) -> None:
    y, sr = _edge_signals()[name]
    assert_parity(extract_lowlevel(y, sr), _reference_quietly(y, sr))


def test_silence_is_defined_except_the_original_entropy() -> None:
    y = np.zeros(44100, dtype=np.float32)
    original = lowlevel_dict(y, 44100)
    fixed = lowlevel_dict(y, 44100, compat="fixed")
    # sum(q log10 q) with q = 0 is 0 * -inf = NaN, in HitMusicNet's code as here
    assert np.isnan(original["entropy_energy"])
    assert fixed["entropy_energy"] == 0.0
    assert all(np.isfinite(v) for k, v in original.items() if k != "entropy_energy")
    assert all(np.isfinite(v) for v in fixed.values())
    # dB features sit at the -100 dB floor: MFCC_1 = -100 * sqrt(128), the rest zero
    assert original["MFCC_1"] == pytest.approx(-100.0 * np.sqrt(128.0))
    assert original["MFCC_2"] == pytest.approx(0.0, abs=1e-9)
    for name in ("ZCR", "spectral_centroid", "spectral_bandwith", "spectral_rollOff_max"):
        assert original[name] == 0.0
    assert all(original[f"Chroma_{i}"] == 0.0 for i in range(1, 13))


def test_low_sample_rate_is_refused_like_librosa() -> None:
    y = _tone(8000, 2.0, (440.0,))
    with pytest.raises(librosa.ParameterError):
        _reference_quietly(y, 8000)
    with pytest.raises(AudioError, match="sample rate 8000 Hz"):
        extract_lowlevel(y, 8000)


# --- compat modes ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def music() -> tuple[np.ndarray, int]:
    path = EXAMPLE_AUDIO / CLIPS["flac"]
    if not path.exists():
        pytest.skip(f"{path} not available")
    return load_audio(path, duration=6.0)


def test_fixed_differs_only_where_documented(music: tuple[np.ndarray, int]) -> None:
    y, sr = music
    original = lowlevel_dict(y, sr)
    fixed = lowlevel_dict(y, sr, compat="fixed")
    assert original.keys() == fixed.keys() == set(LOWLEVEL_COLUMNS)
    for name in set(LOWLEVEL_COLUMNS) - ONLY_IN_FIXED:
        assert original[name] == fixed[name], name
    for name in ONLY_IN_FIXED:
        assert original[name] != fixed[name], name


def test_fixed_centroid_is_the_mean_over_all_frames(music: tuple[np.ndarray, int]) -> None:
    y, sr = music
    expected = float(np.mean(librosa.feature.spectral_centroid(y=y, sr=sr)))
    first_frame = float(librosa.feature.spectral_centroid(y=y, sr=sr)[0, 0])
    fixed = lowlevel_dict(y, sr, compat="fixed")["spectral_centroid"]
    original = lowlevel_dict(y, sr)["spectral_centroid"]
    assert fixed == pytest.approx(expected, rel=PARITY_RTOL)
    assert original == pytest.approx(first_frame, rel=PARITY_RTOL)


def test_fixed_entropy_is_a_gain_independent_shannon_entropy(
    music: tuple[np.ndarray, int],
) -> None:
    y, sr = music
    rms = librosa.feature.rms(y=y)[0].astype(np.float64)
    q = np.abs(rms - rms.mean())
    p = q[q > 0] / q.sum()
    expected = -np.sum(p * np.log2(p))
    fixed = lowlevel_dict(y, sr, compat="fixed")["entropy_energy"]
    assert fixed == pytest.approx(expected, rel=1e-6)
    assert 0.0 < fixed <= np.log2(len(rms))
    quieter = lowlevel_dict(0.25 * y, sr, compat="fixed")["entropy_energy"]
    assert quieter == pytest.approx(fixed, rel=1e-5)
    # the original is not gain-independent
    assert lowlevel_dict(0.25 * y, sr)["entropy_energy"] != pytest.approx(
        lowlevel_dict(y, sr)["entropy_energy"], rel=1e-2
    )


def test_output_is_float64_in_column_order(music: tuple[np.ndarray, int]) -> None:
    y, sr = music
    values = extract_lowlevel(y, sr)
    by_name = lowlevel_dict(y, sr)
    assert values.dtype == np.float64 and values.shape == (207,)
    np.testing.assert_array_equal(values, [by_name[n] for n in LOWLEVEL_COLUMNS])


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "reason"),
    [
        (np.zeros(MIN_SAMPLES - 1, dtype=np.float32), "shorter than one"),
        (np.zeros(0, dtype=np.float32), "shorter than one"),
        (np.zeros((2, 44100), dtype=np.float32), "mono"),
        (np.r_[np.zeros(4000), np.nan, np.zeros(4000)].astype(np.float32), "NaN"),
        (np.r_[np.zeros(4000), np.inf, np.zeros(4000)].astype(np.float32), "NaN or infinite"),
    ],
    ids=["short", "empty", "stereo", "nan", "inf"],
)
def test_bad_signals_raise_audio_error(y: np.ndarray, reason: str) -> None:
    with pytest.raises(AudioError, match=reason):
        extract_lowlevel(y, 44100)


def test_unknown_compat_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="compat"):
        extract_lowlevel(np.zeros(4096, dtype=np.float32), 44100, compat="hitmusicnet")
