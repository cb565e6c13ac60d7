"""Keras models the app trains: report 000's CNN generalized, a small ResNet, an MLP, transfer.

The training worker is the only importer (the UI never loads TensorFlow), so Keras is imported
at the top. Every model takes uint8 pixels (0..255) as they are stored and scales them inside
the model, so datasets stay uint8 in memory until a batch enters the model.

Typical use in the worker::

    model = build_model(config, info.shape, info.num_classes, x_sample=x_train)
    compile_model(model, config)
    model.fit(x_train, prepare_labels(y_train, config, info.num_classes), ...)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from core.data.weights import check_weights, weights_path
from core.spec.config import RunConfig
from core.spec.model_cost import cnn_padding

# backbone key: (application constructor, its module's preprocess_input)
_BACKBONES: dict[str, tuple[Callable[..., keras.Model], Callable[..., Any]]] = {
    "mobilenet_v2": (
        keras.applications.MobileNetV2,
        keras.applications.mobilenet_v2.preprocess_input,
    ),
    "xception": (keras.applications.Xception, keras.applications.xception.preprocess_input),
    "resnet50": (keras.applications.ResNet50, keras.applications.resnet50.preprocess_input),
    "efficientnet_b0": (
        keras.applications.EfficientNetB0,
        keras.applications.efficientnet.preprocess_input,
    ),
}
# EfficientNet's ImageNet weights expect their input Normalization to be followed by a
# division by sqrt(stddev) per channel; Keras adds that layer only for weights="imagenet",
# not when the same file is given as a path (keras/src/applications/efficientnet.py).
_EFFICIENTNET_STDDEV_RGB = (0.229, 0.224, 0.225)
# Momentum 0.9 rather than Keras's 0.99: the moving statistics used at test time must settle
# within the few hundred updates of a small dataset (digits: 18 per epoch).
_BN_MOMENTUM = 0.9


def build_model(
    config: RunConfig,
    input_shape: tuple[int, int, int],
    num_classes: int,
    x_sample: np.ndarray | None = None,
    root: Path | None = None,
) -> keras.Model:
    """Build the uncompiled model named by ``config.model``, honouring every architecture key.

    Every model takes raw uint8 pixels. Right after the input comes ``Resizing`` (named
    ``resize``) when ``img_size`` is set and differs from the input's height or width, then:

    * for ``cnn``, ``resnet`` and ``mlp``, ``Rescaling(1/255)`` (``rescaling``) when
      ``normalization == "rescale"``, or a per-channel ``Normalization`` (``standardize``)
      holding the mean and variance of ``x_sample`` when it is ``"standardize"``;
    * for ``transfer``, the backbone's own ``preprocess_input`` (grayscale repeated to RGB
      first), whatever ``normalization`` says.

    The networks (``activation``, ``initializer`` and the ``l1``/``l2`` kernel regularizer apply
    to every Conv2D and Dense layer built here, the output included):

    * ``cnn``: report 000's network generalized. ``conv_blocks`` × [Conv2D(filters[i],
      kernel_size) → AveragePooling2D(2) or MaxPooling2D(2) → BatchNormalization if
      ``batch_norm``] → Flatten → ``dense_layers`` × Dense(dense_units) → Dropout → output.
      At the defaults on 32×32×3 with 10 classes: 602,698 parameters. Padding: see
      :func:`core.spec.model_cost.cnn_padding`.
    * ``resnet``: a stem Conv2D, ``conv_blocks`` stages of one residual block each (two convs,
      identity or 1×1 projection shortcut, Add), stride 2 between stages while the side is
      above 2 → GlobalAveragePooling2D → ``dense_layers`` × Dense → Dropout → output.
    * ``mlp``: Flatten → ``dense_layers`` × [Dense(dense_units) → Dropout] → output (0 dense
      layers: a linear softmax classifier on the pixels).
    * ``transfer``: a ``keras.applications`` backbone (``include_top=False``), random weights
      or the local ImageNet file (:mod:`core.data.weights`) → GlobalAveragePooling2D →
      ``dense_layers`` × Dense → Dropout → output. ``fine_tune_layers`` = 0 freezes the whole
      backbone; N > 0 trains the top N backbone layers that have trainable weights, except
      BatchNormalization layers, which stay frozen.

    ``filters`` gives one count per block or stage; the last repeats when there are more blocks.

    Args:
        config: The run config.
        input_shape: Height, width and channels of one image.
        num_classes: Number of labels (units of the softmax output).
        x_sample: Training images (uint8, N×H×W×C) whose per-channel mean and variance the
            ``standardize`` normalization uses; needed only then.
        root: The cache folder holding the ImageNet weight files; defaults to
            ``paths.cache_dir()``.

    Returns:
        An uncompiled functional ``keras.Model`` named after ``config.model``.

    Raises:
        ValueError: If ``config.model`` has no builder here, or ``normalization`` is
            ``standardize`` and ``x_sample`` is None or has another number of channels.
        core.data.weights.WeightsUnavailable: If a transfer model needs an ImageNet file that is
            not in the cache folder.
    """
    builders = {"cnn": _cnn, "resnet": _resnet, "mlp": _mlp}
    if config.model not in (*builders, "transfer"):
        raise ValueError(
            f"model: no builder for {config.model!r}; "
            f"choose one of: {', '.join(builders)}, transfer."
        )
    inputs = keras.Input(shape=tuple(input_shape), name="pixels")
    x = inputs
    size = config.img_size
    if size and tuple(input_shape[:2]) != (size, size):
        x = layers.Resizing(size, size, name="resize")(x)
    if config.model == "transfer":
        x = _transfer(x, config, root)
    else:
        x = builders[config.model](_normalize(x, config, x_sample), config)
    # float32 whatever the precision: a float16 softmax rounds small probabilities to 0.
    outputs = layers.Dense(
        num_classes, activation="softmax", name="output", dtype="float32", **_kernel(config)
    )(x)
    return keras.Model(inputs, outputs, name=config.model)


def _filters(config: RunConfig, block: int) -> int:
    """Filters of a block (0-based): the block's own entry, else the last one."""
    return config.filters[min(block, len(config.filters) - 1)]


