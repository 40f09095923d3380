import ast
import csv
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autoenchorder.audio.embed.base import Embedding
from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS
from autoenchorder.data.dataset import DESCRIPTOR_COLUMNS
from autoenchorder.data.locations import find_root
from autoenchorder.data.sources.catalog import load_catalog, track_id_from_path
from autoenchorder.data.sources.hit_predictor import load_hit_predictor
from autoenchorder.data.sources.musicoset import load_musicoset
from autoenchorder.data.sources.spotgentrack import load_spotgentrack
from autoenchorder.data.splits import holdout_split
from autoenchorder.data.store import FeatureStore, ShardContent
from autoenchorder.errors import DataError
from conftest import missing_data_reason

MUSICOSET = find_root("musicoset")  # the real datasets: $AUTOENCHORDER_DATA, ./data, ../shared
HIT_PREDICTOR = find_root("hit-predictor")
SPOTGENTRACK = Path(__file__).resolve().parent / "data" / "spotgentrack"

needs_musicoset = pytest.mark.skipif(MUSICOSET is None, reason=missing_data_reason("musicoset"))
needs_hits = pytest.mark.skipif(HIT_PREDICTOR is None, reason=missing_data_reason("hit-predictor"))


# ---------------------------------------------------------------- MusicOSet
@pytest.fixture(scope="module")
def musicoset():
    return load_musicoset(MUSICOSET)


def read_tsv(name):
    return pd.read_csv(MUSICOSET / name, sep="\t")


@needs_musicoset
def test_musicoset_target_and_descriptors_match_the_files(musicoset):
    ds = musicoset
    songs = read_tsv("musicoset_metadata/songs.csv").set_index("song_id")
    feats = read_tsv("musicoset_songfeatures/acoustic_features.csv").set_index("song_id")
    assert ds.info["validation"]["rows_in"] == len(songs)
    np.testing.assert_array_equal(ds.y, songs.loc[ds.ids, "popularity"].to_numpy(float))
    np.testing.assert_allclose(
        ds.features("descriptors"), feats.loc[ds.ids, list(DESCRIPTOR_COLUMNS)].to_numpy(float)
    )
    assert ds.column_groups["descriptors"] == list(DESCRIPTOR_COLUMNS)


@needs_musicoset
def test_musicoset_metadata_by_hand(musicoset):
    ds = musicoset
    songs = read_tsv("musicoset_metadata/songs.csv").set_index("song_id")
    artists = read_tsv("musicoset_metadata/artists.csv").set_index("artist_id")
    tracks = read_tsv("musicoset_metadata/tracks.csv").set_index("song_id")
    table = ds.tabular.set_index(pd.Index(ds.ids))
    collabs = [i for i in ds.ids[:3000] if len(ast.literal_eval(songs.loc[i, "artists"])) > 1]
    assert len(collabs) > 20
    for song in collabs[:40]:
        listed = list(ast.literal_eval(songs.loc[song, "artists"]))
        known = [a for a in listed if a in artists.index]
        expected = np.nanmean(artists.loc[known, "followers"].to_numpy(float))
        assert table.loc[song, "artist_followers"] == pytest.approx(expected)
        assert table.loc[song, "n_artists"] == len(listed)
        assert ds.artist[list(ds.ids).index(song)] == listed[0]
    year = tracks.loc[ds.ids[:200], "release_date"].str[:4].astype(float).to_numpy()
    np.testing.assert_array_equal(table["release_year"].to_numpy()[:200], year)
    explicit = songs.loc[ds.ids, "explicit"].astype(float).to_numpy()
    np.testing.assert_array_equal(table["explicit"].to_numpy(), explicit)
    onehot = ds.tabular[[c for c in ds.column_groups["metadata"] if c.startswith("main_genre=")]]
    np.testing.assert_array_equal(onehot.sum(axis=1).to_numpy(), 1.0)


