"""Settings for the whole suite.

Hypothesis: no per-example deadline and no "too slow" health check. Both measure the machine,
not the property: on a loaded machine a crypto-heavy example (signing, proof of work, group
keys) can take longer than the default 200 ms, and the failure says nothing about stig.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("stig", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("stig")
