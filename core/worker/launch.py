"""Starting the worker and telling whether one is alive, without importing any of its work.

The app starts a worker by itself (``ensure_worker``) when something is queued and no worker is
alive. A lock file makes sure only one worker runs per cache folder, and the operating system
releases that lock however the worker ends. Three calls from the outside: ``ensure_worker``
(start), ``worker_alive`` (status) and ``Store.request_cancel`` (stop a trial). A worker that
dies before it takes the lock (a bad setting, a broken install) is not started again and again:
``start_problem`` says why it could not start, from its log, and ``ensure_worker`` waits a minute
before it tries again.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import psutil

from core.store import paths, settings

try:  # Linux and macOS
    import fcntl

    def _lock_now(handle: IO[str]) -> None:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)

except ImportError:  # Windows: lock the file's first byte instead
    import msvcrt

    def _lock_now(handle: IO[str]) -> None:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)


LOCK_NAME = "worker.lock"
LOG_NAME = "worker.log"
START_NAME = "worker.start"  # the last start: its pid, when, and where its log lines begin
IDLE_ENV = settings.IDLE_EXIT
RETRY_S = 60.0  # after a failed start, how long before starting a worker again
_MAX_SHOWN = 300  # characters of the log line a failed start is explained by
# What core.worker.logs puts before a message, and the words of the worker's own refusal.
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ [\w.]+: ")
REFUSAL = "the worker cannot start: "

# The workers this process started, so that one that exited is reaped (not left a zombie)
# and its exit status is known.
_started: dict[int, subprocess.Popen] = {}


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def try_lock(root: Path) -> IO[str] | None:
    """Take the worker lock without waiting; return the open lock file, or None if held."""
    handle = open(_lock_path(root), "a+")  # noqa: SIM115 - held for the process's life
    try:
        _lock_now(handle)
    except OSError:  # held by another process (BlockingIOError where fcntl is)
        handle.close()
        return None
    return handle


def mark_started(lock: IO[str]) -> None:
    """Write the worker's pid into the lock it holds: it got as far as taking the lock."""
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()


def unmark_started(lock: IO[str]) -> None:
    """Clear the pid from the lock: the pool could not start any worker."""
    lock.seek(0)
    lock.truncate()
    lock.flush()


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
    last = _last_start(root)
    if last and _running(last["pid"], last["created"]):
        return False  # still starting: it takes the lock once its imports are done
    if last and time.time() - last["at"] < RETRY_S and start_problem(root):
        return False
    env = {**os.environ, paths.CACHE_ENV: str(root), "PYTHONUNBUFFERED": "1"}
    log_path = root / LOG_NAME
    offset = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.worker", "--cache", str(root)],
            cwd=paths.PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started[process.pid] = process
    try:
        created = psutil.Process(process.pid).create_time()
    except psutil.Error:  # it is gone already: start_problem will say why
        created = 0.0
    record = {"pid": process.pid, "created": created, "at": time.time(), "log_offset": offset}
    (root / START_NAME).write_text(json.dumps(record))
    return True


def start_problem(root: Path | None = None) -> str | None:
    """Say why the last worker started for this cache folder could not start, or None.

    A worker could not start when it ended without ever taking the lock; the last line it
    wrote to the log says why (one line for a bad setting or a damaged store, the last line
    of a traceback otherwise).
    """
    root = root or paths.cache_dir()
    last = _last_start(root)
    if last is None or worker_alive(root) or _running(last["pid"], last["created"]):
        return None
    try:
        took_lock = (root / LOCK_NAME).read_text().strip() == str(last["pid"])
    except OSError:
        took_lock = False
    if took_lock:
        return None
    log_path = root / LOG_NAME
    try:
        with open(log_path, "rb") as log:
            log.seek(last["log_offset"])
            lines = log.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    said = next((line.strip() for line in reversed(lines) if line.strip()), "")
    said = _LOG_PREFIX.sub("", said).removeprefix(REFUSAL)
    said = said if len(said) <= _MAX_SHOWN else said[:_MAX_SHOWN] + "…"
    if not said:
        return f"The worker could not start and wrote nothing to its log, {log_path}."
    return f"The worker could not start: {said.rstrip('.')}. Its log is {log_path}."


def _last_start(root: Path) -> dict | None:
    try:
        record = json.loads((root / START_NAME).read_text())
        return {"pid": int(record["pid"]), "created": float(record["created"]),
                "at": float(record["at"]), "log_offset": int(record["log_offset"])}  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _running(pid: int, created: float) -> bool:
    """True while the process ``pid`` started at ``created`` is alive.

    A started worker that exited is reaped here; a later process given the same pid is not it.
    """
    process = _started.get(pid)
    if process is not None:
        if process.poll() is None:
            return True
        del _started[pid]
        return False
    try:
        found = psutil.Process(pid)
        return found.status() != psutil.STATUS_ZOMBIE and abs(found.create_time() - created) < 1
    except psutil.Error:
        return False
