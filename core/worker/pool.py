"""A pool of workers for one cache folder: ``python -m core.worker --workers N``.

The pool's supervisor holds the cache folder's worker lock, imports no TensorFlow and writes
nothing to the store. It starts ``N`` worker processes (``core.worker.serve``), each with its
own share of the machine (``core.worker.shares``: one GPU each, or a block of cores), and
starts a worker again when it

* hands itself over after a few trials (TensorFlow keeps a little memory for every model a
  process builds, so a fresh process keeps memory flat, as searches already do). The fresh
  process starts when the worker begins its last trial (it writes ``last_trial_note``), and
  imports TensorFlow while that trial trains; it takes work once the worker has exited;
* ends for any other reason (killed, crashed) while work is waiting: its trial is marked
  interrupted by the store's reaper, the next queued one goes on. A worker that keeps failing
  at once is not started again and again.

Every worker claims its trials from the store, so the queue hands each run to exactly one of
them. The workers die with the supervisor; the supervisor ends when every worker has ended
for want of work and nothing is queued.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.store import open_store, paths
from core.worker.shares import Share, shares

# Trials a worker runs before a fresh process takes over: each run of the default CNN leaves
# about 25 MiB behind in TensorFlow, so after 8 a worker has grown by about 200 MiB.
TRIALS_PER_PROCESS = 8
HANDOVER_EXIT = 3  # a worker's exit status when it stops only to let a fresh process go on
POLL_S = 0.5
# A worker that ends by itself this soon after starting, this many times in a row, is broken
# (a bad install, a store it cannot open): its slot is left empty and the log says why.
QUICK_FAIL_S = 20.0
QUICK_FAILS = 3

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Worker:
    """How the pool starts each worker."""

    root: Path
    idle_exit_s: float
    trials_per_process: int


@dataclass
class _Slot:
    index: int
    share: Share
    successor: subprocess.Popen | None = None  # started, waiting for ``process`` to exit
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_fails: int = 0
    stopped: bool = field(default=False)  # given up on: it failed at once too often


def run_pool(
    root: Path, workers: int, idle_exit_s: float, trials_per_process: int = TRIALS_PER_PROCESS
) -> tuple[int, bool]:
    """Run up to ``workers`` workers for the cache folder ``root`` until there is no work.

    One worker starts at once; the others start while queued work keeps waiting, at most one
    per queued trial or search, so a single run does not load TensorFlow in every worker.

    Returns:
        How many worker processes were started in all, and whether the pool gave up because
        its workers failed as soon as they started.
    """
    given_up = False
    how = _Worker(root, idle_exit_s, trials_per_process)
    slots = [_Slot(i, share) for i, share in enumerate(shares(workers))]
    store = open_store(root)
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda sig, _frame: stopping.append(sig))
    _start(slots[0], how)  # it waits for work, however long the queue is empty
    started, rounds_waiting = 1, 0
    try:
        while not stopping:
            started += _start_successors(slots, how)
            started += _restart_handed_over(slots, how)
            if all(slot.stopped for slot in slots):
                given_up = True  # the workers' own last lines say why
                break
            empty = [slot for slot in slots if slot.process is None and not slot.stopped]
            alive = [slot for slot in slots if slot.process is not None]
            if empty:
                waiting = store.waiting_count()
                now = time.monotonic()
                starting = sum(1 for slot in alive if now - slot.started < QUICK_FAIL_S)
                # Twice in a row, so that an idle worker that is about to claim it goes first.
                rounds_waiting = rounds_waiting + 1 if waiting > starting else 0
                if rounds_waiting >= 2 or (waiting and not alive):
                    _start(empty[0], how)
                    started, rounds_waiting = started + 1, 0
                elif not alive and waiting == 0:
                    break
            time.sleep(POLL_S)
    finally:
        _stop_all(slots)
    return started, given_up


def last_trial_note(root: Path, pid: int) -> Path:
    """The file worker ``pid`` of a pool writes when it starts its last trial before handing
    over, so that the pool starts its successor then."""
    return root / "workers" / f"{pid}.last-trial"


def _start_successors(slots: list[_Slot], how: _Worker) -> int:
    """Start the successor of each worker that has begun its last trial.

    Returns:
        How many workers were started.
    """
    started = 0
    for slot in slots:
        if slot.process is None or slot.successor is not None or slot.process.poll() is not None:
            continue
        note = last_trial_note(how.root, slot.process.pid)
        if note.exists():
            note.unlink(missing_ok=True)
            slot.successor = _spawn(slot, how, after=slot.process.pid)
            started += 1
    return started


def _restart_handed_over(slots: list[_Slot], how: _Worker) -> int:
    """Hand each slot whose worker handed itself over to its successor (started now if it
    has none yet); note how the others ended.

    Returns:
        How many workers were started.
    """
    started = 0
    for slot in slots:
        code = None if slot.process is None else slot.process.poll()
        if code is None:
            continue
        last_trial_note(how.root, slot.process.pid).unlink(missing_ok=True)
        slot.process, successor, slot.successor = None, slot.successor, None
        if code == HANDOVER_EXIT:
            slot.quick_fails = 0
            if successor is None:
                _start(slot, how)
                started += 1
            else:
                slot.process, slot.started = successor, time.monotonic()
        else:
            if successor is not None:  # it would take over from a worker that failed
                _stop([successor])
            _note_end(slot, code)
    return started


def _start(slot: _Slot, how: _Worker) -> None:
    """Start the worker process of ``slot``."""
    slot.process = _spawn(slot, how)
    slot.started = time.monotonic()


def _spawn(slot: _Slot, how: _Worker, after: int | None = None) -> subprocess.Popen:
    """A worker process for ``slot`` (that waits for process ``after`` to exit before it
    takes any work); its output goes where the pool's goes."""
    env = {**os.environ, paths.CACHE_ENV: str(how.root), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core.worker",
            "--cache",
            str(how.root),
            "--idle-exit",
            str(how.idle_exit_s),
            "--slot",
            str(slot.index + 1),
            "--trials-per-process",
            str(how.trials_per_process),
            *(["--after", str(after)] if after is not None else []),
        ],  # fmt: skip
        cwd=paths.PROJECT_ROOT,
        env={**env, **slot.share.env()},
        stdin=subprocess.DEVNULL,
    )


def _note_end(slot: _Slot, code: int) -> None:
    """Log how a worker ended on its own; give up on a slot whose worker fails at once."""
    if code == 0:
        slot.quick_fails = 0
        return
    how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
    if time.monotonic() - slot.started < QUICK_FAIL_S:
        slot.quick_fails += 1
        slot.stopped = slot.quick_fails >= QUICK_FAILS
        # Not logged: the worker's own last line says why, and the app shows that line.
        logger.debug("worker %d of the pool %s at once", slot.index + 1, how)
    else:
        slot.quick_fails = 0
        logger.warning("worker %d of the pool %s", slot.index + 1, how)


def _stop_all(slots: list[_Slot]) -> None:
    """Stop the workers still running (they would die with the pool anyway) and wait."""
    _stop([p for slot in slots for p in (slot.process, slot.successor) if p is not None])


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
