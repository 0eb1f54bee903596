"""Settings for the whole suite.

Hypothesis: no per-example deadline and no "too slow" health check. Both measure the machine,
not the property: on a loaded machine a crypto-heavy example (signing, proof of work, group
keys) can take longer than the default 200 ms, and the failure says nothing about stig.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("stig", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("stig")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With ``-n`` (pytest-xdist, ``--dist loadgroup``), every test of tests/tor runs on one
    worker, so the private Tor network (a session fixture, 20–70 s to bootstrap) starts once."""
    for item in items:
        if item.nodeid.startswith("tests/tor/"):
            item.add_marker(pytest.mark.xdist_group("tor"))
