"""Running ``python -m core`` in the test's own process, where TensorFlow is already loaded.

``tests/cli/test_cli.py`` runs the command once as its own process; the other tests call
``core.cli.main.main``, which is what ``python -m core`` runs.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from core.cli.main import main


class Ran(NamedTuple):
    """What a command left: its exit status and what it printed."""

    status: int | str | None
    out: str
    err: str


def run_here(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    """Run ``python -m core ARGV`` in this process and return its exit status and output."""
    try:
        status = main(list(argv))
    except SystemExit as exited:  # argparse's usage errors leave through sys.exit
        status = exited.code
    out, err = capsys.readouterr()
    return Ran(status, out, err)
