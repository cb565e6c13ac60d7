"""How a trial runs on the device: memory growth, determinism, precision, XLA, batches per call."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from core.engine import devices
from core.engine.executor import EpochRecorder, compiled_model, dataset, steps_per_epoch
from core.engine.loading.datasets import load_splits
from core.engine.training import TrialMonitor, run_trial
from core.spec.config import ConfigError, RunConfig
from core.store import Status, Store

TINY = {"model": "mlp", "epochs": 1, "batch_size": 64, "dense_units": 16}


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cache")
    return load_splits("digits", 0.2, 0, root), root


def _fit(cfg: RunConfig, digits, callbacks=()) -> tuple[keras.Model, keras.callbacks.History]:
    splits, root = digits
    model = compiled_model(cfg, splits, root)
    steps = steps_per_epoch(cfg, splits)
    history = model.fit(
        dataset(cfg, splits, "train", span=(0, cfg.epochs)),
        epochs=cfg.epochs,
        steps_per_epoch=steps,
        validation_data=dataset(cfg, splits, "val"),
        callbacks=list(callbacks),
        shuffle=False,  # the dataset shuffles itself
        verbose=0,
    )
    return model, history


def test_importing_the_trial_paths_sets_memory_growth_before_any_device_starts() -> None:
    """Memory growth can only be set before TensorFlow initialises its devices."""
    code = (
        "import core.engine.training, core.engine.search.run\n"
        "from core.engine import devices\n"
        "from tensorflow.python.eager import context\n"
        "assert devices.memory_growth_done()\n"
        "assert context.context()._context_handle is None, 'devices already initialised'\n"
        "devices.allow_memory_growth()  # a second call does nothing\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_op_determinism_follows_each_trial_config(digits) -> None:
    splits, root = digits
    compiled_model(RunConfig(**TINY, deterministic=True), splits, root)
    assert tf_config.is_op_determinism_enabled()
    compiled_model(RunConfig(**TINY, deterministic=False), splits, root)
    assert not tf_config.is_op_determinism_enabled()
    devices.set_op_determinism(True)


def test_deterministic_runs_with_the_same_seed_repeat_their_metrics(digits) -> None:
    cfg = RunConfig(**TINY, deterministic=True, seed=5)
    first = _fit(cfg, digits)[1].history
    second = _fit(cfg, digits)[1].history
    assert first == second


def test_mixed_precision_builds_float16_layers_a_float32_output_and_resets(digits) -> None:
    model, history = _fit(RunConfig(**TINY, precision="mixed_bfloat16"), digits)
    dense = next(
        ly for ly in model.layers if isinstance(ly, keras.layers.Dense) and ly.name != "output"
    )
    assert dense.dtype_policy.name == "mixed_bfloat16"
    assert dense.compute_dtype == "bfloat16" and dense.kernel.dtype == "float32"
    assert model.get_layer("output").dtype_policy.name == "float32"
    assert model.outputs[0].dtype == "float32"
    assert np.isfinite(history.history["loss"]).all()
    # The next model of the process is built at float32 again.
    assert keras.config.dtype_policy().name == "float32"
    plain = compiled_model(RunConfig(**TINY), *digits)
    assert {ly.dtype_policy.name for ly in plain.layers if ly.weights} == {"float32"}


def test_mixed_float16_scales_the_loss(digits) -> None:
    splits, root = digits
    model = compiled_model(RunConfig(**TINY, precision="mixed_float16"), splits, root)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert keras.config.dtype_policy().name == "float32"


def test_a_mixed_float16_trial_records_its_rate_and_saves_a_model_that_loads_whole(
    store: Store, cache: Path
) -> None:
    # A step decay after each epoch: epoch 0's last update used 0.001, the next one 0.0005.
    cfg = RunConfig(**TINY, precision="mixed_float16", lr_schedule="step", lr_decay_steps=1)
    _, (tid,) = store.create_study("t", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, tid, interval=0.05) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    trial = store.trial(tid)
    assert trial.status == Status.COMPLETED, trial.error
    assert store.epochs(tid)[0].metrics["learning_rate"] == pytest.approx(1e-3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(trial.results["artifacts"]["model"])
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert model.get_layer("output").dtype_policy.name == "float32"


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("off", False)])
def test_jit_compile_reaches_compile(digits, value: str, expected: bool) -> None:
    splits, root = digits
    cfg = RunConfig(**TINY, jit_compile=value, deterministic=False)
    assert compiled_model(cfg, splits, root).jit_compile is expected
    devices.set_op_determinism(True)


def test_jit_compile_auto_is_keras_own_choice(digits) -> None:
    """Keras turns XLA on by itself only where a GPU is visible."""
    splits, root = digits
    model = compiled_model(RunConfig(**TINY, jit_compile="auto"), splits, root)
    assert model.jit_compile is devices.gpu_visible()


def test_several_batches_per_call_report_every_batch_and_keep_epochs_whole(
    digits, store: Store
) -> None:
    """18 batches an epoch, at most 4 a call: 3 a call, 6 calls an epoch, 36 updates."""
    splits, _ = digits
    cfg = RunConfig(**{**TINY, "epochs": 2}, steps_per_execution=4)
    assert steps_per_epoch(cfg, splits) == 18
    _, (tid,) = store.create_study("t", "single", [cfg], reserve_for=1)
    monitor = TrialMonitor(store, tid)
    seen: list[tuple[int, float | None]] = []

    class Batches(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            monitor.beat()  # what the heartbeat writes: the recorder's batch and time left
            progress = store.trial(tid).progress
            seen.append((progress["batch"], progress.get("eta_s")))

    recorder = EpochRecorder(lambda *_: None, monitor, cfg.epochs, 18)
    model, _ = _fit(cfg, digits, [recorder, Batches()])
    assert model.steps_per_execution == 3
    assert int(model.optimizer.iterations) == 36
    assert [batch for batch, _ in seen] == [3, 6, 9, 12, 15, 18] * 2
    # The time left counts batches, not calls: the second call is 3 batches after the first.
    assert [eta is None for _, eta in seen[:3]] == [True, False, False]


@pytest.mark.skipif(devices.gpu_visible(), reason="auto probes the step time on a GPU")
def test_auto_runs_one_batch_per_call_without_a_gpu(digits) -> None:
    splits, root = digits
    assert compiled_model(RunConfig(**TINY), splits, root).steps_per_execution == 1


def test_a_warm_up_on_plateau_keeps_one_batch_per_call(digits) -> None:
    splits, root = digits
    cfg = RunConfig(
        **TINY | {"epochs": 3},
        lr_schedule="reduce_on_plateau",
        warmup_epochs=1,
        steps_per_execution=6,
    )
    assert compiled_model(cfg, splits, root).steps_per_execution == 1


def test_auto_fills_the_budget_with_a_divisor_of_the_epoch() -> None:
    assert devices.largest_divisor_at_most(18, 4) == 3
    assert devices.largest_divisor_at_most(17, 16) == 1
    assert devices.largest_divisor_at_most(5, 100) == 5
    assert devices.auto_steps(0.002, 100) == 50  # 0.1 s of 2 ms steps
    assert devices.auto_steps(0.0001, 1000) == 50  # capped at 64, a divisor of 1000
    assert devices.auto_steps(0.5, 100) == 1  # a slow step: one per call


def test_the_probe_times_a_step_without_changing_the_model(digits) -> None:
    splits, root = digits
    model = compiled_model(RunConfig(**TINY), splits, root)
    before = [w.copy() for w in model.get_weights()]
    seconds = devices.probe_step_seconds(model, splits.x_train[:64])
    assert 0 < seconds < 5
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


@pytest.mark.parametrize(
    ("message", "op"),
    [
        (
            "Deterministic GPU implementation of unsorted segment reduction op not available.",
            "unsorted segment reduction",
        ),
        (
            "A deterministic GPU implementation of AdjustContrastv2 is not currently available.",
            "AdjustContrastv2",
        ),
        (
            "GPU MaxPool gradient ops do not yet have a deterministic XLA implementation.",
            "GPU MaxPool gradient",
        ),
    ],
)
def test_an_op_without_a_deterministic_kernel_fails_in_one_line(message: str, op: str) -> None:
    with (
        pytest.raises(ConfigError, match="deterministic=off") as raised,
        devices.determinism_errors(),
    ):
        raise tf.errors.UnimplementedError(None, None, message)
    assert raised.value.field == "deterministic"
    assert raised.value.message.startswith(f"{op} has no deterministic GPU kernel; turn off")
    assert "\n" not in raised.value.message


def test_other_op_errors_pass_through() -> None:
    with (
        pytest.raises(tf.errors.InvalidArgumentError, match="shapes"),
        devices.determinism_errors(),
    ):
        raise tf.errors.InvalidArgumentError(None, None, "Incompatible shapes: [2] vs. [3]")


def test_a_search_trial_is_built_and_compiled_with_the_device_settings(digits) -> None:
    import keras_tuner as kt

    from core.engine.search.hypermodel import SearchHyperModel
    from core.spec.search_space import SearchSettings, SearchSpace

    _, root = digits
    base = RunConfig(**TINY, precision="mixed_bfloat16", steps_per_execution=4)
    space = SearchSpace.from_list([{"key": "jit_compile", "kind": "choice", "values": ["off"]}])
    settings = SearchSettings(tuner="random", max_trials=1, keep_top=1)
    model = SearchHyperModel(base, space, settings, root).build(kt.HyperParameters())
    assert model.get_layer("output").dtype_policy.name == "float32"
    assert {ly.dtype_policy.name for ly in model.layers if ly.weights} >= {"mixed_bfloat16"}
    assert (model.jit_compile, model.steps_per_execution) == (False, 3)
    assert keras.config.dtype_policy().name == "float32"
