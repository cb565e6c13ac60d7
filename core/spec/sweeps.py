"""Sweeps: vary one hyperparameter (or two, as a grid) from a base config, with repeats.

A sweep is one study of kind ``sweep`` whose trials are ordinary queued runs, one config each,
so the worker trains them in order and they stream live like any run. What was swept lives in
the study's spec (``SweepSpec.to_dict``): the keys, their values, the repeats, the base config
and, for each trial number, which values it trained and which repeat it is. Pages and the CLI
group trials by that, never by re-reading configs (a scaled learning rate would hide the value).

Repeats train the same values with the seeds ``base.seed``, ``base.seed + 1``, ... The first
repeat of every value runs before any second repeat, so every curve appears early.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from core.spec.config import ConfigError, RunConfig, parse_value
from core.spec.params import PARAM_BY_KEY
from core.spec.plan import Plan

SWEEP_KIND = "sweep"
MAX_REPEATS = 10
MAX_KEYS = 2
MAX_TRIALS = 200
# Keys a sweep does not vary: seeds are what repeats vary, folds number the trials of a study.
NOT_SWEPT = ("seed", "folds")
# Report 003's batch sizes (CIFAR-10, 50,000 training images); defaults are scaled from these.
REPORT_BATCH_SIZES = (20, 100, 1000, 10000)
DEFAULT_VALUE_COUNT = 5


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep varies, kept in its study's spec.

    Attributes:
        keys: The swept config keys (one, or two for a grid).
        values: For each key, its values in the order given (already of the key's type).
        repeats: Runs per combination of values, each with its own seed.
        scale_lr: Scale the learning rate with the batch size (the linear scaling rule):
            ``lr = base lr × batch size / base batch size``.
        base: The base config every run starts from.
        cells: For each trial number, the index of its value of each key.
        seeds: For each trial number, its repeat (0-based).
    """

    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]
    repeats: int
    scale_lr: bool
    base: dict[str, Any]
    cells: tuple[tuple[int, ...], ...]
    seeds: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-compatible data (what the study stores)."""
        return {
            "sweep": {
                "keys": list(self.keys),
                "values": [list(v) for v in self.values],
                "repeats": self.repeats,
                "scale_lr": self.scale_lr,
                "base": self.base,
                "cells": [list(c) for c in self.cells],
                "seeds": list(self.seeds),
            }
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any]) -> SweepSpec | None:
        """Read a study's spec; None when the study is not a sweep."""
        data = spec.get("sweep") if isinstance(spec, dict) else None
        if not data:
            return None
        return cls(
            keys=tuple(data["keys"]),
            values=tuple(tuple(_freeze(v) for v in vals) for vals in data["values"]),
            repeats=int(data["repeats"]),
            scale_lr=bool(data.get("scale_lr")),
            base=dict(data["base"]),
            cells=tuple(tuple(c) for c in data["cells"]),
            seeds=tuple(data["seeds"]),
        )

    def cell_values(self, cell: tuple[int, ...]) -> tuple[Any, ...]:
        """The values of a cell (one per key)."""
        return tuple(self.values[i][j] for i, j in enumerate(cell))

    def label(self, cell: tuple[int, ...]) -> str:
        """How a cell is named on charts: ``64`` or ``adam · 0.01``."""
        return " · ".join(format_value(v) for v in self.cell_values(cell))

    def all_cells(self) -> list[tuple[int, ...]]:
        """Every combination of value indexes, in plan order."""
        return list(itertools.product(*(range(len(v)) for v in self.values)))

    @property
    def title(self) -> str:
        """``Batch size`` or ``Optimizer × Learning rate``."""
        return " × ".join(param_label(k) for k in self.keys)


def param_label(key: str) -> str:
    """The label people see for a config key."""
    param = PARAM_BY_KEY.get(key)
    return param.label if param else key


def format_value(value: Any) -> str:
    """A value as people write it: ``0.001``, ``adam``, ``16, 64``, ``on``."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def sweepable_keys() -> list[str]:
    """The config keys a sweep may vary, in the parameter table's order."""
    return [k for k in PARAM_BY_KEY if k not in NOT_SWEPT and k != "dataset"]


