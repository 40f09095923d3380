"""The published numbers this project reproduces or compares with, in one place.

Two sources:

- HitMusicNet (Martin-Gutierrez et al., IEEE Access 2020): its popularity classes and its best
  published test figures, on popularity scaled to 0-1.
- The Autoen-chorder study (blog post): its song-by-song win rate over its HitMusicNet replica,
  the popularity ranges where the two models differed, its hyper-parameter grid, the grid's
  best setting and its random baseline.

The report, the search grid, the band code and the tests read them from here; nothing else
writes them down. This module imports nothing from the package (the lowest floor: any stage may
use it).
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- HitMusicNet

#: Popularity class edges of HitMusicNet's 3-class task, 0-100 scale:
#: low < 25 <= mid < 65 <= high.
BAND_EDGES: tuple[float, float] = (25.0, 65.0)
#: Names of the three classes, in label order 0, 1, 2.
BAND_NAMES: tuple[str, str, str] = ("low", "mid", "high")
#: HitMusicNet's best published test MAE, popularity on the 0-1 scale.
HITMUSICNET_MAE_01: float = 0.0817
#: HitMusicNet's published test accuracy of the 3-class task.
HITMUSICNET_ACCURACY: float = 0.835
#: HitMusicNet's published test macro-F1 of the 3-class task.
HITMUSICNET_MACRO_F1: float = 0.515

# ------------------------------------------------------------------ the Autoen-chorder study

#: Test songs on which Autoen-chorder's error was smaller than its HitMusicNet replica's ...
STUDY_WINS: int = 919
#: ... out of this many test songs (the 15 % holdout of 10,000).
STUDY_TEST_SONGS: int = 1500
#: The study's win rate, 919 / 1,500 = 0.6127: the share a replication must beat.
STUDY_WIN_SHARE: float = STUDY_WINS / STUDY_TEST_SONGS
#: The win rate as the study wrote it, in percent (919 / 1,500 is 61.27 %; it wrote 61.2).
STUDY_WIN_PERCENT: float = 61.2

#: Popularity ranges (0-100 scale) where the study's models differed: Autoen-chorder better in
#: the middle 22-55 (both ends included), HitMusicNet on the tails below 20 and above 60 (ends
#: excluded). The gaps 20-22 and 55-60 belong to no range, as in the study.
STUDY_LOW_TAIL_BELOW: float = 20.0
STUDY_MIDDLE: tuple[float, float] = (22.0, 55.0)
STUDY_HIGH_TAIL_ABOVE: float = 60.0

#: The study's hyper-parameter grid ("Finding the Best Model"); the study's best loss mean 0.36
#: is added to the listed means. Keys are the search's parameter names (see
#: :mod:`autoenchorder.train.search`).
STUDY_GRID: dict[str, tuple[float | int, ...]] = {
    "lr": (0.001, 0.0001, 0.0002, 0.02, 0.0005),
    "weight_decay": (0.0, 0.0001, 0.0002),
    "batch_size": (200, 100, 256, 277),
    "loss_mean": (0.33, 0.34, 0.35, 0.36, 0.37, 0.38, 0.40, 0.42, 0.45),
    "loss_alpha": (1.8, 2.0, 2.1, 2.2),
    "loss_beta": (1.8, 2.0, 2.2),
    "n_layers": (7, 9, 12),
}

#: The study's best setting of the grid above (loss mean 0.36, alpha 2, beta 2, batch 200,
#: weight decay 0).
STUDY_BEST: dict[str, float | int] = {
    "loss_mean": 0.36,
    "loss_alpha": 2.0,
    "loss_beta": 2.0,
    "batch_size": 200,
    "weight_decay": 0.0,
}

#: The study's random baseline, N(40.02, 16.79) on the 0-100 scale.
STUDY_RANDOM_BASELINE: tuple[float, float] = (40.02, 16.79)