@needs_musicoset
def test_musicoset_drops_exactly_the_songs_without_artist_data(musicoset):
    songs = read_tsv("musicoset_metadata/songs.csv")
    artists = read_tsv("musicoset_metadata/artists.csv").set_index("artist_id")
    followers = artists["followers"].dropna()
    # the followers mean is undefined when no listed artist has a known follower count
    expected_bad = {
        row.song_id
        for row in songs.itertuples()
        if not any(a in followers.index for a in ast.literal_eval(row.artists))
    }
    dropped = set(songs["song_id"]) - set(musicoset.ids)
    assert dropped == expected_bad
    assert musicoset.info["validation"]["nan_features"] == len(expected_bad)


@needs_musicoset
def test_musicoset_grouped_split_never_shares_an_artist(musicoset):
    split = holdout_split(musicoset, seed=0)
    train = set(musicoset.subset(split.train_ids).artist)
    test = set(musicoset.subset(split.test_ids).artist)
    assert not train & test
    assert split.kind.startswith("grouped-by-artist stratified holdout 85/15")


def small_musicoset(tmp_path, n=30, drop_column=None):
    """The first n songs of every MusicOSet file (real headers), optionally without a column."""
    for name in [
        "musicoset_metadata/songs.csv",
        "musicoset_metadata/artists.csv",
        "musicoset_metadata/tracks.csv",
        "musicoset_songfeatures/acoustic_features.csv",
    ]:
        frame = read_tsv(name)
        if not name.endswith("artists.csv"):
            frame = frame.head(n)
        if drop_column and drop_column in frame.columns and "features" in name:
            frame = frame.drop(columns=[drop_column])
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(tmp_path / name, sep="\t", index=False)
    return tmp_path


@needs_musicoset
def test_musicoset_fixture_and_missing_column(tmp_path):
    ds = load_musicoset(small_musicoset(tmp_path / "ok"))
    assert len(ds) == 30
    with pytest.raises(DataError) as err:
        load_musicoset(small_musicoset(tmp_path / "bad", drop_column="tempo"))
    assert "tempo" in str(err.value) and "acoustic_features" in str(err.value)


# ---------------------------------------------------------------- Hit Predictor
def read_hit_rows():
    rows = []
    for path in sorted(HIT_PREDICTOR.glob("dataset-of-*.csv")):
        with path.open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


@needs_hits
def test_hit_predictor_real_files_duplicates_keep_hit():
    ds = load_hit_predictor(HIT_PREDICTOR)
    rows = read_hit_rows()
    by_track = {}
    for row in rows:
        by_track.setdefault(row["uri"].split(":")[-1], []).append(row)
    assert len(ds) == len(by_track)
    assert ds.task == "classification" and ds.class_names == ["non-hit", "hit"]
    y = dict(zip(ds.ids, ds.y, strict=True))
    for track, copies in by_track.items():
        assert y[track] == max(int(c["target"]) for c in copies)
    single = [t for t, c in by_track.items() if len(c) == 1][:300]
    decade = dict(zip(ds.ids, ds.tabular["decade"], strict=True))
    assert all(decade[t] == int(by_track[t][0]["decade"]) for t in single)
    report = ds.info["duplicates"]
    assert report["duplicated_tracks"] == sum(len(c) > 1 for c in by_track.values())
    conflicting = {t for t, c in by_track.items() if len({x["target"] for x in c}) > 1}
    assert report["conflicting_targets"] == len(conflicting)
    strict = load_hit_predictor(HIT_PREDICTOR, duplicates="drop-conflicting")
    assert len(strict) == len(by_track) - len(conflicting)
    assert not conflicting & set(strict.ids)


HIT_HEADER = [
    "track", "artist", "uri", "danceability", "energy", "key", "loudness", "mode",
    "speechiness", "acousticness", "instrumentalness", "liveness", "valence", "tempo",
    "duration_ms", "time_signature", "chorus_hit", "sections", "target", "decade",
]  # fmt: skip


def write_hits(path, rows, header=HIT_HEADER):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for track, artist, uri, target, decade in rows:
            values = dict(zip(HIT_HEADER, [track, artist, f"spotify:track:{uri}", *[0.5] * 13,
                                           30.1, 9, target, decade], strict=True))  # fmt: skip
            writer.writerow([values[c] for c in header])


