"""The batch engine: the same results from the local pool and from Ray; crashes contained."""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from pathlib import Path

import pytest

from autoenchorder.engine import EngineError, EngineSpec, WorkerCrash, map_items
from autoenchorder.errors import WeightsError
from ray_cluster import ray_cluster  # noqa: F401  (the session's shared Ray cluster)

#: make_worker calls in this process (each worker process / actor counts its own)
_MADE: list[int] = []


def _square(state: tuple, x: int) -> tuple:
    return x * x, *state


def make_square(node_ids: bool = False) -> object:
    """A worker returning ``(x*x, pid, make_worker calls in this process, node id)``."""
    _MADE.append(1)
    node = None
    if node_ids:
        import ray

        node = ray.get_runtime_context().get_node_id()
    return partial(_square, (os.getpid(), len(_MADE), node))


def _poisoned(poison: int, marker: Path | None, x: int) -> int:
    if x == poison and (marker is None or not marker.exists()):
        if marker is not None:
            marker.touch()  # only the first time: the retry then succeeds
        os.kill(os.getpid(), signal.SIGKILL)
    return x * x


def make_poisoned(poison: int, marker: Path | None = None) -> object:
    """A worker whose process kills itself on ``poison`` (always, or once with a marker)."""
    return partial(_poisoned, poison, marker)


def _fail_on(bad: int, x: int) -> int:
    if x == bad:
        raise ValueError(f"bad item {x}")
    return x


def make_failing(bad: int) -> object:
    """A worker raising ValueError on ``bad``."""
    return partial(_fail_on, bad)


class Counted:
    """Items that record how many were taken, so the window can be checked from outside."""

    def __init__(self, n: int) -> None:
        self.n, self.taken = n, 0

    def __iter__(self):
        for i in range(self.n):
            self.taken += 1
            yield i


def _check_window(engine: EngineSpec, window: int, n: int = 12) -> list[tuple]:
    items = Counted(n)
    pairs = []
    for item, result in map_items(engine, make_square, items, window=window):
        # Items taken but not yet returned: never more than the window.
        assert items.taken - len(pairs) <= window
        pairs.append((item, result))
    return pairs


# ------------------------------------------------------------------------------ local engine
def test_engine_spec_refuses_unknown_names_and_bad_sizes() -> None:
    with pytest.raises(EngineError, match="unknown engine 'spark'"):
        EngineSpec("spark")
    with pytest.raises(EngineError, match="workers"):
        EngineSpec("local", workers=-1)
    with pytest.raises(EngineError, match="gpus_per_worker"):
        EngineSpec("local", gpus_per_worker=1)


def test_local_in_process_and_pool_give_the_same_results_in_any_order() -> None:
    in_process = dict(map_items(EngineSpec("local", workers=1), make_square, range(10)))
    assert {k: v[0] for k, v in in_process.items()} == {i: i * i for i in range(10)}
    assert {v[1] for v in in_process.values()} == {os.getpid()}
    pairs = _check_window(EngineSpec("local", workers=2), window=3, n=12)
    assert sorted((i, r[0]) for i, r in pairs) == [(i, i * i) for i in range(12)]
    # Each worker process built its function once (weights load once per process).
    assert {r[2] for _, r in pairs} == {1}
    assert os.getpid() not in {r[1] for _, r in pairs}


def test_local_pool_item_that_kills_its_worker_becomes_a_worker_crash() -> None:
    results = dict(map_items(EngineSpec("local", workers=2), partial(make_poisoned, 3), range(8)))
    assert sorted(results) == list(range(8))
    assert isinstance(results.pop(3), WorkerCrash)
    assert results == {i: i * i for i in range(8) if i != 3}


def test_local_pool_worker_killed_once_is_retried(tmp_path: Path) -> None:
    make = partial(make_poisoned, 5, tmp_path / "killed")
    results = dict(map_items(EngineSpec("local", workers=2), make, range(8)))
    assert (tmp_path / "killed").exists()
    assert results == {i: i * i for i in range(8)}


def test_a_worker_exception_is_raised_in_the_driver() -> None:
    with pytest.raises(ValueError, match="bad item 2"):
        list(map_items(EngineSpec("local", workers=2), partial(make_failing, 2), range(4)))
    with pytest.raises(ValueError, match="bad item 2"):
        list(map_items(EngineSpec("local", workers=1), partial(make_failing, 2), range(4)))


def make_broken() -> object:
    """A worker factory that fails, as one whose weights are missing does."""
    raise WeightsError("musicnn weights not found in /nowhere")


def test_a_failing_worker_factory_is_raised_in_the_driver() -> None:
    with pytest.raises(WeightsError, match="/nowhere"):
        list(map_items(EngineSpec("local", workers=2), make_broken, range(3)))


