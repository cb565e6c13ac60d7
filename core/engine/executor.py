"""The one way a trial trains: its data, its compiled model, its callbacks and its saved result.

Every trial goes through here: a single run, a sweep member, a fold, a fork, a promotion
(``core.engine.training.run_trial``) and each execution of a search trial, which keras-tuner
builds and fits through ``core.engine.search.hypermodel`` with the callbacks its tuner adds
(``core.engine.search.tuner``). So every trial

* loads its splits the same way (:func:`load_data`) and builds a model seeded and compiled the
  same way, refused before it starts when a training step cannot fit in memory
  (:func:`compiled_model`);
* records its epochs through one writer (:class:`EpochRecorder`, in
  ``core.engine.epoch_recorder``), reports its batches and
  heartbeats through one monitor (``core.engine.monitor``), and
  checkpoints its epochs within a disk budget and keeps TensorBoard logs
  (:func:`standard_callbacks`);
* is tested and saved by one saver (:func:`save_results`): its validation and test scores,
  each with its image count and 95% interval, the model, its weights, its ``config.json``,
  per-class results and the grid of misclassified test images.

This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from pathlib import Path
from typing import Any

import keras
import numpy as np

from core.data import fingerprint
from core.engine import batches, checkpoints, devices, memory_guard, optim, run_logs
from core.engine.epoch_recorder import EpochRecorder
from core.engine.evaluation import evaluate_classes, misclassified_grid
from core.engine.loading.datasets import Splits, load_splits, merge_validation
from core.engine.loading.folds import load_fold
from core.engine.models import build_model, summary_rows
from core.engine.pipeline import make_dataset
from core.spec.config import RunConfig
from core.spec.hits import pack_hits
from core.spec.scores import wilson_interval
from core.store import disk_space
from core.store.checkpoint_files import checkpoint_budget

# Before TensorFlow initialises its devices: every trial path imports this module first.
devices.allow_memory_growth()
devices.freeze_imported_objects()  # TensorFlow's and Keras's, walked at every collection

# The weights file inside a saved .keras archive.
_WEIGHTS_ENTRY = "model.weights.h5"
# What a save writes besides the variables: the misclassified grid, config.json, file headers.
_SAVE_EXTRA_BYTES = 128 * 1024


def make_deterministic(seed: int, ops: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow ops deterministic (or not).

    Together with the seeded pipeline, op determinism makes a run repeat exactly: same
    initial weights, batches, augmentations and dropout masks, hence the same metrics. On a
    2-core CPU it cost a few per cent of training speed in ``benchmarks/augmentation.py``;
    a GPU loses more (``deterministic`` in ``core.spec.params``). Each trial sets it, so a
    trial without it is not slowed by an earlier trial of the process that had it.

    Args:
        seed: The run's seed.
        ops: Whether TensorFlow's ops run deterministically (the config's ``deterministic``).
    """
    keras.utils.set_random_seed(seed)
    devices.set_op_determinism(ops)


def load_data(
    cfg: RunConfig, root: Path, fold: int | None = None, promoted: bool = False
) -> tuple[Splits, tuple[Any, ...]]:
    """Load a trial's splits, and the key that names them in its ``config.json``.

    Args:
        cfg: The trial's config.
        root: The cache folder.
        fold: The fold held out for validation, in a k-fold study; else None.
        promoted: A promotion trains on training and validation images together.

    Returns:
        The splits and their key (dataset, split, seed, image size, fold[, "promoted"]).
    """
    if fold is None:
        splits = load_splits(cfg.dataset, cfg.validation_split, cfg.seed, root, cfg.img_size)
    else:
        splits = load_fold(cfg, fold, root)
    key: tuple[Any, ...] = (cfg.dataset, cfg.validation_split, cfg.seed, cfg.img_size, fold)
    if promoted:
        splits, key = merge_validation(splits), (*key, "promoted")
    return splits, key


def steps_per_epoch(cfg: RunConfig, splits: Splits) -> int:
    """Batches in one epoch of the training split."""
    return math.ceil(len(splits.x_train) / cfg.batch_size)


