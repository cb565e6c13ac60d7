"""The keras-tuner HyperModel of a search: ``hp`` values become a ``RunConfig``, then a model.

Each execution of a trial goes through the same pieces as a single run
(``core.engine.executor``): the same splits, a model built, compiled and checked against the
memory cap the same way, the same epoch-seeded ``tf.data`` pipeline and the same callbacks (the
epoch recorder, a checkpoint per epoch, TensorBoard logs), so a trial and a run with the same
config train alike. The data splits are loaded once per process for each image size a search
uses.
This module imports TensorFlow; only worker processes use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from core.engine import checkpoints, devices, optim
from core.engine.executor import (
    EpochRecorder,
    compiled_model,
    dataset,
    load_data,
    standard_callbacks,
    steps_per_epoch,
)
from core.engine.loading.datasets import Splits
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


@dataclass
class Execution:
    """What the tuner gives one execution of a trial: where its epochs, checkpoints and logs go.

    Attributes:
        number: Which execution of the trial (0 for the first); it trains with the trial's
            seed plus this number, so executions differ in their initial weights, batch order
            and augmentation, as keras-tuner's repeated executions are meant to.
        recorder: The execution's epoch writer (rows numbered from ``recorder.offset``).
        checkpoints: The trial's checkpoint folder, or None where none is kept (a tuner
            working for a chief on another machine).
        logs: Its TensorBoard folder, or None.
    """

    number: int
    recorder: EpochRecorder
    checkpoints: Path | None
    logs: Path | None


class SearchHyperModel(kt.HyperModel):
    """Builds and trains the model of one trial of a search, the way a single run trains.

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
        self._splits: dict[tuple[Any, ...], tuple[Splits, tuple[Any, ...]]] = {}
        self.execution = 0  # the execution being built: the tuner sets it before each one

    def declare_hyperparameters(self, hp: kt.HyperParameters) -> None:
        """Declare every searched dimension (keras-tuner calls this before the first trial)."""
        for dim in self.space.searched:
            declare(hp, dim)

    def config(self, hp: kt.HyperParameters) -> RunConfig:
        """The full run config of the trial whose values ``hp`` holds."""
        return trial_config(self.space, self.settings, self.base, dict(hp.values))

    def execution_config(self, hp: kt.HyperParameters, execution: int) -> RunConfig:
        """The config one execution of the trial trains with: its seed plus the execution; in
        a cross-validated search the same seed (execution n trains fold n, see ``splits``)."""
        cfg = self.config(hp)
        return cfg if execution == 0 or cfg.folds > 1 else cfg.replace(seed=cfg.seed + execution)

    def splits(self, cfg: RunConfig) -> Splits:
        """The train, validation and test splits for a config (loaded once per image size)."""
        return self._loaded(cfg)[0]

    def data_key(self, cfg: RunConfig) -> tuple[Any, ...]:
        """The key naming a config's splits in its ``config.json``."""
        return self._loaded(cfg)[1]

    def _loaded(self, cfg: RunConfig) -> tuple[Splits, tuple[Any, ...]]:
        # In a cross-validated search the execution being built or trained is the fold held
        # out; only that fold's splits are held.
        fold = self.execution if cfg.folds > 1 else None
        key = (cfg.dataset, cfg.validation_split, cfg.seed, cfg.img_size, fold)
        if key not in self._splits:
            if fold is not None:
                self._splits.clear()
            self._splits[key] = load_data(cfg, self.root, fold=fold)
        return self._splits[key]

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """A compiled model for the trial's config, refused if a step cannot fit in memory."""
        self.declare_hyperparameters(hp)
        cfg = self.execution_config(hp, self.execution)
        return compiled_model(cfg, self.splits(cfg), self.root)

    def steps(self, cfg: RunConfig) -> int:
        """Batches per epoch."""
        return steps_per_epoch(cfg, self.splits(cfg))

    def data(self, cfg: RunConfig, part: str, batch: int | None = None) -> Any:
        """The ``tf.data`` pipeline of one split (``train``, ``val`` or ``test``)."""
        return dataset(cfg, self.splits(cfg), part, batch)

    def fit(
        self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any
    ) -> keras.callbacks.History:
        """Train one execution of the trial's model, as a single run of its config trains.

        keras-tuner passes its callbacks, and Hyperband the epochs; the tuner passes the
        ``execution`` (:class:`Execution`). An execution stopped mid-way (a time budget, a
        killed worker) goes on from the checkpoint of its last finished epoch.
        """
        execution: Execution | None = kwargs.get("execution")
        cfg = self.execution_config(hp, execution.number if execution else self.execution)
        splits = self.splits(cfg)
        steps = self.steps(cfg)
        end = int(kwargs.get("epochs") or cfg.epochs)
        start = int(kwargs.get("initial_epoch") or 0)
        if execution is None:  # no store to report to: optimization callbacks only
            extra = optim.callbacks(cfg, steps)
        else:
            offset = execution.recorder.offset
            if execution.checkpoints is not None:
                row = checkpoints.restore_latest(
                    model, execution.checkpoints, offset + start, offset + end
                )
                if row is not None:  # weights, optimizer state and step count restored
                    start = row - offset + 1
            extra = standard_callbacks(
                cfg, steps, execution.recorder, execution.checkpoints, execution.logs
            )
        with devices.determinism_errors():  # an op without a deterministic kernel: one line
            return model.fit(
                # Epoch e's order and augmentations depend on (seed, e) only, as in a single run.
                dataset(cfg, splits, "train", span=(start, end)),
                validation_data=dataset(cfg, splits, "val"),
                epochs=end,
                initial_epoch=start,
                steps_per_epoch=steps,
                shuffle=False,  # the dataset shuffles itself, seeded
                callbacks=[*kwargs.get("callbacks", []), *extra],
                verbose=0,
            )


def best_value(values: list[float], direction: str) -> float | None:
    """The best finite value of a metric's epochs, or None."""
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None
    return float(max(finite) if direction == "max" else min(finite))