def split_values(text: str) -> list[str]:
    """Split a values list typed by a person: by ``;`` if there is one, else by ``,``.

    Lists of lists (filters ``16,64; 32,128``) need the semicolons.
    """
    separator = ";" if ";" in text else ","
    return [part.strip() for part in text.split(separator) if part.strip()]


def parse_values(key: str, text: str | list[Any], base: RunConfig) -> tuple[Any, ...]:
    """Read and check the values of one swept key, each as the key's type.

    Args:
        key: The config key.
        text: ``20, 100, 1000`` (see ``split_values``) or a list of values.
        base: The base config; each value must make a valid config with it.

    Returns:
        The values, converted (``"1e-3"`` becomes 0.001), in the order given.

    Raises:
        ConfigError: naming ``key`` when the list is empty, a value is invalid, or a value
            appears twice.
    """
    if key not in PARAM_BY_KEY or key == "dataset":
        raise ConfigError(key, f"cannot be swept; choose one of: {', '.join(sweepable_keys())}.")
    if key in NOT_SWEPT:
        why = "use repeats to vary the seed" if key == "seed" else "set folds on the Train page"
        raise ConfigError(key, f"cannot be swept: {why}.")
    raw = split_values(text) if isinstance(text, str) else list(text)
    if not raw:
        raise ConfigError(key, "give at least one value to try, e.g. 20, 100, 1000.")
    if len(raw) > MAX_TRIALS:  # each value is a run: refused before checking each one
        raise ConfigError(
            key, f"{len(raw):,} values is too many for one sweep (at most {MAX_TRIALS} runs)."
        )
    seen: dict[Any, str] = {}
    out = []
    for item in raw:
        value = parse_value(item) if isinstance(item, str) else item
        try:
            cfg = base.replace(**{key: value})
        except ConfigError as exc:
            raise ConfigError(key, f"value {format_value(item)!r}: {_lower(exc.message)}") from None
        value = getattr(cfg, key)
        if value in seen:
            raise ConfigError(
                key, f"{format_value(value)} is listed twice ({seen[value]!r}, {item!r})."
            )
        seen[value] = str(item)
        out.append(value)
    return tuple(out)


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:] if message else message


def scaled_learning_rate(base: RunConfig, batch_size: int, learning_rate: float) -> float:
    """The linear scaling rule: the learning rate grows in proportion to the batch size."""
    return learning_rate * batch_size / base.batch_size


def plan_sweep(
    base: RunConfig,
    values: dict[str, Any],
    repeats: int = 1,
    scale_lr: bool = False,
    name: str | None = None,
    base_title: str | None = None,
) -> tuple[Plan, SweepSpec]:
    """Check a whole sweep and turn it into the study that runs it.

    Every combination is validated before anything is queued, so a bad value anywhere stops
    the whole launch with one message.

    Args:
        base: The config every run starts from.
        values: Swept key → its values (text, see ``split_values``, or a list); one or two keys.
        repeats: Runs per combination, with seeds ``base.seed``, ``base.seed + 1``, ...
        scale_lr: Scale the learning rate with the batch size (needs ``batch_size`` swept).
        name: The study's name; by default what is swept and ``base_title``.
        base_title: The base run's name (``core.data.names.run_title``, which reads a folder's
            manifest); by default the model and the dataset's key or path.

    Returns:
        The plan (name, kind ``sweep`` and one config per trial) and the spec to store.

    Raises:
        ConfigError: naming the field to change.
    """
    if base.folds > 1:
        raise ConfigError(
            "folds", "a sweep trains each value once per repeat; set folds to 1 and use repeats."
        )
    if not values:
        raise ConfigError("param", "choose a setting to vary.")
    if len(values) > MAX_KEYS:
        raise ConfigError("param", f"vary at most {MAX_KEYS} settings at once (as a grid).")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError("repeats", f"must be a whole number from 1 to {MAX_REPEATS}.")
    if scale_lr and "batch_size" not in values:
        raise ConfigError(
            "scale_lr", "scaling the learning rate follows the batch size: vary batch_size."
        )
    keys = tuple(values)
    parsed = tuple(parse_values(k, values[k], base) for k in keys)
    total = math.prod(len(v) for v in parsed) * repeats  # counted before any list is built
    if total > MAX_TRIALS:
        raise ConfigError(
            "values",
            f"{total} runs is too many for one sweep (at most {MAX_TRIALS}); "
            "give fewer values or repeats.",
        )
    cells = list(itertools.product(*(range(len(v)) for v in parsed)))
    spec_cells, seeds, configs = [], [], []
    for repeat in range(repeats):
        for cell in cells:
            configs.append(_cell_config(base, keys, parsed, cell, repeat, scale_lr))
            spec_cells.append(cell)
            seeds.append(repeat)
    spec = SweepSpec(
        keys, parsed, repeats, scale_lr, base.to_dict(), tuple(spec_cells), tuple(seeds)
    )
    base_title = base_title or f"{base.model} on {base.dataset}"
    title = name or f"{spec.title} sweep · {base_title}"
    return Plan(title, SWEEP_KIND, configs), spec


