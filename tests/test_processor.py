"""The audio processor: which part of a file a model reads, decoded the same way for everyone."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from autoenchorder.audio.io import load_audio
from autoenchorder.audio.processor import (
    SPOTIFY_PREVIEW,
    WHOLE_FILE,
    AudioProcessor,
    InputSpec,
)
from autoenchorder.errors import AudioError, DataError
from conftest import make_tone


@pytest.mark.parametrize(
    ("spec", "duration", "expected"),
    [
        (WHOLE_FILE, 183.0, [(0.0, 183.0)]),
        (InputSpec(30.0, 60.0), 183.0, [(60.0, 30.0)]),
        (InputSpec(30.0, 170.0), 183.0, [(153.0, 30.0)]),  # moved back to end at the end
        (InputSpec(30.0, 60.0), 12.0, [(0.0, 12.0)]),  # shorter than the window: whole
        (SPOTIFY_PREVIEW, 240.0, [(0.0, 30.0), (105.0, 30.0), (210.0, 30.0)]),
        (SPOTIFY_PREVIEW, 20.0, [(0.0, 20.0)]),
    ],
)
def test_spans(spec, duration, expected):
    assert spec.spans(duration, max_windows=3) == expected


@pytest.mark.parametrize("spec", [WHOLE_FILE, InputSpec(30.0, 12.5), SPOTIFY_PREVIEW])
def test_spec_round_trips_through_json(spec):
    assert InputSpec.from_dict(spec.to_dict()) == spec


def test_no_record_means_the_whole_file_and_bad_records_are_refused():
    assert InputSpec.from_dict(None) == WHOLE_FILE
    with pytest.raises(DataError, match="unknown audio input kind"):
        InputSpec.from_dict({"kind": "chorus"})
    with pytest.raises(DataError, match="longer than 0"):
        InputSpec(0.0)


@pytest.fixture
def stereo(tmp_path):
    path = tmp_path / "stereo.flac"
    y = make_tone(6.0, 22050, channels=2)
    y[:, 1] *= 0.5  # unequal channels, so the downmix matters
    sf.write(path, y, 22050)
    return path


def test_decode_is_the_mono_file_or_its_window(stereo):
    whole = AudioProcessor().decode(stereo)
    y, sr = load_audio(stereo)
    np.testing.assert_array_equal(whole.samples, y)
    assert (whole.channels, whole.sample_rate, whole.duration) == (2, sr, pytest.approx(6.0))
    assert whole.whole_file
    window = AudioProcessor(InputSpec(2.0, 1.5)).decode(stereo)
    np.testing.assert_array_equal(window.samples, load_audio(stereo, offset=1.5, duration=2.0)[0])
    assert (window.start, window.length, window.duration) == (1.5, 2.0, pytest.approx(6.0))
    assert not window.whole_file


def test_a_signal_in_memory_gives_the_same_features_as_its_file(stereo):
    y, sr = load_audio(stereo)
    processor = AudioProcessor(InputSpec(2.0, 1.5))
    from_file = processor.lowlevel(processor.decode(stereo))
    from_memory = processor.lowlevel(processor.from_signal(y, sr))
    np.testing.assert_allclose(from_memory, from_file, rtol=1e-6)


def test_errors_name_the_file(tmp_path):
    short = tmp_path / "short.wav"
    sf.write(short, make_tone(0.05, 8000), 8000)
    processor = AudioProcessor()
    with pytest.raises(AudioError, match="short.wav"):
        processor.lowlevel(processor.decode(short))
