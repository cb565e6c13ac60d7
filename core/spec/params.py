"""Every hyperparameter a run has, as data: its group, label, help text, type, default and range.

One table drives the run config's checks, the Train page's controls (grouped, with help from
report 001's guide) and, later, the search spaces a tuner may explore. Nothing heavy is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.spec.catalog import (
    ACTIVATIONS,
    BACKBONES,
    INITIALIZERS,
    LOSSES,
    LR_SCHEDULES,
    MODELS,
    OPTIMIZERS,
)
from core.spec.quoting import shown_value

# The most epochs a run trains; counts of epochs (patience, decay, warm-up) stop there too.
MAX_EPOCHS = 10_000

GROUPS = (
    "data",
    "training",
    "optimization",
    "regularization",
    "architecture",
    "transfer",
)


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    Attributes:
        key: Its name in the run config.
        group: One of ``GROUPS``.
        label: Name shown to people.
        help: One sentence on what it does.
        kind: ``int``, ``float``, ``bool``, ``str``, ``ints`` (list of ints) or ``strs``.
        choices: Allowed values (for ``str``), with labels.
        low, high: Inclusive bounds for numbers (``low_open``: the lower bound is excluded).
            Every number has both, so no value reaches training that it cannot handle.
        log: Numbers best explored on a log scale (learning rates).
        wide: The bounds only keep out absurd values, far beyond useful ones, so a search
            starts the key at its current value rather than over the whole range.
    """

    key: str
    group: str
    label: str
    help: str
    kind: str
    choices: dict[str, str] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    log: bool = False
    wide: bool = False

    def check(self, value: Any) -> str | None:
        """Return what is wrong with ``value`` (already of the right type), or None."""
        if self.choices is not None and self.kind == "str" and value not in self.choices:
            shown = shown_value(value)
            return f"unknown value {shown}; choose one of: {', '.join(self.choices)}."
        items = value if self.kind == "ints" else [value] if self.kind in ("int", "float") else []
        for item in items:
            if self.low is not None and (item < self.low or (self.low_open and item == self.low)):
                return f"{self.label.lower()} must be {self._range()} (got {_num(item)})."
            if self.high is not None and item > self.high:
                return f"{self.label.lower()} must be {self._range()} (got {_num(item)})."
        return None

    @property
    def step(self) -> float | None:
        """The step of a number control: 1 for whole numbers, 1e-4 on a log scale, else 0.05.

        None for settings that are not numbers.
        """
        if self.kind == "int":
            return 1
        if self.kind == "float":
            return 1e-4 if self.log else 0.05
        return None

    def _range(self) -> str:
        low = "above" if self.low_open else "at least"
        return f"{low} {_num(self.low)} and at most {_num(self.high)}"


def _num(value: float | None) -> str:
    """A number as people write it: 4,294,967,295, 0.001, 1e-05."""
    if value is not None and float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:g}"


def _p(*args: Any, **kwargs: Any) -> Param:
    return Param(*args, **kwargs)


