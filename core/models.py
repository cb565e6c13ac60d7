"""Keras models the app trains: report 000's small CNN and a multilayer perceptron.

The training worker is the only importer (the UI never loads TensorFlow), so Keras is imported
at the top. Every model takes uint8 pixels (0..255) as they are stored and rescales them to
[0, 1] in its first layer, so datasets stay uint8 in memory until a batch enters the model.

Typical use in the worker::

    model = build_model(config, info.shape, info.num_classes)
    compile_model(model, config)
    model.fit(x_train, prepare_labels(y_train, config, info.num_classes), ...)
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from core.config import RunConfig

_OPTIMIZERS: dict[str, type[keras.optimizers.Optimizer]] = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "adamw": keras.optimizers.AdamW,
    "nadam": keras.optimizers.Nadam,
    "adagrad": keras.optimizers.Adagrad,
}


def build_model(
    config: RunConfig, input_shape: tuple[int, int, int], num_classes: int
) -> keras.Model:
    """Build the uncompiled model named by ``config.model``.

    Both models start with ``Rescaling(1/255)`` right after the input, so they are fed raw
    uint8 pixels. The model is named after ``config.model`` (``"cnn"`` or ``"mlp"``).

    ``cnn`` is report 000's network: Conv2D(16, 3) → AveragePooling2D(2) → BatchNormalization
    → Conv2D(64, 3) → AveragePooling2D(2) → BatchNormalization → Flatten → Dense(256) →
    Dropout → Dense(num_classes); 602,698 parameters on 32×32×3 with 10 classes.

    Padding rule (``cnn`` only): with "valid" padding each conv/pool block maps a side ``s`` to
    ``(s - 2) // 2``, so two blocks leave at least one pixel exactly when both the height and
    the width are at least 10. Such inputs (MNIST, CIFAR) use "valid" padding everywhere, as in
    report 000; smaller ones (the 8×8 digits) use "same" padding for both convolutions and both
    poolings, so each block halves the side, rounding up, and never reaches zero.

    ``mlp``: Flatten → Dense(256) → Dropout → Dense(128) → Dropout → Dense(num_classes).

    Args:
        config: The run config; ``model`` picks the network and ``dropout`` sets every
            Dropout layer's rate.
        input_shape: Height, width and channels of one image.
        num_classes: Number of labels (units of the softmax output).

    Returns:
        An uncompiled functional ``keras.Model``.

    Raises:
        ValueError: If ``config.model`` has no builder here.
    """
    builders = {"cnn": _cnn_layers, "mlp": _mlp_layers}
    if config.model not in builders:
        raise ValueError(
            f"model: no builder for {config.model!r}; choose one of: {', '.join(builders)}."
        )
    inputs = keras.Input(shape=tuple(input_shape), name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescaling")(inputs)
    for layer in builders[config.model](config, input_shape):
        x = layer(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs, name=config.model)


def cnn_padding(input_shape: tuple[int, int, int]) -> str:
    """Return the padding the CNN uses for this input: "valid" if it survives, else "same".

    Args:
        input_shape: Height, width and channels of one image.

    Returns:
        ``"valid"`` when two valid conv(3)/pool(2) blocks leave at least 1×1 (both sides ≥ 10),
        otherwise ``"same"``.
    """
    height, width = input_shape[0], input_shape[1]
    return "valid" if min(_valid_side(height), _valid_side(width)) >= 1 else "same"


def _valid_side(side: int) -> int:
    """Side length after two valid Conv2D(3) + AveragePooling2D(2) blocks."""
    for _ in range(2):
        side = (side - 2) // 2
    return side


def _cnn_layers(config: RunConfig, input_shape: tuple[int, int, int]) -> list[layers.Layer]:
    padding = cnn_padding(input_shape)
    stack: list[layers.Layer] = []
    for block, filters in ((1, 16), (2, 64)):
        stack += [
            layers.Conv2D(filters, 3, padding=padding, activation="relu", name=f"conv{block}"),
            layers.AveragePooling2D(2, padding=padding, name=f"pool{block}"),
            # Momentum 0.9 rather than Keras's 0.99: the moving statistics used at test time must
            # settle within the few hundred updates of a small dataset (digits: 18 per epoch).
            layers.BatchNormalization(momentum=0.9, name=f"bn{block}"),
        ]
    return stack + [
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense"),
        layers.Dropout(config.dropout, name="dropout"),
    ]


def _mlp_layers(config: RunConfig, input_shape: tuple[int, int, int]) -> list[layers.Layer]:
    del input_shape  # Flatten adapts to any image size.
    return [
        layers.Flatten(name="flatten"),
        layers.Dense(256, activation="relu", name="dense1"),
        layers.Dropout(config.dropout, name="dropout1"),
        layers.Dense(128, activation="relu", name="dense2"),
        layers.Dropout(config.dropout, name="dropout2"),
    ]


def make_optimizer(config: RunConfig) -> keras.optimizers.Optimizer:
    """Return a fresh optimizer named by ``config.optimizer`` at ``config.learning_rate``.

    Args:
        config: The run config.

    Returns:
        A new ``keras.optimizers`` instance (SGD, Adam, RMSprop, AdamW, Nadam or Adagrad) with
        Keras' defaults for everything but the learning rate.

    Raises:
        ValueError: If ``config.optimizer`` is not one this module knows.
    """
    if config.optimizer not in _OPTIMIZERS:
        raise ValueError(
            f"optimizer: unknown {config.optimizer!r}; choose one of: {', '.join(_OPTIMIZERS)}."
        )
    return _OPTIMIZERS[config.optimizer](learning_rate=config.learning_rate)


def compile_model(model: keras.Model, config: RunConfig) -> None:
    """Compile ``model`` with the config's optimizer and loss, tracking accuracy.

    Keras 3 resolves ``"accuracy"`` from the label and prediction shapes when the model first
    sees data: integer labels (shape ``(n,)`` or ``(n, 1)``) get sparse categorical accuracy,
    one-hot labels from :func:`prepare_labels` get categorical accuracy. Either way the metric
    is logged as ``accuracy``/``val_accuracy``.

    Args:
        model: A model from :func:`build_model`.
        config: The run config; ``optimizer``, ``learning_rate`` and ``loss`` are used.
    """
    model.compile(optimizer=make_optimizer(config), loss=config.loss, metrics=["accuracy"])


def prepare_labels(y: np.ndarray, config: RunConfig, num_classes: int) -> np.ndarray:
    """Return labels in the form ``config.loss`` expects.

    Args:
        y: Integer class labels, shape ``(n,)`` or ``(n, 1)``.
        config: The run config; only ``loss`` is used.
        num_classes: Number of classes (width of the one-hot rows).

    Returns:
        ``y`` itself for sparse categorical cross-entropy; a float32 one-hot array of shape
        ``(n, num_classes)`` for categorical cross-entropy.

    Raises:
        ValueError: For categorical cross-entropy, if a label is outside ``[0, num_classes)``.
    """
    if config.loss != "categorical_crossentropy":
        return y
    labels = np.asarray(y)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes}) for one-hot encoding "
            f"(found {labels.min()}..{labels.max()})."
        )
    return keras.utils.to_categorical(labels, num_classes).astype(np.float32)


def summary_rows(model: keras.Model) -> list[dict[str, Any]]:
    """Return the model summary as table rows, one per layer after the input.

    Args:
        model: A built model.

    Returns:
        One dict per layer with ``layer`` (name), ``type`` (class name), ``output_shape``
        (a string such as ``"(None, 30, 30, 16)"``) and ``params`` (int). The params add up
        to ``model.count_params()``.
    """
    return [
        {
            "layer": layer.name,
            "type": type(layer).__name__,
            "output_shape": str(tuple(layer.output.shape)),
            "params": int(layer.count_params()),
        }
        for layer in model.layers
        if not isinstance(layer, layers.InputLayer)
    ]
