"""How long the store takes to answer the pages with many runs in it (goal: a poll in 50 ms).

A copy of a built store (``benchmarks/_big_store.py``: ``--trials`` finished trials of
``--epochs`` epochs with the results a real run records: model summary, 100-class confusion
matrix and per-class results, packed test hits; built once and kept in ``cache/benchmarks/``)
gets one more trial, running for this process with half its epochs written, the way the worker
leaves it mid-training. Then, each the median of ``--repeats``:

* ``poll_ms``: the store time of one Train page run showing that running trial, under
  Streamlit's ``AppTest`` (the real page script): every store call the live view's poll makes
  (reaping, the queue, the trial, its epochs, its forks and promotions) plus the page's own few
  reads; the time is summed over the store's public calls, so it is the store's share only;
* ``idle_ms``: one pass of the idle worker's store calls (backup due?, reap trials, claim a
  trial, reap searches, claim a search) with nothing to do; ``idle_writes`` counts the writes
  they made (``PRAGMA data_version`` seen from another connection), which should be 0;
* ``list_ms``: ``Store.trials()`` of every run (the brief results, no large parts);
* ``first_frame_s``: ``core.views.runs.runs_frame``, the Runs page's table of every run, the
  first time ever (curve summaries of all but the newest runs go to a background thread;
  ``summaries_done_s`` says when it finished); ``cold_frame_s``: the table in a new server
  process (every trial read, the summaries the store kept); ``frame_s``: the table again with
  nothing changed (only the trials' revisions are read).

    python benchmarks/runs_load.py                    # 10,000 trials of 30 epochs
    python benchmarks/runs_load.py --trials 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _big_store as big  # noqa: E402
from benchmarks import _common as common  # noqa: E402

POLL_GOAL_MS = 50.0


def add_running(root: Path, epochs: int) -> int:
    """Queue one more run, claim it for this process and write half its epochs; its id."""
    from core.spec.config import RunConfig
    from core.store import open_store

    store = open_store(root)
    config = RunConfig(model="cnn", epochs=epochs)
    _, (trial_id,) = store.create_study("live run", "single", [config])
    assert store.claim(trial_id)
    for epoch in range(epochs // 2):
        store.add_epoch(trial_id, epoch, {"loss": 1.0 / (epoch + 1), "val_accuracy": 0.5}, 10.0)
    return trial_id


class StoreClock:
    """Sums the time spent in the store's public calls (the outermost call of each nest)."""

    def __init__(self) -> None:
        from core.store import Store

        self.seconds = 0.0
        self._originals = {
            name: value
            for name, value in vars_of(Store).items()
            if callable(value) and not name.startswith("_")
        }
        self._depth = 0
        for name, method in self._originals.items():
            setattr(Store, name, self._timed(method))

    def _timed(self, method: Callable) -> Callable:
        @functools.wraps(method)
        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start

        return timed

    def restore(self) -> None:
        from core.store import Store

        for name, method in self._originals.items():
            setattr(Store, name, method)


def vars_of(cls: type) -> dict[str, object]:
    """Every attribute a class defines or inherits, nearest definition first."""
    found: dict[str, object] = {}
    for klass in cls.__mro__[:-1]:
        for name, value in vars(klass).items():
            found.setdefault(name, value)
    return found


def poll_seconds(trial_id: int, repeats: int) -> list[float]:
    """The store time of the Train page showing ``trial_id``, once per fresh session."""
    from streamlit.testing.v1 import AppTest

    times = []
    clock = StoreClock()
    try:
        for _ in range(repeats + 1):  # the first opens the store and warms the imports
            at = AppTest.from_file(str(common.ROOT / "app.py"), default_timeout=120)
            at.query_params["trial"] = str(trial_id)
            at.switch_page("pages/train.py")
            clock.seconds = 0.0
            at.run()
            if at.exception:
                raise RuntimeError(f"the Train page failed: {at.exception[0].value}")
            times.append(clock.seconds)
    finally:
        clock.restore()
    return times[1:]


def idle_pass(root: Path) -> Callable[[], None]:
    """One pass of the idle worker's store calls, with nothing to do."""
    from core.store import backup, open_store
    from core.store import searches as search_store

    store = open_store(root)
    backup.take(store.path)  # the worker takes one when it starts

    def run() -> None:
        backup.take_if_due(store.path)
        store.reap_stale()
        assert store.claim_next(1) is None
        search_store.reap(store)
        assert search_store.claim(store) is None

    return run


def timed(call: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    big.cached(args.trials, args.epochs)  # built outside the timing, once
    root = common.temp_cache("runs")
    try:
        path = big.copy_into(root, args.trials, args.epochs)
        running = add_running(root, args.epochs)
        poll = poll_seconds(running, args.repeats)

        from core.store import open_store
        from core.views import run_curves, runs

        store = open_store(root)
        lists = timed(store.trials, args.repeats)
        start = time.perf_counter()
        runs.runs_frame(store)  # the first ever: most curve summaries go to the background
        first_frame = time.perf_counter() - start
        for thread in list(run_curves._working.values()):
            thread.join()
        summarised = time.perf_counter() - start
        cold = []
        for _ in range(min(args.repeats, 3)):  # a new server process: summaries from the store
            run_curves._KNOWN.clear()
            run_curves._loaded.clear()
            runs._CACHES.clear()
            cold += timed(lambda: runs.runs_frame(store), 1)
        frames = timed(lambda: runs.runs_frame(store), args.repeats)  # nothing changed since
        idle = idle_pass(root)
        idle()  # the first pass learns when the next backup is due
        watcher = sqlite3.connect(path)
        version = watcher.execute("PRAGMA data_version").fetchone()[0]
        idles = timed(idle, args.repeats * 10)
        writes = watcher.execute("PRAGMA data_version").fetchone()[0] != version
        watcher.close()
    finally:
        common.remove_cache(root)
    poll_ms = common.median(poll) * 1000
    figures = {
        "trials": args.trials,
        "epochs_per_trial": args.epochs,
        "poll_ms": round(poll_ms, 1),
        "poll_ms_max": round(max(poll) * 1000, 1),
        "idle_ms": round(common.median(idles) * 1000, 2),
        "idle_writes": int(writes),
        "list_ms": round(common.median(lists) * 1000, 1),
        "first_frame_s": round(first_frame, 3),
        "summaries_done_s": round(summarised, 1),
        "cold_frame_s": round(common.median(cold), 3),
        "frame_s": round(common.median(frames), 3),
        "poll_goal_ms": POLL_GOAL_MS,
        "within_goal": poll_ms <= POLL_GOAL_MS,
    }
    print(
        common.table(
            ["what", "median ms", "max ms"],
            [
                ["Train page's store time (live poll)", poll_ms, max(poll) * 1000],
                ["idle worker pass", figures["idle_ms"], max(idles) * 1000],
                ["Store.trials(), every run", figures["list_ms"], max(lists) * 1000],
                ["runs_frame, first ever (summaries to background)", first_frame * 1000, ""],
                ["  ... background summaries done after", summarised * 1000, ""],
                [
                    "runs_frame, new process (kept summaries)",
                    figures["cold_frame_s"] * 1000,
                    max(cold) * 1000,
                ],
                [
                    "runs_frame, again (nothing changed)",
                    figures["frame_s"] * 1000,
                    max(frames) * 1000,
                ],
            ],
        )
    )
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
