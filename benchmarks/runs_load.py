"""How long the Runs page takes to render with many runs in the store (goal: under 1 s).

A temporary store (``HPE_CACHE_DIR``) is filled with ``--trials`` finished trials: studies of
``--per-study`` trials (sweeps over the learning rate and batch size, created and finished
through the store's own calls), each trial with ``--epochs`` epochs of metrics (written in
bulk), most completed with test scores, a few failed, diverged or cancelled. Then the page is
run under Streamlit's ``AppTest`` (the real page script, server side: everything the page
computes and sends, no browser paint):

* ``empty_page_s``: the page with an empty store, for scale (Streamlit and AppTest's own
  cost on this machine);
* ``first_page_s``: the first time the page opens once the runs are in the store (every
  run's epochs are read);
* ``page_s``: opening the Runs page (the table of every run) again, the median of
  ``--repeats`` fresh sessions (finished runs' curve summaries are kept in the process);
* ``detail_s``: the same with one run opened by URL (``?trial=N``: curves, results and
  downloads drawn as well);
* ``frame_s``: ``core.views.runs.runs_frame`` alone, the table's data, reading every run's epochs.

    python benchmarks/runs_load.py                 # 1,000 trials of 10 epochs
    python benchmarks/runs_load.py --trials 200 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402

GOAL_S = 1.0


def fill(root: Path, trials: int, per_study: int, epochs: int) -> int:
    """Fill the store with finished trials; return the id of the last one."""
    from core.spec.config import RunConfig
    from core.store import Status, Store, paths

    store = Store(paths.store_path(root))
    endings = [Status.COMPLETED] * 17 + [Status.FAILED, Status.DIVERGED, Status.CANCELLED]
    made, last = 0, 0
    while made < trials:
        count = min(per_study, trials - made)
        configs = [
            RunConfig(
                model="mlp" if (made + i) % 2 else "cnn",
                learning_rate=10 ** -(1 + (made + i) % 4),
                batch_size=(32, 64, 128)[(made + i) % 3],
                epochs=epochs,
            )
            for i in range(count)
        ]
        _, ids = store.create_study(f"sweep {made // per_study + 1}", "sweep", configs)
        rows = []
        for i, tid in enumerate(ids):
            for epoch in range(epochs):
                acc = min(0.99, 0.5 + 0.05 * epoch + 0.001 * i)
                metrics = {
                    "loss": 1.0 / (epoch + 1),
                    "accuracy": acc,
                    "val_loss": 1.1 / (epoch + 1),
                    "val_accuracy": acc - 0.02,
                    "learning_rate": 1e-3,
                }
                rows.append((tid, epoch, json.dumps(metrics), 0.5, time.time()))
        # The epochs go in with one statement per study: Store.add_epoch writes one per
        # transaction, as training does, which would make the fill take minutes.
        with sqlite3.connect(paths.store_path(root)) as db:
            db.executemany(
                "INSERT INTO epochs (trial_id, epoch, metrics, seconds, recorded_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        for i, tid in enumerate(ids):
            store.claim_next(pid=1)
            status = endings[(made + i) % len(endings)]
            results = {"test_accuracy": 0.9, "test_loss": 0.3, "epochs_run": epochs}
            store.finish_trial(tid, status, results if status == Status.COMPLETED else None)
            last = tid
        made += count
    return last


def time_page(repeats: int, **query: str) -> tuple[float, list[float]]:
    """Seconds to run the Runs page: the first session's run, then fresh sessions' runs."""
    from streamlit.testing.v1 import AppTest

    times = []
    for _ in range(repeats + 1):
        at = AppTest.from_file(str(common.ROOT / "app.py"), default_timeout=120)
        for key, value in query.items():
            at.query_params[key] = value
        at.switch_page("pages/2_Runs.py")
        start = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"the Runs page failed: {at.exception[0].value}")
        times.append(elapsed)
    return times[0], times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--per-study", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    root = common.temp_cache("runs")
    try:
        _, empty = time_page(args.repeats)  # the page with no runs: what any page costs here
        start = time.perf_counter()
        last = fill(root, args.trials, args.per_study, args.epochs)
        fill_s = time.perf_counter() - start

        from core.store import Store, paths
        from core.views import runs
        from core.views.runs import runs_frame

        store = Store(paths.store_path(root))
        frames = []
        for _ in range(args.repeats):
            runs._SUMMARIES.clear()  # every run's epochs read again: the cold cost
            start = time.perf_counter()
            rows = len(runs_frame(store))
            frames.append(time.perf_counter() - start)
        runs._SUMMARIES.clear()
        first, page = time_page(args.repeats)
        _, detail = time_page(args.repeats, trial=str(last))
    finally:
        common.remove_cache(root)
    figures = {
        "trials": args.trials,
        "rows": rows,
        "epochs_per_trial": args.epochs,
        "fill_s": round(fill_s, 1),
        "frame_s": round(common.median(frames), 3),
        "empty_page_s": round(common.median(empty), 3),
        "first_page_s": round(first, 3),
        "page_s": round(common.median(page), 3),
        "page_s_max": round(max(page), 3),
        "detail_s": round(common.median(detail), 3),
        "goal_s": GOAL_S,
        "within_goal": common.median(page) < GOAL_S,
    }
    print(
        common.table(
            ["what", "median s", "max s"],
            [
                ["runs_frame", figures["frame_s"], round(max(frames), 3)],
                ["Runs page, no runs", figures["empty_page_s"], round(max(empty), 3)],
                ["Runs page, first open", figures["first_page_s"], figures["first_page_s"]],
                ["Runs page", figures["page_s"], figures["page_s_max"]],
                ["Runs page, one run open", figures["detail_s"], round(max(detail), 3)],
            ],
        )
    )
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
