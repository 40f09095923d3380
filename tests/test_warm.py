"""``python -m autoenchorder.warm``: every numba-compiled path runs once (make runs it first)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from autoenchorder.audio.lowlevel import COMPAT_MODES
from autoenchorder.warm import warm_kernels
from conftest import WARM_NUMBA_CACHE, seed_numba_cache

ROOT = Path(__file__).resolve().parents[1]


def test_each_compiled_path_runs_and_is_timed():
    seconds = warm_kernels()
    expected = {f"lowlevel/{c}" for c in COMPAT_MODES} | {"lowlevel/reference", "procedural"}
    assert set(seconds) == expected
    assert all(value >= 0 for value in seconds.values())


def test_make_runs_it_before_the_tests_and_the_demo():
    makefile = (ROOT / "Makefile").read_text().splitlines()
    assert "\t$(PY) -m autoenchorder.warm" in makefile
    for target in ("demo", "demo-quick", "serve", "bench"):
        line = next(x for x in makefile if x.startswith(f"{target}:"))
        assert "kernels" in line.split(), target
    # the suite's: into the cache its workers start from (conftest.WARM_NUMBA_CACHE)
    test_recipe = makefile[makefile.index(next(x for x in makefile if x.startswith("test:"))) + 1]
    assert test_recipe == "\tNUMBA_CACHE_DIR=$(TEST_NUMBA_CACHE) $(PY) -m autoenchorder.warm"
    cache = next(x for x in makefile if x.startswith("TEST_NUMBA_CACHE :="))
    expected = "$(CURDIR)/" + WARM_NUMBA_CACHE.relative_to(ROOT).as_posix()
    assert cache.split(":=")[1].strip() == expected


def test_a_worker_cache_starts_as_a_copy_of_the_warm_one(tmp_path):
    warm = tmp_path / "warm"
    (warm / "some" / "path").mkdir(parents=True)
    (warm / "some" / "path" / "kernel.nbi").write_bytes(b"index")
    worker = tmp_path / "gw0"
    assert seed_numba_cache(worker, warm)
    assert (worker / "some" / "path" / "kernel.nbi").read_bytes() == b"index"
    (worker / "some" / "path" / "kernel.nbi").write_bytes(b"its own")
    assert not seed_numba_cache(worker, warm)  # an existing cache is left as it is
    assert (worker / "some" / "path" / "kernel.nbi").read_bytes() == b"its own"
    assert not seed_numba_cache(tmp_path / "gw1", tmp_path / "no-warm-cache")
    assert not (tmp_path / "gw1").exists()


def test_the_module_runs_as_a_script():
    done = subprocess.run(
        [sys.executable, "-m", "autoenchorder.warm"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("numba kernels ready in")