PARAMS: tuple[Param, ...] = (
    # data
    _p(
        "dataset", "data", "Dataset", "A built-in dataset, or a folder of class sub-folders.", "str"
    ),
    _p(
        "validation_split",
        "training",
        "Validation split",
        "Share of the training images held out, stratified, to validate each epoch.",
        "float",
        low=0.0,
        high=0.9,
        low_open=True,
    ),
    _p(
        "augment",
        "data",
        "Augmentation",
        "Random changes to training images (flip, rotation, shifts, zoom, contrast, "
        "brightness) so the model sees more variety and overfits less.",
        "strs",
    ),
    _p(
        "normalization",
        "data",
        "Normalization",
        "Rescale pixels to [0, 1], or standardize each channel to mean 0 and variance 1.",
        "str",
        {"rescale": "Rescale to [0, 1]", "standardize": "Standardize per channel"},
    ),
    _p(
        "img_size",
        "transfer",
        "Image size",
        "Side in pixels images are resized to (0 keeps the dataset's own size).",
        "int",
        low=0,
        high=1024,
    ),
    # training
    _p(
        "epochs",
        "training",
        "Epochs",
        "Passes over the training data: too few underfit, too many overfit.",
        "int",
        low=1,
        high=MAX_EPOCHS,
    ),
    _p(
        "batch_size",
        "training",
        "Batch size",
        "Images per update: larger is faster per epoch but gives fewer, smoother updates.",
        "int",
        low=1,
        high=1_000_000,
        wide=True,
    ),
    _p(
        "folds",
        "training",
        "Folds",
        "k-fold cross-validation: train k times on different splits and report mean ± std "
        "(1 = off).",
        "int",
        low=1,
        high=20,
    ),
    _p(
        "seed",
        "training",
        "Seed",
        "Fixes the split, the initial weights and the shuffling, so runs can be reproduced.",
        "int",
        low=0,
        high=2**32 - 1,
    ),
    _p(
        "deterministic",
        "training",
        "Deterministic ops",
        "On: the same seed gives the same metrics, run after run. Off: seeds are still set, "
        "but TensorFlow may pick faster kernels whose sums differ a little from run to run; "
        "on a GPU the deterministic kernels (convolution gradients, reductions) are slower "
        "and a few ops have none.",
        "bool",
    ),
    _p(
        "precision",
        "training",
        "Precision",
        "Float32 everywhere, or mixed precision: layers compute in float16 or bfloat16 and "
        "keep float32 weights, and the softmax output stays float32. Mixed precision speeds "
        "up GPUs with tensor cores (float16) or bfloat16 support and halves activation "
        "memory; on a CPU it is usually slower.",
        "str",
        {
            "float32": "Float32",
            "mixed_float16": "Mixed float16 (GPU)",
            "mixed_bfloat16": "Mixed bfloat16",
        },
    ),
    _p(
        "jit_compile",
        "training",
        "XLA compilation",
        "Compile each training step with XLA. Auto is Keras's own choice: on when a GPU is "
        "visible and Deterministic ops is off, else off (Keras never uses XLA while ops are "
        "deterministic, so On needs them off). On a 2-core CPU XLA made report 000's CNN "
        "2.5x slower.",
        "str",
        {"auto": "Auto (on with a GPU)", "on": "On", "off": "Off"},
    ),
    _p(
        "steps_per_execution",
        "training",
        "Batches per call",
        "Training batches run per call into TensorFlow, with the progress, cancel and other "
        "per-batch callbacks in between (0 = auto). Auto runs one on a CPU, where they cost "
        "little (about 11 microseconds a batch, benchmarks/batch_callbacks.py); with a GPU "
        "it times a step and runs as many as take 0.1 s, so progress and Cancel stay as "
        "quick. A number is a cap: the largest count up to it that divides an epoch's "
        "batches.",
        "int",
        low=0,
        high=1000,
        wide=True,
    ),
    # optimization
    _p(
        "optimizer",
        "optimization",
        "Optimizer",
        "How gradients become updates; Adam is a robust default, SGD with momentum often "
        "generalizes best.",
        "str",
        OPTIMIZERS,
    ),
    _p(
        "learning_rate",
        "optimization",
        "Learning rate",
        "Step size of each update: too high diverges, too low barely moves.",
        "float",
        low=0.0,
        high=1e6,
        low_open=True,
        log=True,
    ),
    _p(
        "momentum",
        "optimization",
        "Momentum",
        "Share of the last update carried into the next (SGD and RMSprop); smooths and speeds "
        "up descent.",
        "float",
        low=0.0,
        high=0.999,
    ),
    _p(
        "nesterov",
        "optimization",
        "Nesterov",
        "Look-ahead momentum for SGD; often converges a little faster.",
        "bool",
    ),
    _p(
        "weight_decay",
        "optimization",
        "Weight decay",
        "Shrinks weights a little every step, a regularizer (decoupled in AdamW).",
        "float",
        low=0.0,
        high=1.0,
    ),
    _p(
        "lr_schedule",
        "optimization",
        "Learning-rate schedule",
        "How the learning rate changes during training: decay lets a run settle.",
        "str",
        LR_SCHEDULES,
    ),
    _p(
        "lr_decay_rate",
        "optimization",
        "Decay rate",
        "Factor applied at each decay (step and exponential schedules).",
        "float",
        low=0.0,
        high=1.0,
        low_open=True,
    ),
    _p(
        "lr_decay_steps",
        "optimization",
        "Decay every (epochs)",
        "Epochs between decays (step and exponential schedules).",
        "int",
        low=1,
        high=MAX_EPOCHS,
        wide=True,
    ),
    _p(
        "lr_patience",
        "optimization",
        "Plateau patience",
        "Epochs without a better validation loss before the rate is cut (reduce on plateau).",
        "int",
        low=1,
        high=MAX_EPOCHS,
        wide=True,
    ),
    _p(
        "lr_factor",
        "optimization",
        "Plateau factor",
        "Factor the rate is multiplied by on a plateau (reduce on plateau).",
        "float",
        low=0.0,
        high=1.0,
        low_open=True,
    ),
    _p(
        "warmup_epochs",
        "optimization",
        "Warm-up epochs",
        "Epochs over which the rate grows linearly from near zero; steadies the first updates.",
        "int",
        low=0,
        high=MAX_EPOCHS,
        wide=True,
    ),
    _p(
        "gradient_clip",
        "optimization",
        "Gradient clipping",
        "Largest gradient norm allowed (0 = off); stops single bad batches from exploding.",
        "float",
        low=0.0,
        high=1e6,
        wide=True,
    ),
    # regularization
    _p(
        "dropout",
        "regularization",
        "Dropout",
        "Share of units dropped while training; fights overfitting.",
        "float",
        low=0.0,
        high=0.95,
    ),
    _p(
        "l1",
        "regularization",
        "L1",
        "Penalty on the absolute size of weights; pushes many of them to zero.",
        "float",
        low=0.0,
        high=1.0,
    ),
    _p(
        "l2",
        "regularization",
        "L2",
        "Penalty on the squared size of weights; keeps them small.",
        "float",
        low=0.0,
        high=1.0,
    ),
    _p(
        "label_smoothing",
        "regularization",
        "Label smoothing",
        "Softens one-hot targets so the model is less over-confident.",
        "float",
        low=0.0,
        high=0.5,
    ),
    _p(
        "early_stopping_patience",
        "regularization",
        "Early stopping patience",
        "Stop after this many epochs without improvement and keep the best weights (0 = off).",
        "int",
        low=0,
        high=MAX_EPOCHS,
        wide=True,
    ),
    _p(
        "early_stopping_monitor",
        "regularization",
        "Early stopping watches",
        "The validation metric early stopping and the best weights are judged by.",
        "str",
        {"val_loss": "Validation loss", "val_accuracy": "Validation accuracy"},
    ),
    # architecture
    _p(
        "model",
        "architecture",
        "Model",
        "CNN: report 000's network; ResNet: residual blocks; MLP: dense layers; Transfer: a "
        "pretrained backbone with a new head.",
        "str",
        MODELS,
    ),
    _p(
        "conv_blocks",
        "architecture",
        "Conv blocks",
        "Convolution blocks in the CNN or residual stages in the ResNet: depth.",
        "int",
        low=1,
        high=6,
    ),
    _p(
        "filters",
        "architecture",
        "Filters per block",
        "Convolution filters of each block (the last repeats if there are more blocks).",
        "ints",
        low=1,
        high=2048,
    ),
    _p(
        "kernel_size",
        "architecture",
        "Kernel size",
        "Side of each convolution window.",
        "int",
        low=1,
        high=11,
    ),
    _p(
        "pooling",
        "architecture",
        "Pooling",
        "How each block downsamples.",
        "str",
        {"avg": "Average", "max": "Max"},
    ),
    _p(
        "batch_norm",
        "architecture",
        "Batch normalization",
        "Normalize activations per batch; steadies and speeds up training.",
        "bool",
    ),
    _p(
        "activation",
        "architecture",
        "Activation",
        "Non-linearity of hidden layers.",
        "str",
        {a: a for a in ACTIVATIONS},
    ),
    _p(
        "dense_units",
        "architecture",
        "Dense units",
        "Units of each hidden dense layer.",
        "int",
        low=1,
        high=8192,
    ),
    _p(
        "dense_layers",
        "architecture",
        "Dense layers",
        "Hidden dense layers before the output.",
        "int",
        low=0,
        high=8,
    ),
    _p(
        "initializer",
        "architecture",
        "Weight initializer",
        "How weights start; He suits ReLU, Glorot suits tanh and sigmoid.",
        "str",
        {i: i for i in INITIALIZERS},
    ),
    # transfer
    _p(
        "backbone",
        "transfer",
        "Backbone",
        "The pretrained network under a transfer model.",
        "str",
        BACKBONES,
    ),
    _p(
        "pretrained",
        "transfer",
        "Pretrained weights",
        "Start from ImageNet weights, or from random weights.",
        "str",
        {"imagenet": "ImageNet", "none": "None (random)"},
    ),
    _p(
        "fine_tune_layers",
        "transfer",
        "Fine-tuned layers",
        "Top backbone layers trained along with the head (0 = backbone frozen).",
        "int",
        low=0,
        high=1000,
    ),
    # loss
    _p(
        "loss",
        "optimization",
        "Loss",
        "What training minimizes; focal loss focuses on hard examples.",
        "str",
        LOSSES,
    ),
)

