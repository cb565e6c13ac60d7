"""The one description of a training run: a frozen, validated, JSON round-trippable config.

The same ``RunConfig`` drives the Train form, the CLI, the worker, the store (by its hash)
and every artifact (a copy is saved beside each model). All validation lives here, so a bad
value gets the same message wherever it comes from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from core.spec.blocks import blocks_problem, filters_problem
from core.spec.catalog import (
    AUGMENTATIONS,
    BACKBONE_MIN_SIZE,
    BACKBONES,
    DATASETS,
    DatasetInfo,
)
from core.spec.params import PARAM_BY_KEY
from core.spec.quoting import shown_value

# Whole numbers beyond this are refused before any range check (which compares them as floats).
_LARGEST_INT = 2**63
# A saved config.json also records how the run came about (seed, data, library versions) under
# this key (core.data.fingerprint); reading the file back ignores it.
PROVENANCE_KEY = "provenance"


class ConfigError(ValueError):
    """A config value a person has to change; ``field`` names it and the message says how.

    Where several values of one submission are wrong, the first is raised and carries the
    others in ``more``, so a form can mark every one of them at once. ``unusable`` says the
    value itself cannot be used (of the wrong type or out of its range), rather than not
    going with the others.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.more: tuple[ConfigError, ...] = ()
        self.unusable = False

    @property
    def problems(self) -> tuple[ConfigError, ...]:
        """This problem and the others found with it, in the order of the form."""
        return (self, *self.more)


