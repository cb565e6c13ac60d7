"""The worker's serve loop: a process of its own that runs queued trials one at a time.

Run it as ``python -m core.worker [--cache DIR]``; between trials it also runs queued Tune
searches, each in a child process (``core.worker.search_child``). The app starts it by itself
(``core.worker.launch.ensure_worker``) when something is queued and no worker is alive. It is
disposable: kill it at any moment and the store keeps every finished epoch; the trial it was in
is marked interrupted once its heartbeats stop. It holds the cache folder's worker lock for its
whole life. TensorFlow loads here, when the loop starts.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from pathlib import Path

from core.store import Store, paths
from core.worker.launch import IDLE_ENV, try_lock

NICENESS = 5


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
    from core.engine.training import TrialMonitor, run_trial  # TensorFlow loads here, once

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
    trials and hands the search back (``core.worker.search_child``), so queued single runs get
    their turn and memory stays flat. A killed worker takes the child with it and leaves the
    search interrupted; Resume queues it again.
    """
    from core.store import searches as search_store

    search_store.reap(store)
    study_id = search_store.claim(store, f"{socket.gethostname()}:{os.getpid()}")
    if study_id is None:
        return False
    from core.worker.search_child import run_in_child  # a fresh process every few trials

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
    lock = try_lock(root)
    if lock is None:
        print("another worker is running for this cache folder; exiting", flush=True)
        return 0
    try:
        serve(root, args.idle_exit)
    finally:
        lock.close()
    return 0
