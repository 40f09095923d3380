"""Learning with privileged information: a teacher that sees what the student cannot.

Some targets of a song are known for the training songs but never for a new one: MusicOSet's
Billboard year-end score and Hit Predictor's hit label are outcomes, like popularity itself.
A model cannot take them as inputs, but a *teacher* can: a gradient-boosted tree model
(scikit-learn's ``HistGradientBoostingRegressor``) fitted on the student's features plus those
columns predicts popularity far better (on MusicOSet's descriptors, out-of-fold R^2 ~0.45
against ~0.26 without them). Its predictions are a less noisy version of the popularity the
student's features can explain, and the student is trained on the blend

    target = (1 - w) * popularity + w * teacher(features, privileged columns)

(Vapnik & Izmailov 2015's "learning using privileged information", as a distillation in the
sense of Lopez-Paz et al., ICLR 2016). Only training rows are blended; the teacher's score of a
training song comes from a teacher fitted on the *other* folds of the training rows (grouped by
artist where the rows know them), so it never saw the song, nor its artist. Nothing of the
teacher is kept: the fitted student is an ordinary model of its own features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.errors import ModelError
from autoenchorder.models.multitarget import require_extra_targets

#: the teacher's folds over the training rows
TEACHER_FOLDS = 5
#: the teacher's boosting rounds and step (not tuned: scikit-learn's defaults, more rounds at a
#: smaller step; its internal early stopping is on above 10,000 rows)
TEACHER_ROUNDS, TEACHER_LEARNING_RATE = 300, 0.05


def privileged_columns(ds: PopularityDataset, names: Sequence[str]) -> np.ndarray:
    """The columns ``names`` of ``ds.extra_targets`` as a matrix (NaN where a song has none).

    Parameters
    ----------
    ds : PopularityDataset
    names : sequence of str
        Columns of ``ds.extra_targets``.

    Returns
    -------
    np.ndarray, float64, shape (N, len(names))

    Raises
    ------
    ModelError
        A column the dataset does not carry.
    """
    require_extra_targets(ds, names)
    columns = [ds.extra_targets[n].to_numpy(np.float64) for n in names]  # type: ignore[index]
    return np.stack(columns, axis=1) if columns else np.empty((len(ds), 0))


def out_of_fold_teacher(
    features: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None,
    *,
    seed: int,
    folds: int = TEACHER_FOLDS,
) -> np.ndarray:
    """Each row's popularity as predicted by a teacher fitted on the other folds.

    Parameters
    ----------
    features : np.ndarray, shape (N, F)
        The teacher's inputs (the student's features and the privileged columns; NaN allowed).
    y : np.ndarray, shape (N,)
        Popularity 0-100 of every row (finite).
    groups : np.ndarray, shape (N,), or None
        Artist of each row (``""`` unknown, a group of its own): no artist is in a row's fold
        and in the folds its teacher was fitted on. None: seeded shuffled folds.
    seed : int
        Seeds the folds (when not grouped) and the trees.
    folds : int
        Number of folds (at least 2; fewer groups or rows than this is refused).

    Returns
    -------
    np.ndarray, float64, shape (N,)
        Clipped to 0-100.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415
    from sklearn.model_selection import GroupKFold, KFold  # noqa: PLC0415

    n = len(y)
    if groups is not None:
        groups = np.asarray(groups).astype(str)
        unknown = groups == ""
        groups = np.where(unknown, [f"\x00row{i}" for i in range(n)], groups)
    n_groups = n if groups is None else len(np.unique(groups))
    if folds < 2 or n_groups < folds:
        raise ModelError(
            f"the teacher needs {max(folds, 2)} folds of training rows, and there are "
            f"{n_groups} {'rows' if groups is None else 'artists'}"
        )
    if groups is None:
        cut = KFold(folds, shuffle=True, random_state=seed).split(features)
    else:
        cut = GroupKFold(folds).split(features, y, groups)
    prediction = np.empty(n, dtype=np.float64)
    for fit_rows, held_rows in cut:
        teacher = HistGradientBoostingRegressor(
            max_iter=TEACHER_ROUNDS, learning_rate=TEACHER_LEARNING_RATE, random_state=seed
        )
        teacher.fit(features[fit_rows], y[fit_rows])
        prediction[held_rows] = teacher.predict(features[held_rows])
    return np.clip(prediction, 0.0, 100.0)


def taught(
    train: PopularityDataset,
    features: np.ndarray,
    privileged: Sequence[str],
    *,
    weight: float,
    seed: int,
) -> tuple[PopularityDataset, np.ndarray]:
    """``train`` with its popularity blended with an out-of-fold teacher's.

    Parameters
    ----------
    train : PopularityDataset
        Training rows of a regression dataset (rows without popularity keep none).
    features : np.ndarray, shape (N, F)
        The student's features of ``train`` (raw: trees need no scaling).
    privileged : sequence of str
        Columns of ``train.extra_targets`` the teacher sees beside ``features``.
    weight : float
        ``w`` in [0, 1]: the teacher's share of the target.
    seed : int

    Returns
    -------
    taught_train : PopularityDataset
        A copy of ``train`` whose ``y`` is ``(1 - w) * y + w * teacher`` where popularity is
        known.
    teacher : np.ndarray, shape (N,)
        The teacher's out-of-fold prediction, clipped to the training popularity's range
        (NaN where popularity is unknown).
    """
    if not 0.0 <= weight <= 1.0:
        raise ModelError(f"teacher_weight must be in [0, 1], not {weight}")
    if train.task != "regression":
        raise ModelError("a teacher blends popularity scores: it needs the regression task")
    known = train.popularity_known()
    inputs = np.column_stack(
        [np.asarray(features, np.float64), privileged_columns(train, privileged)]
    )
    groups = None if train.artist is None else train.artist[known]
    teacher = np.full(len(train), np.nan)
    y = train.y[known]
    teacher[known] = out_of_fold_teacher(inputs[known], y, groups, seed=seed)
    teacher = np.clip(teacher, y.min(), y.max())  # within the popularity the student learns
    blended = np.where(known, (1.0 - weight) * train.y + weight * teacher, train.y)
    return replace(train.take(np.arange(len(train))), y=blended), teacher
