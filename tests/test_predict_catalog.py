"""Catalog scoring: ``predict SONGS --model BUNDLE --out scores.parquet`` on an engine.

A small HitMusicNet bundle (low-level features only, so every worker process or Ray actor can
build its inputs) is trained in the test; the catalog is the repository's four real clips plus
bad files (corrupt, empty, text named .wav, missing). The tests check one row per song with
the Predictor's own values, failures with their reasons, ``--songs-from``, resume (a finished
run scores nothing again; a run killed with parts written scores only the rest; an OUT of
another model or options is refused), a song its worker died on, and that one local worker, two
worker processes and Ray actors give the same values.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.bundle import save_bundle
from autoenchorder.commands.predict import command
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import DataError, ModelError
from autoenchorder.metrics import BAND_NAMES, popularity_band
from autoenchorder.models import make_model
from autoenchorder.predict.catalog import (
    PARTS_SUFFIX,
    ROW_SCHEMA,
    RUN_KEY,
    CatalogOutput,
    combine,
    failure_row,
    load_predictor,
    read_song_list,
    score_catalog,
    songs_done,
)
from ray_cluster import ray_cluster  # noqa: F401  (the session's shared Ray cluster)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "audio"
#: Predictor options of every run here (few MC passes: a cheap but real uncertainty).
OPTIONS = ["--mc-passes", "5", "--windows", "1"]
#: Columns that must not depend on where or how often a song was scored.
VALUES = ["popularity", "band", "uncertainty", "interval_low", "interval_high", "duration"]


def _clips() -> list[str]:
    return sorted(
        str(p) for p in EXAMPLES.iterdir() if p.suffix in {".ogg", ".mp3", ".wav", ".flac"}
    )


#: The tests that read ``first_run`` (a two-worker catalog run, ~15 s) share one pytest-xdist
#: worker, so the module fixture is built once rather than on every worker they land on.
ONE_WORKER = pytest.mark.xdist_group("predict_catalog_first_run")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, len(LOWLEVEL_COLUMNS)))
    train = PopularityDataset(
        ids=[f"s{i}" for i in range(60)],
        y=np.clip(45 + 8 * x[:, 0] + 6 * x[:, 1], 0, 100),
        tabular=pd.DataFrame(x, columns=list(LOWLEVEL_COLUMNS)),
        column_groups={"lowlevel": list(LOWLEVEL_COLUMNS)},
    )
    model = make_model("hitmusicnet", groups=("lowlevel",), ae_epochs=2, epochs=3, quiet=True)
    path = tmp_path_factory.mktemp("bundle") / "hmn"
    save_bundle(model.fit(train), path, feature_spec={"columns": {"lowlevel": LOWLEVEL_COLUMNS}})
    return str(path)


@pytest.fixture(scope="module")
def bad_songs(tmp_path_factory) -> dict[str, str]:
    """Bad files in a folder, and a path that does not exist: name -> path."""
    folder = tmp_path_factory.mktemp("bad")
    (folder / "corrupt.ogg").write_bytes(b"OggS" + bytes(range(256)) * 8)
    (folder / "empty.mp3").write_bytes(b"")
    (folder / "notes.wav").write_text("these are notes, not audio\n" * 20)
    paths = {p.name: str(p) for p in folder.iterdir()}
    return {"folder": str(folder), **paths, "missing.wav": str(folder.parent / "missing.wav")}


def _predict(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(command, [*args, *OPTIONS], catch_exceptions=False)
    return result.exit_code, result.stderr


def _read(out: Path | str) -> pd.DataFrame:
    return pq.read_table(out).to_pandas().set_index("path").sort_index()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, bundle, bad_songs):
    """One local run with two worker processes on the real clips and the bad files."""
    out = tmp_path_factory.mktemp("out") / "scores.parquet"
    code, err = _predict(
        str(EXAMPLES), bad_songs["folder"], bad_songs["missing.wav"], "--model", bundle,
        "--out", str(out), "--workers", "2",
    )  # fmt: skip
    return out, code, err, _read(out)


@pytest.fixture(scope="module")
def expected(bundle) -> pd.DataFrame:
    """The real clips scored here, one by one, by the Predictor itself: the reference values."""
    predictor = load_predictor([bundle], max_windows=1, mc_passes=5)
    rows = {clip: predictor.predict(clip) for clip in _clips()}
    return pd.DataFrame(
        {
            "popularity": [p.popularity for p in rows.values()],
            "uncertainty": [p.uncertainty for p in rows.values()],
            "duration": [p.duration for p in rows.values()],
        },
        index=pd.Index(list(rows), name="path"),
    )


def _assert_rows(table: pd.DataFrame, expected: pd.DataFrame, bad_songs: dict[str, str]) -> None:
    """One row per song; the clips with the Predictor's values, the bad files failed."""
    bad = [bad_songs[name] for name in ("corrupt.ogg", "empty.mp3", "notes.wav", "missing.wav")]
    assert sorted(table.index) == sorted([*_clips(), *bad])
    assert table.loc[bad, "error"].notna().all() and table.loc[bad, "popularity"].isna().all()
    for clip, reference in expected.iterrows():
        row = table.loc[clip]
        assert pd.isna(row["error"])
        assert row["popularity"] == pytest.approx(reference["popularity"], abs=1e-9)
        assert row["uncertainty"] == pytest.approx(reference["uncertainty"], abs=1e-9)
        assert row["duration"] == pytest.approx(reference["duration"])
        assert row["band"] == BAND_NAMES[int(popularity_band(np.array([row["popularity"]]))[0])]
        half_width = 1.959963984540054 * row["uncertainty"]
        assert row["interval_low"] == pytest.approx(max(0.0, row["popularity"] - half_width))
        assert row["interval_high"] == pytest.approx(min(100.0, row["popularity"] + half_width))
        assert row["uncertainty_method"] == "MC dropout, 5 passes" and row["score_seconds"] > 0


