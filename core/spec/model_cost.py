"""What a model costs, counted from its config alone: weights, multiply-adds per image, layers.

The app's own networks (``cnn``, ``resnet``, ``mlp``; ``core.engine.models`` builds them) are
counted layer by layer from the config and the input shape, exactly as Keras builds them: the
weights are what ``model.count_params()`` says, and the multiply-adds are those of every
Conv2D and Dense layer (pooling, batch norm and activations add a few per cent at most, and
published figures leave them out too). A transfer model's backbone comes from a table of
published figures (:data:`BACKBONE_COSTS`), scaled by the image area. Nothing heavy is
imported: the Tune page estimates a search's duration from these counts on every rerun.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.spec.config import RunConfig


@dataclass(frozen=True)
class BackboneCost:
    """Published size of a ``keras.applications`` backbone without its classifier top.

    Attributes:
        macs: Multiply-adds of one image's forward pass at ``side`` × ``side`` pixels.
        side: The input side ``macs`` was counted at.
        params: Weights with ``include_top=False`` (independent of the input size).
        features: Channels of the last feature map (what the pooling hands the head).
        layers: Layers of the Keras model; with ``weighted``, the layers holding weights.
    """

    macs: float
    side: int
    params: int
    features: int
    layers: int
    weighted: int


# Multiply-adds of one image at the published input size, from the papers:
# - ResNet-50 (v1, as Keras builds it): 3.8 G at 224 (He et al. 2015, "Deep Residual Learning
#   for Image Recognition", table 1; torchvision's 4.1 G is its v1.5 variant);
# - MobileNetV2 (width 1.0): 300 M at 224 (Sandler et al. 2018, "MobileNetV2", table 4);
# - Xception: 8.4 G at 299 (the figure timm's legacy_xception model card gives for the Keras
#   weights; Chollet 2017 lists only the weights' size);
# - EfficientNet-B0: 0.39 G at 224 (Tan & Le 2019, "EfficientNet", table 2).
# Counting the Conv2D, DepthwiseConv2D, SeparableConv2D and Dense multiply-adds of
# keras.applications 3.x (include_top=False, weights=None) gives 3.86 G, 0.30 G, 8.36 G and
# 0.385 G. The weights, feature channels and layer counts below are read off those models
# (``weighted``: layers with weights other than batch norm, which fine-tuning counts).
BACKBONE_COSTS: dict[str, BackboneCost] = {
    "resnet50": BackboneCost(3.8e9, 224, 23_587_712, 2048, 175, 53),
    "mobilenet_v2": BackboneCost(0.30e9, 224, 2_257_984, 1280, 154, 52),
    "xception": BackboneCost(8.4e9, 299, 20_861_480, 2048, 132, 40),
    "efficientnet_b0": BackboneCost(0.39e9, 224, 4_049_571, 1280, 237, 81),
}


@dataclass(frozen=True)
class ModelCost:
    """The size of one model: what training and testing it cost per image.

    Attributes:
        params: Every weight, trainable or not (``model.count_params()``).
        trained_params: The weights training updates (and the optimizer keeps state for);
            a frozen backbone's are not among them.
        macs: Multiply-adds of one image's forward pass.
        train_macs: Multiply-adds to train on one image: the forward pass plus a backward pass
            (about twice the forward) through the layers that train; a frozen backbone only
            runs forward.
        layers: Layers in the model (a frozen backbone's too), which is what building,
            compiling and tracing it cost in proportion to.
    """

    params: int
    trained_params: int
    macs: float
    train_macs: float
    layers: int

    @property
    def flops(self) -> float:
        """Floating-point operations of one image's forward pass (two per multiply-add)."""
        return 2 * self.macs


def model_cost(cfg: RunConfig, input_shape: tuple[int, int, int], num_classes: int) -> ModelCost:
    """Count a config's model on images of ``input_shape`` with ``num_classes`` labels.

    Args:
        cfg: The run config (``model``, the architecture keys, ``img_size``, the backbone).
        input_shape: Height, width and channels of the dataset's images.
        num_classes: Units of the softmax output.

    Returns:
        Its weights, multiply-adds per image (forward, and to train) and layer count.
    """
    height, width, channels = input_shape
    layers = 1  # the input; the output is counted with the dense layers
    if cfg.img_size and (height, width) != (cfg.img_size, cfg.img_size):
        height = width = cfg.img_size
        layers += 1
    counter = _Counter(height, width, channels)
    if cfg.model == "transfer":
        frozen_macs, frozen_params = _backbone(counter, cfg)
    else:
        frozen_macs, frozen_params = 0.0, 0
        counter.layers += 1  # rescaling or standardization
        {"cnn": _cnn, "resnet": _resnet, "mlp": _mlp}[cfg.model](counter, cfg)
    counter.dense(num_classes)
    # Training runs every layer forward and the trained ones backward (about 2× forward).
    return ModelCost(
        params=counter.params,
        trained_params=counter.params - frozen_params,
        macs=counter.macs,
        train_macs=3 * counter.macs - 2 * frozen_macs,
        layers=layers + counter.layers,
    )


def cnn_padding(
    input_shape: tuple[int, int, int], conv_blocks: int = 2, kernel_size: int = 3
) -> str:
    """Return the padding the CNN uses for this input: "valid" if it survives, else "same".

    With "valid" padding each conv(k)/pool(2) block maps a side ``s`` to ``(s - k + 1) // 2``.
    Inputs whose sides stay at least 1 after every block (MNIST and CIFAR with the defaults)
    use "valid" padding everywhere, as in report 000; smaller ones (the 8×8 digits) use "same"
    padding for every conv and pooling, so each block halves the side, rounding up, and never
    reaches zero.

    Args:
        input_shape: Height, width and channels of the images the first conv sees.
        conv_blocks: Number of conv/pool blocks.
        kernel_size: Side of each convolution window.

    Returns:
        ``"valid"`` when both sides stay ≥ 1 after all blocks with valid padding, else
        ``"same"``.
    """
    sides = list(input_shape[:2])
    for _ in range(conv_blocks):
        sides = [(s - kernel_size + 1) // 2 for s in sides]
    return "valid" if min(sides) >= 1 else "same"


class _Counter:
    """Walks a model's layers, keeping the feature map's shape and the running totals."""

    def __init__(self, height: int, width: int, channels: int) -> None:
        self.height, self.width, self.channels = height, width, channels
        self.params = 0
        self.macs = 0.0
        self.layers = 0

    def conv(
        self, filters: int, kernel: int, strides: int = 1, same: bool = True, bias: bool = True
    ) -> None:
        if same:
            self.height = math.ceil(self.height / strides)
            self.width = math.ceil(self.width / strides)
        else:
            self.height = (self.height - kernel) // strides + 1
            self.width = (self.width - kernel) // strides + 1
        weights = kernel * kernel * self.channels * filters
        self.params += weights + (filters if bias else 0)
        self.macs += weights * self.height * self.width
        self.channels = filters
        self.layers += 1

    def pool(self, same: bool) -> None:
        rounding = math.ceil if same else math.floor
        self.height, self.width = rounding(self.height / 2), rounding(self.width / 2)
        self.layers += 1

    def batch_norm(self) -> None:
        self.params += 4 * self.channels  # scale, shift, moving mean and variance
        self.layers += 1

    def flatten(self) -> None:
        self.channels *= self.height * self.width
        self.height = self.width = 1
        self.layers += 1

    def dense(self, units: int) -> None:
        self.params += self.channels * units + units
        self.macs += self.channels * units
        self.channels = units
        self.layers += 1

    def head(self, cfg: RunConfig) -> None:
        """``dense_layers`` × Dense(dense_units), then Dropout."""
        for _ in range(cfg.dense_layers):
            self.dense(cfg.dense_units)
        self.layers += 1


def _filters(cfg: RunConfig, block: int) -> int:
    return cfg.filters[min(block, len(cfg.filters) - 1)]


def _cnn(counter: _Counter, cfg: RunConfig) -> None:
    shape = (counter.height, counter.width, counter.channels)
    same = cnn_padding(shape, cfg.conv_blocks, cfg.kernel_size) == "same"
    for block in range(cfg.conv_blocks):
        counter.conv(_filters(cfg, block), cfg.kernel_size, same=same)
        counter.pool(same)
        if cfg.batch_norm:
            counter.batch_norm()
    counter.flatten()
    counter.head(cfg)


def _mlp(counter: _Counter, cfg: RunConfig) -> None:
    counter.flatten()
    for _ in range(cfg.dense_layers):
        counter.dense(cfg.dense_units)
        counter.layers += 1  # its dropout


def _conv_bn_act(
    counter: _Counter, cfg: RunConfig, filters: int, strides: int = 1, act: bool = True
) -> None:
    counter.conv(filters, cfg.kernel_size, strides, bias=not cfg.batch_norm)
    if cfg.batch_norm:
        counter.batch_norm()
    counter.layers += act


def _resnet(counter: _Counter, cfg: RunConfig) -> None:
    _conv_bn_act(counter, cfg, _filters(cfg, 0))
    side = min(counter.height, counter.width)
    for stage in range(cfg.conv_blocks):
        filters = _filters(cfg, stage)
        strides = 2 if stage > 0 and side > 2 else 1
        side = math.ceil(side / strides)
        entry = (counter.height, counter.width, counter.channels)
        _conv_bn_act(counter, cfg, filters, strides)
        _conv_bn_act(counter, cfg, filters, act=False)
        if strides != 1 or entry[2] != filters:
            shortcut = _Counter(*entry)
            shortcut.conv(filters, 1, strides, bias=not cfg.batch_norm)
            if cfg.batch_norm:
                shortcut.batch_norm()
            counter.params += shortcut.params
            counter.macs += shortcut.macs
            counter.layers += shortcut.layers
        counter.layers += 2  # the add and its activation
    counter.height = counter.width = 1  # global average pooling
    counter.layers += 1
    counter.head(cfg)


def _backbone(counter: _Counter, cfg: RunConfig) -> tuple[float, int]:
    """Add a transfer model's backbone and head; return the multiply-adds that only run
    forward and the weights that stay frozen.

    A frozen backbone (``fine_tune_layers`` 0) runs forward only; with N layers fine-tuned,
    the backward pass reaches about the top N of its weighted layers, taken as that share of
    its multiply-adds.
    """
    table = BACKBONE_COSTS[cfg.backbone]
    if counter.channels == 1:
        counter.layers += 1  # grayscale repeated to RGB
    area = counter.height * counter.width / table.side**2
    backbone_macs = table.macs * area
    counter.params += table.params
    counter.macs += backbone_macs
    counter.layers += table.layers + 2  # its preprocessing and the global pooling
    counter.channels = table.features
    counter.height = counter.width = 1
    counter.head(cfg)
    frozen = 1 - min(1.0, cfg.fine_tune_layers / table.weighted)
    return backbone_macs * frozen, round(table.params * frozen)
