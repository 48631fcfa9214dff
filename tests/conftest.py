"""Shared fixtures."""
from httpserver import http_server  # noqa: F401 (a fixture)
from zoo_fixtures import local_zoo  # noqa: F401 (a fixture)

# Property-based tests: a few examples per run in CI; `--hypothesis-profile=long` for a search.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=3000)
settings.load_profile("ci")