def test_progress_bar_passes_the_results_through(capsys: pytest.CaptureFixture) -> None:
    pairs = list(map_items(EngineSpec("local"), make_square, range(5), progress_label="squares"))
    assert [(i, r[0]) for i, r in pairs] == [(i, i * i) for i in range(5)]
    assert "squares" in capsys.readouterr().out


def test_ray_engine_without_ray_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EngineError, match=r"pip install autoenchorder\[ray\]"):
        list(map_items(EngineSpec("ray"), make_square, range(2)))


def test_unreachable_ray_address_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from autoenchorder.engine import ray_session

    def refuse(**_: object) -> None:
        raise ConnectionError("Could not find any running Ray instance")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    with (
        pytest.raises(EngineError, match="ray://10.1.2.3:10001"),
        ray_session("ray://10.1.2.3:10001"),
    ):
        pass


def test_ray_session_stops_only_the_ray_it_started(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from autoenchorder.engine import ray_session

    calls: list = []
    joined = {"now": False}
    monkeypatch.setattr(ray, "is_initialized", lambda: joined["now"])
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(("init", kw)))
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append(("shutdown", {})))
    with ray_session(None):
        pass
    (init, options), (last, _) = calls
    assert init == "init" and last == "shutdown"
    assert options["address"] == "local" and options["include_dashboard"] is False
    assert options["object_store_memory"] <= 1024**3
    calls.clear()
    with ray_session("auto"):
        pass
    assert [c[0] for c in calls] == ["init", "shutdown"] and calls[0][1]["address"] == "auto"
    calls.clear()
    joined["now"] = True  # a Ray this process already joined is used, and left running
    with ray_session("ray://10.1.2.3:10001"):
        pass
    assert calls == []


def test_ray_usage_statistics_are_off_unless_the_user_turned_them_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("ray", reason="Ray is not installed: pip install autoenchorder[ray]")
    from ray.data._internal.usage.collector import usage_collection_disabled

    from autoenchorder.engine.ray_backend import USAGE_STATS_VARIABLE, import_ray

    monkeypatch.delenv(USAGE_STATS_VARIABLE, raising=False)
    import_ray()
    assert os.environ[USAGE_STATS_VARIABLE] == "0"
    assert usage_collection_disabled()  # no Prometheus polling from the driver's threads
    monkeypatch.setenv(USAGE_STATS_VARIABLE, "1")  # the user's own choice stands
    import_ray()
    assert os.environ[USAGE_STATS_VARIABLE] == "1"


# -------------------------------------------------------------------------------- Ray engine
def _square_or_die(poison: int, bad: int, state: tuple, x: int) -> tuple:
    if x == poison:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == bad:
        raise ValueError(f"bad item {x}")
    return _square(state, x)


def make_square_or_die(poison: int, bad: int) -> object:
    """``make_square(node_ids=True)``'s worker; its process dies on ``poison`` every time and
    it raises ValueError on ``bad``."""
    return partial(_square_or_die, poison, bad, make_square(node_ids=True).args[0])


@pytest.mark.xdist_group("ray")
def test_ray_engine_on_two_nodes_contains_a_poison_item_and_raises_errors(
    ray_cluster,  # noqa: F811
) -> None:
    # One run, two Ray executions (windows of 6 items): the first holds an item that kills
    # its actor every time, the second an item whose function raises.
    items = Counted(10)
    results = {}
    make = partial(make_square_or_die, 3, 8)
    with pytest.raises(ValueError, match="bad item 8"):
        for item, result in map_items(
            EngineSpec("ray", workers=2), make, items, window=6, retries=0
        ):
            # Items taken but not yet returned: never more than the window.
            assert items.taken - len(results) <= 6
            results[item] = result
    assert set(range(6)) <= set(results)
    crash = results.pop(3)
    assert isinstance(crash, WorkerCrash) and "died" in crash.reason
    assert all(r[0] == i * i for i, r in results.items())
    nodes = {node.node_id for node in ray_cluster.list_all_nodes()}
    assert len(nodes) == 2
    assert {r[3] for r in results.values()} == nodes
    # Each actor (process) built its function once.
    assert {r[2] for r in results.values()} == {1}


@pytest.mark.xdist_group("ray")
@pytest.mark.usefixtures("ray_cluster")
def test_ray_engine_refuses_gpus_a_cluster_lacks() -> None:
    expected = r"\(2.0 CPUs, 0 GPUs\) cannot hold one worker of 1.0 CPUs and 1 GPUs"
    with pytest.raises(EngineError, match=expected):
        list(map_items(EngineSpec("ray", workers=1, gpus_per_worker=1), make_square, range(2)))
