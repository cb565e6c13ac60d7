"""The one description of a training run: a frozen, validated, JSON round-trippable config.

The same ``RunConfig`` drives the Train form, the CLI, the worker, the store (by its hash)
and every artifact (a copy is saved beside each model). All validation lives here, so a bad
value gets the same message wherever it comes from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from core.catalog import DATASETS, LOSSES, MODELS, OPTIMIZERS


class ConfigError(ValueError):
    """A config value a person has to change; ``field`` names it and the message says how."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what one training run does.

    Attributes:
        dataset: A built-in dataset key (see ``core.catalog.DATASETS``).
        validation_split: Share of the training split held out, stratified, for validation.
        model: ``cnn`` or ``mlp``.
        loss: Loss function key.
        optimizer: Optimizer key.
        learning_rate: Initial learning rate.
        batch_size: Samples per optimizer update.
        epochs: Passes over the training data.
        dropout: Dropout rate before the last layer, in [0, 1).
        early_stopping_patience: Epochs without a better ``val_loss`` before stopping
            (0 turns early stopping off); the best weights are restored.
        seed: Seed for the split, the initial weights and the shuffling.
    """

    dataset: str = "digits"
    validation_split: float = 0.2
    model: str = "cnn"
    loss: str = "sparse_categorical_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 10
    dropout: float = 0.3
    early_stopping_patience: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _coerce(f.name, f.type, value))
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict of JSON-compatible values."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Return canonical JSON (sorted keys), the form that is hashed and saved."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build a config from a dict, rejecting unknown keys.

        Raises:
            ConfigError: naming the first key that is unknown or invalid.
        """
        if not isinstance(data, dict):
            raise ConfigError("config", "must be a JSON object of key: value pairs.")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(
                    str(key), f"unknown setting; known settings are: {', '.join(sorted(known))}."
                )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """Build a config from JSON text.

        Raises:
            ConfigError: if the text is not valid JSON or a value is invalid.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                "config", f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
            ) from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with some values changed (validated like any other config)."""
        return self.from_dict({**self.to_dict(), **changes})

    def config_hash(self) -> str:
        """Return a stable 12-character hash of the config (same values, same hash)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    @property
    def train_size(self) -> int:
        """Images left for training once the validation share is held out."""
        n = DATASETS[self.dataset].n_train
        return n - math.ceil(n * self.validation_split)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a ``key=value`` string from the command line.

    The value is read as JSON when it parses (numbers, booleans), else kept as a string.

    Raises:
        ConfigError: if there is no ``=`` or the key is unknown.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", f"expected key=value, got {text!r}.")
    if key not in {f.name for f in fields(RunConfig)}:
        raise ConfigError(key, "unknown setting.")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw.strip()
    return key, value


_LABELS = {
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "validation_split": "validation split",
    "early_stopping_patience": "early stopping patience",
}


def _coerce(name: str, kind: str, value: Any) -> Any:
    """Return ``value`` as the field's type, or raise a ConfigError that says what was wrong."""
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, f"must be a non-empty text value (got {value!r}).")
        return value.strip()
    if isinstance(value, bool):
        raise ConfigError(name, f"must be a number, not {value!r}.")
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ConfigError(name, f"must be a whole number (got {value!r}).")
        return value
    if kind == "float":
        if not isinstance(value, (int, float)):
            raise ConfigError(name, f"must be a number (got {value!r}).")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number (got {value!r}).")
        return value
    raise AssertionError(f"unhandled field type {kind}")  # pragma: no cover


def _choice(name: str, value: str, options: dict[str, Any]) -> None:
    if value not in options:
        raise ConfigError(name, f"unknown value {value!r}; choose one of: {', '.join(options)}.")


def _at_least(name: str, value: float, low: float, hint: str) -> None:
    if value < low:
        raise ConfigError(name, f"{_LABELS.get(name, name)} must be {hint} (got {value:g}).")


def _validate(cfg: RunConfig) -> None:
    _choice("dataset", cfg.dataset, DATASETS)
    _choice("model", cfg.model, MODELS)
    _choice("loss", cfg.loss, LOSSES)
    _choice("optimizer", cfg.optimizer, OPTIMIZERS)
    if not 0.0 < cfg.validation_split < 0.9:
        raise ConfigError(
            "validation_split",
            f"validation split must be above 0 and below 0.9 (got {cfg.validation_split:g}).",
        )
    if cfg.learning_rate <= 0 or cfg.learning_rate > 1e6:
        raise ConfigError(
            "learning_rate",
            f"learning rate must be above 0 and at most 1e6 (got {cfg.learning_rate:g}); "
            "1e-3 is a good start for Adam.",
        )
    info = DATASETS[cfg.dataset]
    n_val, classes = info.n_train - cfg.train_size, info.num_classes
    if n_val < classes:
        lowest = math.ceil(classes / info.n_train * 100) / 100
        raise ConfigError(
            "validation_split",
            f"validation split {cfg.validation_split:g} keeps only {n_val} validation images "
            f"for {classes} classes; use at least {lowest:g}.",
        )
    _at_least("epochs", cfg.epochs, 1, "1 or more")
    if cfg.epochs > 10_000:
        raise ConfigError("epochs", f"epochs must be at most 10,000 (got {cfg.epochs}).")
    _at_least("batch_size", cfg.batch_size, 1, "1 or more")
    if cfg.batch_size > cfg.train_size:
        raise ConfigError(
            "batch_size",
            f"batch size {cfg.batch_size} is larger than the training set "
            f"({cfg.train_size} images of {cfg.dataset} after the validation split); "
            f"use at most {cfg.train_size}.",
        )
    if not 0.0 <= cfg.dropout < 1.0:
        raise ConfigError(
            "dropout", f"dropout must be at least 0 and below 1 (got {cfg.dropout:g})."
        )
    _at_least("early_stopping_patience", cfg.early_stopping_patience, 0, "0 (off) or more")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError("seed", f"seed must be between 0 and 4294967295 (got {cfg.seed}).")
