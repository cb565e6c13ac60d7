"""Training throughput through the app's path, divided by a plain ``model.fit`` script.

What is compared (default: both sides in this one process, alternately, after a warm-up run of
each; see "Processes" below):

* **app**: ``core.engine.training.run_trial`` exactly as the CLI and the worker call it: a trial
  claimed in a real SQLite ``Store`` (temporary cache folder, ``HPE_CACHE_DIR``), a running
  ``TrialMonitor`` (its heartbeat thread writes progress every 0.5 s), ``EpochRecorder`` (batch
  progress, one store write per epoch), then test evaluation and saving (not timed). Only the
  dataset loader is replaced: ``core.engine.loading.datasets.check_available`` and
  ``core.engine.loading.datasets._keras_arrays`` are monkeypatched in-process to hand over
  CIFAR-10-shaped synthetic uint8 arrays (default 10,000 training images 32×32×3, 10 balanced
  classes, plus 2,000 test images); ``load_splits`` itself (the stratified validation split) and
  everything after it is the real code. Config: ``cifar10``, ``cnn``, Adam, batch size 64,
  validation split 0.2.
* **plain**: the same splits (the same patched ``load_splits``), the same seed, the model from
  ``core.engine.models.build_model`` compiled by ``compile_model``, then
  ``model.fit(x_train, y_train, batch_size=64, epochs=E, validation_data=(x_val, y_val),
  verbose=0)`` with one tiny callback that only timestamps ``on_epoch_begin`` /
  ``on_epoch_end`` (``time.perf_counter``).

Epoch times: app from the ``seconds`` column of the store's ``epochs`` rows (``EpochRecorder``
measures ``on_epoch_begin`` → ``on_epoch_end``, before its store write); plain from the tiny
callback, measured the same way. Both include the validation pass. Throughput of a run =
training images × timed epochs ÷ sum of their seconds, excluding the first epoch (it includes
``tf.function`` tracing). Runs are done in pairs whose order alternates (app-plain,
plain-app, ...) so slow drift hits both sides equally. Reported: median throughput of each side,
their ratio (app ÷ plain; goal ≥ 0.97), and the median of the per-pair ratios. Secondary,
because other processes on a shared 2-core machine make single epochs jump: the same ratio
with images ÷ median timed epoch per run; with images ÷ the fastest timed epoch of all runs
(the least disturbed one); training images per process CPU second (all threads,
``time.process_time`` at epoch begin/end: the tiny callback on the plain side, a two-line
wrapper around ``EpochRecorder.on_epoch_begin``/``on_epoch_end`` on the app side), which other
processes' load disturbs much less than wall time; and the 1-minute load average before and
after. Not timed on either side: what happens between epochs (the app's store write of the
epoch row, about 1 ms, see ``epoch_latency.py``).

Processes: by default both sides run in this process. TensorFlow keeps some switches for the
whole process; if the app path turns on op determinism
(``tf.config.experimental.enable_op_determinism``, which a reproducibility change to
``run_trial`` does), every later plain run would pay for it too. So after the warm-up app run
the script checks, and if it is on it switches to a fresh process per run (``--isolate``
forces that; the child runs ``--child app|plain`` with the same synthetic data and config).
The output says which mode ran and whether op determinism was on during each side's runs.

The plain side follows the app's own compile: ``core.engine.optim.compile_model(model, cfg, steps,
classes)`` and ``core.engine.optim.prepare_labels`` where ``core.engine.training`` uses
``core.engine.optim``, else ``core.engine.models.compile_model`` / ``prepare_labels``;
``build_model`` gets ``x_sample`` / ``root`` when it takes them. It always feeds NumPy arrays with
``batch_size``, as a plain script does; how the app feeds data (arrays, or a ``tf.data`` pipeline)
is part of the app path.

``--worker``: the app side goes through the real worker subprocess instead (``ensure_worker``
on the temporary cache; trials queued with ``Store.create_study``; epoch seconds from the
store), and the plain side runs in a fresh subprocess (``--plain-child``), so both train in one
process of their own. The worker cannot load synthetic CIFAR-10 without patching: Keras's
cifar10 loader checks the archive against the official SHA-256 (``core.data.availability._SHA256``;
the tests replace ``keras.src.utils.file_utils.validate_file`` and ``_SHA256`` to load small
archives), and a patch inside the worker subprocess would no longer be the real worker. So
``--worker`` uses the one dataset the worker loads unpatched, the embedded ``digits``
(1,149 training images 8×8×1 at split 0.2), with more epochs (default 30). Steps there are
tiny, so what the app adds per batch (``EpochRecorder.on_train_batch_end``) and the heartbeat
thread's store writes weigh much more than on CIFAR: read it as an upper bound of that
overhead. The worker stays up between its trials; each plain run is a fresh process (the
untimed first epoch absorbs tracing either way).

Run from the project root::

    python benchmarks/throughput.py                    # 5 pairs, 4 epochs, 10,000 images
    python benchmarks/throughput.py --pairs 1 --epochs 2 --n-train 2000   # quick check
    python benchmarks/throughput.py --isolate          # a fresh process for every run
    python benchmarks/throughput.py --worker           # through the worker subprocess (digits)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common  # noqa: E402


def synthetic(n_train: int, n_test: int, seed: int = 0):
    """CIFAR-10-shaped uint8 images with balanced labels 0..9 (the same for the same seed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8)
    y_train = np.arange(n_train, dtype=np.int64) % 10
    rng.shuffle(y_train)
    x_test = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_test = np.arange(n_test, dtype=np.int64) % 10
    return x_train, y_train, x_test, y_test


