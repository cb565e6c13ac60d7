"""The app's Hyperband search against a plain keras-tuner script of the same search, side by side.

Both search report 000's space (conv1 filters 16-64, conv2 32-128, dense units 128-512, dropout
0.1-0.5, learning rate 1e-4..1e-2 on a log scale) on digits with keras-tuner's Hyperband, the
same ``max_epochs``, ``factor`` and seed, objective ``val_accuracy``, batch 64 and 20% of the
training images held out for validation. Neither stops a trial early unless ``--patience N``
says so (then both stop one after N epochs without a better ``val_accuracy``, restoring its
best weights): without it, Hyperband's schedule alone sets the epochs, so both train the same
trials and epochs, whereas early stopping follows each side's own validation curves.

* **plain**: a script as a user writes it (scikit-learn's digits as NumPy arrays, a Keras
  ``Sequential`` built by ``build(hp)``, ``kt.Hyperband(...).search(...)``),
  timed from its start to its exit;
* **app**: the search queued as the Tune page queues it (``core.worker.searches.launch_search``
  with its untuned baseline), then served by a real worker (``python -m core.worker``), which
  trains the baseline and hands the search to its search processes
  (``core.worker.search_child``); timed from the worker's start until the store says the
  search is done (its best trials tested and saved).

Printed: both wall times and their ratio (app ÷ plain, the figure; the goal is 1.2 or less;
with it, the ratio had the app's epochs taken the plain script's time, as other work on a
shared machine changes the epochs' speed between the two runs),
the trials and epochs each trained, and the app's time split by cause, read from the store's
timestamps: the worker's start (Python and the TensorFlow import), the baseline, the search
processes' start-ups (a fresh process imports TensorFlow, loads the data and reloads the
tuner), the epochs themselves, the pauses between epochs (checkpoint, TensorBoard logs, the
epoch's row, keras-tuner's best weights), each trial's start and end (its model built,
keras-tuner's and the store's bookkeeping) and the testing and saving of the kept trials.
Then one JSON line. About 4 minutes on 2 cores.

    python benchmarks/search_overhead.py [--max-epochs 10] [--factor 3] [--seed 0] [--patience 0]
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

from benchmarks._common import ROOT, emit, remove_cache, table, temp_cache  # noqa: E402

PLAIN = """
import json, sys, time
started = time.perf_counter()
import keras, keras_tuner as kt, numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
imported = time.perf_counter()

max_epochs, factor, seed, patience = (int(a) for a in sys.argv[1:5])
folder = sys.argv[5]
digits = load_digits()
x = digits.images[..., None].astype("float32") / 16.0
x_train, x_test, y_train, y_test = train_test_split(
    x, digits.target, test_size=360, stratify=digits.target, random_state=seed)
x_train, x_val, y_train, y_val = train_test_split(
    x_train, y_train, test_size=0.2, stratify=y_train, random_state=seed)


