"""How long a fork takes to start compared with a fresh run, and what checkpoints cost.

Everything runs in this one process, as the worker runs trials (``Store``, ``TrialMonitor``,
``run_trial``; temporary cache via ``HPE_CACHE_DIR``), on digits with the default CNN:

1. a fresh run of ``--epochs`` epochs, cold (the first in the process: TensorFlow traces its
   functions) — the parent;
2. the same config again, warm (what a worker that already trained something sees);
3. a fork of the parent after epoch ``--fork-at`` with no change, warm;
4. ``--rounds`` pairs of fresh runs with checkpoints on and off (``HPE_CHECKPOINT_CAP=0``),
   alternating.

Start time = from calling ``run_trial`` to the start of the first epoch it trains, i.e. the
first epoch's end (noted by the ``on_epoch`` hook) minus that epoch's own seconds (as
``EpochRecorder`` measures them from ``on_epoch_begin``). It covers loading the data,
building and compiling the model and, for the fork, reading its parent's checkpoint.
Checkpoint cost: ``core.engine.checkpoints.snapshot`` (the copy, on the training thread) and
``write`` (the file, in the background) are timed (wrapped here, then run unchanged), and the
median epoch wall time (from one epoch's end to the next, callbacks included) of the runs
with checkpoints is compared with the runs without.

    python benchmarks/fork_start.py               # 5 epochs, fork after epoch 2
    python benchmarks/fork_start.py --epochs 8 --fork-at 4
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--fork-at", type=int, default=2, help="1-based epoch to fork after")
    parser.add_argument("--rounds", type=int, default=3, help="runs with and without checkpoints")
    args = parser.parse_args()
    root = common.temp_cache("fork")
    try:
        figures = _measure(root, args.epochs, args.fork_at, args.rounds)
    finally:
        common.remove_cache(root)
    rows = [
        ["fresh (cold)", f"{figures['start_s']['fresh_cold']:.2f}"],
        ["fresh (warm)", f"{figures['start_s']['fresh_warm']:.2f}"],
        ["fork (warm)", f"{figures['start_s']['fork_warm']:.2f}"],
    ]
    print(common.table(["run", "start s"], rows))
    print(
        f"checkpoint: copy {figures['checkpoint_snapshot_ms_median']:.1f} ms on the training "
        f"thread, write {figures['checkpoint_write_ms_median']:.1f} ms in the background "
        f"({figures['checkpoint_kb']:.0f} kB); epoch wall time with / without checkpoints: "
        f"{figures['epoch_wall_s_with_checkpoints']:.3f} / {figures['epoch_wall_s_without']:.3f} s"
    )
    common.emit(figures)
    return 0


def _measure(root: Path, epochs: int, fork_at: int, rounds: int) -> dict:
    from core.engine import checkpoints
    from core.engine.training import TrialMonitor, run_trial
    from core.spec.config import RunConfig
    from core.store import Status, Store, paths
    from core.worker import forks as fork

    store = Store(paths.store_path(root))
    timings: dict[str, list[float]] = {"snapshot": [], "write": []}

    def timed(name: str, real):  # instrumentation only: the real function runs unchanged
        def call(*a, **k):
            start = time.perf_counter()
            result = real(*a, **k)
            timings[name].append((time.perf_counter() - start) * 1000)
            return result

        return call

    checkpoints.snapshot = timed("snapshot", checkpoints.snapshot)
    checkpoints.write = timed("write", checkpoints.write)

    ends: dict[int, list[float]] = {}

    def train(trial_id: int) -> float:
        first: list[float] = []
        ends[trial_id] = []

        def on_epoch(epoch: int, metrics: dict, seconds: float) -> None:
            now = time.perf_counter()
            ends[trial_id].append(now)
            if not first:
                first.append(now - seconds)

        start = time.perf_counter()
        with TrialMonitor(store, trial_id) as monitor:
            status = run_trial(store, store.trial(trial_id), monitor, root, on_epoch)
        assert status == Status.COMPLETED, store.trial(trial_id).error
        return first[0] - start

    def run(name: str) -> int:
        _, (tid,) = store.create_study(name, "single", [cfg], reserve_for=os.getpid())
        return tid

    cfg = RunConfig(epochs=epochs)
    parent = run("parent")
    cold = train(parent)
    warm = train(run("again"))
    plan = fork.plan_fork(store, parent, fork_at, {}, root)
    _, child = fork.queue_fork(store, plan, reserve_for=os.getpid())
    forked = train(child)
    # Epoch wall time, end to end (callbacks included), with and without checkpoints,
    # alternating so both see the same load.
    walls: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(rounds):
        for label, cap in (("with", "50"), ("without", "0")):
            os.environ["HPE_CHECKPOINT_CAP"] = cap
            tid = run(f"{label} checkpoints")
            train(tid)
            walls[label] += [b - a for a, b in zip(ends[tid], ends[tid][1:], strict=False)]
    os.environ.pop("HPE_CHECKPOINT_CAP")
    folder = checkpoints.checkpoint_dir(store.trial(parent), root)
    size = common.median([p.stat().st_size for p in folder.iterdir()])
    with_s, without_s = common.median(walls["with"]), common.median(walls["without"])

    return {
        "benchmark": "fork_start",
        "epochs": epochs,
        "fork_after_epoch": fork_at,
        "start_s": {
            "fresh_cold": round(cold, 3),
            "fresh_warm": round(warm, 3),
            "fork_warm": round(forked, 3),
        },
        "fork_vs_fresh_warm": round(forked / warm, 2),
        "checkpoint_snapshot_ms_median": round(common.median(timings["snapshot"]), 2),
        "checkpoint_snapshot_ms_max": round(max(timings["snapshot"]), 2),
        "checkpoint_write_ms_median": round(common.median(timings["write"]), 2),
        "checkpoint_kb": round(size / 1024, 1),
        "epoch_wall_s_with_checkpoints": round(with_s, 4),
        "epoch_wall_s_without": round(without_s, 4),
        "checkpoint_overhead": round(with_s / without_s - 1, 3),
        "rounds": rounds,
        "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    sys.exit(main())