def joined(problems: Sequence[ConfigError]) -> ConfigError:
    """The first of several problems, carrying the rest (see ``ConfigError.more``)."""
    first, *rest = problems
    first.more = tuple(rest)
    return first


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what one training run does.

    Every field is described (group, label, help, range) in ``core.spec.params.PARAMS``; the
    essentials:

    Attributes:
        dataset: A built-in dataset key (see ``core.spec.catalog.DATASETS``), or the path of a
            folder of class folders (absolute once launched, see
            ``core.data.checks.check_config``).
        validation_split: Share of the training split held out, stratified, for validation.
        model: ``cnn``, ``resnet``, ``mlp`` or ``transfer``.
        loss: Loss function key.
        optimizer: Optimizer key.
        learning_rate: Initial learning rate.
        batch_size: Samples per optimizer update.
        epochs: Passes over the training data.
        dropout: Dropout rate before the output layer.
        early_stopping_patience: Epochs without improvement of ``early_stopping_monitor``
            before stopping (0 turns early stopping off); the best weights are restored.
        seed: Seed for the split, the initial weights and the shuffling.
        deterministic: Whether TensorFlow's ops run deterministically.
        precision: The Keras dtype policy the model is built under.
        jit_compile: ``auto``, ``on`` or ``off``: XLA compilation of the training step.
        steps_per_execution: Batches per call of the training function (0: auto).
    """

    # data
    dataset: str = "digits"
    validation_split: float = 0.2
    augment: tuple[str, ...] = ()
    normalization: str = "rescale"
    img_size: int = 0
    # training
    epochs: int = 10
    batch_size: int = 64
    folds: int = 1
    seed: int = 0
    deterministic: bool = True
    precision: str = "float32"
    jit_compile: str = "auto"
    steps_per_execution: int = 0
    # optimization
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    lr_decay_rate: float = 0.5
    lr_decay_steps: int = 10
    lr_patience: int = 2
    lr_factor: float = 0.5
    warmup_epochs: int = 0
    gradient_clip: float = 0.0
    loss: str = "sparse_categorical_crossentropy"
    # regularization
    dropout: float = 0.3
    l1: float = 0.0
    l2: float = 0.0
    label_smoothing: float = 0.0
    early_stopping_patience: int = 0
    early_stopping_monitor: str = "val_loss"
    # architecture
    model: str = "cnn"
    conv_blocks: int = 2
    filters: tuple[int, ...] = (16, 64)
    kernel_size: int = 3
    pooling: str = "avg"
    batch_norm: bool = True
    activation: str = "relu"
    dense_units: int = 256
    dense_layers: int = 1
    initializer: str = "glorot_uniform"
    # transfer
    backbone: str = "mobilenet_v2"
    pretrained: str = "imagenet"
    fine_tune_layers: int = 0

    def __post_init__(self) -> None:
        problems = _settle(self)
        if problems:
            raise joined(problems)

    def to_dict(self) -> dict[str, Any]:
        """Return the config as a plain dict of JSON-compatible values (lists for tuples)."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def to_json(self) -> str:
        """Return canonical JSON (sorted keys), the form that is hashed and saved."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build a config from a dict, rejecting unknown keys.

        A ``provenance`` entry (what a saved ``config.json`` records besides the config: seed,
        data fingerprint, library versions; ``core.data.fingerprint``) is ignored, so the file
        reads back as the config that made it.

        Raises:
            ConfigError: naming the first key that is unknown or invalid, with every other
                problem found in ``more``.
        """
        if not isinstance(data, dict):
            raise ConfigError("config", "must be a JSON object of key: value pairs.")
        cfg, problems = cls.checked(data)
        if problems:
            raise joined(problems)
        return cfg

    @classmethod
    def checked(cls, data: dict[str, Any]) -> tuple[RunConfig, list[ConfigError]]:
        """Build a config from a form's values, finding every problem instead of the first.

        Returns:
            The config, with each value that has a problem replaced by its default, and the
            problems in the order of the form (empty when the values make a valid config).
        """
        known = {f.name: f for f in fields(cls)}
        problems = [
            ConfigError(
                str(key), f"unknown setting; known settings are: {', '.join(sorted(known))}."
            )
            for key in data
            if key not in known and key != PROVENANCE_KEY
        ]
        cfg = object.__new__(cls)
        for name, f in known.items():
            object.__setattr__(cfg, name, data[name] if name in data else _default(f))
        return cfg, problems + _settle(cfg)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        """Build a config from JSON text, such as a saved ``config.json`` (see ``from_dict``).

        Raises:
            ConfigError: if the text is not valid JSON or a value is invalid.
        """
        return cls.from_dict(load_json(text, "config"))

    def replace(self, **changes: Any) -> RunConfig:
        """Return a copy with some values changed (validated like any other config)."""
        return self.from_dict({**self.to_dict(), **changes})

    def config_hash(self) -> str:
        """Return a stable 12-character hash of the config (same values, same hash)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]

    def train_images(self, n_train: int) -> int:
        """Images left for training out of a dataset's ``n_train`` once validation is held out.

        One fold's, with k folds. ``core.data.checks.train_size`` looks ``n_train`` up.
        """
        held_out = 1 / self.folds if self.folds > 1 else self.validation_split
        return n_train - math.ceil(n_train * held_out)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a ``key=value`` string from the command line.

    The value is read by ``parse_value``: JSON when it parses (numbers, booleans), else text.

    Raises:
        ConfigError: if there is no ``=`` or the key is unknown.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError("--set", f"expected key=value, got {shown_value(text)}.")
    if key not in {f.name for f in fields(RunConfig)}:
        raise ConfigError(key, "unknown setting.")
    return key, parse_value(raw)


def parse_value(text: str) -> Any:
    """Read a value a person typed: as JSON when it parses, else as the text, stripped.

    ``3`` is 3, ``1e-4`` is 0.0001, ``true`` is True and ``[16, 32]`` a list; ``sgd`` stays
    ``"sgd"``. The command line's ``--set``, a sweep's values and a search's choices all read
    their values this way.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or digits or nesting past Python's limits
        return text.strip()


def load_json(text: str, field: str, source: str = "") -> Any:
    """Parse JSON text a person wrote, such as a config or a search space.

    Args:
        text: The JSON text.
        field: The field a refusal names (``config``, ``space``).
        source: Where the text came from (a file name), said in the message.

    Raises:
        ConfigError: naming ``field`` (and ``source``) when the text is not JSON, nests deeper
            than Python parses, or holds a whole number longer than Python reads.
    """
    what = f"{source} " if source else ""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            field, f"{what}is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    except RecursionError:
        raise ConfigError(field, f"{what}nests lists or objects too deeply to read.") from None
    except ValueError:  # Python's cap on the digits of a whole number it converts from text
        raise ConfigError(
            field,
            f"{what}holds a number of more than {sys.get_int_max_str_digits():,} digits.",
        ) from None


