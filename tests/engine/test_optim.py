"""How a config becomes an optimizer, schedule, loss, metrics and callbacks, shown by effect.

Covers ``core.engine.optim`` and ``core.engine.schedules``.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import f1_score

from core.engine import optim, schedules
from core.spec.config import RunConfig

LR = 0.1
STEPS = 2  # optimizer updates per epoch in the small fits below (8 samples, batch 4)


def _model(classes: int = 3) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(classes, activation="softmax")], name="tiny"
    )


def _rates_per_epoch(cfg: RunConfig) -> list[float]:
    """Fit a tiny model and read ``current_learning_rate`` at the end of every epoch."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2)).astype("float32")
    y = np.arange(8) % 3
    model = _model()
    optim.compile_model(model, cfg, STEPS)
    model.run_eagerly = True  # eight updates: tracing would cost more than running them
    rates: list[float] = []
    recorder = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda *_: rates.append(schedules.current_learning_rate(model.optimizer))
    )
    labels = optim.prepare_labels(y, cfg, 3)
    model.fit(
        x,
        labels,
        batch_size=4,
        epochs=cfg.epochs,
        shuffle=False,
        validation_data=(x, labels),
        callbacks=[recorder, *optim.callbacks(cfg, STEPS)],
        verbose=0,
    )
    return rates


def _cosine(step: float, steps: float) -> float:
    return 0.5 * (1 + math.cos(math.pi * step / steps))


# Each epoch records the rate of its last update, step (e + 1) * STEPS - 1 = 1, 3, 5, 7.
SCHEDULES = {
    "constant": ({}, [LR] * 4),
    "step": ({"lr_schedule": "step", "lr_decay_steps": 2}, [LR, LR, LR / 2, LR / 2]),
    "exponential": (
        {"lr_schedule": "exponential", "lr_decay_steps": 2},
        [LR * 0.5 ** (s / 4) for s in (1, 3, 5, 7)],
    ),
    "cosine": ({"lr_schedule": "cosine"}, [LR * _cosine(s, 8) for s in (1, 3, 5, 7)]),
    "constant+warmup": ({"warmup_epochs": 2}, [LR / 4, 3 * LR / 4, LR, LR]),
    "step+warmup": (
        {"lr_schedule": "step", "lr_decay_steps": 1, "warmup_epochs": 1},
        # warm-up over steps 0..1, then the decay counts from step 2
        [LR / 2, LR, LR / 2, LR / 4],
    ),
    "cosine+warmup": (
        {"lr_schedule": "cosine", "warmup_epochs": 1},
        [LR / 2, *(LR * _cosine(s - 2, 6) for s in (3, 5, 7))],
    ),
    # A rate this small leaves val_loss unchanged, so each epoch after the first is a plateau.
    "reduce_on_plateau": (
        {"lr_schedule": "reduce_on_plateau", "lr_patience": 1, "learning_rate": 1e-9},
        [1e-9, 1e-9, 0.5e-9, 0.25e-9],
    ),
    "reduce_on_plateau+warmup": (
        {
            "lr_schedule": "reduce_on_plateau",
            "lr_patience": 1,
            "learning_rate": 1e-9,
            "warmup_epochs": 2,
        },
        # the cut after epoch 2 lands mid-warm-up and carries over to the warm-up's target
        [0.25e-9, 0.75e-9, 0.5e-9, 0.25e-9],
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_each_schedule_sets_the_rate_of_every_epoch(name: str) -> None:
    changes, expected = SCHEDULES[name]
    base = {"optimizer": "sgd", "learning_rate": LR, "epochs": 4}
    cfg = RunConfig(**{**base, "lr_decay_rate": 0.5, "lr_factor": 0.5, **changes})
    assert _rates_per_epoch(cfg) == pytest.approx(expected, rel=1e-5)


def test_warm_up_starts_at_zero_and_reaches_the_rate_when_it_ends() -> None:
    cfg = RunConfig(learning_rate=LR, warmup_epochs=3, lr_schedule="step", lr_decay_steps=1)
    schedule = schedules.make_schedule(cfg, steps_per_epoch=10)
    rates = [float(schedule(s)) for s in (0, 15, 29, 30, 39, 40)]
    assert rates == pytest.approx([0.0, LR / 2, LR * 29 / 30, LR, LR, LR * 0.5])


@pytest.mark.parametrize("name", list(optim.OPTIMIZERS))
def test_every_optimizer_is_built_at_the_configured_rate(name: str) -> None:
    cfg = RunConfig(optimizer=name, learning_rate=0.02)
    optimizer = optim.make_optimizer(cfg, STEPS)
    assert type(optimizer) is optim.OPTIMIZERS[name]
    assert float(optimizer.learning_rate) == pytest.approx(0.02)
    assert optimizer.clipnorm is None
    assert optimizer.weight_decay == (0.0 if name == "adamw" else None)


def test_optimizer_keys_reach_the_compiled_optimizer() -> None:
    cfg = RunConfig(
        optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=1e-4, gradient_clip=2.5
    )
    model = _model()
    optim.compile_model(model, cfg, STEPS)
    sgd = model.optimizer
    assert (sgd.momentum, sgd.nesterov, sgd.weight_decay, sgd.clipnorm) == (0.9, True, 1e-4, 2.5)
    rms = optim.make_optimizer(RunConfig(optimizer="rmsprop", momentum=0.5), STEPS)
    assert rms.momentum == 0.5
    adamw = optim.make_optimizer(RunConfig(optimizer="adamw", weight_decay=0.01), STEPS)
    assert adamw.weight_decay == 0.01


def _after_updates(cfg: RunConfig, grads: list[list[float]], start: list[float]) -> np.ndarray:
    """Apply gradients to one variable with the config's optimizer; return its final value."""
    optimizer = optim.make_optimizer(cfg, STEPS)
    var = keras.Variable(np.array(start, dtype="float32"))
    for grad in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad, "float32"), var)])
    return keras.ops.convert_to_numpy(var)


