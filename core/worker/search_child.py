"""Run a search in a process of its own, handed on to a fresh one as its memory grows.

TensorFlow keeps a little memory for every model a process builds, even after
``keras.backend.clear_session()`` (about 16 MiB per trial of report 000's CNN on digits, with or
without keras-tuner, in ``benchmarks/tune_memory.py``). The worker therefore runs a search in a
child process (``python -m core.worker.search_child``) that, between trials, hands the search
back as queued once it has grown by ``HANDOVER_GROWTH_MIB`` since its first trial ended
(``core.store.searches``); the worker starts a fresh child for the next ones, which goes on from
the keras-tuner project folder like any Resume. While memory stays flat one child runs the
whole search: each fresh one imports TensorFlow and reloads the tuner again.

The child dies with the worker, so killing the worker still stops the search at once: on Linux
the kernel kills it; everywhere, a thread of the child watches the worker and ends the child
within a second of the worker's end (``core.worker.parent_watch``). The parent's side
imports no TensorFlow; the child's (:func:`main`) loads it to run the search. The child writes
its log lines (``core.worker.logs``) to the worker's own stderr, hence to the same log.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from core.store import Store, open_store, paths, settings
from core.store import searches as search_store
from core.store.searches import HANDOVER_GROWTH_MIB
from core.worker.logs import setup_logging
from core.worker.parent_watch import die_with_parent, kill_with_parent

# Named, not __name__: the child runs this file as __main__, outside the core loggers.
logger = logging.getLogger("core.worker.search_child")


def _orphaned() -> None:
    logger.warning("search child %d: its worker has ended; stopping", os.getpid())
    os._exit(1)  # as a kill would: the search is left running, and reaped as interrupted


def handover_limit(handover_mib: float | None) -> float | None:
    """The growth (MiB) after which a search child hands on: ``handover_mib``, or a quarter
    of the worker's ``HPE_WORKER_MEMORY_MB`` cap when that is less, so trials keep room."""
    cap = settings.read(settings.WORKER_MEMORY_MB)
    if cap is None or handover_mib is None:
        return handover_mib
    return min(handover_mib, cap / 4)


def run_in_child(
    store: Store,
    study_id: int,
    root: Path,
    trials_per_process: int | None = None,
    handover_mib: float | None = HANDOVER_GROWTH_MIB,
) -> str:
    """Run a claimed search in a child process until it ends or hands itself back.

    The child's log lines and TensorFlow's go to this process's stdout and stderr.

    Args:
        store: The store.
        study_id: The search, claimed by this process.
        root: The cache folder.
        trials_per_process: Hand back after this many trials (None: no count).
        handover_mib: Hand back once the child has grown this many MiB (None: never); a
            quarter of ``HPE_WORKER_MEMORY_MB`` at most, when that caps the worker.

    Returns:
        The search's state afterwards: ``queued`` when the child stopped to let a fresh
        process go on, else how the search ended. A child that died leaves it interrupted.
    """
    handover_mib = handover_limit(handover_mib)
    limits = []
    if trials_per_process is not None:
        limits += ["--trials-per-process", str(trials_per_process)]
    if handover_mib is not None:
        limits += ["--handover-mib", str(handover_mib)]
    done = subprocess.run(
        [sys.executable, "-m", "core.worker.search_child", "--study", str(study_id)]
        + ["--cache", str(root), "--parent", str(os.getpid()), *limits],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, paths.CACHE_ENV: str(root)},
        stdin=subprocess.DEVNULL,
        preexec_fn=kill_with_parent if sys.platform.startswith("linux") else None,  # noqa: PLW1509
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
    parser.add_argument("--handover-mib", type=float, default=None)
    parser.add_argument("--parent", type=int, default=None, help="the worker's process id")
    args = parser.parse_args(argv)
    setup_logging()
    if args.parent is not None:
        die_with_parent(args.parent, _orphaned)
    root = (args.cache or paths.cache_dir()).resolve()
    os.environ["KERAS_HOME"] = str(paths.keras_home(root))
    limit, growth = args.trials_per_process, args.handover_mib
    shares = [f"at most {limit} trials"] if limit else []
    shares += [f"until it grows {growth:g} MiB"] if growth else []
    logger.info(
        "search %d: process %d started (%s)",
        args.study,
        os.getpid(),
        ", ".join(shares) or "every trial left",
    )
    try:
        store = open_store(root)
        from core.engine.search.run import run_search  # TensorFlow loads here

        state = run_search(store, args.study, root, trials_per_process=limit, handover_mib=growth)
    except Exception:
        # run_search records its own failures; what reaches here left the search running,
        # and the worker marks it interrupted, quoting this exit status.
        logger.exception("search %d: process %d stopped by an error", args.study, os.getpid())
        return 1
    logger.info("search %d: process %d ended, search %s", args.study, os.getpid(), state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
