"""Several targets: extra target columns, the masked joint loss, multi-output HitMusicNet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from autoenchorder.bundle import load_bundle, save_bundle
from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.locations import find_root
from autoenchorder.data.sources.hit_predictor import hit_labels, match_hit_labels
from autoenchorder.data.sources.musicoset import load_musicoset
from autoenchorder.data.sources.registry import DataSpec, load_dataset
from autoenchorder.errors import DataError, ModelError
from autoenchorder.models import make_model
from autoenchorder.models.multitarget import TargetSet, masked_joint_loss
from conftest import missing_data_reason

MUSICOSET = find_root("musicoset")
HIT_PREDICTOR = find_root("hit-predictor")
needs_musicoset = pytest.mark.skipif(MUSICOSET is None, reason=missing_data_reason("musicoset"))
needs_both = pytest.mark.skipif(
    MUSICOSET is None or HIT_PREDICTOR is None,
    reason=missing_data_reason("musicoset" if MUSICOSET is None else "hit-predictor"),
)

FAST = dict(
    n_seeds=1,
    ae_epochs=5,
    ae_batch_size=32,
    batch_size=16,
    epochs=150,
    patience=150,
    dropout=0.0,
    min_width=32,
    quiet=True,
)


def three_target_dataset(n: int = 80, *, seed: int = 0) -> PopularityDataset:
    """Popularity, a score and a label, all functions of 4 columns; some extra targets missing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    popularity = np.clip(50 + 15 * x[:, 0] - 10 * x[:, 1], 0, 100)
    score = 1000 + 300 * x[:, 0] + 200 * x[:, 2]
    label = (x[:, 3] + 0.5 * x[:, 0] > 0).astype(float)
    score[rng.random(n) < 0.3] = np.nan
    label[rng.random(n) < 0.3] = np.nan
    return PopularityDataset(
        ids=[f"s{i}" for i in range(n)],
        y=popularity,
        tabular=pd.DataFrame(x, columns=["a", "b", "c", "d"]),
        column_groups={"descriptors": ["a", "b", "c", "d"]},
        artist=[f"artist{i // 2}" for i in range(n)],
        name="three",
        extra_targets=pd.DataFrame({"score": score, "label": label}),
    )


# ---------------------------------------------------------------- the dataset's extra targets
def test_extra_targets_follow_the_rows_and_enter_the_fingerprint() -> None:
    ds = three_target_dataset(20)
    part = ds.take([3, 1, 7])
    expected = ds.extra_targets.iloc[[3, 1, 7]].to_numpy()
    np.testing.assert_array_equal(part.extra_targets.to_numpy(), expected)
    assert list(part.subset(["s7"]).extra_targets["score"].fillna(-1)) == [
        ds.extra_targets["score"].fillna(-1).iloc[7]
    ]
    changed = ds.take(np.arange(20))
    changed.extra_targets.loc[0, "score"] = 1.0
    assert changed.fingerprint() != ds.fingerprint()
    plain = PopularityDataset(ds.ids, ds.y, ds.tabular, ds.column_groups, artist=ds.artist)
    assert plain.extra_targets is None and plain.fingerprint() != ds.fingerprint()
    with pytest.raises(DataError, match="rows"):
        PopularityDataset(
            ds.ids, ds.y, ds.tabular, ds.column_groups, extra_targets=pd.DataFrame({"score": [1.0]})
        )


def test_hit_labels_match_by_id_then_by_title_and_main_artist(tmp_path) -> None:
    columns = "track,artist,uri,target\n"
    (tmp_path / "dataset-of-10s.csv").write_text(
        columns
        + "Wild Things,Alessia Cara,spotify:track:ID1,1\n"
        + "Don't Stop!,Queen Featuring Someone,spotify:track:OTHER,0\n"
        + "Dup,X,spotify:track:ID3,0\n"
    )
    (tmp_path / "dataset-of-00s.csv").write_text(columns + "Dup,X,spotify:track:ID3,1\n")
    labels = hit_labels(tmp_path)
    found = match_hit_labels(
        np.array(["ID1", "ID2", "ID3", "ID4"]),
        pd.Series(["whatever", "dont stop", "Dup", "Unknown"]),
        pd.Series(["Nobody", "QUEEN", "X", "Queen"]),
        labels,
    )
    # by id (the title is ignored), by title + main artist, a duplicate counted a hit, unmatched
    assert found[:3].tolist() == [1.0, 0.0, 1.0] and np.isnan(found[3])


@needs_both
def test_musicoset_extra_targets_load_and_leave_the_default_unchanged() -> None:
    plain = load_musicoset(MUSICOSET)
    ds = load_dataset(DataSpec("musicoset", extra_targets=("billboard", "billboard_hit", "hit")))
    assert plain.extra_targets is None
    np.testing.assert_array_equal(ds.ids, plain.ids)
    extra = ds.extra_targets
    assert list(extra.columns) == ["billboard", "billboard_hit", "hit"]
    pop = pd.read_csv(MUSICOSET / "musicoset_popularity/song_pop.csv", sep="\t")
    song = ds.ids[0]
    assert extra["billboard"].iloc[0] == pop.loc[pop.song_id == song, "year_end_score"].max()
    assert extra["billboard"].notna().mean() > 0.99
    assert 0.3 < extra["billboard_hit"].mean() < 0.7
    hit = extra["hit"]
    assert set(hit.dropna().unique()) <= {0.0, 1.0} and hit.notna().sum() > 10_000
    assert ds.info["extra_targets"]["hit"]["n_known"] == hit.notna().sum()
    with pytest.raises(DataError, match="no extra target"):
        load_musicoset(MUSICOSET, extra_targets=("chart",))


