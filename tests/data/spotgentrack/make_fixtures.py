"""Write the tiny SpotGenTrack fixture (real headers, generated values) next to this script.

Run from the repository root: ``.venv/bin/python tests/data/spotgentrack/make_fixtures.py``.
The headers and their order are documented in README.md here; the values are random (seed 0)
apart from a few rows planted to exercise the loader's joins and checks.
"""

from __future__ import annotations

import csv
import string
from pathlib import Path

import numpy as np

from autoenchorder.audio.lowlevel import LOWLEVEL_COLUMNS

HERE = Path(__file__).resolve().parent
TRACKS_HEADER = [
    "", "acousticness", "album_id", "analysis_url", "artists_id", "available_markets",
    "country", "danceability", "disc_number", "duration_ms", "energy", "href", "id",
    "instrumentalness", "key", "liveness", "loudness", "lyrics", "mode", "name", "playlist",
    "popularity", "preview_url", "speechiness", "tempo", "time_signature", "track_href",
    "track_name_prev", "track_number", "uri", "valence", "type",
]  # fmt: skip
ARTISTS_HEADER = [
    "", "artist_popularity", "followers", "genres", "id", "name", "track_id",
    "track_name_prev", "type",
]  # fmt: skip
ALBUMS_HEADER = [
    "", "album_type", "artist_id", "available_markets", "external_urls", "href", "id",
    "images", "name", "release_date", "release_date_precision", "total_tracks", "track_id",
    "track_name_prev", "uri", "type",
]  # fmt: skip
LYRICS_HEADER = [
    "", "mean_syllables_word", "mean_words_sentence", "n_sentences", "n_words",
    "sentence_similarity", "track_id", "vocabulary_wealth",
]  # fmt: skip
LOWLEVEL_HEADER = ["", *LOWLEVEL_COLUMNS, "track_id"]

rng = np.random.default_rng(0)


def spotify_id() -> str:
    alphabet = np.array(list(string.ascii_letters + string.digits))
    return "".join(rng.choice(alphabet, 22))


def write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, row in enumerate(rows):
            writer.writerow([i, *row])


def main() -> None:
    n_tracks = 8
    artists = [spotify_id() for _ in range(4)]
    unknown_artist = spotify_id()  # listed on a track, absent from spotify_artists.csv
    albums = [spotify_id() for _ in range(5)]
    tracks = [spotify_id() for _ in range(n_tracks)]
    markets = ["AR", "AU", "BE", "DE", "ES", "FR", "GB", "US"]

    track_rows = []
    for i, tid in enumerate(tracks):
        names = [artists[i % 4]] + ([artists[(i + 1) % 4]] if i % 3 == 0 else [])
        if i == 5:
            names = [artists[1], unknown_artist]
        n_markets = 1 + i % len(markets)
        track_rows.append([
            round(rng.uniform(0, 1), 4), albums[i % 5],
            f"https://api.spotify.com/v1/audio-analysis/{tid}", repr(names),
            repr(markets[:n_markets]), "BE", round(rng.uniform(0, 1), 3), 1,
            int(rng.integers(120_000, 300_000)), round(rng.uniform(0, 1), 3),
            f"https://api.spotify.com/v1/tracks/{tid}", tid, round(rng.uniform(0, 0.5), 6),
            int(rng.integers(0, 12)), round(rng.uniform(0.03, 0.6), 4),
            round(rng.uniform(-20, -2), 3), "la la la\nla", int(rng.integers(0, 2)),
            f"Song {i}", "Top 50", int(rng.integers(0, 101)),
            f"https://p.scdn.co/mp3-preview/{i:040x}", round(rng.uniform(0.02, 0.4), 4),
            round(rng.uniform(60, 200), 3), 4, f"https://api.spotify.com/v1/tracks/{tid}",
            f"Song {i}", 1 + i, f"spotify:track:{tid}", round(rng.uniform(0, 1), 3), "track",
        ])  # fmt: skip
    track_rows.append(list(track_rows[2]))  # the same track listed twice (two playlists)
    write(HERE / "Data Sources" / "spotify_tracks.csv", TRACKS_HEADER, track_rows)

    artist_rows = [
        [int(rng.integers(0, 101)), float(rng.integers(0, 5_000_000)), "['pop', 'dance pop']",
         aid, f"Artist {k}", tracks[k], f"Song {k}", "artist"]
        for k, aid in enumerate(artists)
    ]  # fmt: skip
    write(HERE / "Data Sources" / "spotify_artists.csv", ARTISTS_HEADER, artist_rows)

    dates = [("2019-03-01", "day"), ("1998", "year"), ("2005-07", "month"), ("2012-11-23", "day")]
    album_rows = [
        [
            "album",
            artists[k % 4],
            repr(markets),
            "{'spotify': 'https://open.spotify.com'}",
            f"https://api.spotify.com/v1/albums/{alb}",
            alb,
            "[]",
            f"Album {k}",
            dates[k][0],
            dates[k][1],
            int(rng.integers(1, 20)),
            tracks[k],
            f"Song {k}",
            f"spotify:album:{alb}",
            "album",
        ]
        for k, alb in enumerate(albums[:4])
    ]  # fmt: skip  -- albums[4] is missing: its tracks get no release year
    write(HERE / "Data Sources" / "spotify_albums.csv", ALBUMS_HEADER, album_rows)

    lowlevel_rows = [
        [*np.round(rng.normal(size=len(LOWLEVEL_COLUMNS)), 6).tolist(), tid]
        for tid in tracks[:-1]  # the last track has no low-level features
    ]
    write(HERE / "Features Extracted" / "low_level_audio_features.csv", LOWLEVEL_HEADER,
          lowlevel_rows)  # fmt: skip

    lyrics_rows = []
    for k, tid in enumerate(tracks[1:]):  # the first track has no lyrics features
        sentinel = k == 2  # language not detected: HitMusicNet writes -1
        lyrics_rows.append([
            -1 if sentinel else round(rng.uniform(1, 2), 2),
            -1 if sentinel else round(rng.uniform(2, 8), 2),
            int(rng.integers(5, 60)), int(rng.integers(40, 400)),
            -1 if sentinel else round(rng.uniform(0, 1), 4), tid,
            -1 if sentinel else round(rng.uniform(0, 0.8), 2),
        ])  # fmt: skip
    write(HERE / "Features Extracted" / "lyrics_features.csv", LYRICS_HEADER, lyrics_rows)


if __name__ == "__main__":
    main()
