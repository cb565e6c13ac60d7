"""Browser fixtures for the fault tests that need a real server and Chromium."""

from tests.e2e.conftest import browser  # noqa: F401 - a fixture, used by name