# ---------------------------------------------------------------- the masked joint loss
def test_a_missing_target_contributes_nothing_and_gets_no_gradient() -> None:
    kinds, weights = ("score", "binary"), torch.tensor([1.0, 0.5])
    raw = torch.tensor([[0.2, 1.0], [-0.3, -2.0], [0.0, 0.5]], requires_grad=True)
    target = torch.tensor([[0.6, 1.0], [0.1, 0.0], [0.9, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    loss = masked_joint_loss(raw, target, mask, kinds=kinds, weights=weights)
    # by hand: the score's mean over 3 rows, the label's over the one row that has it
    squared = ((torch.sigmoid(raw[:, 0].detach()) - target[:, 0]) ** 2).mean()
    cross = -torch.log(torch.sigmoid(raw[0, 1].detach()))  # label 1
    assert torch.isclose(loss, squared + 0.5 * cross)
    # whatever the missing cells hold, the loss is the same
    other = target.clone()
    other[1:, 1] = torch.tensor([0.77, 123.0])
    assert torch.isclose(masked_joint_loss(raw, other, mask, kinds=kinds, weights=weights), loss)
    loss.backward()
    assert torch.all(raw.grad[1:, 1] == 0) and torch.all(raw.grad[:, 0] != 0)
    assert raw.grad[0, 1] != 0


def test_a_target_absent_from_the_batch_adds_zero() -> None:
    raw = torch.zeros(2, 2, requires_grad=True)
    target = torch.tensor([[0.5, 0.0], [0.5, 0.0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    loss = masked_joint_loss(raw, target, mask, kinds=("score", "binary"), weights=torch.ones(2))
    assert float(loss.detach()) == pytest.approx(0.0) and torch.isfinite(loss)
    loss.backward()
    assert torch.all(torch.isfinite(raw.grad))


def test_target_set_refuses_bad_targets() -> None:
    ds = three_target_dataset(20)
    with pytest.raises(ModelError, match="start with"):
        TargetSet.fit(ds, ("score", "popularity"))
    with pytest.raises(ModelError, match="no extra target 'chart'"):
        TargetSet.fit(ds, ("popularity", "chart"))
    found = TargetSet.fit(ds, ("popularity", "score", "label"))
    assert found.kinds == ("score", "score", "binary")
    target, mask = found.tensors(ds)
    assert target.shape == (20, 3) and torch.equal(mask[:, 0], torch.ones(20))
    assert torch.equal(mask[:, 1].bool(), torch.as_tensor(ds.extra_targets["score"].notna()))
    assert float(target[:, :2].min()) == 0.0 and float(target[:, :2].max()) == 1.0


# ---------------------------------------------------------------- the multi-output model
def test_multi_target_hitmusicnet_learns_every_target_and_bundles(tmp_path) -> None:
    ds = three_target_dataset(80)
    val = ds.take(np.arange(60, 80))
    train = ds.take(np.arange(60))
    model = make_model("hitmusicnet", targets=("popularity", "score", "label"), seed=0, **FAST).fit(
        train, val
    )
    popularity = model.predict(train)
    assert popularity.shape == (60,)
    assert np.mean(np.abs(popularity - train.y)) < 0.35 * np.mean(np.abs(train.y - train.y.mean()))
    outputs = model.predict_targets(train)
    np.testing.assert_allclose(outputs["popularity"], popularity)
    known = train.extra_targets["score"].notna()
    score = train.extra_targets["score"][known]
    error = np.mean(np.abs(outputs["score"][known] - score))
    assert error < 0.35 * np.mean(np.abs(score - score.mean()))
    labelled = train.extra_targets["label"].notna()
    guess = outputs["label"][labelled] > 0.5
    assert np.mean(guess == train.extra_targets["label"][labelled].astype(bool)) > 0.9
    loaded = load_bundle(save_bundle(model, tmp_path / "bundle"))
    np.testing.assert_array_equal(loaded.predict(train), popularity)
    pd.testing.assert_frame_equal(loaded.predict_targets(train), outputs)


def test_multi_target_options_are_checked_before_training() -> None:
    ds = three_target_dataset(30)
    with pytest.raises(ModelError, match="objective"):
        make_model("hitmusicnet", targets=("popularity", "score"), objective="ranking", **FAST).fit(
            ds
        )
    with pytest.raises(ModelError, match="no extra target"):
        make_model("hitmusicnet", targets=("popularity", "billboard"), **FAST).fit(ds)


def test_single_target_default_is_unchanged_by_extra_targets() -> None:
    ds = three_target_dataset(40)
    plain = PopularityDataset(ds.ids, ds.y, ds.tabular, ds.column_groups, artist=ds.artist)
    options = dict(FAST, epochs=5, patience=5)
    with_extra = make_model("hitmusicnet", **options).fit(ds).predict(ds)
    without = make_model("hitmusicnet", **options).fit(plain).predict(plain)
    np.testing.assert_array_equal(with_extra, without)
