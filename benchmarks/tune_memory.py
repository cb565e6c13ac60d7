"""Worker memory over a long search: resident memory after trial 1 and after trial 20.

keras-tuner users see memory grow trial after trial. Clearing the Keras session is not enough
with TensorFlow 2.21: a process that builds and fits model after model keeps about 16 MiB more
per model (report 000's CNN on digits), with or without keras-tuner. So the worker runs a search
in a child process that hands the search on to a fresh one once it has grown
``core.store.searches.HANDOVER_GROWTH_MIB``. Each trial records the resident memory (``VmRSS``)
of the process that trained it in its results (``worker_rss_mib``); this script reads it back.

Default: the real worker (``python -m core.worker`` on a temporary cache) runs a random search over
report 000's space on digits, ``--trials`` trials of ``--epochs`` epoch(s). With ``--in-process``
the search runs in this one process instead (``core.engine.search.run.run_search`` without
hand-overs), which shows the growth the hand-over avoids.

    python benchmarks/tune_memory.py [--trials 20] [--epochs 1] [--in-process]

The last line is one JSON object: ``rss_mib_after_trial_1``, ``rss_mib_after_trial_N``,
``growth_mib``, ``peak_mib``, ``processes`` (how many processes trained trials) and wall time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ROOT, remove_cache, temp_cache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    root = temp_cache("tune-memory")
    try:
        from core.spec.config import RunConfig
        from core.store import Store, paths
        from core.store import searches as search_store
        from core.worker.searches import SearchSettings, launch_search, presets

        store = Store(paths.store_path(root))
        preset = presets()["report000"]
        base = preset.apply(RunConfig(epochs=args.epochs))
        settings = SearchSettings(tuner="random", max_trials=args.trials, keep_top=1)
        study_id = launch_search(store, base, preset.space, settings, baseline=False)
        start = time.perf_counter()
        if args.in_process:
            from core.engine.search.run import run_search

            search_store.claim(store, "bench", study_id)
            run_search(store, study_id, root)
        else:
            subprocess.run(
                [sys.executable, "-m", "core.worker", "--cache", str(root), "--idle-exit", "2"],
                cwd=ROOT,
                check=True,
            )
        wall = time.perf_counter() - start
        trials = sorted(store.trials([study_id]), key=lambda t: t.number)
        state = search_store.read(store, study_id).state
    finally:
        remove_cache(root)
    rss = [t.results.get("worker_rss_mib") for t in trials]
    for trial, value in zip(trials, rss, strict=True):
        print(f"trial {trial.number + 1}: {value} MiB (pid {trial.worker_pid})")
    print(
        json.dumps(
            {
                "benchmark": "tune_memory",
                "mode": "in-process" if args.in_process else "worker",
                "state": state,
                "trials": len(trials),
                "epochs_per_trial": args.epochs,
                "rss_mib_after_trial_1": rss[0],
                f"rss_mib_after_trial_{len(rss)}": rss[-1],
                "growth_mib": round(rss[-1] - rss[0], 1),
                "peak_mib": max(rss),
                "processes": len({t.worker_pid for t in trials}),
                "wall_s": round(wall, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
