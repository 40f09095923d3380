"""Full-length procedural songs: pop form, hidden late qualities, preview ceilings, the study."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autoenchorder.cli import cli
from autoenchorder.data.procedural import full_length as fl
from autoenchorder.data.procedural.generate import (
    CorpusConfig,
    render_song,
    sample_songs,
)
from autoenchorder.data.procedural.mix import rms_db
from autoenchorder.data.procedural.popularity import popularity_decomposition
from autoenchorder.data.procedural.spec import FullLengthSpec, SongSpec, spec_from_dict
from autoenchorder.errors import DataError

SR = 22050
FULL = CorpusConfig(n=300, seed=4, full_length=True)


@pytest.fixture(scope="module")
def full_specs() -> list[FullLengthSpec]:
    return sample_songs(FULL)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def two_song_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("full") / "corpus"
    result = CliRunner().invoke(
        cli,
        ["corpus", "make", "--full-length", "--n", "2", "--seed", "1", "--out", str(out)]
        + ["--formats", "flac", "--quiet"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    return out, result.output


# ---------------------------------------------------------------------------- default corpus
def test_the_default_corpus_is_the_one_made_before_full_length_songs() -> None:
    """Specs and popularity of default corpora, pinned from the code before this feature.

    The digests were computed by the generator as it was before full-length songs existed
    (commit a1c82da); a change here changes every default corpus (and the demo's numbers).
    """
    expected = {
        (0, None, None): "166cf7e7120ad91d9bd6e803e5c39a5a62314cec0f0be27fd291d975e4abb524",
        (5, 9.0, 12.0): "9d93f16605a959473afa6f5dcfd074fb79e9e7ef8e6990b6649eb3f2d5e1fc55",
    }
    for (seed, lo, hi), digest in expected.items():
        config = CorpusConfig(n=40, seed=seed, min_duration=lo, max_duration=hi)
        specs = sample_songs(config)
        assert all(type(s) is SongSpec for s in specs)
        blob = json.dumps(
            {
                "config": config.to_dict(),
                "songs": [s.to_dict() for s in specs],
                "pop": [popularity_decomposition(s) for s in specs],
            },
            sort_keys=True,
        )
        assert hashlib.sha256(blob.encode()).hexdigest() == digest
    assert "full_length" not in CorpusConfig(n=1).to_dict()
    assert CorpusConfig(n=1).to_dict()["min_duration"] == 10.0


# ---------------------------------------------------------------------------- arrangement
def test_full_length_songs_are_2_to_5_minutes_in_pop_form(full_specs) -> None:
    durations = np.array([s.duration for s in full_specs])
    assert durations.min() >= 120.0 and durations.max() <= 300.0
    assert durations.max() - durations.min() > 120.0  # the range is used, not one length
    for spec in full_specs:
        sections = spec.sections
        assert sections[0] == "intro" and sections[-1] == "outro"
        assert sections[1:3] == ["verse", "verse"]
        assert {"chorus", "bridge", "final"} <= set(sections)
        late = sections.index("bridge")
        assert set(sections[late:]) <= {"bridge", "final", "outro"}
        assert "bridge" not in sections[:late] and "final" not in sections[:late]
        assert abs(len(sections[late:]) - fl.LATE_SHARE * len(sections)) <= 1.0
        assert 0.0 <= spec.hook_strength <= 1.0 and 0.0 <= spec.final_lift <= 1.0
        assert isinstance(spec_from_dict(spec.to_dict()), FullLengthSpec)


def test_no_preview_hears_the_late_part_and_the_start_hears_no_chorus(full_specs) -> None:
    s = full_specs[0].section_seconds
    for spec in full_specs:
        late = fl.late_start_seconds(spec)
        for position in fl.PREVIEW_POSITIONS:
            start, length = fl.preview_span(spec, position)
            first, last = int(start // s), int((start + length) // s)
            heard = spec.sections[first : last + 1]
            # the window may run 0.08 s into one more (early) section, never into the late part
            assert start + length < late and last * s < late
            assert (start + length) - last * s < 0.1
            if position == "start":
                assert "chorus" not in heard[:-1]
            else:
                assert heard[:2] == ["chorus", "chorus"]


def test_every_full_length_song_has_its_own_artist(full_specs) -> None:
    artists = [s.artist for s in full_specs]
    assert len(set(artists)) == len(artists)
    styles = {s.style for s in full_specs}
    assert len(styles) >= 5  # artists still come from the style clusters


def test_full_length_needs_room_for_its_sections() -> None:
    with pytest.raises(DataError, match="too short"):
        CorpusConfig(n=1, full_length=True, min_duration=10.0, max_duration=60.0)
    assert CorpusConfig(n=1, full_length=True).to_dict()["max_duration"] == 300.0


# ---------------------------------------------------------------------------- ceilings
def test_ceilings_are_ordered_and_leave_a_clear_gap(full_specs) -> None:
    decompositions = [fl.full_length_decomposition(s) for s in full_specs]
    r = fl.full_length_report(decompositions)
    assert 0.0 < r["start_oracle_r2"] < r["spotify_oracle_r2"] < r["oracle_r2"] <= 1.0
    assert r["audio_ceiling_r2"] <= r["oracle_r2"]
    assert r["oracle_r2"] > 0.9  # little noise: the whole-song ceiling is well defined
    assert r["oracle_r2"] - r["spotify_oracle_r2"] > 0.15  # the lift is worth hearing
    # without clipping the ceilings are 1 - (variance missed + noise) / var(y)
    var_y = np.var([d["popularity"] for d in decompositions], ddof=1)
    missed = r["var_lift"] + r["var_noise"]
    assert r["spotify_oracle_r2"] == pytest.approx(1 - missed / var_y, abs=0.05)


@pytest.mark.parametrize("loudness", [-14.0, -22.0])
def test_preview_expectations_match_monte_carlo(full_specs, loudness: float) -> None:
    """E[clip(popularity) | what a preview hears], by quadrature and by sampling the spec."""
    rng = np.random.default_rng(0)
    # -22 dBFS with a dark lofi song puts the known part near 0: clipping matters there
    spec = dataclasses.replace(full_specs[3], loudness_db=loudness, brightness=0.0, style="lofi")
    computed = fl.full_length_decomposition(spec)
    # the deterministic part of the spec with other hidden qualities, sampled (a few of them
    # through the spec, all of them through its parts, which the spec sets as documented)
    hook, lift = rng.uniform(size=(2, 200000))
    known = computed["deterministic"] - computed["hook"] - computed["lift"]
    deterministic = {
        "spotify": known + computed["hook"] + fl.LIFT_POINTS * (lift - 0.5),
        "start": known + fl.HOOK_POINTS * (hook - 0.5) + fl.LIFT_POINTS * (lift - 0.5),
    }
    for i in range(5):
        varied = dataclasses.replace(spec, hook_strength=hook[i], final_lift=lift[i])
        assert fl.full_length_decomposition(varied)["deterministic"] == pytest.approx(
            deterministic["start"][i]
        )
    for position, values in deterministic.items():
        values = np.clip(values, 0, 100)
        se = values.std() / np.sqrt(values.size)
        assert computed[f"expected_{position}"] == pytest.approx(values.mean(), abs=4 * se + 0.02)
    assert computed["expected_whole"] == pytest.approx(np.clip(computed["deterministic"], 0, 100))


# ---------------------------------------------------------------------------- rendering
def test_what_a_preview_hears_does_not_depend_on_what_it_misses(full_specs) -> None:
    """The hidden layers change only where they play; the early part's level is fixed."""
    spec = next(s for s in full_specs if len(s.sections) <= 11)
    low = render_song(dataclasses.replace(spec, hook_strength=0.1, final_lift=0.1))
    lift = render_song(dataclasses.replace(spec, hook_strength=0.1, final_lift=0.9))
    hook = render_song(dataclasses.replace(spec, hook_strength=0.9, final_lift=0.1))
    late = int(fl.late_start_seconds(spec) * SR)
    early = late - SR  # the limiter's gain ramps over a few ms around the boundary
    np.testing.assert_array_equal(low[:early], lift[:early])
    assert np.abs(low[late:] - lift[late:]).max() > 0.05
    start = int(fl.PREVIEW_SECONDS * SR)
    np.testing.assert_array_equal(low[:start], hook[:start])  # intro and first verse
    chorus, _ = fl.preview_span(spec, "spotify")
    assert np.abs(low[int(chorus * SR) :][:start] - hook[int(chorus * SR) :][:start]).max() > 0.05
    n = int(round(spec.section_seconds * SR))
    verse = low[n : 2 * n]
    assert rms_db(verse) == pytest.approx(spec.loudness_db - fl.VERSE_BELOW_DB, abs=0.3)
    assert low.size == len(spec.sections) * n + int(0.3 * SR)


# ---------------------------------------------------------------------------- CLI, clips
def test_corpus_make_full_length_writes_songs_and_ceilings(two_song_corpus) -> None:
    import soundfile as sf

    out, printed = two_song_corpus
    truth = json.loads((out / "truth.json").read_text())
    assert truth["config"]["full_length"] is True
    report = truth["report"]
    for key in ("oracle_r2", "spotify_oracle_r2", "start_oracle_r2"):
        assert key in report
    assert "oracle R^2, whole song" in printed and "from the first chorus" in printed
    assert set(truth["previews"]["missed_by"]["spotify"]) == {"final_lift"}
    for song in truth["songs"]:
        info = sf.info(str(out / song["path"]))
        assert 120.0 <= info.duration <= 301.0
        assert info.duration == pytest.approx(song["duration"] + 0.3, abs=0.01)
        assert "expected_spotify" in song["popularity"]
    labels = (out / "labels.csv").read_text().splitlines()
    assert len(labels) == 3


def test_preview_clips_are_the_songs_own_samples(two_song_corpus, tmp_path: Path) -> None:
    import soundfile as sf

    from autoenchorder.data.procedural.previews import write_preview_clips

    out, _ = two_song_corpus
    truth = json.loads((out / "truth.json").read_text())
    assert write_preview_clips(out, tmp_path / "clips", "spotify") == 2
    assert write_preview_clips(out, tmp_path / "clips", "spotify") == 0  # resumed
    for song in truth["songs"]:
        clip, sr = sf.read(str(tmp_path / "clips" / f"{song['id']}.flac"), dtype="float32")
        whole, _ = sf.read(str(out / song["path"]), dtype="float32")
        first = int(round(song["popularity"]["spotify_offset_seconds"] * sr))
        assert clip.size == int(round(fl.PREVIEW_SECONDS * sr))
        np.testing.assert_array_equal(clip, whole[first : first + clip.size])
    default = tmp_path / "default"
    default.mkdir()
    (default / "truth.json").write_text(json.dumps({"config": CorpusConfig(n=1).to_dict()}))
    with pytest.raises(DataError, match="not a full-length"):
        write_preview_clips(default, tmp_path / "x", "start")


# ---------------------------------------------------------------------------- the study
def test_study_fits_each_model_on_each_way_of_listening(tmp_path: Path) -> None:
    from autoenchorder.study.full_length import LISTENINGS, MODELS, n_songs, study_runs
    from autoenchorder.study.settings import DemoSettings

    settings = DemoSettings.quick(tmp_path)
    keys = [run.key for run in study_runs(settings)]
    assert keys == [f"{m}-{listening}" for m in MODELS for listening in LISTENINGS]
    assert n_songs(settings) < n_songs(DemoSettings(out=tmp_path))


def test_the_section_model_trains_on_the_sections_and_is_the_headline(tmp_path: Path) -> None:
    from autoenchorder.study.full_length import (
        HEADLINE_MODEL,
        SECTIONS_EMBEDDER,
        SECTIONS_MODEL,
        data_key,
        study_runs,
    )
    from autoenchorder.study.settings import DemoSettings

    runs = {run.key: run for run in study_runs(DemoSettings.quick(tmp_path))}
    assert HEADLINE_MODEL == SECTIONS_MODEL == "sequence-ridge"
    assert SECTIONS_EMBEDDER == "lowlevel-sections"
    assert data_key(runs["sequence-ridge-whole"]) == "full-length/whole/sections"
    assert data_key(runs["sequence-ridge-preview"]) == "full-length/preview/sections"
    assert data_key(runs["gbdt-start"]) == "full-length/start"
    assert data_key(runs["autoenchorder-whole"]) == "full-length/whole"


def test_study_notes_state_ceilings_and_shares(two_song_corpus, tmp_path: Path) -> None:
    from autoenchorder.data.procedural.previews import ceilings_on
    from autoenchorder.evaluate.rundir import RunWriter
    from autoenchorder.study.full_length import note_ceilings
    from autoenchorder.train.jobs import FitJob, FitResult

    out, _ = two_song_corpus
    truth = json.loads((out / "truth.json").read_text())
    ids = np.array([s["id"] for s in truth["songs"]])
    y = np.array([s["popularity"]["popularity"] for s in truth["songs"]])
    ceilings = ceilings_on(out, ids)
    assert set(ceilings) == {"whole", "preview", "start"}
    writer = RunWriter(tmp_path, study="full-length", order=2, title="t", description="d")
    best = {  # the best predictions each way of listening can make: 100 % of each ceiling
        listening: np.array([s["popularity"][f"expected_{key}"] for s in truth["songs"]])
        for listening, key in (("whole", "whole"), ("preview", "spotify"), ("start", "start"))
    }
    results = {
        f"gbdt-{listening}": FitResult(
            FitJob("full-length", f"gbdt-{listening}", "gbdt"), ids, y, prediction
        )
        for listening, prediction in best.items()
    }
    notes = note_ceilings(writer, results, out)
    assert notes[0].startswith("oracle R^2 on the test songs")
    assert "whole R^2" in notes[1] and "(100 % of its ceiling)" in notes[1]
    assert "whole - preview R^2" in notes[1]


def test_the_truth_table_of_a_full_length_corpus_has_its_hidden_qualities(two_song_corpus) -> None:
    from autoenchorder.data.sources.procedural import (
        FULL_LENGTH_TRUTH_COLUMNS,
        read_truth,
        truth_table,
    )

    out, _ = two_song_corpus
    truth = read_truth(out)
    table = truth_table(truth)
    assert list(table.columns) == ["track_id", *FULL_LENGTH_TRUTH_COLUMNS]
    assert not table.isna().any().any()
    by_id = table.set_index("track_id")
    for song in truth["songs"]:
        assert by_id.loc[song["id"], "hook_strength"] == song["hook_strength"]
        assert by_id.loc[song["id"], "final_lift"] == song["final_lift"]


def test_the_report_checks_the_headline_against_the_test_songs_ceiling(two_song_corpus) -> None:
    from autoenchorder.data.procedural.previews import ceiling_info, corpus_ceilings_of
    from autoenchorder.data.sources.procedural import read_truth
    from autoenchorder.evaluate.report import _oracle_r2

    out, _ = two_song_corpus
    report = read_truth(out)["report"]
    corpus = corpus_ceilings_of(report)
    assert corpus == {
        "whole": report["oracle_r2"],
        "preview": report["spotify_oracle_r2"],
        "start": report["start_oracle_r2"],
    }
    test = {"whole": 0.9, "preview": 0.6, "start": 0.5}
    info = ceiling_info(test, {"whole": 0.95, "preview": 0.7, "start": 0.55})
    assert info == {
        "oracle_r2": 0.9,
        "corpus_oracle_r2": 0.95,
        "spotify_oracle_r2": 0.6,
        "corpus_spotify_oracle_r2": 0.7,
        "start_oracle_r2": 0.5,
        "corpus_start_oracle_r2": 0.55,
    }
    assert _oracle_r2({"info": info}) == 0.9  # what "reaches 90 % of the ceiling" divides by
