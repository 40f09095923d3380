"""A real PostgreSQL server for the tests: its own data folder, 127.0.0.1 only, stopped at the end.

Import the fixture into a test module (``from postgres_server import postgres_url``). The
server is Debian's PostgreSQL (``apt-get install postgresql``, which ``make system-deps``
runs); without its binaries the tests that use it are skipped, saying so.

PostgreSQL refuses to run as root; when the tests run as root (CI containers) the server runs
as the ``postgres`` system user, in a folder handed to that user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

DATABASE = "autoenchorder_test"
SKIP_REASON = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found in /usr/lib/postgresql/*/bin or on "
    "PATH; install Debian's postgresql package (make system-deps)"
)


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (newest Debian version first), or None."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        reverse=True,
    )
    if found:
        return found[0].parent
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """The prefix that runs a command as the server's user (``postgres`` when we are root)."""
    if os.geteuid() != 0:
        return []
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip(
            "running as root and there is no postgres system user to run PostgreSQL as "
            "(Debian's postgresql package makes it: make system-deps)"
        )
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("running as root and no runuser to start PostgreSQL as the postgres user")
    return [runuser, "-u", "postgres", "--"]


def _run(command: list[str], *, timeout: float = 60) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


class PostgresServer:
    """One throw-away PostgreSQL cluster: ``start()``, ``url``, ``stop()``.

    Parameters
    ----------
    bin_dir : Path
        Folder of ``initdb`` and ``pg_ctl``.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="autoenchorder-pg-"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder / "socket"
        self.port = _free_port()
        self.prefix = _as_server_user()

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (user postgres, no password: trust)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        """``initdb``, ``pg_ctl start`` on 127.0.0.1 only, then create the test database."""
        self.socket_dir.mkdir()
        if self.prefix:
            shutil.chown(self.folder, "postgres", "postgres")
            shutil.chown(self.socket_dir, "postgres", "postgres")
        _run(
            [
                *self.prefix,
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.socket_dir} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        _run(
            [
                *self.prefix,
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.folder / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            ]
        )
        self._create_database()

    def _create_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1",
                    port=self.port,
                    user="postgres",
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=5,
                ) as connection:
                    connection.execute(f"CREATE DATABASE {DATABASE}")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            subprocess.run(
                [
                    *self.prefix,
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
                capture_output=True,
                timeout=30,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a database on a PostgreSQL server started for this test session."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.skip(SKIP_REASON)
    pytest.importorskip(
        "psycopg", reason="psycopg not installed: pip install autoenchorder[postgres]"
    )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
