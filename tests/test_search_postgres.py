"""A search shared by several workers on a real PostgreSQL server (and SQLite), workers killed.

The server is started for the session by :mod:`postgres_server` (127.0.0.1 only). A worker
killed with SIGKILL mid-trial leaves its trial RUNNING; the survivor, with nothing left to
start, waits, marks it FAIL once its heartbeat is stale, and runs its point again.
"""

from __future__ import annotations

import collections

import optuna
import pytest

from autoenchorder.train import search_storage
from autoenchorder.train.search import (
    LOST_WORKER,
    SearchSpec,
    claims,
    grid_points,
    results_table,
    run_workers,
    sqlite_url,
)
from autoenchorder.train.search_storage import StudyStorageError, database_url, heartbeat_storage
from postgres_server import postgres_url  # noqa: F401  (the session's server fixture)
from search_objectives import KillOnce
from synthetic_popularity import BarrierObjective

COMPLETE, FAIL = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
SPACE = {"lr": (0.5, 1.0), "n_layers": (7, 9)}
#: a dead worker is noticed 3 s after its last heartbeat (the defaults are 10 s / 30 s)
FAST = {"heartbeat_seconds": 1, "grace_seconds": 3}


def _point(trial):
    return tuple(sorted(trial.params.items()))


def _completed_once(study, space):
    """Assert every grid point is COMPLETE exactly once; return the completed trials."""
    done = [t for t in study.get_trials() if t.state == COMPLETE]
    counts = collections.Counter(_point(t) for t in done)
    assert set(counts) == {tuple(sorted(p.items())) for p in grid_points(space)}
    assert set(counts.values()) == {1}, counts
    return done


def test_two_workers_on_postgres_finish_the_grid_once(postgres_url, tmp_path):  # noqa: F811
    spec = SearchSpec(space=SPACE, storage=postgres_url, study_name="pg-two", **FAST)
    study = run_workers(spec, BarrierObjective(str(tmp_path)), workers=2)
    done = _completed_once(study, SPACE)
    assert {t.user_attrs["worker"] for t in done} == {0, 1}  # both really worked
    extra = [t for t in study.get_trials() if t.state != COMPLETE]
    assert all(t.state == optuna.trial.TrialState.PRUNED for t in extra)


def _killed_worker_search(storage: str, name: str, marker_dir) -> None:
    kill_at = tuple(sorted(grid_points(SPACE)[2].items()))
    spec = SearchSpec(space=SPACE, storage=storage, study_name=name, **FAST)
    objective = KillOnce(str(marker_dir / "killed"), kill_at=kill_at)
    study = run_workers(spec, objective, workers=2)  # one worker dies: the search goes on
    assert (marker_dir / "killed").exists()  # the kill really happened
    trials = study.get_trials()
    lost = [t for t in trials if t.state == FAIL]
    assert len(lost) == 1 and _point(lost[0]) == kill_at
    assert "error" not in lost[0].user_attrs  # not the objective's failure: the worker died
    # its point was queued again and completed, by the surviving worker, exactly once
    done = _completed_once(study, SPACE)
    (retry,) = [t for t in done if t.system_attrs.get("failed_trial") == lost[0].number]
    assert _point(retry) == kill_at and retry.number > lost[0].number
    assert retry.user_attrs["worker"] != lost[0].user_attrs["worker"]
    # the survivor had nothing else to start: it waited for the dead worker's trial
    assert retry.number == max(t.number for t in trials if t.state == COMPLETE)
    assert len(claims(trials)) == spec.grid_size  # the retried FAIL holds nothing
    table = results_table(study)
    row = table[table["state"] == "FAIL"].iloc[0]
    assert row["error"] == LOST_WORKER and row["retried_as"] == retry.number


def test_killed_worker_on_postgres_its_point_runs_again(postgres_url, tmp_path):  # noqa: F811
    _killed_worker_search(postgres_url, "pg-killed", tmp_path)


def test_killed_worker_on_sqlite_its_point_runs_again(tmp_path):
    _killed_worker_search(sqlite_url(tmp_path / "study.db"), "sqlite-killed", tmp_path)


def test_postgresql_urls_get_the_installed_driver(monkeypatch):
    monkeypatch.setattr(search_storage, "_installed", lambda module: module == "psycopg")
    assert database_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:////tmp/s.db") == "sqlite:////tmp/s.db"
    monkeypatch.setattr(search_storage, "_installed", lambda module: True)
    assert database_url("postgresql://u@h/db") == "postgresql+psycopg2://u@h/db"