def test_momentum_and_nesterov_change_the_updates() -> None:
    sgd = RunConfig(optimizer="sgd", learning_rate=0.1)
    twice = [[1.0], [1.0]]
    assert _after_updates(sgd, twice, [0.0]) == pytest.approx([-0.2])
    # velocity v = 0.9 v - 0.1 g: updates -0.1 then -0.19
    momentum = sgd.replace(momentum=0.9)
    assert _after_updates(momentum, twice, [0.0]) == pytest.approx([-0.29])
    # Nesterov adds 0.9 v - 0.1 g with the new velocity: -0.19 then -0.271
    nesterov = momentum.replace(nesterov=True)
    assert _after_updates(nesterov, twice, [0.0]) == pytest.approx([-0.461])


def test_weight_decay_shrinks_weights_even_without_a_gradient() -> None:
    cfg = RunConfig(optimizer="sgd", learning_rate=0.1, weight_decay=0.5)
    assert _after_updates(cfg, [[0.0, 0.0]], [2.0, -4.0]) == pytest.approx([1.9, -3.8])
    off = cfg.replace(weight_decay=0.0)
    assert _after_updates(off, [[0.0, 0.0]], [2.0, -4.0]) == pytest.approx([2.0, -4.0])


def test_gradient_clip_caps_the_gradient_norm() -> None:
    cfg = RunConfig(optimizer="sgd", learning_rate=1.0, gradient_clip=5.0)
    # gradient (30, 40) has norm 50: clipped to norm 5, (3, 4)
    assert _after_updates(cfg, [[30.0, 40.0]], [0.0, 0.0]) == pytest.approx([-3.0, -4.0])
    off = cfg.replace(gradient_clip=0.0)
    assert _after_updates(off, [[30.0, 40.0]], [0.0, 0.0]) == pytest.approx([-30.0, -40.0])


PROBS = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25]], dtype="float32")
LABELS = np.array([0, 2, 0])


def _loss(cfg: RunConfig) -> float:
    labels = optim.prepare_labels(LABELS, cfg, 3)
    return float(optim.make_loss(cfg)(labels, PROBS))


def test_label_smoothing_changes_the_loss_on_a_fixed_batch() -> None:
    plain = RunConfig()
    assert not optim.needs_one_hot(plain)
    expected = -np.mean(np.log(PROBS[np.arange(3), LABELS]))
    assert _loss(plain) == pytest.approx(expected, rel=1e-5)

    smoothed = plain.replace(label_smoothing=0.3)
    assert optim.needs_one_hot(smoothed)
    targets = np.eye(3)[LABELS] * 0.7 + 0.3 / 3
    expected_smoothed = -np.mean(np.sum(targets * np.log(PROBS), axis=1))
    assert _loss(smoothed) == pytest.approx(expected_smoothed, rel=1e-5)
    assert _loss(smoothed) > _loss(plain) + 0.1

    categorical = RunConfig(loss="categorical_crossentropy")
    assert _loss(categorical) == pytest.approx(expected, rel=1e-5)