def patch_loader(arrays) -> None:
    """Hand the synthetic arrays to load_splits in place of Keras's cifar10 loader."""
    from core.engine.loading import datasets

    datasets.check_available = lambda name, root=None: None
    datasets._keras_arrays = lambda name, root=None: arrays


def make_config(args, dataset: str):
    from core.spec.config import RunConfig

    return RunConfig(
        dataset=dataset,
        model=args.model,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=args.validation_split,
        seed=0,
    )


def op_determinism() -> bool | None:
    """Whether TensorFlow op determinism is on in this process (a process-wide switch)."""
    try:
        from tensorflow.python.framework import config as tf_config

        return bool(tf_config.is_op_determinism_enabled())
    except Exception:  # noqa: BLE001 - private API; unknown is fine
        return None


# Process CPU seconds (all threads) of each epoch of the current run, either side.
CPU_EPOCHS: list[float] = []


def epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Timestamps epoch begin and end (wall and process CPU); nothing else."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._start = self._cpu = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()
            self._cpu = time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)
            CPU_EPOCHS.append(time.process_time() - self._cpu)

    return EpochTimer()


def instrument_store_callback() -> None:
    """Note process CPU time at EpochRecorder's epoch begin/end (two calls; nothing else)."""
    from core.engine import executor

    begin, end = executor.EpochRecorder.on_epoch_begin, executor.EpochRecorder.on_epoch_end

    def on_epoch_begin(self, epoch, logs=None):
        self._bench_cpu = time.process_time()
        return begin(self, epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        CPU_EPOCHS.append(time.process_time() - self._bench_cpu)
        return end(self, epoch, logs)

    executor.EpochRecorder.on_epoch_begin = on_epoch_begin
    executor.EpochRecorder.on_epoch_end = on_epoch_end


def _compile_like_the_app(model, cfg, steps: int, classes: int):
    """Compile as run_trial does (``core.engine.optim.compile_model``); return its labels."""
    from core.engine import optim

    optim.compile_model(model, cfg, steps, classes)
    return optim.prepare_labels


def plain_run(cfg, root: Path) -> dict:
    """Plain model.fit with the app's model, compile and data (NumPy arrays, batch_size)."""
    import inspect

    import keras

    from core.engine import models
    from core.engine.loading.datasets import load_splits

    splits = load_splits(cfg.dataset, cfg.validation_split, cfg.seed, root)
    keras.utils.set_random_seed(cfg.seed)
    classes = splits.num_classes
    params = inspect.signature(models.build_model).parameters
    extra = {k: v for k, v in (("x_sample", splits.x_train), ("root", root)) if k in params}
    model = models.build_model(cfg, splits.input_shape, classes, **extra)
    steps = math.ceil(len(splits.x_train) / cfg.batch_size)
    prepare = _compile_like_the_app(model, cfg, steps, classes)
    timer = epoch_timer()
    CPU_EPOCHS.clear()
    model.fit(
        splits.x_train,
        prepare(splits.y_train, cfg, classes),
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        validation_data=(splits.x_val, prepare(splits.y_val, cfg, classes)),
        callbacks=[timer],
        verbose=0,
    )
    return {
        "seconds": timer.seconds,
        "images": len(splits.x_train),
        "cpu": list(CPU_EPOCHS),
        "determinism": op_determinism(),
    }


def app_run(cfg, root: Path) -> dict:
    """run_trial as the CLI calls it; epoch seconds from the store."""
    from core.engine.training import TrialMonitor, run_trial
    from core.store import Status, Store, paths

    store = Store(paths.store_path(root))
    _, (tid,) = store.create_study("bench", "single", [cfg], reserve_for=os.getpid())
    CPU_EPOCHS.clear()
    with TrialMonitor(store, tid) as monitor:
        status = run_trial(store, store.trial(tid), monitor, root)
    trial = store.trial(tid)
    if status != Status.COMPLETED:
        raise RuntimeError(f"app run ended {status}: {trial.error}\n{trial.traceback}")
    return {
        "seconds": [e.seconds for e in store.epochs(tid)],
        "images": int(trial.results["sizes"]["train"]),
        "cpu": list(CPU_EPOCHS),
        "determinism": op_determinism(),
    }


def child_run(args, side: str, dataset: str, root: Path) -> dict:
    """One run of ``side`` in a fresh process of its own (same data, same config)."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        side,
        "--dataset",
        dataset,
        "--model",
        args.model,
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--validation-split",
        str(args.validation_split),
        "--n-train",
        str(args.n_train),
        "--n-test",
        str(args.n_test),
    ]
    env = {**os.environ, "HPE_CACHE_DIR": str(root), "PYTHONUNBUFFERED": "1"}
    out = subprocess.run(cmd, env=env, cwd=common.ROOT, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"{side} child failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return json.loads(lines[-1])


def throughput(seconds: list[float], images: int) -> float:
    timed = seconds[1:]
    if not timed:
        raise ValueError("need at least 2 epochs (the first one is excluded)")
    return images * len(timed) / sum(timed)


# -- worker mode -------------------------------------------------------------------------


def worker_app_run(cfg, root: Path, timeout: float = 900.0) -> dict:
    from core.store import Status, Store
    from core.worker.launch import ensure_worker

    store = Store(root / "store.sqlite")
    _, (tid,) = store.create_study("bench", "single", [cfg])
    ensure_worker(root)
    end = time.monotonic() + timeout
    while not store.trial(tid).status.finished:
        if time.monotonic() > end:
            raise TimeoutError(f"trial {tid} did not finish; see {root / 'worker.log'}")
        time.sleep(0.2)
    trial = store.trial(tid)
    if trial.status != Status.COMPLETED:
        raise RuntimeError(f"worker run ended {trial.status}: {trial.error}")
    return {
        "seconds": [e.seconds for e in store.epochs(tid)],
        "images": int(trial.results["sizes"]["train"]),
        "cpu": [],
        "determinism": None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5, help="alternating app/plain pairs (5)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (4; --worker 30)")
    parser.add_argument("--n-train", type=int, default=10_000, help="synthetic training images")
    parser.add_argument("--n-test", type=int, default=2_000, help="synthetic test images")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--validation-split", type=float, default=0.2)
    parser.add_argument("--model", default="cnn", choices=["cnn", "mlp"])
    parser.add_argument("--worker", action="store_true", help="app side through the worker")
    parser.add_argument("--isolate", action="store_true", help="every run in a fresh process")
    parser.add_argument("--no-warmup", action="store_true", help="skip the warm-up pair")
    parser.add_argument("--child", choices=["app", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="cifar10", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.epochs is None:
        args.epochs = 30 if args.worker else 4
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is not timed)")

    if args.child:  # one run in a process of its own
        from core.store import paths

        if args.dataset == "cifar10":
            patch_loader(synthetic(args.n_train, args.n_test))
            instrument_store_callback()
        cfg = make_config(args, args.dataset)
        run = app_run if args.child == "app" else plain_run
        print(json.dumps(run(cfg, paths.cache_dir())), flush=True)
        return 0

    root = common.temp_cache("throughput")
    os.environ["HPE_WORKER_IDLE_EXIT"] = "120"
    leaked = False
    try:
        if args.worker:
            cfg = make_config(args, "digits")
            runs = {
                "app": lambda: worker_app_run(cfg, root),
                "plain": lambda: child_run(args, "plain", "digits", root),
            }
            mode = "worker subprocess vs plain subprocess, digits 8x8x1"
        else:
            cfg = make_config(args, "cifar10")
            if not args.isolate:
                patch_loader(synthetic(args.n_train, args.n_test))
                instrument_store_callback()
            mode = f"synthetic CIFAR-10 shape, {args.n_train} images"
        print(
            f"throughput: {mode}; model {cfg.model}, batch {cfg.batch_size}, "
            f"{cfg.epochs} epochs/run (first not timed), {args.pairs} pairs",
            flush=True,
        )
        if not args.worker and not args.isolate:
            runs = {"app": lambda: app_run(cfg, root), "plain": lambda: plain_run(cfg, root)}
            if not args.no_warmup:
                t0 = time.monotonic()
                runs["app"]()
                if op_determinism():
                    # run_trial switched on TensorFlow op determinism, which stays on for the
                    # whole process: a plain run here would pay for it too.
                    print(
                        "the app path turned on TF op determinism (process-wide): "
                        "switching to a fresh process per run",
                        flush=True,
                    )
                    args.isolate = args.no_warmup = True  # the caches are warm already
                else:
                    runs["plain"]()
                    print(f"warm-up pair done in {time.monotonic() - t0:.1f} s", flush=True)
        if args.isolate:
            runs = {
                "app": lambda: child_run(args, "app", "cifar10", root),
                "plain": lambda: child_run(args, "plain", "cifar10", root),
            }
            if not args.no_warmup:
                runs["app"]()
                runs["plain"]()
                print("warm-up pair done (fresh processes)", flush=True)
        mode_name = "worker" if args.worker else ("isolated" if args.isolate else "same_process")
        print(f"mode: {mode_name}", flush=True)

        load_before = os.getloadavg()
        rows, app_tp, plain_tp, ratios = [], [], [], []
        robust: dict[str, list[float]] = {"app": [], "plain": []}
        per_cpu: dict[str, list[float]] = {"app": [], "plain": []}
        best: dict[str, float] = {"app": 0.0, "plain": 0.0}  # images / fastest timed epoch
        determinism: dict[str, set] = {"app": set(), "plain": set()}
        for i in range(args.pairs):
            order = ("app", "plain") if i % 2 == 0 else ("plain", "app")
            got = {}
            for side in order:
                r = runs[side]()
                seconds, images = r["seconds"], r["images"]
                determinism[side].add(r["determinism"])
                if len(r["cpu"]) == len(seconds):
                    per_cpu[side].append(images * (len(seconds) - 1) / sum(r["cpu"][1:]))
                got[side] = throughput(seconds, images)
                robust[side].append(images / common.median(seconds[1:]))
                best[side] = max(best[side], images / min(seconds[1:]))
                rows.append((i + 1, side, len(seconds), round(sum(seconds[1:]), 3), got[side]))
                print(
                    f"  pair {i + 1} {side:5s}: {got[side]:8.1f} images/s  "
                    f"epochs {[round(s, 2) for s in seconds]}",
                    flush=True,
                )
            app_tp.append(got["app"])
            plain_tp.append(got["plain"])
            ratios.append(got["app"] / got["plain"])
        leaked = mode_name == "same_process" and True in determinism["plain"]

        print()
        print(common.table(["pair", "side", "epochs", "timed s", "images/s"], rows))
        app_med, plain_med = common.median(app_tp), common.median(plain_tp)
        ratio = app_med / plain_med
        print()
        print(f"median app   {app_med:9.1f} images/s")
        print(f"median plain {plain_med:9.1f} images/s")
        print(
            f"ratio app/plain {ratio:.3f} (median of pair ratios {common.median(ratios):.3f}); "
            f"goal >= 0.97: {'met' if ratio >= 0.97 else 'NOT met'}"
        )
        robust_ratio = common.median(robust["app"]) / common.median(robust["plain"])
        print(f"secondary (images / median timed epoch): ratio {robust_ratio:.3f}")
        best_ratio = best["app"] / best["plain"]
        print(f"secondary (images / fastest timed epoch of all runs): ratio {best_ratio:.3f}")
        cpu_ratio = None
        if per_cpu["app"] and per_cpu["plain"]:
            cpu_app, cpu_plain = common.median(per_cpu["app"]), common.median(per_cpu["plain"])
            cpu_ratio = cpu_app / cpu_plain
            print(
                f"secondary (images per process CPU second): app {cpu_app:.0f}, "
                f"plain {cpu_plain:.0f}, ratio {cpu_ratio:.3f}"
            )
        print(
            "TF op determinism during runs: "
            f"app {sorted(map(str, determinism['app']))}, "
            f"plain {sorted(map(str, determinism['plain']))}"
        )
        if leaked:
            print(
                "WARNING: op determinism was on during plain runs (set by the app path in "
                "this process); rerun with --isolate"
            )
        load_after = os.getloadavg()
        print(
            f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
            f"on {os.cpu_count()} CPUs (other processes add noise)"
        )
        common.emit(
            {
                "benchmark": "throughput",
                "mode": mode_name,
                "dataset": cfg.dataset,
                "model": cfg.model,
                "batch_size": cfg.batch_size,
                "epochs": cfg.epochs,
                "pairs": args.pairs,
                "app_images_per_s": round(app_med, 1),
                "plain_images_per_s": round(plain_med, 1),
                "ratio_app_over_plain": round(ratio, 4),
                "median_pair_ratio": round(common.median(ratios), 4),
                "pair_ratios": [round(r, 4) for r in ratios],
                "goal_met": ratio >= 0.97,
                "median_epoch_ratio": round(robust_ratio, 4),
                "best_epoch_ratio": round(best_ratio, 4),
                "cpu_ratio_app_over_plain": None if cpu_ratio is None else round(cpu_ratio, 4),
                "op_determinism_app": sorted(map(str, determinism["app"])),
                "op_determinism_plain": sorted(map(str, determinism["plain"])),
                "plain_contaminated": leaked,
                "loadavg_1min_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
            }
        )
    finally:
        if args.worker:
            _stop_worker(root)
        common.remove_cache(root)
    return 0


def _stop_worker(root: Path) -> None:
    """Stop the worker this script started (its pid is in the store's trials)."""
    import sqlite3

    try:
        db = sqlite3.connect(root / "store.sqlite")
        pids = {r[0] for r in db.execute("SELECT DISTINCT worker_pid FROM trials") if r[0]}
        db.close()
    except sqlite3.Error:
        return
    for pid in pids:
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 15)


if __name__ == "__main__":
    sys.exit(main())
