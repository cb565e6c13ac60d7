"""How a model is optimized, read from its run config: optimizer, schedule, loss, metrics.

Everything ``model.compile`` and ``model.fit`` need besides the data comes from here:

* :func:`make_optimizer`: the optimizer with its learning-rate schedule and warm-up;
* :func:`make_loss`, :func:`needs_one_hot` and :func:`prepare_labels`: the loss and the label
  form it takes;
* :func:`make_metrics`: ``accuracy``, macro ``f1`` and (above five classes) ``top5``;
* :func:`callbacks`: early stopping and reduce-on-plateau;
* :func:`compile_model`, and :func:`compile_for_export` before a trained model is saved.

Schedules, warm-up and reading the rate an optimizer applied live in ``core.engine.schedules``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from core.engine.schedules import PlateauWarmUp, current_learning_rate, make_schedule
from core.spec.config import RunConfig

OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "sgd": keras.optimizers.SGD,
    "adam": keras.optimizers.Adam,
    "adamw": keras.optimizers.AdamW,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
    "adagrad": keras.optimizers.Adagrad,
}


def make_optimizer(
    config: RunConfig, steps_per_epoch: int, learning_rate: float | None = None
) -> keras.optimizers.Optimizer:
    """Return a fresh optimizer for the config.

    Args:
        config: The run config: ``optimizer``, the rate and its schedule, ``momentum`` (SGD
            and RMSprop), ``nesterov`` (SGD), ``weight_decay`` (every optimizer's decoupled
            weight decay; AdamW's own, so AdamW with 0 decays nothing) and ``gradient_clip``
            (> 0: largest gradient norm, Keras's ``clipnorm``).
        steps_per_epoch: Optimizer updates per epoch, to turn epochs into steps.
        learning_rate: A constant rate to use instead of the config's rate and schedule.

    Returns:
        A new, unbuilt ``keras.optimizers`` instance.

    Raises:
        ValueError: If ``config.optimizer`` is not one this module knows.
    """
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer: unknown {config.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}."
        )
    kwargs: dict[str, Any] = {
        "learning_rate": (
            make_schedule(config, steps_per_epoch) if learning_rate is None else learning_rate
        ),
        "clipnorm": config.gradient_clip or None,
        # None rather than 0 skips the decay step; AdamW insists on a number.
        "weight_decay": config.weight_decay or (0.0 if config.optimizer == "adamw" else None),
    }
    if config.optimizer in ("sgd", "rmsprop"):
        kwargs["momentum"] = config.momentum
    if config.optimizer == "sgd":
        kwargs["nesterov"] = config.nesterov
    return OPTIMIZERS[config.optimizer](**kwargs)


def needs_one_hot(config: RunConfig) -> bool:
    """Return whether the loss takes one-hot labels rather than class indices.

    Categorical and focal cross-entropy do; so does sparse cross-entropy with label
    smoothing, because Keras's ``SparseCategoricalCrossentropy`` has no ``label_smoothing``:
    such runs train with one-hot labels and the (otherwise identical) categorical loss.
    """
    return config.loss != "sparse_categorical_crossentropy" or config.label_smoothing > 0


def prepare_labels(y: np.ndarray, config: RunConfig, num_classes: int) -> np.ndarray:
    """Return labels in the form :func:`make_loss` and :func:`make_metrics` expect.

    Args:
        y: Integer class labels, shape ``(n,)`` or ``(n, 1)``.
        config: The run config.
        num_classes: Number of classes (width of one-hot rows).

    Returns:
        ``y`` as int64 class indices of shape ``(n,)``, or a float32 one-hot array of shape
        ``(n, num_classes)`` when :func:`needs_one_hot`.

    Raises:
        ValueError: If a label is outside ``[0, num_classes)``.
    """
    labels = np.asarray(y).reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}) (found {labels.min()}..{labels.max()})."
        )
    if not needs_one_hot(config):
        return labels
    return np.eye(num_classes, dtype=np.float32)[labels]


def make_loss(config: RunConfig) -> keras.losses.Loss:
    """Return the loss named by ``config.loss``, with ``config.label_smoothing`` applied.

    Returns:
        ``SparseCategoricalCrossentropy`` (class indices, no smoothing),
        ``CategoricalCrossentropy`` (one-hot; also sparse with smoothing, see
        :func:`needs_one_hot`) or ``CategoricalFocalCrossentropy`` (one-hot).

    Raises:
        ValueError: If ``config.loss`` is not one this module knows.
    """
    smoothing = config.label_smoothing
    if config.loss == "focal":
        return keras.losses.CategoricalFocalCrossentropy(label_smoothing=smoothing)
    if config.loss == "categorical_crossentropy" or (
        config.loss == "sparse_categorical_crossentropy" and smoothing > 0
    ):
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
    if config.loss == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy()
    raise ValueError(f"loss: unknown {config.loss!r}.")


@keras.saving.register_keras_serializable(package="hpe")
class SparseF1Score(keras.metrics.F1Score):
    """Keras's ``F1Score`` for class-index labels: it one-hot encodes them first.

    ``F1Score`` only takes one-hot labels; wrapping it keeps sparse runs on class indices, the
    form a saved model is evaluated with.

    Args:
        num_classes: Number of classes.
        **kwargs: Passed to ``keras.metrics.F1Score`` (``average``, ``name``...).
    """

    def __init__(self, num_classes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        indices = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        super().update_state(ops.one_hot(indices, self.num_classes), y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}


def make_metrics(config: RunConfig, num_classes: int) -> list[keras.metrics.Metric]:
    """Return the metrics every run logs, for the label form of :func:`needs_one_hot`.

    ``accuracy`` always; ``f1``, the macro-averaged F1 score (each class's F1, averaged
    unweighted, so rare classes count as much as common ones); ``top5``, whether the label is
    among the five most probable classes, only with more than five classes. Keras logs them
    under these names and, on validation data, ``val_accuracy``, ``val_f1``, ``val_top5``.

    Args:
        config: The run config.
        num_classes: Number of classes.

    Returns:
        Fresh metric instances.
    """
    one_hot = needs_one_hot(config)
    metrics: list[keras.metrics.Metric] = [
        keras.metrics.CategoricalAccuracy(name="accuracy")
        if one_hot
        else keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        keras.metrics.F1Score(average="macro", name="f1")
        if one_hot
        else SparseF1Score(num_classes, average="macro", name="f1"),
    ]
    if num_classes > 5:
        top = (
            keras.metrics.TopKCategoricalAccuracy
            if one_hot
            else keras.metrics.SparseTopKCategoricalAccuracy
        )
        metrics.append(top(k=5, name="top5"))
    return metrics


def compile_model(
    model: keras.Model,
    config: RunConfig,
    steps_per_epoch: int,
    num_classes: int | None = None,
    jit_compile: bool | str = "auto",
    steps_per_execution: int = 1,
) -> None:
    """Compile ``model`` with the config's optimizer, loss and metrics.

    A model built under ``mixed_float16`` gets its optimizer wrapped in Keras's
    ``LossScaleOptimizer`` by ``compile`` itself.

    Args:
        model: An uncompiled model whose last layer is a softmax over the classes.
        config: The run config.
        steps_per_epoch: Optimizer updates per epoch (for schedules and warm-up).
        num_classes: Number of classes; defaults to the width of the model's output.
        jit_compile: ``compile``'s XLA switch (``"auto"``: Keras decides).
        steps_per_execution: Batches per call of the training function.
    """
    classes = num_classes or int(model.outputs[0].shape[-1])
    model.compile(
        optimizer=make_optimizer(config, steps_per_epoch),
        loss=make_loss(config),
        metrics=make_metrics(config, classes),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )


def compile_for_export(model: keras.Model, config: RunConfig, num_classes: int) -> None:
    """Recompile a trained model with built-in Keras objects only, before it is saved.

    A saved ``.keras`` file names the class of its optimizer's schedule and of each metric,
    and loading it anywhere this project is not imported would fail on
    ``core.engine.schedules.WarmUp`` or :class:`SparseF1Score`. The copy people download therefore
    gets a fresh optimizer of the config's kind at the rate training ended with (the schedule
    is in the saved config), the same loss, and the built-in metrics (sparse runs lose
    ``f1``). Weights are untouched.

    Args:
        model: The trained model, compiled by :func:`compile_model`.
        config: Its run config.
        num_classes: Number of classes.
    """
    rate = current_learning_rate(model.optimizer)
    optimizer = make_optimizer(config, 1, learning_rate=rate)
    # Built now so the file holds as many optimizer variables as loading creates.
    optimizer.build(model.trainable_variables)
    metrics = [
        m for m in make_metrics(config, num_classes) if type(m).__module__.startswith("keras.")
    ]
    # No LossScaleOptimizer around it under mixed_float16: loading the file compiles a plain
    # optimizer, which would find the saved one's extra variables and skip its state.
    model.compile(
        optimizer=optimizer, loss=make_loss(config), metrics=metrics, auto_scale_loss=False
    )


def callbacks(config: RunConfig, steps_per_epoch: int) -> list[keras.callbacks.Callback]:
    """Return the Keras callbacks the config asks for (empty if none).

    * ``EarlyStopping`` on ``early_stopping_monitor`` (direction inferred from its name),
      restoring the best weights, when ``early_stopping_patience`` > 0;
    * with ``reduce_on_plateau``: ``ReduceLROnPlateau`` on ``val_loss`` with ``lr_factor``
      and ``lr_patience``, preceded by ``core.engine.schedules.PlateauWarmUp`` when
      ``warmup_epochs`` > 0.

    Args:
        config: The run config.
        steps_per_epoch: Optimizer updates per epoch (for the warm-up).

    Returns:
        Fresh callbacks, to pass to ``fit`` after any that must see each epoch's rate
        before a plateau cut changes it.
    """
    found: list[keras.callbacks.Callback] = []
    if config.lr_schedule == "reduce_on_plateau":
        if config.warmup_epochs:
            found.append(
                PlateauWarmUp(config.learning_rate, config.warmup_epochs * steps_per_epoch)
            )
        found.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=config.lr_factor, patience=config.lr_patience
            )
        )
    if config.early_stopping_patience:
        found.append(
            keras.callbacks.EarlyStopping(
                monitor=config.early_stopping_monitor,
                mode="auto",
                patience=config.early_stopping_patience,
                restore_best_weights=True,
            )
        )
    return found
