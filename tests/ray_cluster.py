"""One Ray cluster for every Ray test of the suite: two nodes on this machine, 1 CPU each.

Import the fixture into a test module (``from ray_cluster import ray_cluster``; pytest puts
``tests/`` on ``sys.path``) and mark each Ray test ``@pytest.mark.xdist_group("ray")`` so that
under ``pytest -n N --dist loadgroup`` all of them run in the one worker that holds the
cluster. The cluster starts on first use and stops at the end of the session.

The nodes' worker processes get ``tests/`` on their ``PYTHONPATH``: functions defined in test
modules (``make_worker`` factories) are pickled by reference and must import there.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from autoenchorder.engine.ray_backend import import_ray

TESTS = Path(__file__).resolve().parent
#: object store of each node: the tests move small payloads only
OBJECT_STORE_BYTES = 120 * 1024**2


# Each test module that imports the fixture gets its own session-scoped copy of it (pytest keys
# fixtures by the module they are found in): the copies share this one cluster, and the last
# copy to be torn down stops it.
_SHARED: dict = {"cluster": None, "users": 0}


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[object]:
    """A running two-node ``ray.cluster_utils.Cluster`` that this process has joined.

    Yields
    ------
    ray.cluster_utils.Cluster
        ``list_all_nodes()`` gives its two nodes (``node_id``); ``address`` its GCS.
    """
    pytest.importorskip("ray", reason="Ray is not installed: pip install autoenchorder[ray]")
    ray = import_ray()  # as the engine does it: no usage statistics, no Prometheus polling
    if _SHARED["cluster"] is None:
        _SHARED["cluster"] = _start_cluster(ray)
    _SHARED["users"] += 1
    try:
        yield _SHARED["cluster"]
    finally:
        _SHARED["users"] -= 1
        if _SHARED["users"] == 0:
            cluster, _SHARED["cluster"] = _SHARED["cluster"], None
            ray.shutdown()
            cluster.shutdown()


def _start_cluster(ray: object) -> object:
    from ray.cluster_utils import Cluster

    if ray.is_initialized():  # pragma: no cover  a test that joined Ray on its own
        ray.shutdown()
    saved = os.environ.get("PYTHONPATH")
    # The raylets (and the workers they start) inherit this environment.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), saved) if p)
    try:
        cluster = Cluster(
            initialize_head=True,
            head_node_args={
                "num_cpus": 1,
                "object_store_memory": OBJECT_STORE_BYTES,
                "include_dashboard": False,
            },
        )
        cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    ray.init(address=cluster.address, logging_level=logging.WARNING)
    return cluster
