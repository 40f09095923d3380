"""``python -m autoenchorder.warm``: every numba-compiled path runs once (make runs it first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autoenchorder.audio.lowlevel import COMPAT_MODES
from autoenchorder.warm import warm_kernels

ROOT = Path(__file__).resolve().parents[1]


def test_each_compiled_path_runs_and_is_timed():
    seconds = warm_kernels()
    assert set(seconds) == {f"lowlevel/{c}" for c in COMPAT_MODES} | {"procedural"}
    assert all(value >= 0 for value in seconds.values())


def test_make_runs_it_before_the_tests_and_the_demo():
    makefile = (ROOT / "Makefile").read_text()
    assert "\t$(PY) -m autoenchorder.warm" in makefile
    for target in ("test", "demo", "demo-quick", "serve", "bench"):
        line = next(x for x in makefile.splitlines() if x.startswith(f"{target}:"))
        assert "kernels" in line.split(), target


def test_the_module_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, "-m", "autoenchorder.warm"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("numba kernels ready in")
