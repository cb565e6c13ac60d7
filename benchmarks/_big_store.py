"""A store of many finished runs with realistic results, built once and kept between runs.

Not a benchmark itself: ``runs_load.py`` and ``page_render.py`` open a copy of it. Each trial
carries what ``core.engine.executor.save_results`` writes: test and validation scores with
their intervals, a model summary (one row per layer), split sizes, 100 class names, a 100-class
confusion matrix with per-class precision, recall, F1 and support, and the packed per-image
test hits of 10,000 test images; ``--epochs`` epochs of metrics each. Most studies are sweeps
of 20 trials (five learning rates, four seeds each); a few are searches of 200 trials (their
hyperparameters and objective in their results), and some trials are forks of others. The
rows go in with ``executemany`` inside the store's own transactions (whole results and brief
ones as ``core.store.records.write_results`` lays them out), so 10,000 trials of 30 epochs
take a minute or two; the file is kept in ``cache/benchmarks/`` under a name that holds the
schema version (and a checksum of the tables' layout) and the sizes, and built again only
when one changes.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import zlib
from pathlib import Path

import numpy as np

from benchmarks import _common as common

CLASSES = 100
TEST_IMAGES = 10_000
PER_STUDY = 20
PER_SEARCH = 200
SEARCHES = 5
LAYERS = 12
SWEPT = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]  # each sweep's learning rates, PER_STUDY // 5 seeds each


def cached(trials: int, epochs: int) -> Path:
    """The built store file for ``trials`` trials of ``epochs`` epochs (built if missing)."""
    from core.store import schema

    folder = common.ROOT / "cache" / "benchmarks"
    layout = zlib.crc32((schema.SCHEMA + "".join(schema.INDEXES)).encode())
    path = folder / f"store-v{schema.SCHEMA_VERSION}-{layout:08x}-{trials}x{epochs}.sqlite"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        start = time.perf_counter()
        build(partial, trials, epochs)
        partial.replace(path)
        print(f"built {path.name} in {time.perf_counter() - start:.1f} s", flush=True)
    return path


def copy_into(root: Path, trials: int, epochs: int) -> Path:
    """Copy the built store into the cache folder ``root``; return the copy's path."""
    from core.store import paths

    target = paths.store_path(root)
    shutil.copyfile(cached(trials, epochs), target)
    return target


