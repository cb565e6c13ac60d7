"""What the app offers, as plain data: built-in datasets, models, losses and optimizers.

This module imports nothing heavy, so the UI process can validate a run and describe a
dataset without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a built-in dataset.

    Attributes:
        name: Key used in run configs.
        title: Name shown to people.
        n_train: Images in the dataset's own training split (before validation is held out).
        n_test: Images in its test split.
        shape: Height, width, channels of one image.
        num_classes: Number of labels.
        files: Files Keras expects under ``KERAS_HOME/datasets/`` (empty when embedded).
        source: Where the files come from, for the offline message.
    """

    name: str
    title: str
    n_train: int
    n_test: int
    shape: tuple[int, int, int]
    num_classes: int
    files: tuple[str, ...] = ()
    source: str = ""


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("digits", "Digits (scikit-learn, 8×8, offline)", 1437, 360, (8, 8, 1), 10),
        DatasetInfo(
            "mnist",
            "MNIST (28×28)",
            60000,
            10000,
            (28, 28, 1),
            10,
            ("mnist.npz",),
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
        ),
        DatasetInfo(
            "fashion_mnist",
            "Fashion-MNIST (28×28)",
            60000,
            10000,
            (28, 28, 1),
            10,
            (
                "fashion-mnist/train-labels-idx1-ubyte.gz",
                "fashion-mnist/train-images-idx3-ubyte.gz",
                "fashion-mnist/t10k-labels-idx1-ubyte.gz",
                "fashion-mnist/t10k-images-idx3-ubyte.gz",
            ),
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        DatasetInfo(
            "cifar10",
            "CIFAR-10 (32×32 colour)",
            50000,
            10000,
            (32, 32, 3),
            10,
            ("cifar-10-batches-py-target_archive",),
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        ),
        DatasetInfo(
            "cifar100",
            "CIFAR-100 (32×32 colour)",
            50000,
            10000,
            (32, 32, 3),
            100,
            ("cifar-100-python-target_archive",),
            "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        ),
    )
}

MODELS: dict[str, str] = {
    "cnn": "CNN",
    "resnet": "ResNet",
    "mlp": "MLP",
    "transfer": "Transfer",
}

LOSSES: dict[str, str] = {
    "sparse_categorical_crossentropy": "Sparse categorical cross-entropy",
    "categorical_crossentropy": "Categorical cross-entropy (one-hot labels)",
    "focal": "Focal loss (one-hot labels)",
}

OPTIMIZERS: dict[str, str] = {
    "adam": "Adam",
    "sgd": "SGD",
    "rmsprop": "RMSprop",
    "adamw": "AdamW",
    "nadam": "Nadam",
    "adagrad": "Adagrad",
}

LR_SCHEDULES = {
    "constant": "Constant",
    "step": "Step decay",
    "exponential": "Exponential decay",
    "cosine": "Cosine decay",
    "reduce_on_plateau": "Reduce on plateau",
}
ACTIVATIONS = ("relu", "elu", "gelu", "swish", "tanh", "sigmoid")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal")
BACKBONES = {
    "mobilenet_v2": "MobileNetV2",
    "xception": "Xception",
    "resnet50": "ResNet50",
    "efficientnet_b0": "EfficientNetB0",
}
# Smallest input side each Keras application accepts.
BACKBONE_MIN_SIZE = {"mobilenet_v2": 32, "xception": 71, "resnet50": 32, "efficientnet_b0": 32}
AUGMENTATIONS = {
    # name: (default strength, unit shown to people, highest strength)
    "flip": (None, "horizontal flip", None),
    "rotation": (15.0, "degrees", 180.0),
    "translation": (0.1, "share of the side", 0.5),
    "zoom": (0.1, "share of the side", 0.9),
    "contrast": (0.2, "factor", 1.0),
    "brightness": (0.2, "factor", 1.0),
}
