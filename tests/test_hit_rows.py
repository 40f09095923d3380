"""Training rows without popularity: Hit Predictor's own songs beside MusicOSet's.

The dataset flag (``partial_popularity``), who may train on such rows, the loader
(``musicoset-hit-rows``), the join to a training part (``with_supplement``) and a
:class:`StudyData` that carries it into every fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from autoenchorder.cli import cli
from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS, PopularityDataset
from autoenchorder.data.sources.musicoset_hit_rows import UNMATCHED_ARTIST
from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.data.splits import holdout_split
from autoenchorder.errors import DataError, ModelError
from autoenchorder.models import make_model
from autoenchorder.train.job_cache import JobCache
from autoenchorder.train.jobs import FitJob, StudyData, fit_job
from autoenchorder.train.parts import with_supplement
from test_multitarget import FAST, three_target_dataset


def _rows(ids, y, *, artist=None, extra=None, partial=False, column="a") -> PopularityDataset:
    n = len(ids)
    return PopularityDataset(
        ids=ids,
        y=np.asarray(y, dtype=float),
        tabular=pd.DataFrame({column: np.arange(n, dtype=float), "m": np.ones(n)}),
        column_groups={"descriptors": [column], "metadata": ["m"]},
        artist=artist,
        extra_targets=extra,
        partial_popularity=partial,
    )


# ---------------------------------------------------------------- the dataset and the models
def test_popularity_may_be_missing_only_where_the_dataset_says_so() -> None:
    with pytest.raises(DataError, match="NaN or outside"):
        _rows(["a", "b"], [10.0, np.nan])
    ds = _rows(["a", "b"], [10.0, np.nan], partial=True)
    assert ds.popularity_known().tolist() == [True, False]
    with pytest.raises(DataError, match="NaN or outside"):  # the range still holds
        _rows(["a", "b"], [101.0, np.nan], partial=True)
    with pytest.raises(DataError, match="regression"):
        PopularityDataset(
            ids=["a"],
            y=[0],
            tabular=pd.DataFrame({"x": [1.0]}),
            column_groups={"descriptors": ["x"]},
            task="classification",
            partial_popularity=True,
        )
    assert ds.take([1]).partial_popularity and np.isnan(ds.take([1]).y[0])


def _half_known(n: int = 120) -> tuple[PopularityDataset, PopularityDataset]:
    """Rows 0..n/2 have popularity and no label; the others a label and no popularity."""
    ds = three_target_dataset(n)
    y = ds.y.copy()
    label = ds.extra_targets["label"].to_numpy().copy()
    half = n // 2
    y[half:] = np.nan
    label[:half] = np.nan
    x = ds.tabular.to_numpy()
    label[half:] = (x[half:, 3] + 0.5 * x[half:, 0] > 0).astype(float)  # every one known
    train = dataclasses.replace(
        ds,
        y=y,
        extra_targets=pd.DataFrame({"label": label}),
        partial_popularity=True,
    )
    val = three_target_dataset(40, seed=1)
    return train, dataclasses.replace(val, extra_targets=val.extra_targets[["label"]])


def test_only_a_multi_target_model_trains_on_rows_without_popularity() -> None:
    train, val = _half_known()
    for name, options in [
        ("hitmusicnet", FAST),
        ("gbdt", {}),
        ("mean", {}),
        ("hitmusicnet", {**FAST, "targets": ("popularity", "label"), "task": "classification"}),
    ]:
        with pytest.raises(ModelError, match="60 training rows have no popularity"):
            make_model(name, **options).fit(train, val)
    multi = make_model("hitmusicnet", targets=("popularity", "label"), seed=0, **FAST)
    with pytest.raises(ModelError, match="validation rows must all have popularity"):
        multi.fit(train, train)
    multi.fit(train, val)
    known = train.popularity_known()
    popularity = multi.predict(train.take(known))
    assert np.isfinite(popularity).all()
    spread = np.mean(np.abs(train.y[known] - train.y[known].mean()))
    assert np.mean(np.abs(popularity - train.y[known])) < 0.5 * spread
    # the label, known only on the rows without popularity, is learned from them
    label = multi.predict_targets(train.take(~known))["label"] > 0.5
    truth = train.extra_targets["label"][~known].astype(bool).to_numpy()
    assert np.mean(label.to_numpy() == truth) > 0.85
    assert multi.target_set_.low[0] == pytest.approx(train.y[known].min())


# ---------------------------------------------------------------- the join
def test_a_supplement_joins_training_rows_but_no_held_out_artist_or_known_id() -> None:
    extra = pd.DataFrame({"billboard": [5.0, np.nan, 7.0]})
    train = _rows(["t1", "t2", "t3"], [10, 20, 30], artist=["A", "B", "C"], extra=extra)
    val = _rows(["v1"], [40], artist=["D"])
    test = _rows(["x1", "x2"], [50, 60], artist=["E", ""])
    supplement = _rows(
        ["s1", "s2", "s3", "t2", "s5", "s6"],
        [np.nan] * 6,
        artist=["A", "D", "E", "Z", "", "F"],
        extra=pd.DataFrame({"hit": [1.0, 0.0, 1.0, 0.0, 0.0, 1.0]}),
        partial=True,
    )
    supplement = dataclasses.replace(
        supplement,
        tabular=supplement.tabular[["a"]],
        column_groups={"descriptors": ["a"]},
        name="hits",
    )
    joined = with_supplement(train, supplement, held_out=(val, test))
    # s2 and s3 belong to held-out artists, t2 is a training id already; "" is no artist
    assert joined.ids.tolist() == ["t1", "t2", "t3", "s1", "s5", "s6"]
    assert joined.column_groups == {"descriptors": ["a"]}  # the groups both have
    assert joined.tabular["a"].tolist() == [0.0, 1.0, 2.0, 0.0, 4.0, 5.0]
    np.testing.assert_array_equal(joined.y[:3], [10, 20, 30])
    assert np.isnan(joined.y[3:]).all() and joined.partial_popularity
    targets = joined.extra_targets
    assert list(targets.columns) == ["billboard", "hit"]
    np.testing.assert_array_equal(targets["billboard"], [5, np.nan, 7, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(targets["hit"], [np.nan, np.nan, np.nan, 1, 0, 1])
    assert joined.info["supplement"] == {
        "source": "hits",
        "added": 3,
        "dropped_held_out_artist": 2,
        "dropped_known_id": 1,
    }
    other = dataclasses.replace(
        supplement,
        tabular=supplement.tabular.rename(columns={"a": "q"}),
        column_groups={"x": ["q"]},
    )
    with pytest.raises(DataError, match="shares no column group"):
        with_supplement(train, other)


# ---------------------------------------------------------------- the loader
def _write_sources(root) -> tuple:
    musicoset, hit_predictor = root / "musicoset", root / "hit-predictor"
    (musicoset / "musicoset_metadata").mkdir(parents=True)
    hit_predictor.mkdir()
    songs = pd.DataFrame(
        {
            "song_id": ["ID1", "ID2"],
            "song_name": ["Wild Things", "Don't Stop"],
            "artists": ["{'AC': 'Alessia Cara'}", "{'QU': 'Queen', 'XX': 'Other'}"],
        }
    )
    songs.to_csv(musicoset / "musicoset_metadata/songs.csv", sep="\t", index=False)
    rows = [
        ("Wild Things", "Alessia Cara", "ID1", 1),  # a MusicOSet song by id
        ("dont stop!", "QUEEN feat. Someone", "HP2", 1),  # the same song by title + artist
        ("New One", "Queen", "HP3", 0),  # a known artist's other song
        ("Deep Cut", "Other", "HP4", 1),  # a featured MusicOSet artist
        ("Elsewhere", "Nobody Known", "HP5", 0),
    ]
    descriptors = {c: 0.5 for c in DESCRIPTOR_COLUMNS}
    table = pd.DataFrame(
        [
            {"track": t, "artist": a, "uri": f"spotify:track:{i}", **descriptors, "target": y}
            | {"chorus_hit": 30.0, "sections": 8}
            for t, a, i, y in rows
        ]
    )
    table["energy"] = np.arange(len(table)) / 10
    table.to_csv(hit_predictor / "dataset-of-10s.csv", index=False)
    return musicoset, hit_predictor


def test_hit_rows_are_hit_predictor_songs_musicoset_lacks(tmp_path, monkeypatch) -> None:
    musicoset, hit_predictor = _write_sources(tmp_path)
    monkeypatch.setenv("AUTOENCHORDER_DATA", str(tmp_path))
    ds = load_dataset(DataSpec("musicoset-hit-rows", root=str(musicoset)))
    assert ds.ids.tolist() == ["HP3", "HP4", "HP5"]
    assert np.isnan(ds.y).all() and ds.partial_popularity and ds.task == "regression"
    assert ds.extra_targets["hit"].tolist() == [0.0, 1.0, 0.0]
    assert ds.artist.tolist() == ["QU", "XX", f"{UNMATCHED_ARTIST}nobody known"]
    assert list(ds.column_groups) == ["descriptors"]
    assert ds.tabular["energy"].tolist() == [0.2, 0.3, 0.4]  # the rows' own descriptors
    assert ds.info["hit_rows"] == {
        "read": 5,
        "in_musicoset": 2,
        "kept": 3,
        "hits": 1,
        "artists_known_to_musicoset": 2,
    }
    with pytest.raises(ModelError, match="no popularity"):
        make_model("gbdt").fit(ds)
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(
        cli, ["data", "info", "musicoset-hit-rows", "--root", str(musicoset), "--no-split"]
    )
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    assert "popularity unknown for all 3 rows" in said and "hit (3 rows)" in said
    assert "musicoset-hit-rows from " in said  # where it came from, not None
    assert "from None" not in said


# ---------------------------------------------------------------- a study's data
def test_study_data_with_a_supplement_adds_it_to_every_fit_and_its_cache_key(
    tmp_path, monkeypatch
) -> None:
    ds = three_target_dataset(120)
    extra = dataclasses.replace(
        three_target_dataset(60, seed=3),
        ids=[f"h{i}" for i in range(60)],
        y=np.full(60, np.nan),
        artist=[f"artist{i}" for i in range(60)],  # some shared with the held-out rows
        partial_popularity=True,
    )
    loaders = {"main": ds, "extra": extra}
    monkeypatch.setattr(
        "autoenchorder.train.job_types.load_dataset", lambda spec: loaders[spec.source]
    )
    plain = StudyData(DataSpec("main"), seed=0)
    data = dataclasses.replace(plain, supplement=DataSpec("extra"))
    split = holdout_split(ds, test_size=0.15, seed=0)
    train, val, test = data.parts(ds, split)
    base, _, _ = plain.parts(ds, split)
    held = set(val.artist) | set(test.artist)
    added = train.ids[len(base) :]
    assert train.ids[: len(base)].tolist() == base.ids.tolist() and len(added) > 0
    assert not held & set(train.artist)  # the artist-grouped split holds
    assert len(added) == sum(a not in held for a in extra.artist)
    job = FitJob("s", "multi", "hitmusicnet", {**FAST, "targets": ("popularity", "score", "label")})
    with_rows, without = fit_job(job, data), fit_job(job, plain)
    assert with_rows.error is None and without.error is None
    assert with_rows.n_train == len(train) and without.n_train == len(base)
    assert with_rows.ids.tolist() == without.ids.tolist()  # the same test songs
    single = fit_job(dataclasses.replace(job, options=FAST), data)
    assert "no popularity" in single.error
    cache = JobCache(tmp_path / "cache", code="x")
    assert cache.key(job, data) != cache.key(job, plain)