def compiled_model(cfg: RunConfig, splits: Splits, root: Path) -> keras.Model:
    """Seed, build and compile a trial's model; refuse it first if a step cannot fit.

    The config's ``precision`` is the dtype policy the layers are built with (the softmax
    output stays float32, ``core.engine.models``); ``jit_compile`` and the batches per call
    (``core.engine.devices.steps_per_execution``) go to ``compile``.

    Raises:
        ConfigError: (field ``batch_size``) when a training step would not fit in the
            worker's memory (``core.engine.memory_guard``).
    """
    make_deterministic(cfg.seed, cfg.deterministic)
    classes = splits.num_classes
    with devices.precision_policy(cfg.precision):  # the layers keep it; the process does not
        model = build_model(cfg, splits.input_shape, classes, x_sample=splits.x_train, root=root)
    steps = steps_per_epoch(cfg, splits)
    held = batches.held_bytes(splits.x_train, cfg.batch_size, bool(cfg.augment), splits.x_val)
    memory_guard.check_step_fits(model, cfg.batch_size, held)  # fail clearly, not by a kill
    first = splits.x_train.take(np.arange(min(cfg.batch_size, len(splits.x_train))), axis=0)
    optim.compile_model(
        model,
        cfg,
        steps,
        classes,
        jit_compile=devices.jit_compile_arg(cfg),
        steps_per_execution=devices.steps_per_execution(cfg, steps, model, first),
    )
    return model


def dataset(
    cfg: RunConfig,
    splits: Splits,
    part: str,
    batch: int | None = None,
    span: tuple[int, int] | None = None,
) -> Any:
    """The ``tf.data`` pipeline of one split (``train``, ``val`` or ``test``).

    Args:
        cfg: The trial's config (labels, augmentation, seed).
        splits: Its splits.
        part: Which split.
        batch: Batch size (default: the config's).
        span: For training, the epochs (start, end) one dataset yields, each seeded by its
            number, so a run continued from epoch k reads the batches it would have read.
    """
    x, y = {
        "train": (splits.x_train, splits.y_train),
        "val": (splits.x_val, splits.y_val),
        "test": (splits.x_test, splits.y_test),
    }[part]
    labels = optim.prepare_labels(y, cfg, splits.num_classes)
    training = part == "train"
    return make_dataset(x, labels, batch or cfg.batch_size, cfg.seed, cfg.augment, training, span)


def standard_callbacks(
    cfg: RunConfig,
    steps: int,
    recorder: EpochRecorder,
    checkpoint_folder: Path | None,
    log_folder: Path | None,
) -> list[keras.callbacks.Callback]:
    """Every trial's callbacks, in order: the epoch recorder, optimization, logs, checkpoints.

    The recorder comes first so it records each epoch's rate before a plateau callback cuts
    it. Checkpoint files are numbered like the recorder's rows.

    Args:
        cfg: The trial's config (schedules, early stopping).
        steps: Batches per epoch.
        recorder: The trial's epoch writer.
        checkpoint_folder: Where its per-epoch checkpoints go (None: none kept).
        log_folder: Where its TensorBoard logs go (None: none written).
    """
    found: list[keras.callbacks.Callback] = [recorder, *optim.callbacks(cfg, steps)]
    if log_folder is not None:
        found.append(run_logs.tensorboard_callback(log_folder))
    if checkpoint_folder is not None:
        found.append(
            checkpoints.CheckpointCallback(
                checkpoint_folder,
                checkpoint_budget(),
                offset=recorder.offset,
                monitor=cfg.early_stopping_monitor,  # the best epoch's copy is kept
            )
        )
    return found


def save_results(
    model: keras.Model,
    cfg: RunConfig,
    splits: Splits,
    folder: Path,
    data_key: tuple[Any, ...],
    **origin: Any,
) -> dict[str, Any]:
    """Test a trained model and save what a finished trial hands over; return its results.

    The model is scored on its validation images and on the test images (:func:`scores`),
    each accuracy with its image count and 95% interval. One predict pass over the test set
    (the validation set of a run without one: a folder too small for a test set) gives the
    per-class results and the grid of misclassified images (``core.engine.evaluation``);
    the model, its weights and its ``config.json`` (with the seed, a fingerprint of the
    splits and library versions) go into ``folder``.

    Args:
        model: The trained model.
        cfg: Its config.
        splits: The splits it trained on.
        folder: The trial's run folder (created if needed).
        data_key: The splits' key (:func:`load_data`).
        **origin: What ``config.json`` also records (``study``, ``trial``).

    Returns:
        Test and validation scores, the model's size and summary, split sizes, class names,
        input shape, per-class results and the artifacts' paths.
    """
    artifacts = {
        "model": str(folder / "model.keras"),
        "weights": str(folder / "model.weights.h5"),
        "config": str(folder / "config.json"),
    }
    measured = {**scores(model, cfg, splits, "val"), **scores(model, cfg, splits, "test")}
    part, split = ("test", "test") if len(splits.y_test) else ("val", "validation")
    x, y = (splits.x_test, splits.y_test) if part == "test" else (splits.x_val, splits.y_val)
    class_result, probs = None, None
    if len(y):
        probs = model.predict(dataset(cfg, splits, part, 256), verbose=0)
        class_result = evaluate_classes(y, probs, splits.class_names, split)
    grid_path = folder / "misclassified.png"
    optim.compile_for_export(model, cfg, splits.num_classes)
    written = [grid_path, *(Path(p) for p in artifacts.values())]
    # Nothing of a save that failed is left: an export or a page would take it for a result.
    with disk_space.saving(folder, "the model", save_bytes(model), partial=written):
        folder.mkdir(parents=True, exist_ok=True)
        if probs is not None and misclassified_grid(
            x, y, probs.argmax(axis=1), splits.class_names, grid_path
        ):
            artifacts["misclassified"] = str(grid_path)
        model.save(artifacts["model"])
        _write_weights(model, Path(artifacts["model"]), Path(artifacts["weights"]))
        provenance = fingerprint.provenance(
            cfg, fingerprint.data_fingerprint(splits, data_key), **origin
        )
        Path(artifacts["config"]).write_text(fingerprint.config_document(cfg, provenance))
    results: dict[str, Any] = {
        **measured,
        "params": int(model.count_params()),
        "summary": summary_rows(model),
        "sizes": {
            "train": len(splits.x_train),
            "validation": len(splits.x_val),
            "test": len(splits.x_test),
        },
        "class_names": list(splits.class_names),
        "input_shape": list(splits.input_shape),
        "artifacts": artifacts,
    }
    if splits.skipped:  # a folder's files that did not decode, left out of every split
        results["unreadable"] = dict(splits.skipped)
    if class_result is not None:
        results["classes"] = class_result
    if probs is not None and part == "test":  # image by image, to compare runs on this set
        results["test_hits"] = pack_hits(probs.argmax(axis=1) == np.asarray(y).ravel())
    return results


