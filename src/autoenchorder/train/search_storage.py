"""Where a search study lives: an Optuna RDB storage with heartbeats, on SQLite or PostgreSQL.

Every trial a worker runs sends a heartbeat every ``heartbeat_seconds``; a RUNNING trial whose
heartbeat is older than ``grace_seconds`` belongs to a worker that died (killed, its machine
lost). Any surviving worker marks such a trial FAIL (:func:`optuna.storages.fail_stale_trials`)
and queues a copy of it, same parameters, as a WAITING trial
(:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`), which the next free worker runs.

URLs: ``sqlite:///path`` (the default, one machine) or ``postgresql://user@host:port/db``
(a server every worker can reach). SQLAlchemy's default PostgreSQL driver is psycopg2; we ship
psycopg 3 (``pip install autoenchorder[postgres]``), so a plain ``postgresql://`` URL is read
as ``postgresql+psycopg://`` when psycopg2 is not installed.
"""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import optuna

from autoenchorder.config import ConfigError

#: what to install for PostgreSQL studies
POSTGRES_EXTRA = "pip install autoenchorder[postgres]"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


class StudyStorageError(ConfigError):
    """The study's storage cannot be used: its database driver is missing or its server is down."""


def database_url(url: str) -> str:
    """The SQLAlchemy URL to open for ``url`` (a PostgreSQL URL gets the installed driver).

    Parameters
    ----------
    url : str
        ``sqlite:///...``, ``postgresql://...`` (``postgres://`` too), or any SQLAlchemy URL.

    Returns
    -------
    str
        ``url`` itself, or with ``postgresql+psycopg://`` when only psycopg 3 is installed.

    Raises
    ------
    StudyStorageError
        A PostgreSQL URL and no driver for it.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StudyStorageError(
            f"study storage {url!r} is not a database URL; use sqlite:///PATH or "
            "postgresql://USER@HOST:PORT/DB"
        )
    dialect, _, driver = scheme.partition("+")
    if dialect not in _POSTGRES_SCHEMES:
        return url
    if not driver:
        driver = "psycopg2" if _installed("psycopg2") else "psycopg"
    module = {"psycopg": "psycopg", "psycopg2": "psycopg2"}.get(driver, driver)
    if not _installed(module):
        raise StudyStorageError(
            f"a PostgreSQL study needs the {driver} driver, which is not installed: "
            f"{POSTGRES_EXTRA}"
        )
    return f"postgresql+{driver}://{rest}"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def shown_url(url: str) -> str:
    """``url`` with its password hidden (what messages and logs may print)."""
    try:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  an unparsable URL: show its scheme only
        return url.partition("://")[0] + "://..."


def heartbeat_storage(
    url: str, *, heartbeat_seconds: int, grace_seconds: int, max_retry: int
) -> optuna.storages.RDBStorage:
    """Open the study storage at ``url`` with heartbeats and retries of stale trials.

    Parameters
    ----------
    url : str
        Database URL (see :func:`database_url`).
    heartbeat_seconds : int
        A running trial records a heartbeat this often.
    grace_seconds : int
        A RUNNING trial without a heartbeat for this long is failed and queued again.
    max_retry : int
        Times one trial is queued again; a point whose worker died more often is recorded FAIL.

    Returns
    -------
    optuna.storages.RDBStorage

    Raises
    ------
    StudyStorageError
        No driver for the URL, or its server cannot be reached (the message names the host,
        never the password).
    """
    opened = database_url(url)
    engine_kwargs: dict[str, Any] = {}
    if opened.startswith("sqlite"):
        # several processes write to one file: wait for the lock instead of failing at once
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        # a dead connection (server restarted) is replaced instead of failing a trial
        engine_kwargs["pool_pre_ping"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        try:
            return optuna.storages.RDBStorage(
                opened,
                engine_kwargs=engine_kwargs,
                heartbeat_interval=heartbeat_seconds,
                grace_period=grace_seconds,
                heartbeat_stale_trial_callback=retry,
            )
        except ImportError:  # a driver SQLAlchemy picked by itself
            raise StudyStorageError(
                f"no database driver installed for {shown_url(url)}; "
                f"for PostgreSQL: {POSTGRES_EXTRA}"
            ) from None
        except Exception as exc:
            raise _unreachable(url, exc) from None


def _unreachable(url: str, exc: Exception) -> StudyStorageError:
    """A one-line error for a database that cannot be opened (its host, never its password)."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason_line = reason[0] if reason else type(exc).__name__
    try:
        parsed = make_url(url)
        password = parsed.password
        where = parsed.host or parsed.database or "?"
        if parsed.port:
            where = f"{where}:{parsed.port}"
    except Exception:  # noqa: BLE001
        password, where = None, "?"
    if password:
        reason_line = reason_line.replace(str(password), "***")
    return StudyStorageError(
        f"cannot open the study database at {where} ({shown_url(url)}): {reason_line}"
    )
