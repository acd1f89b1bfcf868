"""Hypothesis profiles for the data tests, chosen with the environment variable ``HYPOTHESIS_PROFILE``.

``ci`` is the default budget (each test's own ``max_examples``, a few seconds each); ``long`` multiplies
it by ``LONG_FACTOR`` (``HYPOTHESIS_PROFILE=long pytest tests/data``), for a hunt before a release.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_FACTOR = 25
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile("ci", deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("long", deadline=None, suppress_health_check=_SUPPRESS, print_blob=True)
if "HYPOTHESIS_PROFILE" in os.environ:  # otherwise leave hypothesis's defaults alone for the rest of the suite
    settings.load_profile(PROFILE)
