"""Shared fixtures: every test gets its own cache folder, so no test touches cache/.

One real run is trained once per test session (``trained_run``); tests that only read a
finished run's results use it, tests that add to its store get a copy (``completed_trial``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import Status, Store, paths
from core.worker.launch import IDLE_ENV

# Quiet TensorFlow's start-up chatter in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# The shared run: seed 3 rather than the default, so a test can tell it was recorded.
TRAINED_CONFIG = RunConfig(model="mlp", epochs=2, seed=3)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder, set as HPE_CACHE_DIR for the test and its subprocesses."""
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv(paths.CACHE_ENV, str(root))
    # A worker a page starts in a test leaves soon after its queue is empty.
    monkeypatch.setenv(IDLE_ENV, "3")
    return root


@pytest.fixture
def store(cache: Path) -> Store:
    """An empty store in the test's cache folder."""
    return Store(paths.store_path(cache))


@pytest.fixture
def dead_pid() -> int:
    """The id of a process of this host that has ended (a real one, started and waited for)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, int]:
    """A real, tiny, completed run, trained once for the session: its store, cache and id.

    Two epochs of the mlp on digits (``TRAINED_CONFIG``), trained in this process as the
    worker trains. Read it, never write to it: ``completed_trial`` is a copy to change.
    """
    from core.engine.training import TrialMonitor, run_trial

    root = tmp_path_factory.mktemp("trained")
    store = Store(paths.store_path(root))
    _, (tid,) = store.create_study("mlp on digits", "single", [TRAINED_CONFIG], reserve_for=1)
    with TrialMonitor(store, tid) as monitor:
        run_trial(store, store.trial(tid), monitor, root)
    assert store.trial(tid).status == Status.COMPLETED, store.trial(tid).error
    return store, root, tid


@pytest.fixture
def completed_trial(trained_run: tuple[Store, Path, int], store: Store, cache: Path) -> int:
    """The session's trained run, copied into this test's store and cache folder: its id.

    Its recorded artifact paths still name the session's folder, which nothing changes.
    """
    source, root, tid = trained_run
    with sqlite3.connect(source.path) as src, sqlite3.connect(store.path) as dst:
        src.backup(dst)
        # The copy is this test's store now, not the session's: it keeps this store's id.
        dst.execute("UPDATE meta SET value=? WHERE key='store_id'", (store.id,))
    shutil.copytree(paths.runs_dir(root), paths.runs_dir(cache), dirs_exist_ok=True)
    return tid