def _coerce(name: str, kind: str, value: Any) -> Any:
    """Return ``value`` as the field's type, or raise a ConfigError that says what was wrong."""
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, f"must be a non-empty text value (got {shown_value(value)}).")
        return value.strip()
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(name, f"must be true or false (got {shown_value(value)}).")
        return value
    if kind.startswith("tuple"):
        return _coerce_list(name, "int" if "int" in kind else "str", value)
    if isinstance(value, bool):
        raise ConfigError(name, f"must be a number, not {shown_value(value)}.")
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ConfigError(name, f"must be a whole number (got {shown_value(value)}).")
        if abs(value) > _LARGEST_INT:
            raise ConfigError(name, f"is far too large (more than {_LARGEST_INT:.3g}).")
        return value
    if kind == "float":
        if not isinstance(value, (int, float)):
            raise ConfigError(name, f"must be a number (got {shown_value(value)}).")
        if isinstance(value, int) and abs(value) > _LARGEST_INT:
            raise ConfigError(name, f"is far too large (more than {_LARGEST_INT:.3g}).")
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number (got {shown_value(value)}).")
        return value
    raise AssertionError(f"unhandled field type {kind}")  # pragma: no cover


def _coerce_list(name: str, item_kind: str, value: Any) -> tuple:
    """A list, tuple or comma-separated text of items, as a tuple (one whole number: one item)."""
    if item_kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        value = [value]  # ``--set filters=16`` reads 16 as a number
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise ConfigError(name, f"must be a list (got {shown_value(value)}).")
    items = []
    for item in value:
        if item_kind == "int" and isinstance(item, str) and item.strip().lstrip("-").isdigit():
            with contextlib.suppress(ValueError):  # too many digits: refused as text below
                item = int(item)
        items.append(_coerce(name, item_kind, item))
    return tuple(items)


def _canonical_augment(entries: tuple[str, ...]) -> tuple[str, ...]:
    """``("flip", "rotation:15")``: known names, strengths in range, each name once."""
    seen: dict[str, str] = {}
    for entry in entries:
        name, _, raw = entry.partition(":")
        name = name.strip().lower()
        if name not in AUGMENTATIONS:
            raise ConfigError(
                "augment",
                f"unknown augmentation {shown_value(name)}; "
                f"choose from: {', '.join(AUGMENTATIONS)}.",
            )
        if name in seen:
            raise ConfigError("augment", f"{name} is listed twice.")
        default, unit, high = AUGMENTATIONS[name]
        if default is None:
            if raw.strip():
                raise ConfigError("augment", f"{name} takes no strength (got {shown_value(raw)}).")
            seen[name] = name
            continue
        try:
            strength = float(raw) if raw.strip() else default
        except ValueError:
            raise ConfigError(
                "augment", f"{name} strength must be a number (got {shown_value(raw)})."
            ) from None
        if not 0 < strength <= high:
            raise ConfigError(
                "augment",
                f"{name} strength must be above 0 and at most {high:g} {unit} (got {strength:g}).",
            )
        seen[name] = f"{name}:{strength:g}"
    return tuple(seen.values())


def _choice(name: str, value: str, options: dict[str, Any]) -> None:
    if value not in options:
        raise ConfigError(
            name, f"unknown value {shown_value(value)}; choose one of: {', '.join(options)}."
        )


def _default(f: dataclasses.Field) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def _settle(cfg: RunConfig) -> list[ConfigError]:
    """Put each value in its field's type and check the whole; return every problem found.

    A value that cannot be read, or is out of its range, is replaced by its default and the
    checks that combine it with other values are left out, so no message rests on a value
    the person did not give.
    """
    problems = []
    for f in fields(cfg):
        try:
            value = _coerce(f.name, f.type, getattr(cfg, f.name))
            problem = PARAM_BY_KEY[f.name].check(value) if f.name in PARAM_BY_KEY else None
            if problem:
                raise ConfigError(f.name, problem)
            if f.name == "augment":
                value = _canonical_augment(value)
        except ConfigError as exc:
            exc.unusable = True
            problems.append(exc)
            value = _default(f)
        object.__setattr__(cfg, f.name, value)
    return problems + _combined_problems(cfg, {p.field for p in problems})


