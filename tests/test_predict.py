import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from click.testing import CliRunner

from autoenchorder.audio.embed.base import Embedder, Embedding, register_embedder
from autoenchorder.audio.io import audio_info, discover_audio, load_audio
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.bundle import save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.metrics import BAND_NAMES, popularity_band
from autoenchorder.models import make_model
from autoenchorder.predict import Predictor, analysis_windows
from conftest import make_tone

EMBEDDER = "test-band-energy"
BANDS = 6


class BandEnergyEmbedder(Embedder):
    """A tiny stand-in embedder: log energy in 6 frequency bands per 1 s frame (no weights)."""

    name = EMBEDDER
    version = "test"
    sample_rate = 0  # native rate
    window_seconds = 1.0
    hop_seconds = 1.0
    dim = BANDS

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        n = int(sr * self.window_seconds)
        count = max(1, len(y) // n)
        frames = np.zeros((count, BANDS), dtype=np.float32)
        for t in range(count):
            spectrum = np.abs(np.fft.rfft(y[t * n : (t + 1) * n])) ** 2
            frames[t] = [np.log1p(b.sum()) for b in np.array_split(spectrum, BANDS)]
        return Embedding(frames, np.arange(count) * self.hop_seconds)


register_embedder(EMBEDDER)(BandEnergyEmbedder)


def _training_set(n: int, seed: int, *, sequences: bool) -> PopularityDataset:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(LOWLEVEL_COLUMNS)))
    seqs = [
        rng.normal(3, 1, (int(rng.integers(4, 12)), BANDS)).astype(np.float32) for _ in range(n)
    ]
    level = np.array([s[:, 0].mean() for s in seqs])
    return PopularityDataset(
        ids=[f"s{i}" for i in range(n)],
        y=np.clip(45 + 8 * x[:, 0] + 10 * (level - 3), 0, 100),
        tabular=pd.DataFrame(x, columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
        sequences=seqs if sequences else None,
    )


SPEC = {"columns": {"lowlevel": list(LOWLEVEL_COLUMNS)}}
SEQ_SPEC = {**SPEC, "embedder": {"name": EMBEDDER, "version": "test"}, "sequence_dim": BANDS}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    fast = {"ae_epochs": 2, "epochs": 3, "quiet": True}
    hmn = make_model("hitmusicnet", groups=("lowlevel",), **fast).fit(
        _training_set(80, 0, sequences=False)
    )
    save_bundle(hmn, root / "hmn", feature_spec=SPEC)
    for seed in (0, 1):
        # without dropout: a single bundle of these has no MC-dropout uncertainty
        model = make_model("autoenchorder", seed=seed, n_layers=3, dropout=0.0, **fast)
        model.fit(_training_set(80, 1, sequences=True))
        save_bundle(model, root / "ensemble" / f"seed{seed}", feature_spec=SEQ_SPEC)
    return root


@pytest.fixture(scope="module")
def sequence_predictor(bundles):
    return Predictor.load(bundles / "ensemble" / "seed0")


def _real_clips(example_audio):
    return sorted(p for p in discover_audio(example_audio))


@pytest.mark.parametrize("suffix", [".ogg", ".mp3", ".wav", ".flac"])
def test_predict_real_clips_of_every_format(example_audio, sequence_predictor, suffix):
    (path,) = [p for p in _real_clips(example_audio) if p.suffix == suffix]
    result = sequence_predictor.predict(path)
    duration = audio_info(path).duration
    assert 0.0 <= result.popularity <= 100.0
    assert result.band == BAND_NAMES[popularity_band(np.array([result.popularity]))[0]]
    assert result.duration == pytest.approx(duration)
    assert len(result.windows) == 1 and result.window_sd == 0.0
    # one occlusion value per 1 s frame of the stand-in embedder, inside the clip
    assert len(result.contributions) == int(duration)
    starts = [c["start"] for c in result.contributions]
    assert (
        starts == sorted(starts)
        and starts[0] == 0.0
        and result.contributions[-1]["end"] <= duration
    )
    assert result.uncertainty_method == "none"  # one bundle without dropout


def test_contributions_are_occlusion_differences(example_audio, sequence_predictor, bundles):
    from autoenchorder.bundle import load_bundle

    path = _real_clips(example_audio)[0]
    result = sequence_predictor.predict(path)
    model = load_bundle(bundles / "ensemble" / "seed0")
    y, sr = load_audio(path)
    frames = BandEnergyEmbedder().embed(y, sr).frames
    features = sequence_predictor.input_dataset([sequence_predictor.processor.decode(path)]).tabular
    for t in (0, len(frames) - 1):
        occluded = frames.copy()
        occluded[t] = frames.mean(axis=0)
        both = PopularityDataset(
            ids=["orig", "occl"],
            y=np.zeros(2),
            tabular=pd.concat([features, features], ignore_index=True),
            column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
            sequences=[frames, occluded],
        )
        original, without = model.predict(both)
        assert result.popularity == pytest.approx(original, abs=1e-6)
        assert result.contributions[t]["contribution"] == pytest.approx(
            original - without, abs=1e-6
        )


def test_ensemble_uncertainty_is_the_spread_of_its_members(example_audio, bundles):
    path = _real_clips(example_audio)[1]
    ensemble = Predictor.load(bundles / "ensemble").predict(path)
    members = [
        Predictor.load(bundles / "ensemble" / f"seed{s}").predict(path).popularity for s in (0, 1)
    ]
    assert ensemble.uncertainty_method == "ensemble of 2 bundles"
    assert ensemble.popularity == pytest.approx(np.mean(members))
    assert ensemble.uncertainty == pytest.approx(np.std(members, ddof=1))


def test_mc_dropout_uncertainty(example_audio, bundles):
    path = _real_clips(example_audio)[2]
    first = Predictor.load(bundles / "hmn", mc_passes=20).predict(path)
    again = Predictor.load(bundles / "hmn", mc_passes=20).predict(path)
    assert first.uncertainty_method == "MC dropout, 20 passes"
    assert np.isfinite(first.uncertainty) and first.uncertainty > 0
    assert first.uncertainty == again.uncertainty  # seeded passes
    assert first.popularity == again.popularity  # dropout is off for the prediction itself
    assert first.contributions == []  # no sequence part
    off = Predictor.load(bundles / "hmn", mc_passes=0).predict(path)
    assert off.uncertainty_method == "none" and off.popularity == first.popularity


def test_folder_with_bad_files_scores_the_good_ones(tmp_path, sequence_predictor):
    sf.write(tmp_path / "good.wav", make_tone(6.0, 22050), 22050)
    sf.write(tmp_path / "good.flac", make_tone(4.0, 44100, seed=1, channels=2), 44100)
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "corrupt.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    (tmp_path / "notes.txt").write_text("not audio, not even listed")
    sf.write(tmp_path / "silent.wav", np.zeros(22050 * 3, dtype=np.float32), 22050)
    predictions, failures = sequence_predictor.predict_many([tmp_path, tmp_path / "missing.wav"])
    assert sorted(Path(p.path).name for p in predictions) == ["good.flac", "good.wav"]
    reasons = {Path(f.path).name: f.reason for f in failures}
    assert set(reasons) == {"empty.mp3", "corrupt.ogg", "silent.wav", "missing.wav"}
    assert "empty" in reasons["empty.mp3"] and "no such file" in reasons["missing.wav"]


@pytest.fixture(scope="module")
def long_song(tmp_path_factory):
    """A 150 s song, written in 15 s pieces (the test never holds it whole either)."""
    sr = 16000
    path = tmp_path_factory.mktemp("long") / "long.flac"
    with sf.SoundFile(path, "w", samplerate=sr, channels=1) as f:
        for k in range(10):
            f.write(make_tone(15.0, sr, seed=k, freqs=(220.0 * (1 + k / 10), 330.0)))
    return path


def _model_on(model, path, *, offset: float = 0.0, duration: float | None = None) -> float:
    """The model's prediction from features computed here, independently of the Predictor."""
    from autoenchorder.audio.lowlevel import extract_lowlevel

    y, sr = load_audio(path, offset=offset, duration=duration)
    ds = PopularityDataset(
        ids=["x"],
        y=np.zeros(1),
        tabular=pd.DataFrame([extract_lowlevel(y, sr)], columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
        sequences=[BandEnergyEmbedder().embed(y, sr).frames],
    )
    return float(model.predict(ds)[0])


def test_whole_file_model_scores_the_whole_song_and_shows_windows(long_song, sequence_predictor):
    result = sequence_predictor.predict(long_song)
    assert result.duration == pytest.approx(150.0)
    assert result.input == "whole file"  # the bundle records no input: the whole file
    # the headline is the model on the whole song, as extract computes its training features
    model = sequence_predictor.models[0]
    assert result.popularity == pytest.approx(_model_on(model, long_song), abs=1e-4)
    # the windows are a timeline view, each window scored on its own
    assert [(w["start"], w["end"]) for w in result.windows] == [
        (0.0, 30.0),
        (60.0, 90.0),
        (120.0, 150.0),
    ]
    middle = _model_on(model, long_song, offset=60.0, duration=30.0)
    assert result.windows[1]["popularity"] == pytest.approx(middle, abs=1e-4)
    assert result.window_sd == pytest.approx(np.std([w["popularity"] for w in result.windows]))
    # one occlusion value per 1 s frame of the whole song
    assert len(result.contributions) == 150
    assert result.contributions[-1]["end"] == pytest.approx(150.0)


def test_window_model_scores_its_window(long_song, bundles):
    from autoenchorder.bundle import load_bundle

    model = load_bundle(bundles / "ensemble" / "seed0")
    window = {"kind": "window", "seconds": 30.0, "offset": 100.0}
    result = Predictor([model], feature_spec={**SEQ_SPEC, "audio_input": window}).predict(long_song)
    assert result.input == "30 s window at 100 s"
    expected = _model_on(model, long_song, offset=100.0, duration=30.0)
    assert result.popularity == pytest.approx(expected, abs=1e-4)
    # the occlusion contributions are those of the window, placed in the song
    assert len(result.contributions) == 30
    assert result.contributions[0]["start"] == 100.0
    assert result.contributions[-1]["end"] == pytest.approx(130.0)
    # a window that would run past the end ends at the end
    late = {"kind": "window", "seconds": 30.0, "offset": 140.0}
    moved = Predictor([model], feature_spec={**SEQ_SPEC, "audio_input": late}, max_windows=0)
    expected = _model_on(model, long_song, offset=120.0, duration=30.0)
    assert moved.predict(long_song).popularity == pytest.approx(expected, abs=1e-4)


def test_preview_model_averages_windows_spread_over_the_song(long_song, bundles):
    from autoenchorder.bundle import load_bundle

    model = load_bundle(bundles / "ensemble" / "seed0")
    preview = {"kind": "window", "seconds": 30.0, "offset": None}  # SpotGenTrack's previews
    result = Predictor(
        [model], feature_spec={**SEQ_SPEC, "audio_input": preview}, contributions=False
    ).predict(long_song)
    assert result.input == "30 s window at an unknown position"
    assert len(result.windows) == 3
    assert result.popularity == pytest.approx(np.mean([w["popularity"] for w in result.windows]))


def test_classification_bundle_reports_the_class_and_its_probabilities(example_audio, tmp_path):
    names = ["low", "medium", "high"]
    regression = _training_set(80, 0, sequences=False)
    ds = PopularityDataset(
        ids=regression.ids,
        y=np.searchsorted([25.0, 65.0], regression.y, side="right"),
        tabular=regression.tabular,
        column_groups=regression.column_groups,
        task="classification",
        class_names=names,
    )
    model = make_model("hitmusicnet", groups=("lowlevel",), ae_epochs=2, epochs=3, quiet=True)
    save_bundle(model.fit(ds), tmp_path / "c", feature_spec={**SPEC, "class_names": names})
    predictor = Predictor.load(tmp_path / "c")
    path = _real_clips(example_audio)[0]
    result = predictor.predict(path)
    inputs = predictor.input_dataset([predictor.processor.decode(path)])
    loaded = predictor.models[0]
    # scikit-learn's contract: predict_proba gives the probabilities, predict the label
    probabilities = loaded.predict_proba(inputs)[0]
    assert result.class_probabilities == pytest.approx(dict(zip(names, probabilities, strict=True)))
    assert result.band == names[int(loaded.predict(inputs)[0])]
    assert np.isnan(result.popularity)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        (12.0, [(0.0, 12.0)]),
        (30.0, [(0.0, 30.0)]),
        (33.0, [(1.5, 30.0)]),  # the tail is too short for a second window: the middle 30 s
        (40.0, [(0.0, 30.0), (10.0, 30.0)]),
        (240.0, [(0.0, 30.0), (105.0, 30.0), (210.0, 30.0)]),
    ],
)
def test_analysis_windows(duration, expected):
    assert analysis_windows(duration, max_windows=3) == expected


