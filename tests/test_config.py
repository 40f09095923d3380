from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field

import pytest

from autoenchorder.config import (
    STUDY_GRID,
    ConfigError,
    config_from_dict,
    config_to_dict,
    dumps_toml,
    load_config,
    merge_config,
    save_config,
    typed_values,
)


@dataclass
class Inner:
    width: int = 8
    dropout: float = 0.25


@dataclass
class Outer:
    name: str = "hmn"
    lr: float = 1e-3
    layers: tuple[int, ...] = (45, 22, 15)
    seed: int | None = None
    fine_tune: bool = False
    inner: Inner = field(default_factory=Inner)


def test_toml_round_trip_of_nested_dataclass(tmp_path):
    cfg = Outer(name='a "quoted" name\n', lr=2e-4, layers=(3, 2), seed=7, inner=Inner(width=3))
    save_config(cfg, tmp_path / "c.toml")
    assert load_config(Outer, tmp_path / "c.toml") == cfg


def test_none_is_left_out_and_reads_back_as_default(tmp_path):
    save_config(Outer(seed=None), tmp_path / "c.toml")
    assert "seed" not in (tmp_path / "c.toml").read_text()
    assert load_config(Outer, tmp_path / "c.toml").seed is None


@pytest.mark.parametrize(
    "value",
    [
        0.1,
        1e-300,
        -2.5e17,
        float("inf"),
        -float("inf"),
        3,
        -0,
        True,
        "ünï\tcode",
        [1, [2.5, "x"]],
        {"k-1": 1, "spaced key": "v"},
    ],
)
def test_dumps_toml_values_parse_back(value):
    parsed = tomllib.loads(dumps_toml({"v": value}))["v"]
    assert parsed == value


def test_dumps_toml_nan_and_arrays_of_tables():
    doc = {"x": float("nan"), "trials": [{"n": 1}, {"n": 2, "sub": {"a": "b"}}]}
    parsed = tomllib.loads(dumps_toml(doc))
    assert math.isnan(parsed["x"])
    assert parsed["trials"] == [{"n": 1}, {"n": 2, "sub": {"a": "b"}}]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lr": "fast"}, "Outer.lr: expected a number"),
        ({"layers": 3}, "Outer.layers: expected a list"),
        ({"inner": {"widht": 3}}, "unknown option.*widht"),
        ({"epochs": 3}, "unknown option.*epochs"),
        ({"fine_tune": 1}, "expected true or false"),
        ({"seed": 1.5}, "expected an integer"),
    ],
)
def test_bad_values_are_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(Outer, data)


def test_merge_updates_nested_fields_only():
    merged = merge_config(Outer(inner=Inner(width=3)), {"inner": {"dropout": 0.5}, "lr": 1})
    assert merged.inner == Inner(width=3, dropout=0.5)
    assert merged.lr == 1.0 and isinstance(merged.lr, float)
    assert config_to_dict(merged)["layers"] == [45, 22, 15]


def test_load_config_reads_a_section_and_reports_bad_files(tmp_path):
    (tmp_path / "c.toml").write_text('[model]\nname = "x"\n')
    assert load_config(Outer, tmp_path / "c.toml", section="model").name == "x"
    with pytest.raises(ConfigError, match=r"no \[search\] table"):
        load_config(Outer, tmp_path / "c.toml", section="search")
    (tmp_path / "bad.toml").write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(Outer, tmp_path / "bad.toml")


def test_study_grid_matches_the_blog_post():
    # Autoen-chorder blog post, "Finding the Best Model" (plus its best mean 0.36)
    assert STUDY_GRID["lr"] == (0.001, 0.0001, 0.0002, 0.02, 0.0005)
    assert STUDY_GRID["batch_size"] == (200, 100, 256, 277)
    assert STUDY_GRID["n_layers"] == (7, 9, 12)
    assert 0.36 in STUDY_GRID["loss_mean"] and len(STUDY_GRID["loss_mean"]) == 9


# ------------------------------------------------------------- one typed converter for models
def test_typed_values_convert_to_the_field_types_and_refuse_the_rest():
    from autoenchorder.models.hitmusicnet import HitMusicNetConfig

    values = typed_values(
        HitMusicNetConfig, {"groups": ["lowlevel"], "lr": 1, "epochs": 3.0, "skip_inputs": False}
    )
    assert values == {"groups": ("lowlevel",), "lr": 1.0, "epochs": 3, "skip_inputs": False}
    assert isinstance(values["lr"], float) and isinstance(values["epochs"], int)
    for bad, message in (
        ({"skip_inputs": "no"}, "hitmusicnet.skip_inputs: expected true or false, got 'no'"),
        ({"epochs": "many"}, "hitmusicnet.epochs: expected an integer"),
        ({"lr": True}, "hitmusicnet.lr: expected a number"),
        ({"epochz": 3}, "hitmusicnet: unknown option(s) epochz"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            typed_values(HitMusicNetConfig, bad, where="hitmusicnet")


def test_every_model_config_goes_through_the_typed_converter():
    from autoenchorder.models.registry import available_models
    from autoenchorder.train.fit import build_model, model_options

    for name in available_models():
        assert build_model(name, {"seed": 2.0, "quiet": True}).config.seed == 2
        with pytest.raises(ConfigError, match=f"{name}.quiet: expected true or false"):
            model_options(name, {"quiet": "no"})
