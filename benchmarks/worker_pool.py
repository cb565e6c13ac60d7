"""The worker pool on real queues: its speed-up, its memory, and what handing over costs.

    python benchmarks/worker_pool.py speedup   # a 6-run digits sweep, 2 workers ÷ 1 (wall time)
    python benchmarks/worker_pool.py memory    # RSS after 5 and after 50 queued digits runs
    python benchmarks/worker_pool.py handover  # the 15-run batch-size sweep, fresh processes
                                               # every 8 trials ÷ one long-lived worker

Each figure queues its runs in a temporary cache folder through the store (as the pages and
``--no-wait`` do), then times the real pool, ``python -m core.worker --workers N``, from its
start until it exits (one second after the queue is empty, the same for every side). The
sides of a ratio run one after the other in one invocation, on the same queue.

``memory`` samples the resident memory of the whole pool (the pool process and every worker
it runs) each time a run finishes, and prints it after run 5 and after run 50: the goal is
after-50 ≤ 1.05 × after-5. ``handover`` shows that keeping memory flat costs little time: the
goal is ≤ 1.10.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, emit, median, remove_cache, table, temp_cache  # noqa: E402

from core.data.checks import train_size  # noqa: E402
from core.spec.config import RunConfig  # noqa: E402
from core.spec.sweeps import default_batch_sizes, plan_sweep  # noqa: E402
from core.store import Store, paths  # noqa: E402

MIB = 2**20


def queue(root: Path, configs: list[RunConfig]) -> list[int]:
    """Queue ``configs`` as one sweep in the store of ``root``; return the trial ids."""
    store = Store(paths.store_path(root))
    _, trial_ids = store.create_study("benchmark", "sweep", configs)
    return trial_ids


def run_pool(root: Path, workers: int, *extra: str, on_finish=None) -> float:  # noqa: ANN001
    """Run the pool over the queue of ``root`` until it exits; return its wall time (s).

    ``on_finish(done, rss_bytes)`` is called each time another run has finished, with the
    pool's resident memory at that moment.
    """
    store = Store(paths.store_path(root))
    start = time.perf_counter()
    pool = subprocess.Popen(
        [sys.executable, "-m", "core.worker", "--cache", str(root), "--workers", str(workers),
         "--idle-exit", "1", *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    done = 0
    while pool.poll() is None:
        if on_finish is not None:
            finished = sum(t.status.finished for t in store.trials())
            if finished > done:
                done = finished
                on_finish(done, tree_rss(pool.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - start
    if pool.returncode != 0:
        sys.exit(f"the pool exited with status {pool.returncode}")
    return wall


def tree_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` and every process under it."""
    try:
        top = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [top, *top.children(recursive=True)])
    except psutil.Error:
        return 0


def speedup(args: argparse.Namespace) -> dict:
    configs = [RunConfig(epochs=args.epochs, seed=seed) for seed in range(6)]
    walls = {}
    for workers in (1, 2):
        root = temp_cache(f"pool-{workers}")
        try:
            queue(root, configs)
            walls[workers] = run_pool(root, workers)
        finally:
            remove_cache(root)
    print(f"6 digits runs (cnn, {args.epochs} epochs) on {psutil.cpu_count()} cores")
    print(table(["workers", "wall s"], [[w, f"{s:.1f}"] for w, s in walls.items()]))
    ratio = walls[2] / walls[1]
    print(f"2 workers ÷ 1: {ratio:.2f} of the wall time")
    return {"benchmark": "worker_pool_speedup", "wall_s": walls, "ratio_2_over_1": round(ratio, 3)}


def memory(args: argparse.Namespace) -> dict:
    configs = [RunConfig(epochs=args.epochs, seed=seed % 5) for seed in range(args.runs)]
    samples: dict[int, int] = {}
    root = temp_cache("pool-memory")
    try:
        queue(root, configs)
        run_pool(root, 1, on_finish=lambda done, rss: samples.setdefault(done, rss))
    finally:
        remove_cache(root)
    early, late = samples.get(5), samples.get(args.runs)
    if not early or not late:
        sys.exit("the pool ended before its runs were sampled")
    print(f"{args.runs} queued digits runs (cnn, {args.epochs} epochs), one worker")
    rows = [[n, f"{samples[n] / MIB:.0f}"] for n in sorted(samples) if n in (1, 5, 10, 25, 50)]
    print(table(["runs done", "pool RSS MiB"], rows))
    peak = max(v for n, v in samples.items() if n >= 5)
    print(f"after {args.runs} ÷ after 5: {late / early:.3f} (goal ≤ 1.05)")
    print(f"highest after any run from 5 on ÷ after 5: {peak / early:.3f}")
    return {
        "benchmark": "worker_pool_memory",
        "rss_mib": {n: round(v / MIB) for n, v in samples.items()},
        "ratio_late_over_5": round(late / early, 3),
        "ratio_peak_over_5": round(peak / early, 3),
    }


def handover(args: argparse.Namespace) -> dict:
    base = RunConfig(epochs=args.epochs)
    values = ",".join(map(str, default_batch_sizes(train_size(base))))
    plan, _ = plan_sweep(base, {"batch_size": values}, 3, False, None, "batch size")
    sides = {"one long-lived worker": "0", "fresh every 8 trials": "8"}
    walls: dict[str, list[float]] = {label: [] for label in sides}
    # A, B, then B, A: a load that drifts over the run weighs on both sides alike.
    order = [label for r in range(args.rounds) for label in (list(sides)[:: 1 - 2 * (r % 2)])]
    for label in order:
        root = temp_cache("pool-handover")
        try:
            queue(root, list(plan.configs))
            walls[label].append(run_pool(root, 1, "--trials-per-process", sides[label]))
        finally:
            remove_cache(root)
    print(f"the batch-size sweep: {len(plan.configs)} digits runs (cnn, {args.epochs} epochs)")
    rows = [[k, " ".join(f"{w:.1f}" for w in v), f"{median(v):.1f}"] for k, v in walls.items()]
    print(table(["worker", "wall s, each round", "median"], rows))
    one, fresh = (median(v) for v in walls.values())
    print(f"fresh ÷ long-lived: {fresh / one:.3f} (goal ≤ 1.10)")
    return {"benchmark": "worker_pool_handover", "wall_s": walls, "ratio": round(fresh / one, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=("speedup", "memory", "handover"))
    parser.add_argument("--epochs", type=int, default=None, help="epochs of each run")
    parser.add_argument("--runs", type=int, default=50, help="runs queued for memory")
    parser.add_argument("--rounds", type=int, default=2, help="times each side of handover runs")
    args = parser.parse_args()
    defaults = {"speedup": 5, "memory": 1, "handover": RunConfig().epochs}
    args.epochs = args.epochs or defaults[args.figure]
    emit({"speedup": speedup, "memory": memory, "handover": handover}[args.figure](args))


if __name__ == "__main__":
    main()
