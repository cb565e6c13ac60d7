"""The worker process: started on demand, one per cache folder, runs the queue in order."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store, paths
from core.store import searches as search_store
from core.worker.launch import IDLE_ENV, LOG_NAME, ensure_worker, try_lock, worker_alive
from core.worker.logs import LEVEL_ENV
from core.worker.searches import SearchSettings, SearchSpace, launch_search

ROOT = Path(__file__).resolve().parents[2]
# A line of the worker's own log; TensorFlow's lines in the same file look different.
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) ([A-Z]+) (core[\w.]*): (.*)$")


def wait_for(predicate, timeout: float = 120.0, every: float = 0.2):
    """Poll until predicate() is truthy; fail the test after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def test_worker_runs_queued_trials_in_order_then_exits_when_idle(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "2")
    cfg = RunConfig(model="mlp", epochs=2)
    _, (first,) = store.create_study("a", "single", [cfg])
    _, (second,) = store.create_study("b", "single", [cfg.replace(seed=1)])

    assert ensure_worker(cache) is True
    wait_for(lambda: worker_alive(cache), timeout=30)
    assert ensure_worker(cache) is False  # one worker per cache folder

    wait_for(lambda: store.trial(second).status.finished)
    a, b = store.trial(first), store.trial(second)
    assert a.status == b.status == Status.COMPLETED, (a.error, b.error)
    assert a.finished_at <= b.started_at
    assert len(store.epochs(first)) == len(store.epochs(second)) == 2
    assert Path(b.results["artifacts"]["model"]).is_file()
    wait_for(lambda: not worker_alive(cache), timeout=30)
    assert "trial" in (cache / "worker.log").read_text()


def log_lines(text: str) -> list[tuple[datetime, str, str, str]]:
    """The worker's own lines of a log: (time, level, logger, message)."""
    found = []
    for line in text.splitlines():
        if match := LINE.match(line):
            when, level, name, message = match.groups()
            found.append((datetime.strptime(when, "%Y-%m-%d %H:%M:%S"), level, name, message))
    return found


def one(lines: list[tuple[datetime, str, str, str]], start: str) -> tuple[datetime, str, str, str]:
    """The single line whose message starts with ``start``."""
    (line,) = [line for line in lines if line[3].startswith(start)]
    return line


def test_the_worker_log_says_when_each_trial_and_search_started_and_how_it_ended(
    store: Store, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "2")
    monkeypatch.delenv(LEVEL_ENV, raising=False)
    cfg = RunConfig(model="mlp", epochs=1)
    _, (good,) = store.create_study("good", "single", [cfg])
    # A folder that is gone by the time the worker loads it: the trial fails, the loop goes on.
    _, (bad,) = store.create_study("bad", "single", [cfg.replace(dataset=str(tmp_path / "gone"))])
    space = SearchSpace.from_list([{"key": "dense_units", "kind": "choice", "values": [16, 32]}])
    search = launch_search(
        store, cfg, space, SearchSettings(tuner="random", max_trials=1), baseline=False
    )
    began = datetime.now().replace(microsecond=0)

    assert ensure_worker(cache) is True
    wait_for(lambda: search_store.read(store, search).state not in ("queued", "running"), 240)
    wait_for(lambda: not worker_alive(cache), timeout=30)
    ended = datetime.now() + timedelta(seconds=1)
    assert store.trial(good).status == Status.COMPLETED
    assert store.trial(bad).status == Status.FAILED
    assert search_store.read(store, search).state == "done"

    lines = log_lines((cache / LOG_NAME).read_text())
    assert all(began <= when <= ended for when, *_ in lines)
    assert [when for when, *_ in lines] == sorted(when for when, *_ in lines)
    assert lines[0][1:3] == ("INFO", "core.worker.serve") and "started for" in lines[0][3]
    assert lines[-1][3].endswith("exiting")

    started = one(lines, f"trial {good}: started (")
    finished = one(lines, f"trial {good}: completed in ")
    assert started[1:3] == finished[1:3] == ("INFO", "core.worker.serve")
    assert started[3].endswith(f"(study {store.trial(good).study_id} #0, mlp on digits, 1 epoch)")
    assert f"test_accuracy={store.trial(good).test_accuracy:.4f}" in finished[3]
    assert started[0] <= finished[0]

    one(lines, f"trial {bad}: started (")
    failed = one(lines, f"trial {bad}: failed")
    assert failed[1:3] == ("WARNING", "core.worker.serve")
    assert store.trial(bad).error in failed[3]

    assert one(lines, f"search {search}: started (")[1:3] == ("INFO", "core.worker.serve")
    child = [(level, message) for _, level, name, message in lines if name.endswith("_child")]
    assert [level for level, _ in child] == ["INFO", "INFO"]
    begun = rf"search {search}: process \d+ started \(until it grows 1024 MiB\)"
    assert re.fullmatch(begun, child[0][1])
    assert child[1][1] == child[0][1].split(" started")[0] + " ended, search done"
    assert one(lines, f"search {search}: done")[1:3] == ("INFO", "core.worker.serve")


def _worker(cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.worker", "--cache", str(cache)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_second_worker_logs_that_another_holds_the_lock(cache: Path) -> None:
    lock = try_lock(cache)
    assert lock is not None
    try:
        done = _worker(cache)
    finally:
        lock.close()
    assert done.returncode == 0, done.stderr
    (line,) = log_lines(done.stderr)
    assert line[1:3] == ("INFO", "core.worker.serve")
    assert line[3] == f"another worker holds the lock of {cache.resolve()}; exiting"


def test_a_damaged_store_ends_the_worker_with_one_line(cache: Path) -> None:
    paths.store_path(cache).write_bytes(b"this is no SQLite file" * 64)
    done = _worker(cache)
    assert done.returncode == 1
    when, level, name, message = log_lines(done.stderr)[-1]
    assert (level, name) == ("ERROR", "core.worker.serve")
    assert "is damaged (file is not a database)" in message
    assert "Traceback" not in done.stderr


def test_an_error_that_ends_the_worker_is_logged_with_its_traceback(cache: Path) -> None:
    (cache / "runs").write_text("a file where the runs folder belongs")
    done = _worker(cache)
    assert done.returncode == 1
    when, level, name, message = log_lines(done.stderr)[-1]
    assert (level, name) == ("ERROR", "core.worker.serve")
    assert message.endswith("stopped by an unexpected error")
    tail = done.stderr[done.stderr.index(message) :]
    assert "Traceback (most recent call last)" in tail and "NotADirectoryError" in tail