def _combined_problems(cfg: RunConfig, flagged: set[str]) -> list[ConfigError]:
    """The problems of values that are each fine but do not go together."""
    problems = []

    def clear(*keys: str) -> bool:
        return not flagged.intersection(keys)

    if clear("warmup_epochs", "epochs") and cfg.warmup_epochs and cfg.warmup_epochs >= cfg.epochs:
        # The rate would never reach learning_rate: the run would train at a fraction of it.
        problems.append(
            ConfigError(
                "warmup_epochs",
                f"the warm-up must end before the last epoch: use fewer warm-up epochs than "
                f"epochs ({cfg.warmup_epochs} warm-up, {cfg.epochs} epochs).",
            )
        )
    if clear("jit_compile", "deterministic") and cfg.jit_compile == "on" and cfg.deterministic:
        # Keras compiles without XLA while op determinism is on (not every XLA op has a
        # deterministic form), so the run would silently train without it.
        problems.append(
            ConfigError(
                "jit_compile",
                "XLA compilation needs Deterministic ops off (Keras turns XLA off while ops "
                "are deterministic); set deterministic=off, or XLA compilation to auto or off.",
            )
        )
    if clear("filters"):
        if not cfg.filters:
            problems.append(ConfigError("filters", "give at least one filter count, e.g. 16,64."))
        elif clear("model", "conv_blocks"):
            unused = filters_problem(cfg.model, cfg.conv_blocks, cfg.filters)
            if unused:
                problems.append(ConfigError("filters", unused))
    if clear("dataset") and cfg.dataset in DATASETS:  # a built-in dataset: no disk needed
        problems += against_problems(cfg, DATASETS[cfg.dataset], flagged)
    return problems


def check_against(cfg: RunConfig, info: DatasetInfo) -> None:
    """Check the settings that depend on the dataset's size, classes and image shape.

    Built-in datasets are checked when a config is built; a folder is checked when a run on it
    is launched (``core.data.checks.check_config``), once it has been read.

    Raises:
        ConfigError: naming the field to change, with any other problem in ``more``.
    """
    problems = against_problems(cfg, info)
    if problems:
        raise joined(problems)


def against_problems(
    cfg: RunConfig, info: DatasetInfo, flagged: Iterable[str] = ()
) -> list[ConfigError]:
    """Every problem :func:`check_against` finds, leaving out checks of ``flagged`` fields."""
    flagged = set(flagged)
    problems = []
    n_train = cfg.train_images(info.n_train)
    n_val, classes = info.n_train - n_train, info.num_classes
    if "validation_split" not in flagged and n_val < classes:
        lowest = math.ceil(classes / info.n_train * 100) / 100
        problems.append(
            ConfigError(
                "validation_split",
                f"validation split {cfg.validation_split:g} keeps only {n_val} validation "
                f"images for {classes} classes; use at least {lowest:g}.",
            )
        )
    if not flagged & {"batch_size", "validation_split"} and cfg.batch_size > n_train:
        problems.append(
            ConfigError(
                "batch_size",
                f"batch size {cfg.batch_size} is larger than the training set "
                f"({n_train} images of {cfg.dataset} after the validation split); "
                f"use at most {n_train}.",
            )
        )
    height, width = (cfg.img_size, cfg.img_size) if cfg.img_size else info.shape[:2]
    if not flagged & {"model", "conv_blocks", "img_size"}:
        too_deep = blocks_problem(cfg.model, cfg.conv_blocks, height, width)
        if too_deep:
            problems.append(ConfigError("conv_blocks", too_deep))
    if cfg.model == "transfer" and not flagged & {"model", "backbone", "img_size"}:
        side = cfg.img_size or min(info.shape[:2])
        need = BACKBONE_MIN_SIZE[cfg.backbone]
        if side < need:
            problems.append(
                ConfigError(
                    "img_size",
                    f"{BACKBONES[cfg.backbone]} needs images of at least {need} pixels a side; "
                    f"set image size to {need} or more.",
                )
            )
    return problems