@ONE_WORKER
def test_one_row_per_song_with_the_predictors_values(first_run, expected, bad_songs):
    out, code, err, table = first_run
    assert code == 0, err
    _assert_rows(table, expected, bad_songs)
    assert pq.read_schema(out).names == ROW_SCHEMA.names
    assert not Path(str(out) + PARTS_SUFFIX).exists()  # the parts were combined and removed
    assert "scored 4, failed 4" in err


@ONE_WORKER
def test_bad_files_are_listed_with_their_reason(first_run, bad_songs):
    _, _, err, table = first_run
    failed = table[table["error"].notna()]
    reasons = {Path(path).name: reason for path, reason in failed["error"].items()}
    assert set(reasons) == {"corrupt.ogg", "empty.mp3", "notes.wav", "missing.wav"}
    assert "empty" in reasons["empty.mp3"] and "no such file" in reasons["missing.wav"]
    assert all(reasons.values())
    assert failed["popularity"].isna().all() and failed["band"].isna().all()
    for name in reasons:
        assert f"failed {bad_songs[name]}: " in err


@ONE_WORKER
def test_a_finished_catalog_run_again_scores_nothing(first_run, bundle, bad_songs):
    out, _, _, before = first_run
    code, err = _predict(
        str(EXAMPLES), bad_songs["folder"], bad_songs["missing.wav"], "--model", bundle,
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert "scored 0, failed 0, already done 8" in err
    # the same rows, timings included: nothing was scored a second time
    pd.testing.assert_frame_equal(_read(out), before)


def test_a_killed_run_resumes_with_the_rest_and_one_worker_equals_two(
    first_run, bundle, bad_songs, tmp_path
):
    first_out, _, _, complete = first_run  # scored by two worker processes
    out = tmp_path / "scores.parquet"
    # What a run killed with kill -9 leaves: whole parts, a half-written temporary, no OUT.
    # The parts' rows are marked, so the final file shows which rows were not scored again.
    carried = complete.loc[[*_clips()[:2], bad_songs["empty.mp3"]]].reset_index()
    carried["uncertainty_method"] = "scored before the kill"
    output = CatalogOutput(str(out), key=pq.read_schema(first_out).metadata[RUN_KEY].decode())
    output.write_part(0, pa.Table.from_pandas(carried[:2], schema=ROW_SCHEMA))
    output.write_part(1, pa.Table.from_pandas(carried[2:], schema=ROW_SCHEMA))
    (Path(output.parts_dir) / ".part-000002.parquet.x1y2.part").write_bytes(b"PAR1 half")
    code, err = _predict(
        str(EXAMPLES), bad_songs["folder"], bad_songs["missing.wav"], "--model", bundle,
        "--out", str(out), "--workers", "1",
    )  # fmt: skip
    assert code == 0, err
    assert "scored 2, failed 3, already done 3" in err
    table = _read(out)
    assert sorted(table.index) == sorted(complete.index)  # each song once
    marked = table[table["uncertainty_method"] == "scored before the kill"]
    assert sorted(marked.index) == sorted(carried["path"])
    # the songs scored now, in this process, have the values two worker processes gave them
    pd.testing.assert_frame_equal(table[[*VALUES, "error"]], complete[[*VALUES, "error"]])
    assert not Path(output.parts_dir).exists()


@ONE_WORKER
def test_out_of_another_model_or_not_a_catalog_is_refused(first_run, bundle, tmp_path):
    out = first_run[0]
    # the same model with other options: resuming would mix two kinds of scores
    with pytest.raises(DataError, match="another model or other options"):
        score_catalog([_clips()[0]], bundles=[bundle], out=str(out), mc_passes=0, progress=False)
    foreign = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"path": ["x.mp3"], "score": [1.0]}), foreign)
    with pytest.raises(DataError, match="not a catalog"):
        score_catalog([_clips()[0]], bundles=[bundle], out=str(foreign), progress=False)
    (tmp_path / "text.parquet").write_text("hello")
    with pytest.raises(DataError, match="not a readable Parquet"):
        score_catalog([_clips()[0]], bundles=[bundle], out=str(tmp_path / "text.parquet"))
    assert pd.read_parquet(foreign).shape == (1, 2)  # left as it was


