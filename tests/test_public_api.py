"""The package's public face: one import line per stage, lazily loaded."""

from __future__ import annotations

import subprocess
import sys

import pytest

import autoenchorder

PUBLIC = (
    "load_audio",
    "extract_lowlevel",
    "get_embedder",
    "DataSpec",
    "load_dataset",
    "make_model",
    "load_bundle",
    "Predictor",
)


@pytest.mark.parametrize("name", PUBLIC)
def test_each_public_name_is_the_stage_object(name: str) -> None:
    value = getattr(autoenchorder, name)
    assert callable(value)
    assert value.__module__.startswith("autoenchorder.")
    assert name in dir(autoenchorder)


def test_from_import_of_the_whole_face() -> None:
    from autoenchorder import (  # noqa: F401
        DataSpec,
        Predictor,
        extract_lowlevel,
        get_embedder,
        load_audio,
        load_bundle,
        load_dataset,
        make_model,
    )

    assert DataSpec("procedural", root="x").source == "procedural"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        autoenchorder.nope  # noqa: B018


def test_importing_the_package_stays_light() -> None:
    code = "import sys, autoenchorder; print('torch' in sys.modules, 'librosa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
