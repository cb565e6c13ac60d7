"""What the app's per-batch callbacks cost, at several batches per call (steps_per_execution).

    python benchmarks/batch_callbacks.py [--images 1024] [--epochs 4] [--rounds 2]

Both sides train report 000's CNN (``core.engine.models.build_model`` at the defaults, 602,698
parameters) on CIFAR-10-shaped synthetic uint8 images (32×32×3, 10 balanced classes), batch
size 64, Adam, through the app's own ``tf.data`` pipeline (``core.engine.executor.dataset``),
seeded alike, compiled by ``core.engine.optim.compile_model`` with the same
``steps_per_execution``; only the callbacks differ:

* **app**: ``core.engine.executor.standard_callbacks``, the callbacks every trial trains with:
  ``EpochRecorder`` reporting each call's batch and time left into a running ``TrialMonitor``
  (a real SQLite ``Store`` in a temporary cache folder, heartbeat every 0.5 s), TensorBoard
  logs and a checkpoint per epoch;
* **plain**: no callbacks of its own (the monitor beats alongside, as on the app side).

A timing callback first in each list reads the wall clock and the process's CPU time
(``time.process_time``, all threads) at ``on_epoch_begin`` and ``on_epoch_end`` (no validation
data, so that span is the training loop; the checkpoint and log writes come after it). Images/s
of a run = images × epochs ÷ their seconds, leaving out the first epoch (tracing); per CPU
second likewise, which other processes on a shared machine disturb much less than wall time.
Runs alternate app and plain at each setting (which goes first alternates by round),
``--rounds`` times; medians are reported. Printed, for both clocks: images/s of each side at
each setting, app ÷ plain (what the per-batch callbacks cost), each side against itself at one
batch per call (what fewer calls gain), and the callbacks' cost per batch in milliseconds.
On a shared machine the training figures move by tens of per cent from run to run, more than
the callbacks cost; so the batch hooks are also timed directly: 3,000 calls of
``on_train_batch_begin``/``on_train_batch_end`` through Keras's ``CallbackList`` with the app's
callbacks (after a real fit, inside the running monitor) against an empty list, given as
microseconds a batch and as a share of a batch of the plain fit. The last line is JSON; its
headline figure is ``hooks_share_of_batch``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import emit, median, remove_cache, table, temp_cache  # noqa: E402

SETTINGS = (1, 4, 16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1024, help="training images")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (first untimed)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each side per setting")
    args = parser.parse_args()
    cache = temp_cache("batch-callbacks")
    try:
        rates = _measure(cache, args.images, args.epochs, args.rounds)
    finally:
        remove_cache(cache)
    _report(rates, args.images)


def _measure(cache: Path, images: int, epochs: int, rounds: int) -> dict[tuple, float]:
    import keras
    import numpy as np

    from core.engine import devices, optim
    from core.engine.executor import EpochRecorder, dataset, standard_callbacks
    from core.engine.loading.datasets import Splits
    from core.engine.models import build_model
    from core.engine.monitor import TrialMonitor
    from core.spec.config import RunConfig
    from core.store import Store, paths

    cfg = RunConfig(dataset="cifar10", model="cnn", epochs=epochs, batch_size=64)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (images, 32, 32, 3), dtype=np.uint8)
    y = np.arange(images, dtype=np.int64) % 10
    splits = Splits(x, y, x[:0], y[:0], x[:0], y[:0], [str(i) for i in range(10)])
    steps = images // cfg.batch_size
    store = Store(paths.store_path(cache))
    _, (trial_id,) = store.create_study("bench", "single", [cfg], reserve_for=1)
    trial = store.trial(trial_id)

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []

            self.cpu: list[float] = []

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._start, self._cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.seconds.append(time.perf_counter() - self._start)
            self.cpu.append(time.process_time() - self._cpu)

    def run(side: str, per_call: int) -> tuple[float, float]:
        keras.utils.set_random_seed(cfg.seed)
        devices.set_op_determinism(cfg.deterministic)
        model = build_model(cfg, (32, 32, 3), 10)
        optim.compile_model(model, cfg, steps, 10, steps_per_execution=per_call)
        timer = Timer()
        callbacks: list[keras.callbacks.Callback] = [timer]
        with TrialMonitor(store, trial_id) as monitor:
            if side == "app":
                recorder = EpochRecorder(lambda *_: None, monitor, cfg.epochs, steps)
                folder = Path(tempfile.mkdtemp(dir=cache))
                callbacks += standard_callbacks(
                    cfg, steps, recorder, folder / "checkpoints", folder / "logs"
                )
            model.fit(
                dataset(cfg, splits, "train", span=(0, cfg.epochs)),
                epochs=cfg.epochs,
                steps_per_epoch=steps,
                shuffle=False,
                callbacks=callbacks,
                verbose=0,
            )
            if per_call == 1 and (side, "hooks") not in found:
                found[(side, "hooks")] = [_hook_seconds(keras, model, callbacks[1:], steps)]
        keras.backend.clear_session()
        trained = steps * cfg.batch_size * (cfg.epochs - 1)
        return trained / sum(timer.seconds[1:]), trained / sum(timer.cpu[1:])

    del trial
    found: dict[tuple, list[float]] = {}
    for number in range(rounds):
        for per_call in SETTINGS:
            # Alternating which side goes first, so drift in the machine's load hits both.
            for side in ("app", "plain") if number % 2 == 0 else ("plain", "app"):
                wall, cpu = run(side, per_call)
                found.setdefault(("wall", side, per_call), []).append(wall)
                found.setdefault(("cpu", side, per_call), []).append(cpu)
    return {key: median(values) for key, values in found.items()}


def _hook_seconds(keras, model, callbacks: list, steps: int, calls: int = 3000) -> float:
    """Seconds one training batch spends in the callbacks' batch hooks, called directly."""
    hooks = keras.callbacks.CallbackList(callbacks, model=model)
    hooks.on_train_begin()
    hooks.on_epoch_begin(0)
    logs = model.get_metrics_result()
    start = time.perf_counter()
    for call in range(calls):
        hooks.on_train_batch_begin(call % steps)
        hooks.on_train_batch_end(call % steps, logs)
    return (time.perf_counter() - start) / calls


