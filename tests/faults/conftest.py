"""Fixtures of the fault tests: Chromium for those that need a real browser, and a ledger.

The ledger writes down, for ``benchmarks/faults_table.py``, what a test saw finished before or
in spite of its fault (epochs, results with a test score) and how much of it the store kept.
It writes only when ``HPE_FAULTS_RESULTS_REPORT`` names a file; the tests assert on the same
figures either way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from tests.e2e.conftest import browser  # noqa: F401 - a fixture, used by name

RESULTS_ENV = "HPE_FAULTS_RESULTS_REPORT"


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Callable[[str, int, int], None]:
    """``ledger(what, finished, kept)``: one line of the results report for this test."""

    def record(what: str, finished: int, kept: int) -> None:
        report = os.environ.get(RESULTS_ENV)
        if report:
            line = {"case": request.node.nodeid, "what": what, "finished": finished, "kept": kept}
            with open(report, "a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")

    return record
