"""Starting the worker and telling whether one is alive, without importing any of its work.

The app starts a worker by itself (``ensure_worker``) when something is queued and no worker is
alive. A lock file makes sure only one worker runs per cache folder, and the operating system
releases that lock however the worker ends. Three calls from the outside: ``ensure_worker``
(start), ``worker_alive`` (status) and ``Store.request_cancel`` (stop a trial).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from core.store import paths

LOCK_NAME = "worker.lock"
LOG_NAME = "worker.log"
IDLE_ENV = "HPE_WORKER_IDLE_EXIT"


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def try_lock(root: Path) -> IO[str] | None:
    """Take the worker lock without waiting; return the open lock file, or None if held."""
    handle = open(_lock_path(root), "a+")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def worker_alive(root: Path | None = None) -> bool:
    """Return True if a worker holds the lock of this cache folder."""
    handle = try_lock(root or paths.cache_dir())
    if handle is None:
        return True
    handle.close()
    return False


def ensure_worker(root: Path | None = None) -> bool:
    """Start a detached worker for this cache folder unless one is alive.

    The worker gets its own session, so reruns, closed tabs and a restarted Streamlit
    server do not touch it.

    Returns:
        True if a worker was started.
    """
    root = root or paths.cache_dir()
    if worker_alive(root):
        return False
    env = {**os.environ, paths.CACHE_ENV: str(root), "PYTHONUNBUFFERED": "1"}
    with open(root / LOG_NAME, "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "core.worker", "--cache", str(root)],
            cwd=paths.PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return True