def hit_fixture(tmp_path, header=HIT_HEADER):
    tmp_path.mkdir(parents=True, exist_ok=True)
    write_hits(tmp_path / "dataset-of-80s.csv", [
        ("A", "Band Featuring Guest", "a" * 22, 1, 1980),
        ("B", "Solo", "b" * 22, 0, 1980),
        ("C", "Other", "c" * 22, 0, 1980),
    ], header)  # fmt: skip
    write_hits(tmp_path / "dataset-of-90s.csv", [
        ("B", "Solo", "b" * 22, 1, 1990),  # conflicting duplicate
        ("C", "Other", "c" * 22, 0, 1990),  # agreeing duplicate
        ("D", "band", "d" * 22, 1, 1990),
    ], header)  # fmt: skip
    return tmp_path


def test_hit_predictor_fixture_duplicate_policies(tmp_path):
    root = hit_fixture(tmp_path)
    ds = load_hit_predictor(root)
    assert sorted(ds.ids) == ["a" * 22, "b" * 22, "c" * 22, "d" * 22]
    got = dict(zip(ds.ids, zip(ds.y, ds.tabular["decade"], strict=True), strict=True))
    assert got["b" * 22] == (1, 1990) and got["c" * 22] == (0, 1980)
    assert ds.info["duplicates"]["conflicting_targets"] == 1
    assert ds.artist[list(ds.ids).index("a" * 22)] == "band"  # featuring clause cut
    assert sorted(load_hit_predictor(root, duplicates="drop-conflicting").ids) == [
        "a" * 22, "c" * 22, "d" * 22,
    ]  # fmt: skip
    with pytest.raises(DataError, match="more than once"):
        load_hit_predictor(root, duplicates="fail")


def test_hit_predictor_decade_from_file_name_and_missing_column(tmp_path):
    no_decade = [c for c in HIT_HEADER if c != "decade"]
    ds = load_hit_predictor(hit_fixture(tmp_path / "a", no_decade))
    assert set(ds.tabular["decade"]) == {1980, 1990}
    no_chorus = [c for c in HIT_HEADER if c != "chorus_hit"]
    with pytest.raises(DataError, match="chorus_hit"):
        load_hit_predictor(hit_fixture(tmp_path / "b", no_chorus))


# ---------------------------------------------------------------- SpotGenTrack fixture
def fixture_csv(name):
    return pd.read_csv(SPOTGENTRACK / name, index_col=0)


def test_spotgentrack_fixture_headers_are_the_published_ones():
    tracks = pd.read_csv(SPOTGENTRACK / "Data Sources/spotify_tracks.csv", nrows=0)
    assert len(tracks.columns) == 32 and tracks.columns[0] == "Unnamed: 0"
    lowlevel = pd.read_csv(SPOTGENTRACK / "Features Extracted/low_level_audio_features.csv",
                           nrows=0)  # fmt: skip
    assert len(lowlevel.columns) == 209
    lyrics = pd.read_csv(SPOTGENTRACK / "Features Extracted/lyrics_features.csv", nrows=0)
    assert len(lyrics.columns) == 8


