"""Example budgets stated relative to the active Hypothesis profile, so ``deep`` deepens every test.

A test that pins ``max_examples`` runs that many examples under every profile: ``make fuzz``
(``HYPOTHESIS_PROFILE=deep``) would then rerun the stateful machines exactly as CI does. A test
that needs a budget of its own states it here as its count under ``ci`` and gets that count
multiplied by how much larger the active profile is than ``ci`` (the profiles are registered
once in ``tests/conftest.py``). ``tests/stateful/test_profiles.py`` checks that every
Hypothesis test in the suite keeps its ``ci`` count and grows under ``deep``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings

CI_PROFILE = "ci"
"""The profile whose counts the numbers passed to :func:`scaled` are written in."""


def scaled(ci_examples: int, **overrides: Any) -> settings:
    """The active profile with ``max_examples`` = ``ci_examples`` x (active / ci examples).

    Evaluate it at import time, after ``tests/conftest.py`` has loaded the profile, exactly as
    ``@given`` reads ``settings.default``. Other settings (``stateful_step_count``, ...) pass
    through ``overrides`` unchanged: the step count shapes each run, the profile sets how many.
    """
    if "max_examples" in overrides:
        raise TypeError("pass the ci count as ci_examples; the profile scales it")
    active = settings.default
    assert active is not None, "tests/conftest.py loads a profile before any test imports"
    ratio = active.max_examples / settings.get_profile(CI_PROFILE).max_examples
    return settings(active, max_examples=max(1, round(ci_examples * ratio)), **overrides)
