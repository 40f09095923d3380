import numpy as np
import pandas as pd
import pytest

from autoenchorder.data.dataset import PopularityDataset
from autoenchorder.data.validate import join_report, require_columns, validate_table
from autoenchorder.errors import DataError


def make_dataset(n=12, *, sequences=True, artist=True, seed=0):
    """Row i carries the value i in every part, so misalignment is visible."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n)
    return PopularityDataset(
        ids=[f"t{i}" for i in range(n)],
        y=np.linspace(0, 100, n),
        tabular=pd.DataFrame({"a": np.arange(n, dtype=float), "b": -np.arange(n, dtype=float),
                              "c": np.arange(n) * 10.0}),
        column_groups={"descriptors": ["a", "b"], "metadata": ["c"]},
        sequences=[np.full((t, 3), i, np.float32) for i, t in enumerate(lengths)]
        if sequences else None,
        sequence_times=[np.arange(t) * 0.5 for t in lengths] if sequences else None,
        artist=np.array([f"artist{i}" for i in range(n)]) if artist else None,
        name="toy",
    )  # fmt: skip


def assert_aligned(ds):
    index = np.array([int(i[1:]) for i in ds.ids])
    np.testing.assert_array_equal(ds.tabular["a"].to_numpy(), index)
    np.testing.assert_array_equal(ds.tabular["c"].to_numpy(), index * 10)
    if ds.artist is not None:
        assert list(ds.artist) == [f"artist{i}" for i in index]
    if ds.sequences is not None:
        assert [int(s[0, 0]) for s in ds.sequences] == list(index)
        assert [len(t) for t in ds.sequence_times] == list(ds.lengths)


@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("artist", [True, False])
def test_subset_keeps_every_part_aligned_in_given_order(sequences, artist):
    ds = make_dataset(sequences=sequences, artist=artist)
    wanted = ["t7", "t2", "t11", "t0"]
    sub = ds.subset(wanted)
    assert list(sub.ids) == wanted
    np.testing.assert_allclose(sub.y, ds.y[[7, 2, 11, 0]])
    assert isinstance(sub.tabular.index, pd.RangeIndex)
    assert_aligned(sub)
    assert len(ds) == 12  # the original is untouched


def test_take_positions_and_mask():
    ds = make_dataset()
    rng = np.random.default_rng(1)
    order = rng.permutation(len(ds))
    taken = ds.take(order)
    assert list(taken.ids) == [f"t{i}" for i in order]
    assert_aligned(taken)
    mask = ds.y > 50
    masked = ds.take(mask)
    assert len(masked) == int(mask.sum())
    assert_aligned(masked)


def test_subset_unknown_id_is_named():
    with pytest.raises(DataError, match="nope"):
        make_dataset().subset(["t1", "nope"])


def test_features_in_group_order():
    ds = make_dataset()
    x = ds.features(["metadata", "descriptors"])
    assert x.dtype == np.float64 and x.shape == (12, 3)
    assert ds.feature_names(["metadata", "descriptors"]) == ["c", "a", "b"]
    np.testing.assert_array_equal(x[:, 1], np.arange(12))
    with pytest.raises(DataError, match="lyrics"):
        ds.features(["lyrics"])


def test_require_names_missing_parts():
    ds = make_dataset(sequences=False, artist=False)
    ds.require("descriptors")
    with pytest.raises(DataError) as err:
        ds.require("sequences", "artist", "lowlevel", "metadata")
    message = str(err.value)
    assert "sequences" in message and "artist" in message and "lowlevel" in message
    with pytest.raises(DataError, match="sequences"):
        _ = ds.lengths


@pytest.mark.parametrize(
    "change, match",
    [
        ({"ids": ["a", "b", "a"]}, "duplicate"),
        ({"y": [1.0, 2.0]}, "shape"),
        ({"y": [1.0, 2.0, 101.0]}, "0-100"),
        ({"y": [1.0, np.nan, 3.0]}, "0-100"),
        ({"column_groups": {"descriptors": ["a", "zz"]}}, "zz"),
        ({"sequences": [np.zeros((2, 3)), np.zeros((2, 4)), np.zeros((1, 3))]}, "widths"),
        ({"sequences": [np.zeros((2, 3))] * 2}, "sequences"),
        ({"artist": ["x", "y"]}, "artist"),
        ({"task": "ranking"}, "task"),
    ],
)
def test_inconsistent_parts_raise(change, match):
    parts = dict(
        ids=["a", "b", "c"],
        y=[10.0, 20.0, 30.0],
        tabular=pd.DataFrame({"a": [1.0, 2.0, 3.0]}),
        column_groups={"descriptors": ["a"]},
    )
    parts.update(change)
    with pytest.raises(DataError, match=match):
        PopularityDataset(**parts)


def test_sequence_times_must_match_lengths():
    with pytest.raises(DataError, match="sequence_times"):
        PopularityDataset(
            ids=["a"], y=[1.0], tabular=pd.DataFrame({"a": [1.0]}), column_groups={},
            sequences=[np.zeros((3, 2))], sequence_times=[np.zeros(2)],
        )  # fmt: skip


def test_classification_labels_checked():
    common = dict(ids=["a", "b"], tabular=pd.DataFrame({"a": [1.0, 2.0]}), column_groups={})
    ds = PopularityDataset(y=[0, 1], task="classification", class_names=["no", "yes"], **common)
    assert ds.y.dtype == np.int64
    with pytest.raises(DataError, match="labels"):
        PopularityDataset(y=[0, 2], task="classification", class_names=["no", "yes"], **common)


# ---------------------------------------------------------------- validation policy
def labels_frame():
    return pd.DataFrame(
        {
            "id": ["a", "b", "b", "", "c", "d", "e", "f"],
            "pop": ["10", "20", "21", "30", "x", "140", None, "50"],
            "f1": [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, np.nan],
        }
    )


def test_drop_policy_counts_every_problem():
    clean, report = validate_table(
        labels_frame(), id_column="id", target_column="pop", feature_columns=["f1"]
    )
    assert list(clean["id"]) == ["a", "b"]
    assert report["rows_in"] == 8 and report["rows_out"] == 2
    assert report["duplicate_id"] == 1 and report["missing_id"] == 1
    assert report["non_numeric_target"] == 1 and report["missing_target"] == 1
    assert report["target_out_of_range"] == 1 and report["nan_features"] == 1
    assert report["examples"]["target_out_of_range"] == ["d"]


def test_impute_policy_clips_targets_and_keeps_bad_features_as_nan():
    clean, report = validate_table(
        labels_frame(), id_column="id", target_column="pop", feature_columns=["f1"],
        on_bad="impute",
    )  # fmt: skip
    assert list(clean["id"]) == ["a", "b", "d", "f"]
    assert clean.loc[clean["id"] == "d", "pop"].item() == 100.0
    # not filled here (a median over all rows would leak test rows into training rows):
    # the models impute from their training rows (tests/test_imputation.py)
    assert np.isnan(clean.loc[clean["id"] == "f", "f1"].item())
    assert report["clipped_targets"] == 1 and report["missing_kept"] == {"f1": 1}


def test_fail_policy_lists_all_counts():
    with pytest.raises(DataError) as err:
        validate_table(
            labels_frame(), id_column="id", target_column="pop", feature_columns=["f1"],
            on_bad="fail",
        )  # fmt: skip
    assert "duplicate id" in str(err.value) and "nan features" in str(err.value)


def test_missing_columns_named_in_one_error():
    with pytest.raises(DataError) as err:
        require_columns(["a", "b"], ["a", "tempo", "energy"], where="file.csv")
    assert "tempo" in str(err.value) and "energy" in str(err.value)


def test_join_report_counts_and_empty_join():
    report = join_report(["a", "b", "c"], ["b", "c", "d", "e"], left="L", right="R")
    assert (report["matched"], report["left_unmatched"], report["right_unmatched"]) == (2, 1, 2)
    assert report["examples_left"] == ["a"]
    with pytest.raises(DataError, match="empty join"):
        join_report(["a"], ["b"], left="L", right="R")