def test_a_missing_postgres_driver_says_what_to_install(monkeypatch):
    monkeypatch.setattr(search_storage, "_installed", lambda module: False)
    with pytest.raises(StudyStorageError, match=r"pip install autoenchorder\[postgres\]"):
        database_url("postgresql://u@h/db")


def test_an_unreachable_server_is_one_error_with_its_host_and_no_password():
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://alice:s3cret-pw@127.0.0.1:{port}/optuna?connect_timeout=2"
    with pytest.raises(StudyStorageError) as caught:
        heartbeat_storage(url, heartbeat_seconds=1, grace_seconds=3, max_retry=1)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "s3cret-pw" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"heartbeat_seconds": 0}, "heartbeat_seconds"),
        ({"heartbeat_seconds": 5, "grace_seconds": 5}, "grace_seconds"),
        ({"max_retry": -1}, "max_retry"),
    ],
)
def test_bad_heartbeat_settings_are_refused(kwargs, message):
    from autoenchorder.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        SearchSpec(**kwargs)


def test_an_interrupted_trial_is_queued_again_not_lost(tmp_path):
    from autoenchorder.train.search import open_study, run_worker

    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "i.db"), **FAST)
    stop_at = tuple(sorted(grid_points(SPACE)[1].items()))
    calls = []

    def objective(params):
        calls.append(params)
        if tuple(sorted(params.items())) == stop_at and calls.count(params) == 1:
            raise KeyboardInterrupt  # Ctrl-C in the middle of this point, the first time
        return {"mae": float(params["lr"])}

    with pytest.raises(KeyboardInterrupt):
        run_worker(spec, objective)
    states = [t.state for t in open_study(spec).get_trials()]
    assert FAIL in states and optuna.trial.TrialState.WAITING in states
    run_worker(spec, objective)  # the next run takes the queued point first
    _completed_once(open_study(spec), SPACE)


def test_a_second_trial_of_a_claimed_grid_point_is_pruned_unevaluated(tmp_path):
    from autoenchorder.train.search import open_study, run_worker

    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "d.db"), n_trials=1, **FAST)
    evaluated = []

    def objective(params):
        evaluated.append(tuple(sorted(params.items())))
        return {"mae": float(params["lr"])}

    run_worker(spec, objective)  # one point, trial 0
    study = open_study(spec)
    (first,) = study.get_trials()
    # the same point once more, as a worker racing for it (or a stray retry) would queue it
    study.add_trial(
        optuna.trial.create_trial(
            state=optuna.trial.TrialState.WAITING,
            params=first.params,
            distributions=first.distributions,
            system_attrs=first.system_attrs,
        )
    )
    full = SearchSpec(space=SPACE, storage=spec.storage, **FAST)
    run_worker(full, objective)
    study = open_study(full)
    second = study.get_trials()[1]
    assert second.state == optuna.trial.TrialState.PRUNED
    assert second.user_attrs["note"] == "point already claimed by trial 0"
    assert sorted(evaluated) == sorted(set(evaluated))  # nothing evaluated twice
    _completed_once(study, SPACE)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_live_worker_taken_for_dead_drops_its_result_and_goes_on(tmp_path):
    from autoenchorder.train.search import open_study, run_worker

    spec = SearchSpec(space=SPACE, storage=sqlite_url(tmp_path / "l.db"), **FAST)
    lagging = tuple(sorted(grid_points(SPACE)[0].items()))
    calls = []

    def objective(params):
        calls.append(tuple(sorted(params.items())))
        if calls[-1] == lagging and calls.count(lagging) == 1:
            # as a surviving worker does when this one's heartbeat is stale
            other = open_study(spec)
            (mine,) = other.get_trials(states=(optuna.trial.TrialState.RUNNING,))
            other._storage.set_trial_state_values(mine._trial_id, state=FAIL)
            optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)(other, mine)
        return {"mae": float(params["lr"])}

    run_worker(spec, objective)  # goes on after the trial it lost
    study = open_study(spec)
    done = _completed_once(study, SPACE)
    assert calls.count(lagging) == 2  # once dropped, once for real
    (retry,) = [t for t in done if _point(t) == lagging]
    assert "failed_trial" in retry.system_attrs
