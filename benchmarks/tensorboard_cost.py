"""What writing TensorBoard logs costs a run: epoch time with and without them.

Every trial writes its scalars once per epoch with ``keras.callbacks.TensorBoard`` (no
histograms, graph or profiling, nothing per batch; ``core.engine.run_logs``). This trains the same
config on digits ``--repeats`` times each way, alternating, in one process as the worker
does (``Store``, ``TrialMonitor``, ``run_trial``; temporary cache via ``HPE_CACHE_DIR``); "without"
swaps the callback for a plain ``keras.callbacks.Callback``. It reports the median epoch time
and the difference. An epoch's time here is the wall-clock time between the moments two
consecutive epochs were recorded, so it includes the logs written at each epoch's end (which
``EpochRecorder``'s own epoch seconds, taken before the other callbacks run, would miss).

    python benchmarks/tensorboard_cost.py
    python benchmarks/tensorboard_cost.py --model mlp --epochs 10 --repeats 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _common as common  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = common.temp_cache("tensorboard")
    try:
        import keras
        import numpy as np

        from core.engine import run_logs, training
        from core.spec.config import RunConfig
        from core.store import Store, paths

        store = Store(paths.store_path(root))
        with_logs = run_logs.tensorboard_callback
        seconds: dict[str, list[float]] = {"with": [], "without": []}
        cfg = RunConfig(model=args.model, epochs=args.epochs)
        store.create_study("warm-up", "single", [cfg.replace(epochs=1)])  # traces once
        for i in range(1 + 2 * args.repeats):
            way = "with" if i % 2 else "without"
            run_logs.tensorboard_callback = (
                with_logs if way == "with" else lambda *_: keras.callbacks.Callback()
            )
            if i:
                store.create_study(way, "single", [cfg])
            trial = store.claim_next(pid=1)
            with training.TrialMonitor(store, trial.id) as monitor:
                training.run_trial(store, trial, monitor, root)
            if i:
                done = [e.recorded_at for e in store.epochs(trial.id)]
                seconds[way] += list(np.diff(done))
        run_logs.tensorboard_callback = with_logs
    finally:
        common.remove_cache(root)
    with_s, without_s = common.median(seconds["with"]), common.median(seconds["without"])
    figures = {
        "model": args.model,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "epoch_s_with_logs": round(with_s, 4),
        "epoch_s_without": round(without_s, 4),
        "cost_percent": round(100 * (with_s / without_s - 1), 1),
    }
    print(
        common.table(
            ["logs", "median epoch s", "epochs"],
            [
                ["TensorBoard", with_s, len(seconds["with"])],
                ["none", without_s, len(seconds["without"])],
            ],
        )
    )
    common.emit(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