def test_bundle_needing_non_audio_inputs_is_refused():
    class DescriptorModel:
        required_parts = ("descriptors", "metadata")
        task_ = "regression"

    with pytest.raises(ModelError, match="descriptors, metadata.*cannot be computed from audio"):
        Predictor([DescriptorModel()])


def test_predict_command_outputs(example_audio, bundles, tmp_path):
    from autoenchorder.commands.predict import command

    runner = CliRunner()
    model = str(bundles / "ensemble" / "seed0")
    result = runner.invoke(
        command, [str(example_audio), str(tmp_path / "nope.wav"), "--model", model, "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert len(doc["predictions"]) == 4 and doc["failures"][0]["path"].endswith("nope.wav")
    one = str(_real_clips(example_audio)[0])
    table = runner.invoke(command, [one, "--model", model, "--no-contributions"])
    assert table.exit_code == 0 and "popularity" in table.output
    csv_out = runner.invoke(command, [one, "--model", model, "--csv", "--no-contributions"])
    lines = csv_out.stdout.splitlines()
    assert lines[0].startswith("path,popularity,band,uncertainty") and len(lines) == 2
    none = runner.invoke(command, [str(tmp_path / "nope.wav"), "--model", model])
    assert none.exit_code == 1


def test_predict_with_the_real_musicnn_embedder(example_audio, tmp_path):
    from autoenchorder.errors import WeightsError

    try:
        from autoenchorder.audio.embed import get_embedder

        get_embedder("musicnn-msd")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights not set up: {exc}")
    rng = np.random.default_rng(3)
    ds = _training_set(60, 3, sequences=False).with_sequences(
        [rng.normal(size=(int(rng.integers(3, 10)), 200)).astype(np.float32) for _ in range(60)]
    )
    model = make_model("autoenchorder", ae_epochs=1, epochs=1, n_layers=3, quiet=True).fit(ds)
    save_bundle(model, tmp_path / "b", feature_spec={**SPEC, "embedder": {"name": "musicnn-msd"}})
    path = [p for p in _real_clips(example_audio) if p.suffix == ".wav"][0]  # 12 s
    result = Predictor.load(tmp_path / "b").predict(path)
    assert 0 <= result.popularity <= 100
    assert len(result.contributions) == 4  # musicnn: 3 s patches, the last one padded


@pytest.mark.parametrize(
    ("values", "expected"),
    [([-1.0, 2.14, 0.5], "1:15 (+2.1)"), ([-1.0, -0.2, -3.0], "—"), ([], "—")],
)
def test_strongest_moment(values, expected):
    from autoenchorder.predict import SongPrediction
    from autoenchorder.terminal import strongest_moment

    starts = [0.0, 75.0, 150.0]
    contributions = [
        {"start": s, "end": s + 3.0, "contribution": v}
        for s, v in zip(starts, values, strict=False)
    ]
    prediction = SongPrediction(
        "x.mp3", 50.0, "mid", 1.0, "none", 180.0, contributions=contributions
    )
    assert strongest_moment(prediction) == expected


def test_timeline_windows_reuse_the_whole_songs_frames(long_song, sequence_predictor, monkeypatch):
    """The embedder runs once for a whole-file model: the windows slice the song's frames."""
    processor = sequence_predictor.processor
    embedded = []
    original = processor.embed

    def counting(audio):
        embedded.append((audio.start, audio.length))
        return original(audio)

    monkeypatch.setattr(processor, "embed", counting)
    result = sequence_predictor.predict(long_song)
    assert embedded == [(0.0, pytest.approx(150.0))]
    # the frames of a window are those of the whole song inside it: the same score as the
    # window embedded on its own (this embedder's 1 s grid is the same in both)
    middle = _model_on(sequence_predictor.models[0], long_song, offset=60.0, duration=30.0)
    assert result.windows[1]["popularity"] == pytest.approx(middle, abs=1e-4)


def test_frames_within_keeps_whole_windows_inside_the_span():
    from autoenchorder.audio.embed.base import Embedding
    from autoenchorder.predict.inputs import frames_within

    song = Embedding(np.arange(20, dtype=np.float32)[:, None], np.arange(20) * 3.0)
    part = frames_within(song, 31.0, 12.0, window_seconds=3.0)  # windows at 33, 36, 39 s
    assert part.frames[:, 0].tolist() == [11.0, 12.0, 13.0]
    assert part.times.tolist() == [2.0, 5.0, 8.0]
    assert frames_within(song, 31.0, 2.0, window_seconds=3.0) is None


def test_scoring_side_by_side_equals_one_after_another(long_song, bundles):
    """Two threads (spans' features and embedder batches side by side) score as one does."""
    one = Predictor.load(bundles / "ensemble", threads=1).predict(long_song)
    two = Predictor.load(bundles / "ensemble", threads=2).predict(long_song)
    assert two.popularity == pytest.approx(one.popularity, abs=1e-4)
    assert [w["popularity"] for w in two.windows] == pytest.approx(
        [w["popularity"] for w in one.windows], abs=1e-4
    )
    assert [c["contribution"] for c in two.contributions] == pytest.approx(
        [c["contribution"] for c in one.contributions], abs=1e-4
    )


class _RefusingEmbedder(BandEnergyEmbedder):
    name = "test-refusing"

    def embed(self, y: np.ndarray, sr: int) -> Embedding:
        from autoenchorder.errors import AudioError

        raise AudioError(None, "the embedder refuses")


@pytest.mark.parametrize("threads", [1, 2])
def test_a_features_error_comes_first_side_by_side_too(tmp_path, bundles, threads):
    """A file too short for the features names that reason, however many threads score it."""
    from autoenchorder.errors import AudioError

    path = tmp_path / "blip.wav"
    sf.write(path, make_tone(0.05, 16000), 16000)
    predictor = Predictor.load(
        bundles / "ensemble" / "seed0", embedder=_RefusingEmbedder(), threads=threads
    )
    with pytest.raises(AudioError, match="shorter than one 2048-sample analysis frame"):
        predictor.predict(path)