def test_a_song_its_worker_died_on_is_a_failure_row(bundle, tmp_path, monkeypatch):
    import autoenchorder.engine as engine

    real_map_items = engine.map_items
    victim = _clips()[1]

    def map_items(spec, make_worker, items, **kwargs):
        # the engine gives a WorkerCrash as the result of an item its worker died on
        rest = [song for song in items if song != victim]
        yield victim, engine.WorkerCrash("the worker process died on this item (3 times)")
        yield from real_map_items(spec, make_worker, rest, **kwargs)

    monkeypatch.setattr(engine, "map_items", map_items)
    out = tmp_path / "scores.parquet"
    summary = score_catalog(_clips()[:2], bundles=[bundle], out=str(out), progress=False)
    assert (summary.scored, summary.failed) == (1, 1)
    table = _read(out)
    assert table.loc[victim, "error"] == "the worker process died on this item (3 times)"
    assert pd.isna(table.loc[_clips()[0], "error"])


def test_songs_from_a_list_file(bundle, tmp_path):
    clips = _clips()
    listing = tmp_path / "songs.txt"
    missing = str(tmp_path / "gone.flac")
    lines = ["# the catalog", clips[0], "", f"  {clips[1]}  ", clips[0], missing, "# end"]
    listing.write_text("\n".join(lines) + "\n")
    assert list(read_song_list(str(listing))) == [clips[0], clips[1], clips[0], missing]
    out = tmp_path / "scores.parquet"
    code, err = _predict(
        clips[1], "--songs-from", str(listing), "--model", bundle, "--out", str(out)
    )
    assert code == 0, err
    table = _read(out)
    assert sorted(table.index) == sorted([clips[0], clips[1], missing])
    assert table.loc[missing, "error"] and pd.isna(table.loc[clips[0], "error"])
    # without --out the list is read too, and the songs printed as before
    short = tmp_path / "short.txt"
    short.write_text(f"# one song\n{clips[0]}\n")
    printed = CliRunner().invoke(
        command, ["--songs-from", str(short), "--model", bundle, "--json", *OPTIONS]
    )
    assert printed.exit_code == 0, printed.output
    (prediction,) = json.loads(printed.stdout)["predictions"]
    assert prediction["path"] == clips[0]
    assert prediction["popularity"] == pytest.approx(table.loc[clips[0], "popularity"])