def _kernel(config: RunConfig) -> dict[str, Any]:
    """Initializer and regularizer arguments shared by every Conv2D and Dense layer."""
    regularizer = None
    if config.l1 > 0 or config.l2 > 0:
        regularizer = keras.regularizers.L1L2(l1=config.l1, l2=config.l2)
    return {"kernel_initializer": config.initializer, "kernel_regularizer": regularizer}


def _normalize(x: Any, config: RunConfig, x_sample: np.ndarray | None) -> Any:
    if config.normalization == "rescale":
        return layers.Rescaling(1.0 / 255, name="rescaling")(x)
    if config.normalization != "standardize":
        raise ValueError(f"normalization: no layer for {config.normalization!r}.")
    if x_sample is None:
        raise ValueError(
            "normalization: standardize needs x_sample, the training images whose "
            "per-channel mean and variance it uses."
        )
    mean, variance = _channel_stats(x_sample)
    if len(mean) != x.shape[-1]:
        raise ValueError(
            f"normalization: x_sample has {len(mean)} channels, the images {x.shape[-1]}."
        )
    return layers.Normalization(axis=-1, mean=mean, variance=variance, name="standardize")(x)


def _channel_stats(images: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-channel mean and variance of a stack of images.

    Args:
        images: Pixels, shape ``(N, H, W, C)``, any numeric dtype.
        chunk: Images summed at a time; bounds the float64 copy (a whole float copy of
            CIFAR-10 would take gigabytes).

    Returns:
        ``(mean, variance)``, float64 arrays of length C.
    """
    channels = images.shape[-1]
    total = np.zeros(channels)
    squares = np.zeros(channels)
    # A folder's split is read from its cache in chunks, an array sliced.
    parts = getattr(images, "batches", None)
    chunks = (
        parts(chunk)
        if parts is not None
        else (images[start : start + chunk] for start in range(0, len(images), chunk))
    )
    for part in chunks:
        part = part.reshape(-1, channels).astype(np.float64)
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    count = images.size // channels
    mean = total / count
    return mean, np.maximum(squares / count - mean**2, 0.0)


def _head(x: Any, config: RunConfig) -> Any:
    """``dense_layers`` × Dense(dense_units) → Dropout, the common top of cnn, resnet, transfer."""
    for i in range(1, config.dense_layers + 1):
        name = "dense" if config.dense_layers == 1 else f"dense{i}"
        x = layers.Dense(
            config.dense_units, activation=config.activation, name=name, **_kernel(config)
        )(x)
    return layers.Dropout(config.dropout, name="dropout")(x)


def _batch_norm(x: Any, name: str) -> Any:
    return layers.BatchNormalization(momentum=_BN_MOMENTUM, name=name)(x)


def _cnn(x: Any, config: RunConfig) -> Any:
    padding = cnn_padding(tuple(x.shape[1:]), config.conv_blocks, config.kernel_size)
    pool = layers.AveragePooling2D if config.pooling == "avg" else layers.MaxPooling2D
    for i in range(config.conv_blocks):
        x = layers.Conv2D(
            _filters(config, i),
            config.kernel_size,
            padding=padding,
            activation=config.activation,
            name=f"conv{i + 1}",
            **_kernel(config),
        )(x)
        x = pool(2, padding=padding, name=f"pool{i + 1}")(x)
        if config.batch_norm:
            x = _batch_norm(x, f"bn{i + 1}")
    return _head(layers.Flatten(name="flatten")(x), config)


def _mlp(x: Any, config: RunConfig) -> Any:
    x = layers.Flatten(name="flatten")(x)
    for i in range(1, config.dense_layers + 1):
        x = layers.Dense(
            config.dense_units, activation=config.activation, name=f"dense{i}", **_kernel(config)
        )(x)
        x = layers.Dropout(config.dropout, name=f"dropout{i}")(x)
    return x


def _conv_bn_act(
    x: Any, config: RunConfig, filters: int, name: str, strides: int = 1, act: bool = True
) -> Any:
    """Conv2D ("same") → BatchNormalization if ``batch_norm`` → activation if ``act``."""
    x = layers.Conv2D(
        filters,
        config.kernel_size,
        strides=strides,
        padding="same",
        # Batch norm's own shift makes a conv bias redundant.
        use_bias=not config.batch_norm,
        name=f"{name}_conv",
        **_kernel(config),
    )(x)
    if config.batch_norm:
        x = _batch_norm(x, f"{name}_bn")
    return layers.Activation(config.activation, name=f"{name}_act")(x) if act else x


def _resnet(x: Any, config: RunConfig) -> Any:
    x = _conv_bn_act(x, config, _filters(config, 0), "stem")
    side = min(x.shape[1], x.shape[2])
    for i in range(config.conv_blocks):
        # Halve the side between stages, but stop at 2 pixels so the last stages still see
        # a spatial map (and the side never rounds down to nothing).
        strides = 2 if i > 0 and side > 2 else 1
        side = math.ceil(side / strides)
        x = _residual_block(x, config, _filters(config, i), strides, f"stage{i + 1}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    return _head(x, config)


def _residual_block(x: Any, config: RunConfig, filters: int, strides: int, name: str) -> Any:
    """Two convs plus a shortcut: identity, or a 1×1 projection when the shape changes."""
    y = _conv_bn_act(x, config, filters, f"{name}_a", strides=strides)
    y = _conv_bn_act(y, config, filters, f"{name}_b", act=False)
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv2D(
            filters,
            1,
            strides=strides,
            use_bias=not config.batch_norm,
            name=f"{name}_proj",
            **_kernel(config),
        )(x)
        if config.batch_norm:
            shortcut = _batch_norm(shortcut, f"{name}_proj_bn")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation(config.activation, name=f"{name}_out")(y)


def _transfer(x: Any, config: RunConfig, root: Path | None) -> Any:
    height, width = x.shape[1], x.shape[2]
    if x.shape[-1] == 1:
        x = layers.Concatenate(name="to_rgb")([x, x, x])
    application, preprocess = _BACKBONES[config.backbone]
    # Plain ops on the symbolic tensor are saved with the model as they are, so a saved model
    # loads anywhere without this module.
    x = preprocess(x)
    weights = None
    if config.pretrained != "none":
        # Keras picks MobileNetV2's file by a square side; 0 (no such size) gets 224's, as
        # Keras gives any non-square input.
        side = height if height == width else 0
        check_weights(config, root, side)
        weights = str(weights_path(config, root, side))
    backbone = application(include_top=False, weights=weights, input_shape=(height, width, 3))
    if weights is not None and config.backbone == "efficientnet_b0":
        _match_efficientnet_imagenet_scaling(backbone)
    _freeze(backbone, config.fine_tune_layers, keep_batch_norm=config.pretrained != "none")
    x = layers.GlobalAveragePooling2D(name="gap")(backbone(x))
    return _head(x, config)


def _match_efficientnet_imagenet_scaling(backbone: keras.Model) -> None:
    """Scale EfficientNet's input normalization as ``weights="imagenet"`` would.

    Multiplying the stored variance by stddev divides the layer's output by sqrt(stddev),
    exactly what the Rescaling layer Keras inserts for ``weights="imagenet"`` does.
    """
    (norm,) = [lay for lay in backbone.layers if isinstance(lay, layers.Normalization)]
    norm.adapt_variance.assign(norm.adapt_variance * np.array(_EFFICIENTNET_STDDEV_RGB))
    norm.finalize_state()


def _freeze(backbone: keras.Model, fine_tune_layers: int, keep_batch_norm: bool) -> None:
    """Freeze the backbone but its top ``fine_tune_layers`` layers with trainable weights.

    With pretrained weights (``keep_batch_norm``), BatchNormalization layers stay frozen even
    among the top layers: a frozen batch norm runs in inference mode on its ImageNet
    statistics, whereas re-estimating them from the small batches of a small dataset would
    shift every activation the pretrained weights rely on. Random weights have no statistics
    to protect, and a random backbone with frozen batch norms outputs near-zero features
    (about 1e-13 for MobileNetV2) that nothing can learn from, so there they train too.
    """
    backbone.trainable = True  # start from all layers trainable, so freezing is repeatable
    for lay in backbone.layers:
        lay.trainable = True
    tunable = [
        lay
        for lay in backbone.layers
        if lay.trainable_weights
        and not (keep_batch_norm and isinstance(lay, layers.BatchNormalization))
    ]
    unfrozen = {id(lay) for lay in tunable[-fine_tune_layers:]} if fine_tune_layers else set()
    backbone.trainable = bool(unfrozen)
    for lay in backbone.layers:
        lay.trainable = id(lay) in unfrozen


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
