"""Hyperband against random search at an equal epoch budget, and trials/hour with 1 and 2 workers.

Both parts run ``python -m core tune ... --json`` (the real CLI: store, keras-tuner, per-epoch
streaming, keeping the best model) in a fresh temporary cache on digits with report 000's CNN
search space (``--preset report000``; early stopping off so each trial trains its full epochs):

1. **Equal epoch budget.** Hyperband with ``--max-epochs`` (default 9) and ``--factor`` 3 runs
   the number of epochs its bracket schedule plans (``core.worker.searches.hyperband_plan``);
   random search gets as many trials of ``max_epochs`` epochs as fit in the same epoch count.
   Reported: best validation accuracy, the best trial's test accuracy, epochs and wall time.
2. **Workers.** Random search, ``--trials`` (default 8) trials of ``--worker-epochs`` (default
   3) epochs, once in one process and once as keras-tuner's chief with 2 tuner processes on
   127.0.0.1 (``--workers 2``). Reported: trials per hour of search time and wall time.

    python benchmarks/tuners.py [--max-epochs 9] [--trials 8] [--worker-epochs 3]

The last line is one JSON object with both parts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import ROOT, remove_cache, table, temp_cache  # noqa: E402
from core.worker.searches import hyperband_plan  # noqa: E402


def tune(name: str, args: list[str]) -> dict:
    """Run one search through the CLI in a fresh cache; return its JSON line and wall time."""
    root = temp_cache(name)
    try:
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "core",
                "tune",
                "--preset",
                "report000",
                "--no-baseline",
                "--early-stopping",
                "0",
                "--keep-top",
                "1",
                "--json",
                *args,
            ],
            cwd=ROOT,
            env={**os.environ, "HPE_CACHE_DIR": str(root)},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
    finally:
        remove_cache(root)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    summary["wall_s"] = round(wall, 1)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-epochs", type=int, default=9)
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--worker-epochs", type=int, default=3)
    args = parser.parse_args()

    hb_trials, budget = hyperband_plan(args.max_epochs, args.factor)
    random_trials = max(1, budget // args.max_epochs)
    hyperband = tune(
        "hyperband",
        [
            "--tuner",
            "hyperband",
            "--max-epochs",
            str(args.max_epochs),
            "--factor",
            str(args.factor),
        ],
    )
    random = tune(
        "random",
        ["--tuner", "random", "--max-trials", str(random_trials), "--epochs", str(args.max_epochs)],
    )
    budget_rows = []
    for name, summary, trials, epochs in (
        ("hyperband", hyperband, hb_trials, budget),
        ("random", random, random_trials, random_trials * args.max_epochs),
    ):
        budget_rows.append(
            {
                "tuner": name,
                "trials": trials,
                "epochs": epochs,
                "best_val_accuracy": round(summary["best_value"], 4),
                "best_test_accuracy": round(summary["best_test_accuracy"], 4),
                "search_s": round(summary["used_s"], 1),
                "wall_s": summary["wall_s"],
            }
        )

    common = [
        "--tuner",
        "random",
        "--max-trials",
        str(args.trials),
        "--epochs",
        str(args.worker_epochs),
    ]
    worker_rows = []
    for workers in (1, 2):
        summary = tune(f"workers{workers}", [*common, "--workers", str(workers)])
        worker_rows.append(
            {
                "workers": workers,
                "trials": summary["trials_done"],
                "trials_per_hour": round(summary["trials_done"] / summary["used_s"] * 3600, 1),
                "search_s": round(summary["used_s"], 1),
                "wall_s": summary["wall_s"],
            }
        )

    print(table(list(budget_rows[0]), [list(r.values()) for r in budget_rows]))
    print(table(list(worker_rows[0]), [list(r.values()) for r in worker_rows]))
    print(
        json.dumps(
            {
                "benchmark": "tuners",
                "cpus": os.cpu_count(),
                "equal_epoch_budget": budget_rows,
                "workers": worker_rows,
            }
        )
    )


if __name__ == "__main__":
    main()