@pytest.mark.xdist_group("ray")
def test_ray_gives_the_values_of_local(ray_cluster, expected, bundle, bad_songs, tmp_path):  # noqa: F811
    # compared with the Predictor in this process, not with first_run: under pytest-xdist the
    # Ray tests have a worker of their own, and first_run would be computed there once more
    out = tmp_path / "scores.parquet"
    code, err = _predict(
        str(EXAMPLES), bad_songs["folder"], bad_songs["missing.wav"], "--model", bundle,
        "--out", str(out), "--engine", "ray", "--workers", "1",
    )  # fmt: skip
    assert code == 0, err
    _assert_rows(_read(out), expected, bad_songs)


def test_combine_keeps_one_row_per_song_the_newest(tmp_path):
    # A kill between writing OUT and removing the parts leaves both: one row a song all the same.
    output = CatalogOutput(str(tmp_path / "scores.parquet"))
    output.write_part(0, _rows([failure_row("a.mp3", "first try"), failure_row("b.mp3", "bad")]))
    assert combine(output) == (2, 2)
    output.write_part(0, _rows([failure_row("a.mp3", "first try")]))
    output.write_part(1, _rows([failure_row("a.mp3", "second try"), failure_row("c.mp3", "x")]))
    assert combine(output) == (3, 3)
    table = _read(output.out)
    assert table.loc["a.mp3", "error"] == "second try" and table.loc["b.mp3", "error"] == "bad"
    assert songs_done(output) == {"a.mp3", "b.mp3", "c.mp3"}


def test_retry_failed_counts_only_scored_songs_as_done(tmp_path):
    output = CatalogOutput(str(tmp_path / "scores.parquet"))
    scored = failure_row("good.mp3", "") | {"error": None, "popularity": 50.0}
    output.write_part(0, _rows([scored, failure_row("bad.mp3", "corrupt")]))
    assert songs_done(output) == {"good.mp3", "bad.mp3"}
    assert songs_done(output, retry_failed=True) == {"good.mp3"}


def _rows(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def test_catalog_options_need_out(bundle):
    clip = _clips()[0]
    runner = CliRunner()
    for extra in (["--workers", "2"], ["--engine", "ray"], ["--retry-failed"]):
        result = runner.invoke(command, [clip, "--model", bundle, *extra])
        assert result.exit_code == 2 and "only with --out" in result.output
    both = runner.invoke(command, [clip, "--model", bundle, "--out", "x.parquet", "--json"])
    assert both.exit_code == 2
    nothing = runner.invoke(command, ["--model", bundle])
    assert nothing.exit_code == 2 and "--songs-from" in nothing.output


def test_device(bundle):
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            load_predictor([bundle], device="cuda")
    auto = load_predictor([bundle], device="auto", mc_passes=0)
    cpu = load_predictor([bundle], device="cpu", mc_passes=0)
    clip = _clips()[0]
    assert math.isclose(auto.predict(clip).popularity, cpu.predict(clip).popularity, abs_tol=1e-4)
