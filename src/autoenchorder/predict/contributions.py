"""Which stretches of a song moved its prediction: occlusion of embedding frames.

For models with a sequence part, each embedding frame's contribution is measured by occlusion:
the frame is replaced by the mean frame of its input and the input is scored again;
``contribution = prediction(original) - prediction(occluded)`` in popularity points. Positive:
that stretch of audio raised the prediction. One value per embedder frame (3 s for musicnn,
0.96 s for VGGish), with its start and end time in the song.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from autoenchorder.data.dataset import PopularityDataset


def occlusion_contributions(
    ds: PopularityDataset,
    spans: Sequence[tuple[float, float]],
    predictions: np.ndarray,
    predict: Callable[[PopularityDataset], np.ndarray],
    *,
    frame_seconds: float,
) -> list[dict[str, float]]:
    """Each embedding frame's contribution to its row's prediction.

    Parameters
    ----------
    ds : PopularityDataset
        The song's input rows (one per span), with sequences.
    spans : sequence of (start, length)
        Where each row's audio lies in the song, seconds.
    predictions : np.ndarray, shape (R,)
        The rows' predictions.
    predict : callable
        Dataset -> predictions of shape (rows,) (e.g. the ensemble mean).
    frame_seconds : float
        Length of one embedder frame, seconds.

    Returns
    -------
    list of dict
        ``start``, ``end`` (seconds in the song), ``contribution`` (popularity points), in
        row then frame order; empty without sequences.
    """
    if ds.sequences is None:
        return []
    rows, owners = [], []
    for r, frames in enumerate(ds.sequences):
        mean = frames.mean(axis=0, keepdims=True)
        for t in range(len(frames)):
            occluded = frames.copy()
            occluded[t] = mean
            rows.append(occluded)
            owners.append((r, t))
    if not rows:
        return []
    from autoenchorder.data.dataset import PopularityDataset  # noqa: PLC0415

    index = [r for r, _ in owners]
    occluded_ds = PopularityDataset(
        ids=np.array([f"o{i}" for i in range(len(rows))]),
        y=np.zeros(len(rows)),
        tabular=ds.tabular.iloc[index].reset_index(drop=True),
        column_groups=ds.column_groups,
        sequences=rows,
        sequence_times=None if ds.sequence_times is None else [ds.sequence_times[r] for r in index],
        name="occlusion",
    )
    without = predict(occluded_ds)
    out = []
    for (r, t), value in zip(owners, without, strict=True):
        times = ds.sequence_times
        start = spans[r][0] + (float(times[r][t]) if times is not None else t * frame_seconds)
        out.append(
            {
                "start": start,
                "end": min(start + frame_seconds, spans[r][0] + spans[r][1]),
                "contribution": float(predictions[r] - value),
            }
        )
    return out