def test_spotgentrack_joins_and_metadata():
    ds = load_spotgentrack(SPOTGENTRACK)
    tracks = fixture_csv("Data Sources/spotify_tracks.csv").drop_duplicates("id")
    lowlevel = fixture_csv("Features Extracted/low_level_audio_features.csv")
    lyrics = fixture_csv("Features Extracted/lyrics_features.csv")
    albums = fixture_csv("Data Sources/spotify_albums.csv")
    artists = fixture_csv("Data Sources/spotify_artists.csv").set_index("id")
    joinable = set(tracks["id"]) & set(lowlevel["track_id"]) & set(lyrics["track_id"])
    with_album = set(tracks.loc[tracks["album_id"].isin(albums["id"]), "id"])
    assert set(ds.ids) == joinable & with_album
    assert ds.info["repeated_track_rows"] == 1
    assert ds.info["validation"]["nan_features"] == len(joinable - with_album)
    assert ds.column_groups["lowlevel"] == list(LOWLEVEL_COLUMNS)
    assert ds.info["lyrics_sentinel_rows"] == 1
    table = ds.tabular.set_index(pd.Index(ds.ids))
    for row in tracks[tracks["id"].isin(ds.ids)].itertuples():
        listed = ast.literal_eval(row.artists_id)
        known = [a for a in listed if a in artists.index]
        assert table.loc[row.id, "artist_followers"] == pytest.approx(
            artists.loc[known, "followers"].mean()
        )
        assert table.loc[row.id, "n_markets"] == len(ast.literal_eval(row.available_markets))
        assert table.loc[row.id, "n_artists"] == len(listed)
        assert ds.y[list(ds.ids).index(row.id)] == row.popularity
        assert ds.artist[list(ds.ids).index(row.id)] == listed[0]
    first = ds.ids[0]
    np.testing.assert_allclose(
        table.loc[first, list(LOWLEVEL_COLUMNS)].to_numpy(float),
        lowlevel.set_index("track_id").loc[first, list(LOWLEVEL_COLUMNS)].to_numpy(float),
    )


def test_spotgentrack_audio_subset_reads_no_lyrics(tmp_path):
    root = tmp_path / "sgt"
    shutil.copytree(SPOTGENTRACK, root)
    (root / "Features Extracted/lyrics_features.csv").unlink()
    (root / "Data Sources/spotify_artists.csv").unlink()
    ds = load_spotgentrack(root, feature_sets="audio")
    assert list(ds.column_groups) == ["descriptors", "lowlevel"]
    assert ds.tabular.shape[1] == 13 + 207
    with pytest.raises(DataError, match="lyrics_features.csv"):
        load_spotgentrack(root, feature_sets=["lyrics"])
    with pytest.raises(DataError, match="unknown feature set"):
        load_spotgentrack(root, feature_sets=["timbre"])


def test_spotgentrack_missing_column_named(tmp_path):
    root = tmp_path / "sgt"
    shutil.copytree(SPOTGENTRACK, root)
    path = root / "Data Sources/spotify_tracks.csv"
    fixture_csv("Data Sources/spotify_tracks.csv").drop(columns=["popularity"]).to_csv(path)
    with pytest.raises(DataError, match="'popularity'"):
        load_spotgentrack(root)


def test_spotgentrack_classes_impute_and_audio_folder(tmp_path):
    ds = load_spotgentrack(SPOTGENTRACK, feature_sets="descriptors", task="classification")
    pop = fixture_csv("Data Sources/spotify_tracks.csv").drop_duplicates("id").set_index("id")
    expected = [0 if p < 25 else 1 if p < 65 else 2 for p in pop.loc[ds.ids, "popularity"]]
    assert list(ds.y) == expected and ds.class_names == ["low", "medium", "high"]
    imputed = load_spotgentrack(SPOTGENTRACK, on_bad="impute")
    assert len(imputed) == len(load_spotgentrack(SPOTGENTRACK)) + 1
    assert imputed.info["validation"]["missing_kept"]["release_year"] == 1
    assert np.isnan(imputed.tabular["release_year"]).sum() == 1  # left for the models
    audio = tmp_path / "previews"
    audio.mkdir()
    for track in ds.ids[:3]:
        (audio / f"{track}.mp3").write_bytes(b"")
    (audio / "stranger.mp3").write_bytes(b"")
    info = load_spotgentrack(SPOTGENTRACK, feature_sets="descriptors", audio_dir=audio).info
    assert (info["audio_matched"], info["audio_unlisted"]) == (3, 1)


# ---------------------------------------------------------------- user catalog
def make_store(root, audio_dir, ids, *, sequence_ids=(), seed=0):
    rng = np.random.default_rng(seed)
    store = FeatureStore.create(root, audio_root=audio_dir, config={"compat": "spotgentrack"})
    rows = []
    for track in ids:
        row = {"track_id": track, "path": f"{track}.mp3", "duration": 30.0,
               "sample_rate": 44100, "channels": 2, "silent": False}  # fmt: skip
        row.update(zip(LOWLEVEL_COLUMNS, rng.normal(size=207).tolist(), strict=True))
        rows.append(row)
    sequences = {
        "musicnn-msd": {
            t: Embedding(frames=np.full((2 + k, 4), k, np.float32), times=np.arange(2 + k) * 1.5)
            for k, t in enumerate(sequence_ids)
        }
    }
    failures = [{"path": "broken.mp3", "track_id": "broken", "stage": "lowlevel",
                 "reason": "cannot decode"}]  # fmt: skip
    store.write_shard(ShardContent(rows=rows, sequences=sequences, failures=failures))
    return store


