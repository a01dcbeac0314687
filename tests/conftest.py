"""Hypothesis profiles, registered once: ci (repeatable), dev (random), deep (many examples).

``HYPOTHESIS_PROFILE`` picks one (``ci`` by default; ``make fuzz`` sets ``deep``). The profile
sets every Hypothesis test's example count: a test that wants a budget of its own states its
``ci`` count through ``tests.budgets.scaled``, never a fixed ``max_examples``.

Tiers: tests that serve real loopback sockets (``tests/integration``, ``consul-sim serve``,
``ServedWorld``), wait on the wall clock (``time.sleep``, wall-clock blocking queries) or
measure scale (``tests/unit/test_scale.py``) carry ``@pytest.mark.slow``. ``make test`` runs
everything; ``pytest -m "not slow"`` skips that tier for a quick loop.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
