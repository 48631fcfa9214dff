"""Shared fixtures."""
from httpserver import http_server  # noqa: F401 (a fixture)