def _report(rates: dict[tuple, float], images: int) -> None:
    rows, figures = [], {}
    for clock in ("wall", "cpu"):
        for per_call in SETTINGS:
            app, plain = rates[(clock, "app", per_call)], rates[(clock, "plain", per_call)]
            rows.append(
                [
                    clock,
                    per_call,
                    app,
                    plain,
                    app / plain,
                    app / rates[(clock, "app", 1)],
                    plain / rates[(clock, "plain", 1)],
                    (1 / app - 1 / plain) * 64 * 1000,  # per batch of 64
                ]
            )
            prefix = "" if clock == "wall" else "cpu_"
            figures[f"{prefix}app_vs_plain_at_{per_call}"] = round(app / plain, 3)
            figures[f"{prefix}app_at_{per_call}_vs_1"] = round(app / rates[(clock, "app", 1)], 3)
    headers = [
        "clock",
        "batches/call",
        "app img/s",
        "plain img/s",
        "app/plain",
        "app vs 1",
        "plain vs 1",
        "callback ms/batch",
    ]
    print(f"report 000 CNN, {images} synthetic 32x32x3 images, batch 64 (cpu: per CPU second)")
    print(table(headers, rows))
    hooks = rates[("app", "hooks")] - rates[("plain", "hooks")]
    batch = 64 / rates[("wall", "plain", 1)]
    print(
        f"batch hooks called directly: app {rates[('app', 'hooks')] * 1e6:.1f} us, "
        f"plain {rates[('plain', 'hooks')] * 1e6:.1f} us a batch; the difference is "
        f"{hooks / batch:.2%} of a {batch * 1000:.1f} ms batch here"
    )
    figures["app_hooks_us_per_batch"] = round(hooks * 1e6, 1)
    figures["hooks_share_of_batch"] = round(hooks / batch, 5)
    emit(figures)


if __name__ == "__main__":
    main()
