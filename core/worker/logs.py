"""The worker's log: one timestamped line per event, with its level and where it came from.

    2026-12-02 03:50:12 INFO core.worker.serve: trial 7: started (study 3, mlp on digits, ...)

The serve loop and each search child call :func:`setup_logging` once at start; the lines go
to stderr, which ``core.worker.launch`` appends to ``cache/worker.log``. ``HPE_LOG_LEVEL``
(``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``; default ``INFO``) sets how much is written.
Only the ``core`` loggers are set up here: TensorFlow and absl keep writing their own lines.
A message is one line whatever it quotes (:class:`LineFormatter`). No TensorFlow is imported
here.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from core.spec.quoting import printable
from core.store import settings
from core.store.settings import SettingError

LEVEL_ENV = settings.LOG_LEVEL
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

# Marks the handlers installed here, so that setting up again replaces them and leaves any
# other handler (a test's, an embedding program's) alone.
_OURS = "_hpe_handler"

logger = logging.getLogger(__name__)


class LineFormatter(logging.Formatter):
    """A formatter whose every message is one line that draws what it says.

    Messages quote what people typed (a study's name, a folder's, an error that quotes a
    value): their control characters are escaped (:func:`core.spec.quoting.printable`), so
    a newline cannot forge a line of the log and an escape sequence cannot rewrite the
    terminal or the page that shows it. A traceback keeps its lines, each one escaped.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record's line, then its traceback's lines (if any), each escaped."""
        return "\n".join(printable(line) for line in super().format(record).split("\n"))

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line around the message, its newlines escaped too."""
        return printable(super().formatMessage(record))


def setup_logging(stream: TextIO | None = None) -> int:
    """Send the ``core`` loggers' records to ``stream`` as timestamped lines with levels.

    Args:
        stream: Where the lines go; defaults to ``sys.stderr`` (the worker's log file when
            the app started the worker).

    Returns:
        The level in force, from ``HPE_LOG_LEVEL`` (``INFO`` when unset or not a level).
    """
    try:
        level = logging.getLevelNamesMapping()[settings.read(LEVEL_ENV)]
    except SettingError:  # refused in one line by settings.check_all; log meanwhile
        level = logging.INFO
    formatter = LineFormatter(LINE_FORMAT, DATE_FORMAT)
    attach_handler("core", stream or sys.stderr, formatter, level)
    return level


def attach_handler(
    name: str, stream: TextIO, formatter: logging.Formatter, level: int
) -> logging.Handler:
    """Make ``stream`` the one place the records of logger ``name`` and its children go.

    A handler attached earlier by this function is replaced, so calling it again (each
    command of ``python -m core`` does) never writes a line twice. The logger stops passing
    records up to the root logger, whose handlers (if a library set any) would repeat them.

    Args:
        name: The logger, e.g. ``core`` or ``core.cli``.
        stream: Where its lines go.
        formatter: How a line looks.
        level: The lowest level written.

    Returns:
        The new handler.
    """
    target = logging.getLogger(name)
    for old in [h for h in target.handlers if getattr(h, _OURS, False)]:
        target.removeHandler(old)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    setattr(handler, _OURS, True)
    target.addHandler(handler)
    target.setLevel(level)
    target.propagate = False
    return handler
