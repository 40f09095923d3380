"""The procedural corpus: determinism, the documented popularity formula, music-like audio,
order effects invisible to time averages, mixed formats, resuming."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from autoenchorder.audio.io import load_audio
from autoenchorder.cli import main
from autoenchorder.data.procedural import (
    CorpusConfig,
    popularity_decomposition,
    render_song,
    sample_songs,
    write_corpus,
)
from autoenchorder.data.procedural.popularity import temporal_features, variance_report
from autoenchorder.data.sources.procedural import load_procedural
from autoenchorder.errors import DataError

SR = 22050
FORMATS = ("wav", "flac", "ogg", "mp3")
TINY = CorpusConfig(n=4, seed=3, min_duration=5.0, max_duration=8.0, formats=FORMATS)


# ---------------------------------------------------------------- the formula, from the doc
# Written out from docs/procedural-corpus.md (not imported from the package).
DOC_GENRE = {"synthpop": 4.0, "dance": 2.0, "rock": 0.0, "funk": 1.0, "lofi": -4.0, "ballad": -3.0}


def doc_popularity(song: dict) -> float:
    tempo_term = -min(((song["tempo"] - 120.0) / 22.0) ** 2, 4.0)
    song_level = (
        2.1 * tempo_term
        + 3.4 * (song["mode"] == "major")
        + 18.0 * (song["brightness"] - 0.5)
        + 15.0 * (song["regularity"] - 0.5)
        + 0.75 * (song["loudness_db"] + 14.0)
    )
    sections = song["sections"]
    seconds = song["patches_per_section"] * 187 * 256 / 16000  # musicnn patches of 2.992 s
    intro = int(sections[0] == "intro")
    outro = int(len(sections) > 1 and sections[-1] == "outro")
    body = sections[intro : len(sections) - outro]
    m, c, b = len(body), body.count("chorus"), body.count("build")
    first = seconds * (intro + body.index("chorus"))
    expected_first = seconds * (intro + (m - c) / (c + 1))
    into = sum(body[i] == "build" and body[i + 1] == "chorus" for i in range(m - 1))
    runs = sum(body[i] == "chorus" and (i == 0 or body[i - 1] != "chorus") for i in range(m))
    temporal = (
        2.4 * (expected_first - first)
        + 17.0 * (into - b * c / m)
        + 12.0 * ((runs - 1) - (c * (m - c + 1) / m - 1))
    )
    total = (
        36.6
        + song_level
        + DOC_GENRE[song["style"]]
        + 2.0 * song["artist_effect"]
        + temporal
        + 6.5 * song["noise"]
    )
    return min(100.0, max(0.0, total))


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    write_corpus(TINY, out)
    return out


@pytest.fixture(scope="module")
def many_specs():
    # Songs cluster by artist (3-14 songs each), so the mean of a few hundred songs still
    # wanders by +-2 points; 2,000 parameter draws (no rendering) take about a second.
    return sample_songs(CorpusConfig(n=2000, seed=21))


def test_labels_follow_the_documented_formula(tiny_corpus: Path) -> None:
    truth = json.loads((tiny_corpus / "truth.json").read_text())
    with open(tiny_corpus / "labels.csv", newline="") as f:
        labels = {row["id"]: row for row in csv.DictReader(f)}
    assert len(labels) == len(truth["songs"]) == TINY.n
    for song in truth["songs"]:
        assert float(labels[song["id"]]["popularity"]) == pytest.approx(
            doc_popularity(song), abs=1e-3
        )
        assert labels[song["id"]]["artist"] == song["artist"]


def test_sampled_popularity_follows_the_formula_and_spotify_scale(many_specs) -> None:
    y = np.array([doc_popularity(s.to_dict()) for s in many_specs])
    ours = np.array([popularity_decomposition(s)["popularity"] for s in many_specs])
    np.testing.assert_allclose(ours, y, atol=1e-9)
    assert 37.5 < y.mean() < 42.5
    assert 15.0 < y.std() < 19.0
    assert y.min() >= 0 and y.max() <= 100


def test_variance_report_has_a_high_ceiling_and_a_substantial_temporal_share(many_specs) -> None:
    report = variance_report([popularity_decomposition(s) for s in many_specs])
    assert 0.78 < report["oracle_r2"] < 0.92
    assert 0.28 < report["temporal_share"] < 0.55
    # the analytic ceiling agrees with the empirical one (little clipping)
    assert report["oracle_r2_analytic"] == pytest.approx(report["oracle_r2"], abs=0.03)


@pytest.mark.parametrize(
    "body",
    [
        ["chorus", "verse", "build", "chorus"],
        ["verse", "build", "chorus", "bridge", "chorus", "verse"],
        ["build", "chorus"],
        ["chorus", "chorus", "verse"],
    ],
)
@pytest.mark.parametrize("intro", [False, True])
def test_temporal_expectations_match_brute_force_over_all_orders(body, intro) -> None:
    orders = list(itertools.permutations(body))
    measured = [temporal_features((["intro"] if intro else []) + list(o), 4.0) for o in orders]
    expected = measured[0]
    assert np.mean([m.first_chorus_seconds for m in measured]) == pytest.approx(
        expected.expected_first_chorus_seconds
    )
    assert np.mean([m.builds_into_chorus for m in measured]) == pytest.approx(
        expected.expected_builds_into_chorus
    )
    assert np.mean([m.chorus_returns for m in measured]) == pytest.approx(
        expected.expected_chorus_returns
    )


def test_sampling_is_deterministic_and_does_not_depend_on_corpus_size() -> None:
    a = sample_songs(CorpusConfig(n=30, seed=7))
    b = sample_songs(CorpusConfig(n=30, seed=7))
    c = sample_songs(CorpusConfig(n=12, seed=7))
    d = sample_songs(CorpusConfig(n=12, seed=8))
    assert [s.to_dict() for s in a] == [s.to_dict() for s in b]
    assert [s.to_dict() for s in a[:12]] == [s.to_dict() for s in c]
    assert [s.to_dict() for s in c] != [s.to_dict() for s in d]
    assert len({s.artist for s in a}) < len(a)  # artists have several songs


def test_rendering_is_deterministic() -> None:
    spec = sample_songs(CorpusConfig(n=2, seed=5, min_duration=6, max_duration=9))[1]
    np.testing.assert_array_equal(render_song(spec), render_song(spec))


def _body_reordered(spec):
    """A spec whose body sections are reordered so that the popularity changes."""
    sections = spec.sections
    intro = int(sections[0] == "intro")
    outro = int(len(sections) > 1 and sections[-1] == "outro")
    body = sections[intro : len(sections) - outro]
    base = popularity_decomposition(spec)["popularity"]
    for order in itertools.permutations(body):
        other = dataclasses.replace(
            spec, sections=sections[:intro] + list(order) + sections[len(sections) - outro :]
        )
        if abs(popularity_decomposition(other)["popularity"] - base) > 5.0:
            return other
    return None


def test_section_order_changes_popularity_but_not_time_averaged_features() -> None:
    lowlevel = pytest.importorskip("autoenchorder.audio.lowlevel")
    specs = sample_songs(CorpusConfig(n=40, seed=12, min_duration=14, max_duration=18))
    spec = next(s for s in specs if len(set(s.sections)) >= 3 and _body_reordered(s) is not None)
    other = _body_reordered(spec)
    control = next(s for s in specs if s.artist != spec.artist)

    features = [lowlevel.extract_lowlevel(render_song(s), SR) for s in (spec, other, control)]

    def relative(a, b):
        return np.abs(a - b) / np.maximum((np.abs(a) + np.abs(b)) / 2, 1e-9)

    same_sections = relative(features[0], features[1])
    different_song = relative(features[0], features[2])
    assert np.median(same_sections) < 0.01
    assert np.mean(same_sections < 0.03) > 0.75
    assert np.mean(different_song < 0.03) < 0.4  # the comparison can tell songs apart
    pops = [popularity_decomposition(s)["popularity"] for s in (spec, other)]
    assert abs(pops[0] - pops[1]) > 5.0


@pytest.mark.parametrize("index", [0, 5, 9])
def test_audio_is_music_like(index: int) -> None:
    librosa = pytest.importorskip("librosa")
    spec = sample_songs(CorpusConfig(n=10, seed=31, min_duration=10, max_duration=12))[index]
    y = render_song(spec)
    assert y.dtype == np.float32
    assert np.max(np.abs(y)) <= 10 ** (-1 / 20) + 1e-6  # the limiter's ceiling, -1 dBFS
    level = 20 * np.log10(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    assert spec.loudness_db - 1.5 < level < spec.loudness_db + 0.5
    assert y.size / SR == pytest.approx(spec.duration + 0.3, abs=0.05)
    # tonal, not noise: white noise has a flatness near 0.5
    flatness = librosa.feature.spectral_flatness(y=y)
    assert np.median(flatness) < 0.02
    rng = np.random.default_rng(0)
    assert np.median(librosa.feature.spectral_flatness(y=rng.uniform(-1, 1, y.size))) > 0.3
    # a steady beat at the chosen tempo (or its double / half)
    tempo, _ = librosa.beat.beat_track(y=y, sr=SR)
    tempo = float(np.atleast_1d(tempo)[0])
    assert min(abs(tempo / (spec.tempo * k) - 1) for k in (0.5, 1, 2)) < 0.06


@pytest.mark.parametrize("fmt", FORMATS)
def test_mixed_formats_decode(tiny_corpus: Path, fmt: str) -> None:
    truth = json.loads((tiny_corpus / "truth.json").read_text())
    song = next(s for s in truth["songs"] if s["audio_format"] == fmt)
    path = tiny_corpus / song["path"]
    assert path.suffix == f".{fmt}"
    y, sr = load_audio(path)
    assert sr == SR
    assert abs(y.size / sr - (song["duration"] + 0.3)) < 0.1  # codecs may pad a few frames
    reference = render_song(sample_songs(TINY)[song["index"]])
    if fmt in ("wav", "flac"):
        np.testing.assert_allclose(y, reference, atol=1.5 / 32768)
    else:
        n = min(y.size, reference.size)
        lag = int(np.argmax(np.correlate(y[2048:6144], reference[2048:4096], mode="valid")))
        aligned = y[lag : lag + n - 4096]
        assert np.corrcoef(aligned[: n - 8192], reference[: n - 8192])[0, 1] > 0.9


def _snapshot(folder: Path) -> dict[str, object]:
    out = {}
    for path in sorted((folder / "audio").iterdir()):
        if path.suffix in (".wav", ".flac"):
            out[path.name] = path.read_bytes()
        else:  # Ogg streams carry a random serial number: compare the decoded samples
            out[path.name] = load_audio(path)[0].tobytes()
    out["labels.csv"] = (folder / "labels.csv").read_bytes()
    return out


def test_workers_do_not_change_the_corpus(tiny_corpus: Path, tmp_path: Path) -> None:
    write_corpus(TINY, tmp_path, workers=2)
    assert _snapshot(tmp_path) == _snapshot(tiny_corpus)


def test_corpus_make_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    args = [
        "corpus",
        "make",
        "--n",
        "3",
        "--seed",
        "4",
        "--out",
        str(tmp_path),
        "--quiet",
        "--min-duration",
        "4",
        "--max-duration",
        "6",
        "--formats",
        "flac,wav",
    ]
    assert main(args) == 0
    first = _snapshot(tmp_path)
    victim = next((tmp_path / "audio").iterdir())
    victim.unlink()
    summary = write_corpus(
        CorpusConfig(n=3, seed=4, min_duration=4, max_duration=6, formats=("flac", "wav")), tmp_path
    )
    assert (summary.rendered, summary.skipped) == (1, 2)
    assert _snapshot(tmp_path) == first
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    grown = write_corpus(
        CorpusConfig(n=4, seed=4, min_duration=4, max_duration=6, formats=("flac", "wav")), tmp_path
    )
    assert (grown.rendered, grown.skipped) == (1, 3)
    with pytest.raises(DataError, match="seed"):
        write_corpus(CorpusConfig(n=3, seed=5, min_duration=4, max_duration=6), tmp_path)


def test_load_procedural_labels_and_truth(tiny_corpus: Path) -> None:
    ds = load_procedural(tiny_corpus, include_truth=True)
    truth = json.loads((tiny_corpus / "truth.json").read_text())
    assert list(ds.ids) == [s["id"] for s in truth["songs"]]
    np.testing.assert_allclose(ds.y, [doc_popularity(s) for s in truth["songs"]], atol=1e-3)
    assert list(ds.artist) == [s["artist"] for s in truth["songs"]]
    tempo = ds.features(["truth"])[:, ds.feature_names(["truth"]).index("tempo")]
    np.testing.assert_allclose(tempo, [s["tempo"] for s in truth["songs"]])
    assert ds.info["corpus"]["config"]["seed"] == TINY.seed
    assert math.isfinite(ds.info["corpus"]["report"]["oracle_r2"])


def test_load_procedural_joins_a_feature_store(tiny_corpus: Path, tmp_path: Path) -> None:
    extract = pytest.importorskip("autoenchorder.data.extract")
    extract.extract_corpus(tiny_corpus / "audio", tmp_path / "store", progress=False)
    ds = load_procedural(tiny_corpus, tmp_path / "store")
    assert len(ds) == TINY.n
    assert ds.features(["lowlevel"]).shape == (TINY.n, 207)
    assert ds.info["join_losses"][0]["matched"] == TINY.n


def test_missing_truth_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="truth.json"):
        load_procedural(tmp_path)


def test_a_format_libsndfile_cannot_write_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soundfile as sf

    real = sf.available_subtypes
    monkeypatch.setattr(
        sf, "available_subtypes", lambda fmt=None: {} if fmt == "MP3" else real(fmt)
    )
    config = CorpusConfig(n=2, seed=1, min_duration=4, max_duration=6, formats=("wav", "mp3"))
    with pytest.raises(DataError, match="cannot write mp3"):
        write_corpus(config, tmp_path)
    assert not (tmp_path / "audio").exists()


@pytest.mark.parametrize(("lo", "hi", "patches"), [(10, 30, 2), (4, 8, 1)])
def test_sections_fill_whole_musicnn_patches_and_whole_beats(lo, hi, patches) -> None:
    patch = 187 * 256 / 16000  # musicnn: 187 mel frames, hop 256, at 16 kHz
    for spec in sample_songs(CorpusConfig(n=60, seed=9, min_duration=lo, max_duration=hi)):
        assert spec.patches_per_section == patches
        assert spec.section_seconds == pytest.approx(patches * patch)
        beats = spec.tempo * spec.section_seconds / 60
        assert beats == pytest.approx(round(beats)) and round(beats) == spec.beats_per_section
        assert lo - 1e-6 <= spec.duration <= hi + 1e-6


def _limit_by_numpy(y: np.ndarray, ceiling: float, block: int) -> np.ndarray:
    """The limiter written with whole-array numpy operations (its first implementation)."""
    n_blocks = -(-y.size // block)
    padded = np.zeros(n_blocks * block)
    padded[: y.size] = np.abs(y)
    peak = padded.reshape(n_blocks, block).max(axis=1)
    needed = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    edges = np.concatenate([needed[:1], needed, needed[-1:]])
    boundary = np.minimum(edges[:-1], edges[1:])
    ramp = np.arange(block) / block
    gain = boundary[:-1, None] + (boundary[1:] - boundary[:-1])[:, None] * ramp[None, :]
    return np.clip(y * gain.reshape(-1)[: y.size], -ceiling, ceiling)


@pytest.mark.parametrize("n", [1, 63, 64, 65, 4097, 100_003])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_limiter_is_bit_identical_to_its_numpy_definition(n: int, dtype: type) -> None:
    """The compiled limiter changes no rendered sample (same arithmetic, same order)."""
    from autoenchorder.data.procedural.mix import CEILING, limit

    rng = np.random.default_rng(n)
    y = (rng.standard_normal(n) * rng.choice([0.1, 3.0], n)).astype(dtype)  # loud and quiet
    got = limit(y)
    expected = _limit_by_numpy(y, CEILING, 64)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))
    assert np.max(np.abs(got)) <= CEILING
