"""The search-space model: which keys a search varies, and how a tuner is set up.

A :class:`SearchSpace` is an ordered tuple of :class:`Dimension` s, one per config key:

* ``fixed``: one value every trial uses;
* ``choice``: a list of values to pick from;
* ``int``: whole numbers from ``low`` to ``high`` (inclusive) in steps of ``step``, or on a
  log scale (``log``), where ``step`` is the factor between values (2 gives 16, 32, 64, ...);
* ``float``: numbers from ``low`` to ``high``, sampled linearly (optionally in steps of
  ``step``) or on a log scale (``log``).

Choices are kept as their key's type (1 for a learning rate is 1.0), as keras-tuner's
``Choice`` takes values of one type.

A key is any ``RunConfig`` key, or ``filters[i]`` for the filter count of convolution block
``i`` alone (report 000 searched conv1 and conv2 separately). :class:`SearchSettings` holds the
tuner (``random``, ``grid``, ``bayesian``, ``hyperband`` with ``max_epochs``, ``factor`` and
``iterations``), the objective and its direction, ``max_trials``, ``executions_per_trial``,
early stopping, the optional time budget and how many trials keep their weights (``keep_top``).

Everything validates with :func:`validate_search`, which raises ``ConfigError(field, message)``
with one sentence a person can act on. Nothing heavy is imported: the Tune page uses this
module directly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.spec.config import ConfigError, RunConfig, load_json
from core.spec.grid import grid_points
from core.spec.hyperband import hyperband_plan
from core.spec.quoting import shown_value
from core.spec.search_checks import (
    FILTER_KEY,
    KINDS,
    OBJECTIVES,
    TUNERS,
    UNSEARCHABLE,
    as_key_type,
    check_shape,
    search_problems,
    settings_problems,
    validate_search,
)

PRESETS_FILE = Path(__file__).with_name("search_presets.json")


@dataclass(frozen=True)
class Dimension:
    """How one config key varies across trials (see the module docstring for the kinds)."""

    key: str
    kind: str = "fixed"
    value: Any = None
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def searched(self) -> bool:
        """True unless the key is fixed."""
        return self.kind != "fixed"

    def corners(self) -> list[Any]:
        """The values validation tries: each choice, or both ends of a range."""
        if self.kind == "fixed":
            return [self.value]
        if self.kind == "choice":
            return list(self.values)
        low = int(self.low) if self.kind == "int" else self.low
        high = int(self.high) if self.kind == "int" else self.high
        return [low, high]

    def to_dict(self) -> dict[str, Any]:
        """The dimension as JSON-compatible data, without unset fields."""
        data = {"key": self.key, "kind": self.kind}
        if self.kind == "fixed":
            data["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        elif self.kind == "choice":
            data["values"] = list(self.values)
        else:
            data.update(low=self.low, high=self.high)
            if self.step is not None:
                data["step"] = self.step
            if self.log:
                data["log"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dimension:
        """Build and check a dimension from :meth:`to_dict` data.

        Raises:
            ConfigError: naming the key, if the dimension is malformed.
        """
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ConfigError("space", "each dimension must be an object with a text 'key'.")
        key = data["key"].strip()
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(key, f"unknown dimension field(s): {', '.join(sorted(unknown))}.")
        values = data.get("values") or ()
        if not isinstance(values, (list, tuple)):
            raise ConfigError(key, f"choice values must be a list (got {shown_value(values)}).")
        dim = cls(**{**data, "key": key, "values": tuple(as_key_type(key, v) for v in values)})
        check_shape(dim)
        return dim


@dataclass(frozen=True)
class SearchSpace:
    """The ordered dimensions of a search; keys not listed keep the base config's value."""

    dimensions: tuple[Dimension, ...] = ()

    @property
    def searched(self) -> tuple[Dimension, ...]:
        """The dimensions that vary."""
        return tuple(d for d in self.dimensions if d.searched)

    def grid_size(self) -> int | None:
        """How many combinations a grid search has (counted, at most ``10**18``), or None if a
        range is continuous (see ``core.spec.grid``)."""
        return grid_points(self.searched)

    def config_for(self, values: dict[str, Any], base: RunConfig) -> RunConfig:
        """The base config with the fixed values and the given searched ``values`` applied.

        Raises:
            ConfigError: if the combination is not a valid run.
        """
        merged = {d.key: d.value for d in self.dimensions if not d.searched}
        merged.update(values)
        data = base.to_dict()
        blocks = {}
        for key, value in merged.items():
            match = FILTER_KEY.match(key)
            if match:
                blocks[int(match.group(1))] = value
            else:
                data[key] = list(value) if isinstance(value, tuple) else value
        if blocks:  # one block's count, on top of the whole list (the base's, or the space's)
            filters = data["filters"]
            filters = filters.split(",") if isinstance(filters, str) else list(filters)
            for index, value in blocks.items():
                filters.extend(filters[-1:] * (index + 1 - len(filters)))
                filters[index] = value  # checked, as a whole number, by RunConfig
            data["filters"] = filters
        return RunConfig.from_dict(data)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-compatible data: one dict per dimension."""
        return [d.to_dict() for d in self.dimensions]

    def to_json(self) -> str:
        """The space as JSON text (what ``--space space.json`` reads)."""
        return json.dumps(self.to_list(), indent=2)

    @classmethod
    def from_list(cls, data: Any) -> SearchSpace:
        """Build a space from :meth:`to_list` data (or ``{"key": {...}}``).

        Raises:
            ConfigError: naming the first bad dimension.
        """
        if isinstance(data, dict):
            data = [{"key": k, **v} if isinstance(v, dict) else v for k, v in data.items()]
        if not isinstance(data, list):
            raise ConfigError("space", "must be a list of dimensions, e.g. [{'key': ...}].")
        dims = tuple(Dimension.from_dict(d) for d in data)
        keys = [d.key for d in dims]
        for key in keys:
            if keys.count(key) > 1:
                raise ConfigError(key, "appears twice in the search space; keep one entry.")
        return cls(dims)

    @classmethod
    def from_json(cls, text: str) -> SearchSpace:
        """Build a space from JSON text.

        Raises:
            ConfigError: if the text is not JSON or a dimension is bad.
        """
        return cls.from_list(load_json(text, "space"))


# The settings given in whole numbers.
WHOLE_SETTINGS = (
    "max_trials",
    "executions_per_trial",
    "max_epochs",
    "factor",
    "iterations",
    "min_epochs",
    "early_stopping_patience",
    "keep_top",
)


@dataclass(frozen=True)
class SearchSettings:
    """How the tuner searches, and when it stops.

    Attributes:
        tuner: ``random``, ``grid``, ``bayesian``, ``hyperband`` or ``bayes-hyperband``
            (Optuna's TPE sampler, with its HyperbandPruner stopping trials early).
        objective: The logged metric the tuner optimizes (see ``OBJECTIVES``).
        direction: ``max`` or ``min``; empty means the metric's natural direction.
        max_trials: Most trials to run (Hyperband plans its own number from its settings).
        executions_per_trial: Times each trial's model is trained; the objective is averaged.
        max_epochs: Hyperband: epochs of the longest-trained models.
        factor: Hyperband, and Bayesian + Hyperband stopping: reduction factor between rounds
            (keeps 1/factor of the models).
        min_epochs: Bayesian + Hyperband stopping: epochs every trial trains before it can
            be stopped (Optuna's ``min_resource``; W&B's ``min_iter``).
        iterations: Hyperband: how many times the whole algorithm runs.
        early_stopping_patience: Epochs without improvement before a trial stops (0 = off).
        time_budget_s: Seconds the search may take (None = no limit).
        keep_top: How many of the best trials keep their weights once the search ends.
    """

    tuner: str = "hyperband"
    objective: str = "val_accuracy"
    direction: str = ""
    max_trials: int = 10
    executions_per_trial: int = 1
    max_epochs: int = 10
    factor: int = 3
    iterations: int = 1
    min_epochs: int = 1
    early_stopping_patience: int = 0
    time_budget_s: float | None = None
    keep_top: int = 3

    def __post_init__(self) -> None:
        if not self.direction and self.objective in OBJECTIVES:
            object.__setattr__(self, "direction", OBJECTIVES[self.objective])

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-compatible data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSettings:
        """Build settings from :meth:`to_dict` data (missing keys take the defaults).

        Raises:
            ConfigError: naming an unknown or badly typed setting.
        """
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ConfigError(key, f"unknown search setting; known: {', '.join(known)}.")
        clean = dict(data)
        for key in WHOLE_SETTINGS:
            if key in clean:
                clean[key] = _whole(key, clean[key])
        budget = clean.get("time_budget_s")
        if budget is not None:
            if isinstance(budget, bool) or not isinstance(budget, (int, float)):
                raise ConfigError(
                    "time_budget_s", f"must be a number of seconds (got {shown_value(budget)})."
                )
            clean["time_budget_s"] = float(budget) if budget else None
        return cls(**clean)

    def replace(self, **changes: Any) -> SearchSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Preset:
    """A ready-made search from one of the reports: base config changes, space and settings."""

    name: str
    label: str
    description: str
    base: dict[str, Any] = field(default_factory=dict)
    space: SearchSpace = field(default_factory=SearchSpace)
    settings: SearchSettings = field(default_factory=SearchSettings)

    def apply(self, base: RunConfig | None = None) -> RunConfig:
        """The preset's base config: ``base`` (or the defaults) with its changes applied."""
        return (base or RunConfig()).replace(**self.base)


def presets() -> dict[str, Preset]:
    """The searches of reports 000, 002 and 004, keyed ``report000``, ``report002``, ..."""
    raw = json.loads(PRESETS_FILE.read_text())
    return {
        name: Preset(
            name,
            entry["label"],
            entry["description"],
            entry.get("base", {}),
            SearchSpace.from_list(entry["space"]),
            SearchSettings.from_dict(entry.get("settings", {})),
        )
        for name, entry in raw.items()
    }


def planned_trials(space: SearchSpace, settings: SearchSettings) -> int:
    """How many trials the search will run if nothing stops it."""
    if settings.tuner == "hyperband":
        return hyperband_plan(settings.max_epochs, settings.factor, settings.iterations)[0]
    if settings.tuner == "grid":
        return min(settings.max_trials, space.grid_size() or settings.max_trials)
    return settings.max_trials


def trial_executions(base: RunConfig, settings: SearchSettings) -> int:
    """How many times each trial trains: once per fold of a cross-validated search (``folds``
    > 1: execution n trains fold n), else ``executions_per_trial`` (execution n with the seed
    plus n)."""
    return base.folds if base.folds > 1 else settings.executions_per_trial


def trial_config(
    space: SearchSpace, settings: SearchSettings, base: RunConfig, values: dict[str, Any]
) -> RunConfig:
    """The full run config of one trial: base, fixed values, searched values, early stopping.

    Hyperband's own ``tuner/epochs`` sets ``epochs``; the search's early stopping replaces the
    base config's when it is on.
    """
    searched = {k: v for k, v in values.items() if not k.startswith("tuner/")}
    if "tuner/epochs" in values:
        searched["epochs"] = int(values["tuner/epochs"])
    cfg = space.config_for(searched, base)
    if settings.early_stopping_patience:
        monitor = settings.objective if settings.objective.startswith("val_") else "val_loss"
        if monitor not in ("val_loss", "val_accuracy"):
            monitor = "val_loss"
        cfg = cfg.replace(
            early_stopping_patience=settings.early_stopping_patience,
            early_stopping_monitor=monitor,
        )
    return cfg


def _whole(key: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be a whole number (got {shown_value(value)}).")
    return value


__all__ = [
    "KINDS",
    "OBJECTIVES",
    "TUNERS",
    "UNSEARCHABLE",
    "Dimension",
    "Preset",
    "SearchSettings",
    "SearchSpace",
    "check_shape",
    "hyperband_plan",
    "planned_trials",
    "presets",
    "search_problems",
    "settings_problems",
    "trial_config",
    "validate_search",
]
