"""The suite's ``xdist_group`` marks take effect under ``make test`` (``-n 2 --dist loadgroup``).

The Ray tests share one Ray session and the server tests one server only if pytest-xdist keeps
each group on one worker. pytest-xdist does that by appending ``@group`` to a test's node id;
with pytest 9 that rewrite was silently lost and every group was spread over both workers,
so pyproject pins a pytest whose node ids xdist can still rewrite.
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("suite_groups")
def test_a_grouped_test_carries_its_group_in_its_node_id(request: pytest.FixtureRequest) -> None:
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("not a pytest-xdist worker under --dist loadgroup (make test runs one)")
    assert request.node.nodeid.endswith("@suite_groups"), request.node.nodeid