def test_focal_loss_is_keras_focal_cross_entropy() -> None:
    cfg = RunConfig(loss="focal")
    assert isinstance(optim.make_loss(cfg), keras.losses.CategoricalFocalCrossentropy)
    p = PROBS[np.arange(3), LABELS]
    expected = np.mean(0.25 * (1 - p) ** 2 * -np.log(p))  # alpha 0.25, gamma 2
    assert _loss(cfg) == pytest.approx(expected, rel=1e-5)
    assert _loss(cfg) < _loss(RunConfig()) / 4


def test_labels_come_as_indices_or_one_hot_rows() -> None:
    y = np.array([[2], [0], [1]])
    sparse = optim.prepare_labels(y, RunConfig(), 3)
    assert sparse.shape == (3,) and sparse.tolist() == [2, 0, 1]
    one_hot = optim.prepare_labels(y, RunConfig(loss="focal"), 3)
    assert one_hot.dtype == np.float32 and one_hot.tolist()[0] == [0, 0, 1]
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        optim.prepare_labels(np.array([3]), RunConfig(), 3)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "focal"])
def test_metrics_are_accuracy_macro_f1_and_top5(loss: str) -> None:
    cfg = RunConfig(loss=loss)
    assert [m.name for m in optim.make_metrics(cfg, 10)] == ["accuracy", "f1", "top5"]
    assert [m.name for m in optim.make_metrics(cfg, 5)] == ["accuracy", "f1"]

    rng = np.random.default_rng(1)
    y = np.arange(40) % 6
    probs = rng.dirichlet(np.ones(6), size=40).astype("float32")
    probs[:20] = np.eye(6, dtype="float32")[y[:20]]  # half right, so F1 is far from chance
    labels = optim.prepare_labels(y, cfg, 6)
    values = {}
    for metric in optim.make_metrics(cfg, 6):
        metric.update_state(labels, probs)
        values[metric.name] = float(metric.result())
    predicted = probs.argmax(axis=1)
    assert values["accuracy"] == pytest.approx(np.mean(predicted == y))
    assert values["f1"] == pytest.approx(f1_score(y, predicted, average="macro"), rel=1e-5)
    top5 = np.mean([label in np.argsort(row)[-5:] for label, row in zip(y, probs, strict=True)])
    assert values["top5"] == pytest.approx(top5)


def test_callbacks_follow_the_config() -> None:
    assert optim.callbacks(RunConfig(), STEPS) == []
    (stop,) = optim.callbacks(
        RunConfig(early_stopping_patience=3, early_stopping_monitor="val_accuracy"), STEPS
    )
    assert isinstance(stop, keras.callbacks.EarlyStopping)
    assert (stop.monitor, stop.patience, stop.restore_best_weights) == ("val_accuracy", 3, True)
    warm, plateau = optim.callbacks(
        RunConfig(lr_schedule="reduce_on_plateau", lr_factor=0.2, lr_patience=4, warmup_epochs=1),
        STEPS,
    )
    assert isinstance(warm, schedules.PlateauWarmUp) and warm.warmup_steps == STEPS
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.2, 4)


def test_an_exported_model_names_only_built_in_keras_classes(tmp_path: Path) -> None:
    cfg = RunConfig(warmup_epochs=2, lr_schedule="step", learning_rate=0.05)
    model = _model(10)
    optim.compile_model(model, cfg, STEPS)
    x, y = np.zeros((8, 2), "float32"), np.arange(8)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)  # two updates into the warm-up
    with zipfile.ZipFile(_save(model, tmp_path / "trained.keras")) as saved:
        assert "hpe>" in saved.read("config.json").decode()  # WarmUp and SparseF1Score

    optim.compile_for_export(model, cfg, 10)
    path = _save(model, tmp_path / "export.keras")
    with zipfile.ZipFile(path) as saved:
        config = json.loads(saved.read("config.json"))
    assert "hpe>" not in json.dumps(config)
    assert config["compile_config"]["optimizer"]["config"]["learning_rate"] == pytest.approx(
        0.05 * 1 / (2 * STEPS)  # the rate of the last update, step 1 of 4
    )
    loaded = keras.saving.load_model(path)
    scores = loaded.evaluate(x, y, verbose=0, return_dict=True)
    assert set(scores) == {"loss", "accuracy", "top5"}


def _save(model: keras.Model, path: Path) -> Path:
    model.save(path)
    return path
