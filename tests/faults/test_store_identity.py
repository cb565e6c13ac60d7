"""The store file itself in trouble: deleted under a worker, damaged, locked by a frozen
process. Each gives one sentence (page, command, worker log), and no run mixes with another
store's files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.store import Store, backup, open_store, paths
from core.worker.launch import IDLE_ENV, ensure_worker, worker_alive
from tests.app.conftest import APP, TRAIN
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]

# Takes the store's write lock, says so, and freezes itself inside the transaction.
FREEZE = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
"""


def _core(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_deleted_store_stops_its_worker_and_its_files_never_mix_with_the_new_one(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "3")
    old = open_store(cache)
    _, (tid,) = old.create_study("old", "single", [RunConfig(model="mlp", epochs=300)])
    ensure_worker(cache)
    wait_for(lambda: len(old.epochs(tid)) >= 2)
    old_files = paths.runs_dir(cache) / "1" / str(tid)
    assert any((old_files / "checkpoints").iterdir())
    for suffix in ("", "-wal", "-shm"):  # what a person deleting the store removes
        Path(f"{old.path}{suffix}").unlink(missing_ok=True)

    new = open_store(cache)  # what the app does on its next poll
    assert new.id != old.id
    wait_for(lambda: not worker_alive(cache), timeout=30)
    log = (cache / "worker.log").read_text()
    assert "was deleted or replaced by another store" in log
    assert "Traceback" not in log
    # The old run's files went aside, whole; the new store starts with empty folders.
    aside = list((cache / "old").glob(f"*-{old.id}/runs/1/{tid}/checkpoints"))
    assert len(aside) == 1 and any(aside[0].iterdir())
    assert [p.name for p in paths.runs_dir(cache).iterdir()] == ["STORE"]
    _, (first,) = new.create_study("new", "single", [RunConfig(model="mlp", epochs=1)])
    assert first == 1 and not (paths.runs_dir(cache) / "1" / "1").exists()
    assert new.trials() and all(t.study_id == 1 for t in new.trials())


def test_a_damaged_store_is_one_line_everywhere_and_names_its_backup(cache: Path) -> None:
    store = open_store(cache)
    store.create_study("kept", "single", [RunConfig()])
    taken = backup.take(store.path)
    store.path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)

    done = _core("runs")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "is damaged" in done.stderr and str(taken) in done.stderr

    worker = subprocess.run(
        [sys.executable, "-m", "core.worker", "--cache", str(cache), "--idle-exit", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert worker.returncode == 1 and "Traceback" not in worker.stderr
    assert "is damaged" in worker.stderr

    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("is damaged" in e.value and str(taken) in e.value for e in at.error)
    # The backup is a real copy: it opens, with the run in it.
    assert [s.name for s in Store(taken).studies()] == ["kept"]


def test_a_store_locked_by_a_frozen_process_gives_the_train_button_one_sentence(
    cache: Path,
) -> None:
    store = open_store(cache)
    frozen = subprocess.Popen(
        [sys.executable, "-c", FREEZE, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert frozen.stdout is not None and frozen.stdout.readline().strip() == "locked"
        at = AppTest.from_file(APP, default_timeout=30)
        at.switch_page(TRAIN).run()
        at.button[0].click().run()
        assert not at.exception
        assert any("is busy" in e.value for e in at.error)
    finally:
        os.kill(frozen.pid, signal.SIGKILL)
        frozen.wait()
    assert store.trials() == []  # nothing was queued
