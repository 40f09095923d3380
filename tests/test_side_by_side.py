"""Scoring a song side by side: worker threads with one-thread kernels, results in order."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from autoenchorder.side_by_side import current_pool, side_by_side


@pytest.fixture
def two_torch_threads():
    """torch at 2 threads in this process for the test (the suite runs at 1)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(saved)


def _in_a_new_thread(fn):
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def test_one_thread_runs_nothing_side_by_side() -> None:
    with side_by_side(1) as pool:
        assert pool is None and current_pool() is None


@pytest.mark.usefixtures("two_torch_threads")
def test_workers_use_one_thread_kernels_and_the_process_keeps_its_own() -> None:
    with side_by_side(2) as pool:
        assert current_pool() is pool and pool.threads == 2
        both = threading.Barrier(2)  # two tasks at once: one on each worker
        counts = [pool.submit(lambda: (both.wait(), torch.get_num_threads())[1]) for _ in "ab"]
        assert [f.result() for f in counts] == [1, 1]
        # inside the block BLAS and OpenMP run one thread in this thread too: work that is
        # not spread over the pool does not oversubscribe the cores the workers use
        assert all(lib["num_threads"] == 1 for lib in threadpool_info())
        assert torch.get_num_threads() == 1
    assert current_pool() is None
    assert torch.get_num_threads() == 2  # restored after the block
    assert _in_a_new_thread(torch.get_num_threads) == 2  # the process default is unchanged


def test_blocks_reuse_one_pool_of_a_size() -> None:
    def pool_threads() -> int:
        return sum(t.name.startswith("side-by-side") for t in threading.enumerate())

    pools = []
    for _ in range(5):
        with side_by_side(2) as pool:
            pools.append(pool)
            assert pool.submit(lambda: 1).result() == 1
    assert all(p is pools[0] for p in pools)
    assert pool_threads() == 2


def test_the_pool_belongs_to_the_block_of_this_thread_only() -> None:
    with side_by_side(2) as pool:
        assert pool.submit(current_pool).result() is None  # workers run their items inline
        assert _in_a_new_thread(current_pool) is None


def test_ordered_keeps_the_order_and_bounds_the_items_in_flight() -> None:
    consumed = []

    def items():
        for i in range(12):
            consumed.append(i)
            yield i

    def slow_first(i: int) -> int:
        time.sleep(0.02 * (3 - i % 4))  # later items finish first
        return i * i

    with side_by_side(2) as pool:
        out = []
        for value in pool.ordered(slow_first, items(), window=3):
            out.append(value)
            assert len(consumed) - len(out) <= 3
    assert out == [i * i for i in range(12)]


def test_an_error_is_raised_at_its_items_turn() -> None:
    def fails_at_three(i: int) -> int:
        if i == 3:
            raise ValueError("item 3")
        return i

    got = []
    with side_by_side(2) as pool, pytest.raises(ValueError, match="item 3"):
        for value in pool.ordered(fails_at_three, range(6)):
            got.append(value)
    assert got == [0, 1, 2]


@pytest.mark.usefixtures("two_torch_threads")
def test_musicnn_frames_side_by_side_equal_one_after_another(example_audio: Path) -> None:
    from autoenchorder.audio.embed import get_embedder
    from autoenchorder.audio.embed.weights import locate_weights
    from autoenchorder.audio.io import load_audio
    from autoenchorder.errors import WeightsError

    try:
        locate_weights("musicnn")
    except WeightsError as exc:
        pytest.skip(f"musicnn weights absent (`autoenchorder weights setup musicnn`): {exc}")
    embedder = get_embedder("musicnn-msd")
    y, sr = load_audio(next(example_audio.glob("*.ogg")))
    alone = embedder.embed(y, sr)
    with side_by_side(2) as pool:
        calls = []
        ordered = pool.ordered
        pool.ordered = lambda fn, items, **kw: (calls.append(fn), ordered(fn, items, **kw))[1]
        together = embedder.embed(y, sr)
    assert calls, "the embedder did not use the pool"
    assert together.frames.shape == alone.frames.shape and len(alone.frames) >= 5
    np.testing.assert_allclose(together.frames, alone.frames, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(together.times, alone.times)
