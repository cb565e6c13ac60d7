"""The training worker: a process of its own that runs queued trials one at a time.

Run it as ``python -m core.worker [--cache DIR]``; between trials it also runs queued Tune
searches, each in a child process (``core.search_process``). The app starts it by itself
(``ensure_worker``) when something is queued and no worker is alive. It is disposable: kill it
at any moment and the store keeps every finished epoch; the trial it was in is marked
interrupted once its heartbeats stop. A lock file makes sure only one worker runs per cache
folder, and the operating system releases that lock however the worker ends.

Three calls from the outside: ``ensure_worker`` (start), ``worker_alive`` (status) and
``Store.request_cancel`` (stop a trial).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from core import paths
from core.store import Store

LOCK_NAME = "worker.lock"
LOG_NAME = "worker.log"
IDLE_ENV = "HPE_WORKER_IDLE_EXIT"
NICENESS = 5


def _lock_path(root: Path) -> Path:
    return root / LOCK_NAME


def _try_lock(root: Path) -> IO[str] | None:
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
    handle = _try_lock(root or paths.cache_dir())
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


def serve(root: Path, idle_exit_s: float, poll_s: float = 0.3) -> int:
    """Run queued trials until none has come for ``idle_exit_s`` seconds.

    Returns:
        The number of trials run.
    """
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    # Training takes every core it can; a slightly lower priority keeps the app's pages
    # responsive while it runs, and costs nothing when the machine has nothing else to do.
    os.nice(NICENESS)
    store = Store(paths.store_path(root))
    from core.training import TrialMonitor, run_trial  # TensorFlow loads here, once

    ran, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < idle_exit_s:
        store.reap_stale()
        trial = store.claim_next(os.getpid())
        if trial is None:
            if _run_one_search(store, root):
                ran += 1
                idle_since = time.monotonic()
            else:
                time.sleep(poll_s)
            continue
        print(f"trial {trial.id}: started", flush=True)
        with TrialMonitor(store, trial.id) as monitor:
            status = run_trial(store, trial, monitor, root)
        print(f"trial {trial.id}: {status}", flush=True)
        ran += 1
        idle_since = time.monotonic()
    return ran


def _run_one_search(store: Store, root: Path) -> bool:
    """Run the oldest queued search, if there is one; return True if so.

    Searches run between queued trials, one at a time, in a child process that trains a few
    trials and hands the search back (``core.search_process``), so queued single runs get
    their turn and memory stays flat. A killed worker takes the child with it and leaves the
    search interrupted; Resume queues it again.
    """
    from core import search_store

    search_store.reap(store)
    study_id = search_store.claim(store, f"{socket.gethostname()}:{os.getpid()}")
    if study_id is None:
        return False
    from core.search_process import run_in_child  # a fresh process every few trials

    print(f"search {study_id}: started", flush=True)
    state = run_in_child(store, study_id, root)
    print(f"search {study_id}: {state}", flush=True)
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m core.worker``."""
    parser = argparse.ArgumentParser(prog="python -m core.worker", description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: cache/)")
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=float(os.environ.get(IDLE_ENV, 600)),
        help=f"seconds to wait for work before exiting (default: ${IDLE_ENV} or 600)",
    )
    args = parser.parse_args(argv)
    root = (args.cache or paths.cache_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    lock = _try_lock(root)
    if lock is None:
        print("another worker is running for this cache folder; exiting", flush=True)
        return 0
    try:
        serve(root, args.idle_exit)
    finally:
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
