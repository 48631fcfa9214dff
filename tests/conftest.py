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


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def tf():
    """TensorFlow, imported by the tests that need it (and only by them: it costs seconds)."""
    import tensorflow

    return tensorflow


@pytest.fixture(autouse=True)
def logging_left_as_found():
    """The command-line tests run `converter.cli.main` in this process, which configures
    logging as the command line does (root handler, levels); put it back after each test, so
    that a later test capturing the converter's warnings sees them."""
    root = logging.getLogger()
    loggers = {name: logging.getLogger(name) for name in
               ("converter", *[n for n in logging.root.manager.loggerDict if n.startswith("converter.")])}
    levels = {name: logger.level for name, logger in loggers.items()}
    root_state = (root.level, list(root.handlers))
    yield
    for name, logger in loggers.items():
        logger.setLevel(levels[name])
    for name, logger in logging.root.manager.loggerDict.items():
        if name.startswith("converter") and name not in levels and isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)
    root.setLevel(root_state[0])
    root.handlers[:] = root_state[1]
