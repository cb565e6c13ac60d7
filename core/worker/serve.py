"""The worker's serve loop: a process of its own that runs queued trials one at a time.

Run it as ``python -m core.worker [--cache DIR]``; between trials it also runs queued Tune
searches, each in a child process (``core.worker.search_child``). The app starts it by itself
(``core.worker.launch.ensure_worker``) when something is queued and no worker is alive. It is
disposable: kill it at any moment and the store keeps every finished epoch; the trial it was in
is marked interrupted once its heartbeats stop. It holds the cache folder's worker lock for its
whole life. TensorFlow loads here, when the loop starts. It logs when each trial and search
starts and ends (``core.worker.logs``).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from core.data.names import run_title
from core.store import Status, Store, StoreError, Trial, backup, open_store, paths, settings
from core.store.disk_space import DiskFull
from core.store.settings import SettingError
from core.worker.launch import IDLE_ENV, REFUSAL, mark_started, try_lock
from core.worker.logs import setup_logging

NICENESS = 5

logger = logging.getLogger(__name__)


def serve(root: Path, idle_exit_s: float, poll_s: float = 0.3) -> int:
    """Run queued trials until none has come for ``idle_exit_s`` seconds.

    Returns:
        The number of trials and searches run.
    """
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    # Training takes every core it can; a slightly lower priority keeps the app's pages
    # responsive while it runs, and costs nothing when the machine has nothing else to do.
    os.nice(NICENESS)
    store = open_store(root)
    from core.engine.training import TrialMonitor, run_trial  # TensorFlow loads here, once

    ran, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < idle_exit_s:
        backup.take_if_due(store.path)
        store.reap_stale()
        trial = store.claim_next(os.getpid())
        if trial is None:
            if _run_one_search(store, root):
                ran += 1
                idle_since = time.monotonic()
            else:
                time.sleep(poll_s)
            continue
        logger.info("trial %d: started (%s)", trial.id, _describe_trial(trial))
        with TrialMonitor(store, trial.id) as monitor:
            try:
                status = run_trial(store, trial, monitor, root)
            except DiskFull:  # the trial is failed with the reason; the next may fit
                status = Status.FAILED
        _log_trial_end(store.trial(trial.id), status)
        ran += 1
        idle_since = time.monotonic()
    return ran


def _describe_trial(trial: Trial) -> str:
    """How a trial starts: its study, model and dataset, and epochs."""
    epochs = trial.config.get("epochs")
    count = f"{epochs} epoch" if epochs == 1 else f"{epochs} epochs"
    return f"study {trial.study_id} #{trial.number}, {run_title(trial.config)}, {count}"


def _log_trial_end(trial: Trial, status: Status) -> None:
    """One line on how a trial ended; a failure is a warning carrying its error."""
    took = (
        f" in {trial.finished_at - trial.started_at:.1f} s"
        if trial.finished_at and trial.started_at
        else ""
    )
    if status == Status.COMPLETED:
        accuracy = "-" if trial.test_accuracy is None else f"{trial.test_accuracy:.4f}"
        images, ci = trial.results.get("test_images"), trial.results.get("test_accuracy_ci")
        if trial.test_accuracy is not None and images and ci:
            accuracy += f" (95% CI {ci[0]:.4f}-{ci[1]:.4f}, {images} images)"
        logger.info("trial %d: completed%s, test_accuracy=%s", trial.id, took, accuracy)
    elif status == Status.FAILED:
        # run_trial keeps the exception on the trial rather than raising it: say so here too.
        logger.warning("trial %d: failed%s: %s", trial.id, took, trial.error or "no error kept")
    else:
        reason = f": {trial.error}" if trial.error else ""
        logger.info("trial %d: %s%s%s", trial.id, status, took, reason)


def _run_one_search(store: Store, root: Path) -> bool:
    """Run the oldest queued search, if there is one; return True if so.

    Searches run between queued trials, one at a time, in a child process that trains a few
    trials and hands the search back (``core.worker.search_child``), so queued single runs get
    their turn and memory stays flat. A killed worker takes the child with it and leaves the
    search interrupted; Resume queues it again.
    """
    from core.store import searches as search_store

    search_store.reap(store)
    study_id = search_store.claim(store)
    if study_id is None:
        return False
    from core.worker.search_child import run_in_child  # a fresh process every few trials

    logger.info("search %d: started (%s)", study_id, store.study(study_id).name)
    state = run_in_child(store, study_id, root)
    # The search keeps its error in the store rather than raising it: say so here too.
    error = search_store.read(store, study_id).progress.get("error")
    if state in ("failed", "interrupted") or error:
        logger.warning("search %d: %s: %s", study_id, state, error or "no error kept")
    else:  # queued means the child handed the search back for a fresh process to go on
        logger.info("search %d: %s", study_id, state)
    return True


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m core.worker``."""
    parser = argparse.ArgumentParser(prog="python -m core.worker", description=__doc__)
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default: cache/)")
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        help=f"seconds to wait for work before exiting (default: ${IDLE_ENV} or 600)",
    )
    args = parser.parse_args(argv)
    root = (args.cache or paths.cache_dir()).resolve()
    root.mkdir(parents=True, exist_ok=True)
    setup_logging()
    try:
        settings.check_all()
    except SettingError as exc:  # before the lock: the app tells the user it could not start
        logger.error("%s%s", REFUSAL, exc.message)
        return 2
    idle_exit = settings.read(IDLE_ENV) if args.idle_exit is None else args.idle_exit
    lock = try_lock(root)
    if lock is None:
        logger.info("another worker holds the lock of %s; exiting", root)
        return 0
    mark_started(lock)
    logger.info("worker %d started for %s", os.getpid(), root)
    try:
        ran = serve(root, idle_exit)
    except StoreError as exc:
        logger.error("worker %d stopped: %s", os.getpid(), exc.message)
        return 1
    except Exception:
        # Anything that reaches here ends the worker; the traceback is the only trace of it.
        logger.exception("worker %d stopped by an unexpected error", os.getpid())
        return 1
    finally:
        lock.close()
    logger.info(
        "worker %d: nothing queued for %g s after %d trials and searches; exiting",
        os.getpid(),
        idle_exit,
        ran,
    )
    return 0
