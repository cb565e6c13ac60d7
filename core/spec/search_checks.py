"""Validation of a search: every message names the field to change and says how.

``validate_search`` checks the settings, then each dimension's shape, key and corner values
(each choice, both ends of a range) against the base config, so a value that would make an
invalid run is refused before anything is queued.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from core.spec.config import ConfigError, RunConfig
from core.spec.params import PARAM_BY_KEY

if TYPE_CHECKING:
    from core.spec.search_space import Dimension, SearchSettings, SearchSpace

KINDS = ("fixed", "choice", "int", "float")
TUNERS = {
    "random": "Random search",
    "grid": "Grid search",
    "bayesian": "Bayesian optimization",
    "hyperband": "Hyperband",
}
# The metrics every trial logs (core.engine.optim.make_metrics), with the direction that is better.
OBJECTIVES = {
    "val_accuracy": "max",
    "val_loss": "min",
    "val_f1": "max",
    "val_top5": "max",
    "accuracy": "max",
    "loss": "min",
    "f1": "max",
}
# Keys a search may not vary: they define the data or the trial's identity.
UNSEARCHABLE = ("dataset", "folds", "seed", "validation_split")
FILTER_KEY = re.compile(r"^filters\[(\d)\]$")


def validate_search(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> None:
    """Check a whole search before anything is queued.

    Raises:
        ConfigError: naming the first field to change, with one sentence saying how.
    """
    _check_settings(settings)
    if base.folds > 1:
        raise ConfigError("folds", "a search trains each trial once; set folds to 1.")
    if not space.searched:
        raise ConfigError("space", "nothing is searched; give at least one key a choice or range.")
    for dim in space.dimensions:
        _check_key(dim.key, base, settings)
        check_shape(dim)
        for value in dim.corners():
            try:
                space.config_for({dim.key: value}, base)
            except ConfigError as exc:
                raise ConfigError(
                    dim.key, f"the value {value!r} does not make a valid run: {exc.message}"
                ) from None
    if settings.tuner == "grid" and space.grid_size() is None:
        dim = next(d for d in space.searched if d.grid_values() is None)
        raise ConfigError(
            dim.key, "grid search needs a step for every float range (and no log scale)."
        )


def _check_settings(settings: SearchSettings) -> None:
    if settings.tuner not in TUNERS:
        raise ConfigError(
            "tuner", f"unknown tuner {settings.tuner!r}; choose one of: {', '.join(TUNERS)}."
        )
    if settings.objective not in OBJECTIVES:
        raise ConfigError(
            "objective",
            f"unknown metric {settings.objective!r}; choose one of: {', '.join(OBJECTIVES)}.",
        )
    if settings.direction not in ("max", "min"):
        raise ConfigError("direction", "must be 'max' or 'min'.")
    limits = {
        "max_trials": (1, 10_000),
        "executions_per_trial": (1, 20),
        "max_epochs": (1, 10_000),
        "factor": (2, 100),
        "iterations": (1, 100),
        "early_stopping_patience": (0, 10_000),
        "keep_top": (1, 1_000),
    }
    for key, (low, high) in limits.items():
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                key, f"must be a whole number from {low:,} to {high:,} (got {value!r})."
            )
    budget = settings.time_budget_s
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        raise ConfigError("time_budget_s", "must be a positive number of seconds, or empty.")


def _check_key(key: str, base: RunConfig, settings: SearchSettings) -> None:
    match = FILTER_KEY.match(key)
    if match:
        if int(match.group(1)) >= base.conv_blocks:
            raise ConfigError(
                key,
                f"the model has {base.conv_blocks} conv blocks; use filters[0] to "
                f"filters[{base.conv_blocks - 1}].",
            )
        return
    if key not in PARAM_BY_KEY:
        raise ConfigError(key, "unknown setting; use a config key such as learning_rate.")
    if key in UNSEARCHABLE:
        raise ConfigError(key, "cannot be searched (it defines the data); keep it fixed.")
    if key == "epochs" and settings.tuner == "hyperband":
        raise ConfigError(key, "Hyperband chooses the epochs itself; set max_epochs instead.")


def check_shape(dim: Dimension) -> None:
    """The dimension's fields fit its kind (values are checked against a config later)."""
    key = dim.key
    if dim.kind not in KINDS:
        raise ConfigError(key, f"unknown kind {dim.kind!r}; choose one of: {', '.join(KINDS)}.")
    if dim.kind == "fixed" and dim.value is None:
        raise ConfigError(key, "a fixed key needs a value.")
    if dim.kind == "choice" and not dim.values:
        raise ConfigError(key, "a choice list needs at least one value.")
    if dim.kind not in ("int", "float"):
        return
    for name in ("low", "high"):
        bound = getattr(dim, name)
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise ConfigError(key, f"a range needs a number for {name} (got {bound!r}).")
    if dim.low > dim.high:
        raise ConfigError(key, f"low ({dim.low:g}) must not be above high ({dim.high:g}).")
    if dim.kind == "int":
        if not (float(dim.low).is_integer() and float(dim.high).is_integer()):
            raise ConfigError(key, "an int range needs whole-number bounds.")
        if dim.step is not None and not (float(dim.step).is_integer() and dim.step >= 1):
            raise ConfigError(key, "an int range's step must be a whole number of at least 1.")
        if dim.log and dim.low <= 0:
            raise ConfigError(key, "a log-scale range must start above 0.")
        return
    if dim.log and dim.low <= 0:
        raise ConfigError(key, "a log-scale range must start above 0 (e.g. 1e-5).")
    if dim.log and dim.step is not None:
        raise ConfigError(key, "a log-scale range takes no step; remove the step or the log scale.")
    if dim.step is not None and not dim.step > 0:
        raise ConfigError(key, "a float range's step must be above 0.")
