"""Run a search in a process of its own, a few trials at a time, so memory stays flat.

TensorFlow keeps a little memory for every model a process builds, even after
``keras.backend.clear_session()`` (about 16 MiB per trial of report 000's CNN on digits, with or
without keras-tuner, in ``benchmarks/tune_memory.py``). The worker therefore runs a search in a
child process (``python -m core.worker.search_child``) that trains at most ``TRIALS_PER_PROCESS``
trials (``core.store.searches``), then hands the search back as queued; the worker starts a
fresh child for the next ones, which goes on from the keras-tuner project folder like any
Resume. The child dies with the worker (``PR_SET_PDEATHSIG``), so killing the worker still
stops the search at once. The parent's side imports no TensorFlow; the child's (:func:`main`)
loads it to run the search. The child writes its log lines (``core.worker.logs``) to the
worker's own stderr, hence to the same log.
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

from core.store import Store, open_store, paths
from core.store import searches as search_store
from core.store.searches import TRIALS_PER_PROCESS
from core.worker.logs import setup_logging

_PR_SET_PDEATHSIG = 1

# Named, not __name__: the child runs this file as __main__, outside the core loggers.
logger = logging.getLogger("core.worker.search_child")


def _die_with_parent() -> None:
    """In the child, before it starts: be killed when the worker that started it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_in_child(
    store: Store, study_id: int, root: Path, trials_per_process: int = TRIALS_PER_PROCESS
) -> str:
    """Run a claimed search in a child process until it ends or hands itself back.

    The child's log lines and TensorFlow's go to this process's stdout and stderr.

    Returns:
        The search's state afterwards: ``queued`` when the child stopped to let a fresh
        process go on, else how the search ended. A child that died leaves it interrupted.
    """
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.worker.search_child",
            "--study",
            str(study_id),
            "--cache",
            str(root),
            "--trials-per-process",
            str(trials_per_process),
        ],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, paths.CACHE_ENV: str(root)},
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
        check=False,
    )
    state = search_store.read(store, study_id).state
    if state == "running":
        search_store.set_state(
            store,
            study_id,
            "interrupted",
            {"error": f"The search process stopped unexpectedly (exit status {done.returncode})."},
        )
        state = "interrupted"
    return state


def main(argv: list[str] | None = None) -> int:
    """``python -m core.worker.search_child --study ID``: run a claimed search in this process."""
    parser = argparse.ArgumentParser(prog="python -m core.worker.search_child", description=__doc__)
    parser.add_argument("--study", type=int, required=True)
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--trials-per-process", type=int, default=None)
    args = parser.parse_args(argv)
    setup_logging()
    root = (args.cache or paths.cache_dir()).resolve()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    limit = args.trials_per_process
    logger.info(
        "search %d: process %d started (%s)",
        args.study,
        os.getpid(),
        f"at most {limit} trials" if limit else "every trial left",
    )
    try:
        store = open_store(root)
        from core.engine.search.run import run_search  # TensorFlow loads here

        state = run_search(store, args.study, root, trials_per_process=limit)
    except Exception:
        # run_search records its own failures; what reaches here left the search running,
        # and the worker marks it interrupted, quoting this exit status.
        logger.exception("search %d: process %d stopped by an error", args.study, os.getpid())
        return 1
    logger.info("search %d: process %d ended, search %s", args.study, os.getpid(), state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