def test_catalog_bad_label_rows_load_the_good_ones(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    store = make_store(tmp_path / "store", audio, ["rock/one", "rock/two", "pop/three", "four"])
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "path,popularity,artist\n"
        "rock/one.mp3,50,Band\n"
        "rock\\two.wav,abc,Band\n"  # non-numeric popularity
        "pop/three.ogg,120,Solo\n"  # out of range
        "four.flac,30,\n"  # no artist: its own group
        "nowhere.mp3,40,X\n"  # label without features
        "rock/one.mp3,55,Band\n"  # duplicate
    )
    ds = load_catalog(audio, labels, store)
    assert list(ds.ids) == ["rock/one", "four"]
    assert list(ds.y) == [50.0, 30.0] and list(ds.artist) == ["Band", ""]
    report = ds.info["validation"]
    assert (report["non_numeric_target"], report["target_out_of_range"]) == (1, 1)
    assert report["duplicate_id"] == 1 and report["rows_out"] == 3
    join = ds.info["join_losses"][0]
    assert join["left_unmatched"] == 1 and join["examples_left"] == ["nowhere"]
    assert join["right_unmatched"] == 2
    assert ds.info["store_failures"]["count"] == 1
    table = store.read_table().set_index("track_id")
    np.testing.assert_allclose(ds.features("lowlevel")[0], table.loc["rock/one",
                               list(LOWLEVEL_COLUMNS)].to_numpy(float))  # fmt: skip


def test_catalog_ids_and_sequences(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    ids = ["s0", "s1", "s2", "s3"]
    make_store(tmp_path / "store", audio, ids, sequence_ids=["s2", "s0", "s1"])
    labels = tmp_path / "labels.csv"
    labels.write_text("id,popularity\ns3,10\ns2,20\ns1,30\ns0,40\n")
    ds = load_catalog(audio, labels, tmp_path / "store", embedder="musicnn-msd")
    assert list(ds.ids) == ["s2", "s1", "s0"]  # labels order, s3 has no sequence
    assert ds.info["sequence_losses"]["missing"] == 1
    np.testing.assert_array_equal(ds.lengths, [2, 4, 3])
    assert [int(s[0, 0]) for s in ds.sequences] == [0, 2, 1]
    assert ds.artist is None
    sub = ds.subset(["s0", "s2"])
    np.testing.assert_array_equal(sub.lengths, [3, 2])
    np.testing.assert_allclose(sub.sequence_times[0], np.arange(3) * 1.5)
    with pytest.raises(DataError, match="no musicnn-msd sequence"):
        load_catalog(audio, labels, tmp_path / "store", embedder="musicnn-msd", on_bad="fail")


@pytest.mark.parametrize(
    "header, match", [("track,popularity", "id or path"), ("id,score", "popularity")]
)
def test_catalog_missing_label_columns(tmp_path, header, match):
    make_store(tmp_path / "store", tmp_path, ["a"])
    labels = tmp_path / "labels.csv"
    labels.write_text(f"{header}\na,1\n")
    with pytest.raises(DataError, match=match):
        load_catalog(tmp_path, labels, tmp_path / "store")


@pytest.mark.parametrize(
    "path, expected",
    [("a/b.mp3", "a/b"), ("a\\b.flac", "a/b"), ("./x.wav", "x"), ("plain", "plain")],
)
def test_track_id_from_path(path, expected):
    assert track_id_from_path(path) == expected


def test_track_id_from_absolute_path(tmp_path):
    assert track_id_from_path(str(tmp_path / "d" / "song.mp3"), tmp_path) == "d/song"