PARAM_BY_KEY: dict[str, Param] = {p.key: p for p in PARAMS}


# What may change when a run is forked, grouped as people look for them.
FORKABLE: dict[str, tuple[str, ...]] = {
    "learning rate": (
        "learning_rate",
        "lr_schedule",
        "lr_decay_rate",
        "lr_decay_steps",
        "lr_patience",
        "lr_factor",
        "warmup_epochs",
    ),
    "optimizer": ("optimizer", "momentum", "nesterov", "weight_decay", "gradient_clip"),
    "training": ("epochs", "batch_size"),
    "regularization": (
        "dropout",
        "l1",
        "l2",
        "label_smoothing",
        "early_stopping_patience",
        "early_stopping_monitor",
    ),
    "augmentation": ("augment",),
}
FORKABLE_KEYS: tuple[str, ...] = tuple(k for keys in FORKABLE.values() for k in keys)

# Fields a message may name that are no run setting: a search's settings and parts.
_OTHER_LABELS = {
    "space": "Search space",
    "tuner": "Tuner",
    "objective": "Objective",
    "direction": "Direction",
    "max_trials": "Max trials",
    "executions_per_trial": "Executions per trial",
    "max_epochs": "Max epochs",
    "factor": "Factor",
    "iterations": "Iterations",
    "min_epochs": "Min epochs before stopping",
    "time_budget_s": "Time budget",
    "keep_top": "Keep the best N models",
    "epoch": "Continue after epoch",
    "--set": "Other changes",
}


def field_label(field: str) -> str:
    """The words a form uses for a field a message names: ``Learning rate`` for
    ``learning_rate``, ``Filters of conv block 1`` for ``filters[0]``; others as they are."""
    if field.startswith("filters[") and field.endswith("]") and field[8:-1].isdigit():
        return f"Filters of conv block {int(field[8:-1]) + 1}"
    if field in PARAM_BY_KEY:
        return PARAM_BY_KEY[field].label
    return _OTHER_LABELS.get(field, field)
