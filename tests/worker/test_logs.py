"""The worker's log lines: a timestamp, a level and the logger, at the level HPE_LOG_LEVEL says."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.worker import serve
from core.worker.logs import LEVEL_ENV, attach_handler, setup_logging

LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([A-Z]+) ([\w.]+): (.*)$")


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """Put the ``core`` loggers back as they were, so other tests see no handler of ours."""
    saved = {}
    for name in ("core", "core.cli"):
        target = logging.getLogger(name)
        saved[name] = (list(target.handlers), target.level, target.propagate)
    yield
    for name, (handlers, level, propagate) in saved.items():
        target = logging.getLogger(name)
        target.handlers[:] = handlers
        target.setLevel(level)
        target.propagate = propagate


def test_a_line_has_its_time_level_and_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LEVEL_ENV, raising=False)
    stream = io.StringIO()
    assert setup_logging(stream) == logging.INFO
    before = datetime.now().replace(microsecond=0)
    logging.getLogger("core.worker.serve").info("trial %d: started", 7)
    logging.getLogger("tensorflow").warning("not ours")  # TensorFlow's logger is left alone

    (line,) = stream.getvalue().splitlines()
    when, level, name, message = LINE.match(line).groups()
    assert (level, name, message) == ("INFO", "core.worker.serve", "trial 7: started")
    stamp = datetime.strptime(when, "%Y-%m-%d %H:%M:%S")
    assert before <= stamp <= datetime.now() + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("WARNING", ["WARNING", "ERROR"]),
        ("debug", ["DEBUG", "INFO", "WARNING", "ERROR"]),
        ("", ["INFO", "WARNING", "ERROR"]),
    ],
)
def test_the_level_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, written: list[str]
) -> None:
    monkeypatch.setenv(LEVEL_ENV, value)
    stream = io.StringIO()
    setup_logging(stream)
    log = logging.getLogger("core.worker.search_child")
    log.debug("d")
    log.info("i")
    log.warning("w")
    log.error("e")
    levels = [LINE.match(line).group(2) for line in stream.getvalue().splitlines()]
    assert levels == written


def test_a_bad_level_stops_the_worker_in_one_logged_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(LEVEL_ENV, "loud")
    stream = io.StringIO()
    assert setup_logging(stream) == logging.INFO  # lines written meanwhile still go out
    assert serve.main(["--cache", str(tmp_path)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert LINE.match(line).group(2) == "ERROR"
    assert "the worker cannot start: HPE_LOG_LEVEL='loud' cannot be used" in line
    assert not (tmp_path / "worker.lock").exists()


def test_setting_up_again_replaces_the_handler_once() -> None:
    first, second = io.StringIO(), io.StringIO()
    bare = logging.Formatter("%(message)s")
    attach_handler("core.cli", first, bare, logging.INFO)
    attach_handler("core.cli", second, bare, logging.INFO)
    logging.getLogger("core.cli.train").info("epoch 1/2")
    assert first.getvalue() == ""
    assert second.getvalue() == "epoch 1/2\n"
    assert len(logging.getLogger("core.cli").handlers) == 1


def test_a_message_quoting_typed_text_is_one_line_without_control_characters() -> None:
    stream = io.StringIO()
    setup_logging(stream)
    name = "a\x1b[2Jb\nfake line 해파리"
    logging.getLogger("core.worker.serve").info("search %d: started (%s)", 4, name)
    (line,) = stream.getvalue().splitlines()
    assert "\x1b" not in line
    assert LINE.match(line).group(4) == "search 4: started (a\\x1b[2Jb\\nfake line 해파리)"


def test_a_traceback_keeps_its_lines_each_escaped() -> None:
    stream = io.StringIO()
    setup_logging(stream)
    try:
        raise ValueError("no folder \x1b]0;title\x07")
    except ValueError:
        logging.getLogger("core.worker.serve").exception("worker %d stopped", 9)
    first, *trace = stream.getvalue().splitlines()
    assert LINE.match(first).group(4) == "worker 9 stopped"
    assert trace[0] == "Traceback (most recent call last):"
    assert trace[-1] == "ValueError: no folder \\x1b]0;title\\x07"