def build(hp):
    model = keras.Sequential([keras.Input((8, 8, 1))])
    for i, (low, high, step) in enumerate([(16, 64, 16), (32, 128, 32)]):
        model.add(keras.layers.Conv2D(hp.Int(f"filters_{i}", low, high, step=step), 3,
                                      padding="same", activation="relu"))
        model.add(keras.layers.AveragePooling2D(2))
        model.add(keras.layers.BatchNormalization())
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(hp.Int("dense_units", 128, 512, step=128), activation="relu"))
    model.add(keras.layers.Dropout(hp.Float("dropout", 0.1, 0.5, step=0.1)))
    model.add(keras.layers.Dense(10, activation="softmax"))
    rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    model.compile(optimizer=keras.optimizers.Adam(rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


EPOCHS = []


class Count(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        EPOCHS.append(time.perf_counter())

    def on_epoch_end(self, epoch, logs=None):
        EPOCHS[-1] = time.perf_counter() - EPOCHS[-1]


tuner = kt.Hyperband(build, objective="val_accuracy", max_epochs=max_epochs, factor=factor,
                     seed=seed, directory=folder, project_name="plain")
callbacks = [Count()]
if patience:  # as the app's trials stop early
    callbacks.append(keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=patience, restore_best_weights=True))
tuner.search(x_train, y_train, batch_size=64, validation_data=(x_val, y_val),
             callbacks=callbacks, verbose=0)
best = tuner.get_best_models(1)[0]
test_accuracy = best.evaluate(x_test, y_test, verbose=0)[1]
print(json.dumps({"trials": len(tuner.oracle.trials), "epochs": len(EPOCHS),
                  "epochs_s": sum(EPOCHS), "import_s": imported - started,
                  "test_accuracy": float(test_accuracy)}))
"""


def plain_search(args: argparse.Namespace, folder: Path) -> tuple[float, dict]:
    """Run the plain script; return its wall time and what it printed."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PLAIN]
        + [str(v) for v in (args.max_epochs, args.factor, args.seed, args.patience, folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, json.loads(done.stdout.strip().splitlines()[-1])


def app_search(args: argparse.Namespace, root: Path) -> tuple[float, int, int, float]:
    """Queue the search and let a real worker serve it.

    Returns:
        Its wall time, the study, the baseline trial and when the worker started (epoch s).
    """
    from core.spec.search_space import SearchSettings
    from core.store import open_store
    from core.store import searches as search_store
    from core.worker.searches import launch_search, presets

    store = open_store(root)
    preset = presets()["report000"]
    base = preset.apply()
    base = type(base).from_dict({**base.to_dict(), "dataset": "digits", "seed": args.seed})
    settings = SearchSettings.from_dict(
        {
            **preset.settings.to_dict(),
            "max_epochs": args.max_epochs,
            "factor": args.factor,
            "early_stopping_patience": args.patience,
        }
    )
    study = launch_search(store, base, preset.space, settings)
    baseline = store.trials([store.study(study).spec["baseline_study"]])[0].id
    env = {**os.environ, "HPE_CACHE_DIR": str(root), "HPE_WORKER_IDLE_EXIT": "600"}
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-m", "core.worker", "--cache", str(root)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "bench-worker.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        while search_store.read(store, study).state not in ("done", "failed", "interrupted"):
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited early; see {root / 'bench-worker.log'}")
            time.sleep(0.1)
        wall = time.perf_counter() - started
        ended = time.time()
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    state = search_store.read(store, study)
    if state.state != "done":
        raise SystemExit(f"the search ended {state.state}: {state.progress.get('error')}")
    return wall, study, baseline, ended - wall


def app_split(root: Path, study: int, baseline: int, spawned: float, ended: float) -> dict:
    """The app's time by cause, from the store's timestamps (seconds)."""
    from core.store import open_store

    store = open_store(root)
    base = store.trial(baseline)
    trials = sorted(store.trials([study]), key=lambda t: t.started_at or 0)
    split = {
        "worker start (Python, TensorFlow)": base.started_at - spawned,
        "baseline (trained and tested)": base.finished_at - base.started_at,
        "search processes' start-ups": 0.0,
        "epochs": 0.0,
        "between epochs (checkpoint, logs, rows)": 0.0,
        "trial start and end (build, bookkeeping)": 0.0,
        "testing and saving the kept trials": ended - max(t.finished_at for t in trials),
    }
    previous_end, processes, epochs = base.finished_at, set(), 0
    for trial in trials:
        rows = store.epochs(trial.id)
        epochs += len(rows)
        if trial.worker not in processes:  # the first trial of a fresh search process
            processes.add(trial.worker)
            split["search processes' start-ups"] += trial.started_at - previous_end
        else:
            split["trial start and end (build, bookkeeping)"] += trial.started_at - previous_end
        starts = [r.recorded_at - r.seconds for r in rows]
        split["epochs"] += sum(r.seconds for r in rows)
        split["between epochs (checkpoint, logs, rows)"] += sum(
            later - r.recorded_at for r, later in zip(rows, starts[1:], strict=False)
        )
        if rows:
            split["trial start and end (build, bookkeeping)"] += (starts[0] - trial.started_at) + (
                trial.finished_at - rows[-1].recorded_at
            )
        previous_end = trial.finished_at
    split["other (store reads, hand-over waits)"] = (ended - spawned) - sum(split.values())
    return {"split": split, "trials": len(trials), "epochs": epochs, "processes": len(processes)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--patience",
        type=int,
        default=0,
        help="stop a trial after this many epochs without a better val_accuracy (0: never, so "
        "both searches train the same epochs, set by Hyperband's schedule alone)",
    )
    args = parser.parse_args()
    root = temp_cache("search-overhead")
    try:
        plain_s, plain = plain_search(args, root.parent / "plain")
        app_s, study, baseline, spawned = app_search(args, root)
        found = app_split(root, study, baseline, spawned, spawned + app_s)
    finally:
        remove_cache(root)
    ratio = app_s / plain_s
    print(
        table(
            ["search", "wall s", "trials", "epochs", "epochs s"],
            [
                ["plain keras-tuner", plain_s, plain["trials"], plain["epochs"], plain["epochs_s"]],
                ["app (worker)", app_s, found["trials"], found["epochs"], found["split"]["epochs"]],
            ],
        )
    )
    print(f"\nplain script's imports (TensorFlow, keras-tuner): {plain['import_s']:.1f} s")
    print(f"app's time by cause ({found['processes']} search process(es)):")
    print(table(["cause", "s", "share"], [[k, v, v / app_s] for k, v in found["split"].items()]))
    # Other work on the machine changes the epochs' speed between the two runs: the ratio
    # with the app's epochs taking the plain script's time shows the overhead alone.
    steady = (app_s - found["split"]["epochs"] + plain["epochs_s"]) / plain_s
    print(f"\nat the plain script's epoch speed, app ÷ plain: {steady:.2f}")
    print(f"app ÷ plain wall time: {ratio:.2f} (goal: 1.20 or less)")
    emit(
        {
            "search_overhead_ratio": round(ratio, 3),
            "ratio_at_plain_epoch_speed": round(steady, 3),
            "plain_s": round(plain_s, 2),
            "plain_import_s": round(plain["import_s"], 2),
            "app_s": round(app_s, 2),
            "plain_trials": plain["trials"],
            "app_trials": found["trials"],
            "plain_epochs": plain["epochs"],
            "app_epochs": found["epochs"],
            "app_processes": found["processes"],
            "app_split_s": {k: round(v, 2) for k, v in found["split"].items()},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