def scores(model: keras.Model, cfg: RunConfig, splits: Splits, part: str) -> dict[str, Any]:
    """Loss and accuracy of a model on one held-out split, with the images and the interval.

    Args:
        model: The trained model (compiled for training, so it has its metrics).
        cfg: Its config.
        splits: Its splits.
        part: ``val`` or ``test``: the keys' prefix.

    Returns:
        ``<part>_loss``, ``<part>_accuracy``, ``<part>_images`` and ``<part>_accuracy_ci``
        (the 95% Wilson interval, ``[low, high]``), and for the test split ``test_f1`` and
        ``test_top5`` where the model has them; nothing for a split without images.
    """
    images = len(splits.y_test if part == "test" else splits.y_val)
    if not images:
        return {}
    found = model.evaluate(dataset(cfg, splits, part, 256), verbose=0, return_dict=True)
    accuracy = float(found["accuracy"])
    # Keras averages 0/1 hits in float32, exact to the image for any split that fits here.
    low, high = wilson_interval(round(accuracy * images), images)
    extra = ("f1", "top5") if part == "test" else ()
    return {
        f"{part}_loss": float(found["loss"]),
        f"{part}_accuracy": accuracy,
        **{f"{part}_{name}": float(found[name]) for name in extra if name in found},
        f"{part}_images": images,
        f"{part}_accuracy_ci": [low, high],
    }


def save_bytes(model: keras.Model) -> int:
    """About how many bytes :func:`save_results` writes for ``model``.

    ``model.keras`` and ``model.weights.h5`` each hold every variable of the model and of its
    export optimizer (built, so its slots count: two per weight for Adam), uncompressed, so
    the variables' bytes twice over; the grid image and ``config.json`` add tens of KB.
    """
    variables = [*model.variables, *model.optimizer.variables]
    state = sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables)
    return 2 * state + _SAVE_EXTRA_BYTES


def _write_weights(model: keras.Model, archive: Path, path: Path) -> None:
    """Write ``model.weights.h5``, copied out of the ``.keras`` archive just saved.

    The archive's ``model.weights.h5`` is what ``model.save_weights`` writes (one Keras routine
    fills both with the same datasets; ``model.load_weights`` reads either). Keras builds it in
    memory and Python writes it here, so a full disk is a plain ``OSError``. ``save_weights``
    writes through HDF5's own file driver instead: when a write fails it leaves a file HDF5
    can neither finish nor close, and the process crashed (SIGSEGV) when it exited.
    """
    with zipfile.ZipFile(archive) as saved:
        if _WEIGHTS_ENTRY not in saved.namelist():  # a Keras that lays its archive out otherwise
            model.save_weights(path)
            return
        with saved.open(_WEIGHTS_ENTRY) as source, path.open("wb") as target:
            shutil.copyfileobj(source, target)


def best_epoch(history: dict[str, list[float]], monitor: str) -> int | None:
    """The epoch early stopping judges best: lowest loss or highest accuracy of ``monitor``."""
    values = history.get(monitor, [])
    if not values:
        return None
    return int(np.nanargmax(values) if "accuracy" in monitor else np.nanargmin(values))
