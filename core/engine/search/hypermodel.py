"""The keras-tuner HyperModel of a search: ``hp`` values become a ``RunConfig``, then a model.

Each trial's model is built and compiled the way a single run is
(``core.engine.models.build_model``, ``core.engine.optim.compile_model``) and trained on the same
``tf.data`` pipeline (``core.engine.pipeline.make_dataset``), so a trial and a run with the same
config train alike. The data splits are loaded once per process for each image size a search uses.
This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from core.engine import optim
from core.engine.datasets import Splits, load_splits
from core.engine.models import build_model
from core.engine.pipeline import make_dataset
from core.engine.training import make_deterministic
from core.spec.config import RunConfig
from core.spec.search_space import (
    Dimension,
    SearchSettings,
    SearchSpace,
    trial_config,
)


def declare(hp: kt.HyperParameters, dim: Dimension) -> None:
    """Declare one searched dimension on ``hp`` with keras-tuner's own hyperparameter types."""
    if dim.kind == "choice":
        hp.Choice(dim.key, list(dim.values))
    elif dim.kind == "int":
        hp.Int(
            dim.key,
            int(dim.low),
            int(dim.high),
            step=int(dim.step or 1),
            sampling="log" if dim.log else "linear",
        )
    elif dim.kind == "float":
        hp.Float(dim.key, dim.low, dim.high, step=dim.step, sampling="log" if dim.log else "linear")


class SearchHyperModel(kt.HyperModel):
    """Builds and trains the model of one trial of a search.

    Args:
        base: The config every trial starts from.
        space: What varies.
        settings: The tuner settings (early stopping reaches every trial's config).
        root: The cache folder (datasets, pretrained weights).
    """

    def __init__(
        self, base: RunConfig, space: SearchSpace, settings: SearchSettings, root: Path
    ) -> None:
        super().__init__(name="search", tunable=True)
        self.base = base
        self.space = space
        self.settings = settings
        self.root = root
        self._splits: dict[tuple[Any, ...], Splits] = {}

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Declare every searched dimension (keras-tuner calls this before the first trial)."""
        for dim in self.space.searched:
            declare(hp, dim)

    def config(self, hp: kt.HyperParameters) -> RunConfig:
        """The full run config of the trial whose values ``hp`` holds."""
        return trial_config(self.space, self.settings, self.base, dict(hp.values))

    def splits(self, cfg: RunConfig) -> Splits:
        """The train, validation and test splits for a config (loaded once per image size)."""
        key = (cfg.dataset, cfg.validation_split, cfg.seed, cfg.img_size)
        if key not in self._splits:
            self._splits[key] = load_splits(*key[:3], self.root, cfg.img_size)
        return self._splits[key]

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """A compiled model for the trial's config."""
        self.declare_hyperparameters(hp)
        cfg = self.config(hp)
        splits = self.splits(cfg)
        make_deterministic(cfg.seed)
        model = build_model(
            cfg, splits.input_shape, splits.num_classes, x_sample=splits.x_train, root=self.root
        )
        optim.compile_model(model, cfg, self.steps(cfg), splits.num_classes)
        return model

    def steps(self, cfg: RunConfig) -> int:
        """Batches per epoch."""
        return math.ceil(len(self.splits(cfg).x_train) / cfg.batch_size)

    def data(self, cfg: RunConfig, part: str, batch: int | None = None) -> Any:
        """The ``tf.data`` pipeline of one split (``train``, ``val`` or ``test``)."""
        splits = self.splits(cfg)
        x, y = {
            "train": (splits.x_train, splits.y_train),
            "val": (splits.x_val, splits.y_val),
            "test": (splits.x_test, splits.y_test),
        }[part]
        labels = optim.prepare_labels(y, cfg, splits.num_classes)
        training = part == "train"
        return make_dataset(
            x, labels, batch or cfg.batch_size, cfg.seed, cfg.augment, training=training
        )

    def fit(
        self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any
    ) -> keras.callbacks.History:
        """Train the trial's model; keras-tuner passes the callbacks, and Hyperband the epochs."""
        cfg = self.config(hp)
        callbacks = list(kwargs.get("callbacks", []))
        history = model.fit(
            self.data(cfg, "train"),
            validation_data=self.data(cfg, "val"),
            epochs=int(kwargs.get("epochs") or cfg.epochs),
            initial_epoch=int(kwargs.get("initial_epoch") or 0),
            shuffle=False,  # the dataset shuffles itself, seeded
            callbacks=[*callbacks, *optim.callbacks(cfg, self.steps(cfg))],
            verbose=0,
        )
        return history


def best_value(values: list[float], direction: str) -> float | None:
    """The best finite value of a metric's epochs, or None."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None
    return float(max(finite) if direction == "max" else min(finite))
