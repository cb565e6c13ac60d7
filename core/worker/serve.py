"""The worker: ``python -m core.worker [--workers N] [--cache DIR]``.

The command runs a pool (``core.worker.pool``) of ``N`` workers (default ``HPE_WORKERS``: one
per visible GPU, else one), which holds the cache folder's worker lock for its whole life. Each
worker is a process of its own running :func:`serve`: it claims queued trials one at a time
and, between them, queued Tune searches, each in a child process (``core.worker.search_child``).
After ``TRIALS_PER_PROCESS`` trials a worker hands over to a fresh process, so memory stays
flat however many runs are queued. The app starts the pool by itself
(``core.worker.launch.ensure_worker``) when something is queued and no worker is alive. Workers
are disposable: kill one at any moment and the store keeps every finished epoch; the trial it
was in is marked interrupted once its heartbeats stop. TensorFlow loads in each worker, when
its loop starts, never in the pool. Each logs when a trial or search starts and ends
(``core.worker.logs``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import time
from pathlib import Path

import psutil

from core.data.names import run_title
from core.store import Status, Store, StoreError, Trial, backup, open_store, paths, settings
from core.store.disk_space import DiskFull
from core.store.settings import SettingError
from core.worker import shares
from core.worker.launch import IDLE_ENV, REFUSAL, mark_started, try_lock, unmark_started
from core.worker.logs import setup_logging
from core.worker.parent_watch import die_with_parent
from core.worker.pool import HANDOVER_EXIT, TRIALS_PER_PROCESS, last_trial_note, run_pool

NICENESS = 5

logger = logging.getLogger(__name__)


def serve(
    root: Path,
    idle_exit_s: float,
    poll_s: float = 0.3,
    trials_per_process: int | None = None,
    after: int | None = None,
    last_trial_note: Path | None = None,
) -> tuple[int, bool]:
    """Run queued trials until none has come for ``idle_exit_s`` seconds.

    Args:
        root: The cache folder.
        idle_exit_s: How long to wait for work before returning.
        poll_s: How often to look for work meanwhile.
        trials_per_process: Return after this many trials, for a fresh process to go on
            (None: never).
        after: A process to wait for, once TensorFlow is loaded, before taking any work:
            the worker this one takes over from.
        last_trial_note: A file to write when the last trial before the hand-over starts,
            so that the pool starts the next process meanwhile (``core.worker.pool``).

    Returns:
        The number of trials and searches run, and whether the loop stopped to hand over.
    """
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    store = open_store(root)
    from core.engine.training import TrialMonitor, run_trial  # TensorFlow loads here, once

    _keep_to_cores()
    if after is not None:
        _wait_for_exit(after)
    ran, trials, idle_since = 0, 0, time.monotonic()
    while True:  # looks for work at least once, however short the wait for it
        if trials_per_process is not None and trials >= trials_per_process:
            return ran, True
        backup.take_if_due(store.path)
        store.reap_stale()
        trial = store.claim_next(os.getpid())
        if trial is None:
            if _run_one_search(store, root):
                ran += 1
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= idle_exit_s:
                break
            else:
                time.sleep(poll_s)
            continue
        if last_trial_note is not None and trials + 1 == trials_per_process:
            last_trial_note.parent.mkdir(parents=True, exist_ok=True)
            last_trial_note.touch()
        logger.info("trial %d: started (%s)", trial.id, _describe_trial(trial))
        with TrialMonitor(store, trial.id) as monitor:
            try:
                status = run_trial(store, trial, monitor, root)
            except DiskFull:  # the trial is failed with the reason; the next may fit
                status = Status.FAILED
        _log_trial_end(store.trial(trial.id), status)
        ran, trials = ran + 1, trials + 1
        idle_since = time.monotonic()
    return ran, False


def _wait_for_exit(pid: int) -> None:
    """Wait until process ``pid`` has exited (an exited child its parent has not yet reaped
    counts as exited)."""
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)


def _lower_priority() -> None:
    with contextlib.suppress(AttributeError, OSError):  # elsewhere: normal priority
        os.nice(NICENESS)


def _keep_to_cores() -> None:
    """Keep TensorFlow to the cores the pool gave this worker, if it gave some.

    Called after TensorFlow is imported and before it runs anything, when its thread pools
    can still be sized.
    """
    cpus = shares.given_cpus()
    if cpus is None:
        return
    shares.take_cpus(cpus)
    from core.engine.threads import use_cores

    use_cores(len(cpus))


def _describe_trial(trial: Trial) -> str:
    """How a trial starts: its study, model and dataset, and epochs."""
    epochs = trial.config.get("epochs")
    count = f"{epochs} epoch" if epochs == 1 else f"{epochs} epochs"
    title = run_title(trial.config, omit=("epochs",))  # the count follows
    return f"study {trial.study_id} #{trial.number}, {title}, {count}"


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
        "--workers",
        type=_worker_count,
        default=None,
        help=f"workers to run, each a process (default: ${settings.WORKERS}, or one per "
        "visible GPU, else one)",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        help=f"seconds to wait for work before exiting (default: ${IDLE_ENV} or 600)",
    )
    parser.add_argument(
        "--trials-per-process",
        type=int,
        default=TRIALS_PER_PROCESS,
        help="trials each worker runs before a fresh process takes over, which keeps memory "
        f"flat (default: {TRIALS_PER_PROCESS}; 0: never, memory grows with every run)",
    )
    parser.add_argument("--slot", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--after", type=int, default=None, help=argparse.SUPPRESS)
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
    if args.slot is not None:
        trials = args.trials_per_process or None
        return _serve_in_pool(root, idle_exit, args.slot, trials, args.after)
    workers = args.workers or settings.read(settings.WORKERS) or shares.default_workers()
    lock = try_lock(root)
    if lock is None:
        logger.info("another worker holds the lock of %s; exiting", root)
        return 0
    mark_started(lock)
    logger.info("worker pool %d started for %s with %d workers", os.getpid(), root, workers)
    try:
        started, given_up = run_pool(root, workers, idle_exit, args.trials_per_process)
        if given_up:  # as if it never started, so that the app shows the workers' last line
            unmark_started(lock)
            return 1
    except StoreError as exc:
        logger.error("worker pool %d stopped: %s", os.getpid(), exc.message)
        return 1
    except Exception:
        # Anything that reaches here ends the pool; the traceback is the only trace of it.
        logger.exception("worker pool %d stopped by an unexpected error", os.getpid())
        return 1
    finally:
        lock.close()
    logger.info(
        "worker pool %d: no work left after %d worker starts; exiting", os.getpid(), started
    )
    return 0


def _worker_count(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= settings.MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {settings.MAX_WORKERS}")
    return int(raw)


def _serve_in_pool(
    root: Path, idle_exit: float, slot: int, trials: int | None, after: int | None
) -> int:
    """One worker of a pool: serve until idle or until it hands over to a fresh process
    (taking work only once the worker ``after``, if given, has exited)."""
    die_with_parent()
    # Training takes every core it can; a slightly lower priority keeps the app's pages
    # responsive while it runs, and costs nothing when the machine has nothing else to do.
    # (Set here, by the worker process itself: a caller of ``serve`` keeps its own.)
    _lower_priority()
    cpus = shares.given_cpus()
    where = (
        ""
        if cpus is None
        else f" on {shares.Share(os.environ.get(shares.GPU_ENV), cpus).describe()}"
    )
    then = "" if after is None else f"; it takes over when worker {after} has ended"
    logger.info("worker %s (%d of the pool) started%s%s", _label(), slot, where, then)
    try:
        note = last_trial_note(root, os.getpid())
        ran, handed_over = serve(
            root, idle_exit, trials_per_process=trials, after=after, last_trial_note=note
        )
    except StoreError as exc:
        logger.error("worker %s stopped: %s", _label(), exc.message)
        return 1
    except Exception:
        # Anything that reaches here ends the worker; the traceback is the only trace of it.
        logger.exception("worker %s stopped by an unexpected error", _label())
        return 1
    if handed_over:
        logger.info("worker %s: %d trials done; a fresh process goes on", _label(), ran)
        return HANDOVER_EXIT
    logger.info(
        "worker %s: nothing queued for %g s after %d trials and searches; exiting",
        _label(),
        idle_exit,
        ran,
    )
    return 0


def _label() -> str:
    from core.store.liveness import this_process

    return this_process().label