def _cell_config(
    base: RunConfig,
    keys: tuple[str, ...],
    parsed: tuple[tuple[Any, ...], ...],
    cell: tuple[int, ...],
    repeat: int,
    scale_lr: bool,
) -> RunConfig:
    changes: dict[str, Any] = {
        k: parsed[i][j] for i, (k, j) in enumerate(zip(keys, cell, strict=True))
    }
    if scale_lr:
        lr = changes.get("learning_rate", base.learning_rate)
        changes["learning_rate"] = scaled_learning_rate(base, changes["batch_size"], lr)
    changes["seed"] = base.seed + repeat
    try:
        return base.replace(**changes)
    except ConfigError as exc:
        shown = ", ".join(f"{k}={format_value(v)}" for k, v in changes.items() if k != "seed")
        raise ConfigError(exc.field, f"with {shown}: {_lower(exc.message)}") from None


def default_values(key: str, base: RunConfig, train_size: int) -> str:
    """The values a sweep of ``key`` starts with, as text for the values box.

    Batch size reproduces report 003's study scaled to the dataset (see
    ``default_batch_sizes``); a choice offers every choice; a learning rate four decades
    around the base; other numbers the base value halved and doubled. ``train_size`` is the
    number of images a run of ``base`` trains on (``core.data.checks.train_size``).
    """
    param = PARAM_BY_KEY[key]
    current = getattr(base, key)
    if key == "batch_size":
        return ", ".join(str(v) for v in default_batch_sizes(train_size))
    if param.choices:
        return ", ".join(param.choices)
    if param.kind == "bool":
        return "false, true"
    if param.kind == "ints":
        doubled = [v * 2 for v in current] or [32]
        return "; ".join(",".join(str(v) for v in vals) for vals in (current, doubled))
    if param.kind == "strs":
        return "; ".join(("flip", "rotation:15"))
    if key == "learning_rate":
        return ", ".join(f"{current * f:g}" for f in (10, 1, 0.1, 0.01))
    if param.kind in ("int", "float") and current:
        triple = [current / 2, current, current * 2]
        if param.kind == "int":
            triple = sorted({max(1, round(v)) for v in triple})
        return ", ".join(format_value(v) for v in triple)
    return format_value(current)


def default_batch_sizes(train_size: int) -> list[int]:
    """Report 003's batch sizes that fit the dataset, the full training set, log-spaced fill.

    Report 003 tried 20, 100, 1000, 10000 and the whole training set (50,000). Sizes at most
    half the training set are kept, the training set itself ends the list, and the widest
    (log-scale) gaps get a value in between, rounded to one significant digit, until there
    are five values. For digits (1,149 training images): 20, 40, 100, 300, 1149.
    """
    sizes = [v for v in REPORT_BATCH_SIZES if v <= train_size / 2]
    if train_size not in sizes:
        sizes.append(train_size)
    while len(sizes) < DEFAULT_VALUE_COUNT:
        pairs = [(math.log(b / a), a, b) for a, b in itertools.pairwise(sizes) if b - a > 1]
        if not pairs:
            break
        _, low, high = max(pairs)
        middle = _one_digit(math.sqrt(low * high))
        if middle in sizes or not low < middle < high:
            middle = (low + high) // 2
        sizes = sorted({*sizes, middle})
    return sizes


def _one_digit(value: float) -> int:
    """Round to one significant digit: 44.7 → 40, 339 → 300."""
    scale = 10 ** math.floor(math.log10(value))
    return int(round(value / scale) * scale)
