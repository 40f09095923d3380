"""A local S3-compatible server for the tests: moto's standalone server on 127.0.0.1.

Import the fixtures into a test module (``from s3_server import s3_bucket  # noqa: F401``).
:func:`s3_server` starts ``python -m moto.server`` on a free port of 127.0.0.1 once per session
and always stops it; :func:`s3_bucket` creates a bucket and points this process and its
subprocesses at the server through the environment a user would set (fsspec's
``FSSPEC_S3_ENDPOINT_URL`` and the usual ``AWS_*`` credentials), restoring it afterwards. No
request leaves 127.0.0.1: the credentials are given, so botocore never asks an instance
metadata service, proxies are bypassed for 127.0.0.1, and the default endpoint of any S3
client that bypasses fsspec (``AWS_ENDPOINT_URL``) is a closed port of 127.0.0.1.
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

#: How long the server may take to answer its first request.
START_TIMEOUT_SECONDS = 30.0

#: The environment of a user pointing fsspec / s3fs at an S3-compatible server (plus the
#: endpoint, set by the fixture).
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@dataclass(frozen=True)
class S3Bucket:
    """A bucket on the local server.

    Attributes
    ----------
    name : str
    endpoint : str
        ``http://127.0.0.1:PORT``.
    """

    name: str
    endpoint: str

    def uri(self, *parts: str) -> str:
        """``s3://<bucket>/<parts...>``."""
        return "/".join([f"s3://{self.name}", *[p.strip("/") for p in parts]])

    def unique(self, prefix: str) -> str:
        """A fresh prefix URI in the bucket (so tests sharing the bucket never meet)."""
        return self.uri(f"{prefix}-{uuid.uuid4().hex[:8]}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", "/moto-api/")
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """Start moto's S3 server on 127.0.0.1 for the session; yields its endpoint URL."""
    for module, package in (("moto", "moto[server]"), ("s3fs", "s3fs")):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{package} is not installed (the test extra installs it: make test)")
    port = _free_port()
    env = {**os.environ, **S3_ENV}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _answers(port):
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                pytest.fail(f"moto server exited with {process.returncode}: {err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"moto server did not answer on 127.0.0.1:{port} within 30 s")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: str) -> Iterator[S3Bucket]:
    """A bucket on the local server, with this process and its children pointed at it.

    The endpoint is given as a user would: ``FSSPEC_S3_ENDPOINT_URL`` in the environment
    (read by fsspec when it is imported, so subprocesses see it) and the same value in
    ``fsspec.config.conf`` for this process, where fsspec was imported before.
    """
    import fsspec.config

    env = {**S3_ENV, "FSSPEC_S3_ENDPOINT_URL": s3_server}
    saved_conf = {k: dict(v) for k, v in fsspec.config.conf.items()}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(key, raising=False)
        # A guard: code that bypassed fsspec (pyarrow's own S3 client, a bare boto3 client)
        # would reach AWS; this default endpoint, a closed port of 127.0.0.1, makes it fail
        # here instead. fsspec's endpoint, given explicitly to s3fs, takes precedence.
        patch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
        fsspec.config.conf.setdefault("s3", {})["endpoint_url"] = s3_server
        try:
            import s3fs

            s3fs.S3FileSystem.clear_instance_cache()
            name = f"autoenchorder-{uuid.uuid4().hex[:8]}"
            s3fs.S3FileSystem().mkdir(name)
            yield S3Bucket(name, s3_server)
        finally:
            fsspec.config.conf.clear()
            fsspec.config.conf.update(saved_conf)
            import s3fs

            s3fs.S3FileSystem.clear_instance_cache()