def results(rng: random.Random, accuracy: float, extra: dict | None = None) -> dict:
    """A finished trial's results as the engine records them, 100 classes, 10,000 test images."""
    npr = np.random.default_rng(rng.randrange(1 << 30))
    right = npr.random(TEST_IMAGES) < accuracy
    per_class = TEST_IMAGES // CLASSES
    hits = int(per_class * accuracy)
    confusion = npr.multinomial([per_class - hits] * CLASSES, [1 / CLASSES] * CLASSES)
    confusion[np.arange(CLASSES), np.arange(CLASSES)] += hits
    support = confusion.sum(axis=1)
    precision = np.diag(confusion) / np.maximum(confusion.sum(axis=0), 1)
    recall = np.diag(confusion) / np.maximum(support, 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    names = [f"class_{c}" for c in range(CLASSES)]
    from core.spec.hits import pack_hits

    return {
        "test_loss": 1.0 - accuracy,
        "test_accuracy": accuracy,
        "test_images": TEST_IMAGES,
        "test_accuracy_ci": [accuracy - 0.01, accuracy + 0.01],
        "val_loss": 1.02 - accuracy,
        "val_accuracy": accuracy - 0.01,
        "val_images": 5000,
        "val_accuracy_ci": [accuracy - 0.02, accuracy],
        "params": 602_698,
        "summary": [
            {
                "layer": f"layer_{i}",
                "type": ("Conv2D", "MaxPooling2D", "Dense", "Dropout")[i % 4],
                "output_shape": f"(None, {32 >> (i // 4)}, {32 >> (i // 4)}, {16 << (i // 4)})",
                "params": 4640 * (i % 4 == 0),
            }
            for i in range(LAYERS)
        ],
        "sizes": {"train": 45_000, "validation": 5000, "test": TEST_IMAGES},
        "class_names": names,
        "input_shape": [32, 32, 3],
        "artifacts": {"model": "/nowhere/model.keras", "weights": "/nowhere/model.weights.h5"},
        "classes": {
            "class_names": names,
            "split": "test",
            "images": TEST_IMAGES,
            "confusion": confusion.tolist(),
            "precision": precision.round(4).tolist(),
            "recall": recall.round(4).tolist(),
            "f1": f1.round(4).tolist(),
            "support": support.tolist(),
            "macro": {
                "precision": float(precision.mean()),
                "recall": float(recall.mean()),
                "f1": float(f1.mean()),
                "f1_ci": [float(f1.mean()) - 0.01, float(f1.mean()) + 0.01],
            },
        },
        "test_hits": pack_hits(right),
        "seconds_per_epoch": 10.0,
        "epochs_run": 30,
        "stopped_early": False,
        "peak_memory_mb": 900.0,
        **(extra or {}),
    }


def build(path: Path, trials: int, epochs: int) -> None:
    """Write ``trials`` finished trials of ``epochs`` epochs into a new store at ``path``."""
    from core.spec.config import RunConfig
    from core.spec.sweeps import plan_sweep
    from core.store import Store
    from core.store import searches as search_store
    from core.store.records import brief_results
    from core.worker.searches import SearchSettings, SearchSpace, launch_search

    store = Store(path)
    rng = random.Random(0)
    searched = min(SEARCHES * PER_SEARCH, trials // 10)
    space = SearchSpace.from_list(
        [
            {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
            {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
            {"key": "optimizer", "kind": "choice", "values": ["adam", "rmsprop"]},
        ]
    )
    made, now = 0, time.time() - trials * 60.0
    while made < trials:
        search = made < searched
        count = min(PER_SEARCH if search else PER_STUDY, trials - made)
        base = RunConfig(model="cnn", epochs=epochs)
        if search:
            settings = SearchSettings(tuner="random", max_trials=count)
            study_id = launch_search(store, base, space, settings, baseline=False)
        else:
            plan, sweep = plan_sweep(base, {"learning_rate": SWEPT}, repeats=PER_STUDY // 5)
            study_id, _ = store.create_study(plan.name, plan.kind, [], spec=sweep.to_dict())
        rows, wholes, epoch_rows = [], [], []
        for number in range(count):
            if search:
                lr = 10 ** rng.uniform(-4, -2)
                cfg = base.replace(learning_rate=lr, batch_size=(32, 64, 128)[number % 3])
            else:
                cfg = plan.configs[number]
                lr = cfg.learning_rate
            accuracy = rng.uniform(0.3, 0.95)
            extra = {}
            if search:
                hp = {"learning_rate": lr, "dropout": 0.3, "optimizer": "adam"}
                extra = {"hp": hp, "objective": accuracy, "tuner_trial_id": f"{number:04d}"}
            status = "completed" if number % 20 else "failed"
            full = results(rng, accuracy, extra)
            wholes.append(json.dumps(full))
            brief = json.dumps(brief_results(full))
            done = now + (made + number) * 60.0
            rows.append(
                (
                    study_id,
                    number,
                    cfg.to_json(),
                    cfg.config_hash(),
                    status,
                    done - 300,
                    done - 300,
                    done,
                    done,
                    1,
                    brief,
                    1 - accuracy,
                    accuracy,
                    None if status == "completed" else "It failed.",
                )
            )
        with store.transaction() as db:
            first = db.execute("SELECT COALESCE(MAX(id), 0) FROM trials").fetchone()[0] + 1
            db.executemany(
                "INSERT INTO trials (study_id, number, config, config_hash, status, created_at, "
                "started_at, finished_at, heartbeat_at, worker_pid, results, test_loss, "
                "test_accuracy, error) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
            db.executemany(
                "INSERT INTO trial_results VALUES (?, ?)",
                zip(range(first, first + count), wholes, strict=True),
            )
            for tid in range(first, first + count):
                for epoch in range(epochs):
                    acc = min(0.99, 0.3 + 0.02 * epoch + 0.0001 * tid)
                    metrics = {
                        "loss": 1.0 / (epoch + 1),
                        "accuracy": acc,
                        "val_loss": 1.1 / (epoch + 1),
                        "val_accuracy": acc - 0.02,
                        "learning_rate": 1e-3,
                    }
                    epoch_rows.append((tid, epoch, json.dumps(metrics), 10.0, now))
            db.executemany("INSERT INTO epochs VALUES (?, ?, ?, ?, ?)", epoch_rows)
            if not search and (made // PER_STUDY) % 10 == 1:
                # every tenth sweep's first trial is a fork of the trial before it
                db.execute(
                    "UPDATE trials SET parent_id=?, fork_epoch=? WHERE id=?",
                    (first - 1, epochs // 2, first),
                )
        if search:
            search_store.set_state(store, study_id, "done", {"used_s": 3600.0})
        made += count
