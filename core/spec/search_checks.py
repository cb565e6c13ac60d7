"""Validation of a search: every problem at once, each naming the field to change and how.

``validate_search`` checks the settings, then each dimension's shape and key, that its kind
and values suit the key and keras-tuner (``hp.Int``, ``hp.Float``, ``hp.Choice`` refuse what
they cannot sample, and then the whole search fails), the size of a grid, each dimension's
corner values (each choice, both ends of a range) against the base config, and the shortest
trial with the longest warm-up, so a value that would make an invalid run is refused before
anything is queued.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from core.spec.config import ConfigError, RunConfig, joined
from core.spec.grid import check_grid
from core.spec.hyperband import shortest_round
from core.spec.params import PARAM_BY_KEY
from core.spec.quoting import shown_value

if TYPE_CHECKING:
    from core.spec.search_space import Dimension, SearchSettings, SearchSpace

KINDS = ("fixed", "choice", "int", "float")
TUNERS = {
    "random": "Random search",
    "grid": "Grid search",
    "bayesian": "Bayesian optimization",
    "hyperband": "Hyperband",
    "bayes-hyperband": "Bayesian + Hyperband stopping",
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
# Range bounds beyond this are refused, as a config refuses such numbers.
_LARGEST = 2**63
# What people call the types keras-tuner's Choice takes.
_TYPE_WORDS = {bool: "true/false", int: "whole numbers", float: "decimals", str: "text"}


def validate_search(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> None:
    """Check a whole search before anything is queued.

    Raises:
        ConfigError: naming each field to change, with one sentence saying how (the first,
            with the others in ``more``).
    """
    problems = search_problems(base, space, settings)
    if problems:
        raise joined(problems)


def search_problems(
    base: RunConfig, space: SearchSpace, settings: SearchSettings
) -> list[ConfigError]:
    """Every problem of a search at once, in the order of the form: each dimension's first
    problem (the grid's size once every dimension's shape is sound, the shortest trial once
    every dimension is), then each tuner setting."""
    problems = settings_problems(settings)
    if base.folds > 1 and settings.executions_per_trial > 1:
        problems.append(
            ConfigError(
                "executions_per_trial",
                f"a cross-validated search trains each trial once per fold ({base.folds}); "
                "set it to 1.",
            )
        )
    if base.folds > 1 and settings.tuner == "bayes-hyperband":
        problems.append(
            ConfigError(
                "folds",
                "Bayesian + Hyperband stopping judges one training per trial; set folds to 1, "
                "or pick another tuner to cross-validate.",
            )
        )
    if base.folds > 1 and settings.tuner == "hyperband":
        # keras-tuner keeps one model per trial (its last fold's), so a later round would
        # train every fold on from a model that has seen that fold's validation images.
        problems.append(
            ConfigError(
                "folds",
                "Hyperband trains later rounds on from one model per trial, which has seen the "
                "other folds' images; set folds to 1, or cross-validate with Random, Grid or "
                "Bayesian search.",
            )
        )
    if not space.searched:
        problems.append(
            ConfigError("space", "nothing is searched; give at least one key a choice or range.")
        )
    named: set[str] = set()

    def note(check: Callable[[], None]) -> None:
        try:
            check()
        except ConfigError as exc:
            problems.append(exc)
            named.add(exc.field)

    for dim in space.dimensions:
        note(lambda dim=dim: _check_form(dim, base, settings))
    if settings.tuner == "grid" and not named:
        note(lambda: check_grid(space.searched))
    for dim in space.dimensions:
        if dim.key not in named:
            note(lambda dim=dim: _check_values(dim, space, base))
    fields = {p.field for p in problems}
    if space.searched and not named and not fields & {"tuner", "max_epochs", "factor"}:
        note(lambda: _check_shortest_trial(base, space, settings))
    if settings.tuner == "bayes-hyperband" and not named and "min_epochs" not in fields:
        note(lambda: _check_stopping(base, space, settings))
    # In the order of the form: the space's rows, then the tuner's settings.
    rows = {dim.key: i for i, dim in enumerate(space.dimensions)}
    return sorted(problems, key=lambda p: rows.get(p.field, len(rows)))


def longest_epochs(base: RunConfig, space: SearchSpace) -> int:
    """The most epochs a trial trains: the largest searched ``epochs``, else the base config's."""
    for dim in space.searched:
        if dim.key == "epochs":
            return int(max(dim.corners()))
    return int(space.config_for({}, base).epochs)


def _check_stopping(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> None:
    """Bayesian + Hyperband stopping can stop a trial: its first rung comes before the end."""
    longest = longest_epochs(base, space)
    if settings.min_epochs >= longest:
        raise ConfigError(
            "min_epochs",
            f"must be below the epochs of the longest trial ({longest}), or no trial is ever "
            "stopped early.",
        )


def _check_form(dim: Dimension, base: RunConfig, settings: SearchSettings) -> None:
    """One dimension's key, its shape, and that its kind suits the key."""
    _check_key(dim.key, base, settings)
    check_shape(dim)
    _check_range_fits_key(dim)


def _check_values(dim: Dimension, space: SearchSpace, base: RunConfig) -> None:
    """One dimension's corner values (each choice, both ends of a range), with the space's
    fixed keys, against the base config; and its choices as keras-tuner takes them."""
    for value in dim.corners():
        try:
            space.config_for({dim.key: value}, base)
        except ConfigError as exc:
            raise ConfigError(
                dim.key,
                f"the value {shown_value(value)} does not make a valid run: {exc.message}",
            ) from None
    if dim.kind == "choice":
        _check_choices(dim)


def key_kind(key: str) -> str:
    """The type of a search key's values: ``filters[i]`` is ``int``, others as in PARAMS."""
    if FILTER_KEY.match(key):
        return "int"
    param = PARAM_BY_KEY.get(key)
    return param.kind if param else ""


def as_key_type(key: str, value: object) -> object:
    """A choice as its key's type: 1 for a learning rate is 1.0, 64.0 for a batch size 64.

    keras-tuner's ``Choice`` refuses a list that mixes types, and people write 1 for 1.0.
    """
    kind = key_kind(key)
    if kind == "float" and type(value) is int and abs(value) <= _LARGEST:
        return float(value)
    if kind == "int" and type(value) is float and value.is_integer():
        return int(value)
    return value


def settings_problems(settings: SearchSettings) -> list[ConfigError]:
    """Every tuner setting that is not valid, each naming its field."""
    problems = []
    if settings.tuner not in TUNERS:
        problems.append(
            ConfigError(
                "tuner", f"unknown tuner {settings.tuner!r}; choose one of: {', '.join(TUNERS)}."
            )
        )
    if settings.objective not in OBJECTIVES:
        problems.append(
            ConfigError(
                "objective",
                f"unknown metric {settings.objective!r}; choose one of: {', '.join(OBJECTIVES)}.",
            )
        )
    if settings.direction not in ("max", "min"):
        problems.append(ConfigError("direction", "must be 'max' or 'min'."))
    if settings.tuner == "bayes-hyperband" and settings.executions_per_trial != 1:
        problems.append(
            ConfigError(
                "executions_per_trial",
                "Bayesian + Hyperband stopping judges each trial's own epochs, so it trains each "
                "trial once; set it to 1.",
            )
        )
    limits = {
        "max_trials": (1, 10_000),
        "executions_per_trial": (1, 20),
        "max_epochs": (1, 10_000),
        "factor": (2, 100),
        "iterations": (1, 100),
        "min_epochs": (1, 10_000),
        "early_stopping_patience": (0, 10_000),
        "keep_top": (1, 1_000),
    }
    for key, (low, high) in limits.items():
        value = getattr(settings, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(
                ConfigError(
                    key, f"must be a whole number from {low:,} to {high:,} (got {value!r})."
                )
            )
    budget = settings.time_budget_s
    if budget is not None and not (math.isfinite(budget) and budget > 0):
        problems.append(
            ConfigError("time_budget_s", "must be a positive number of seconds, or empty.")
        )
    return problems


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
    """The dimension's fields fit its kind and what keras-tuner accepts for it (values are
    checked against a config later).

    Raises:
        ConfigError: naming the key.
    """
    key = dim.key
    if dim.kind not in KINDS:
        raise ConfigError(
            key, f"unknown kind {shown_value(dim.kind)}; choose one of: {', '.join(KINDS)}."
        )
    if dim.kind == "fixed" and dim.value is None:
        raise ConfigError(key, "a fixed key needs a value.")
    if dim.kind == "choice" and not dim.values:
        raise ConfigError(key, "a choice list needs at least one value.")
    if not isinstance(dim.log, bool):
        raise ConfigError(key, f"log must be true or false (got {shown_value(dim.log)}).")
    if dim.kind not in ("int", "float"):
        return
    for name in ("low", "high", "step"):
        _check_number(key, name, getattr(dim, name))
    if dim.low > dim.high:
        raise ConfigError(key, f"low ({dim.low:g}) must not be above high ({dim.high:g}).")
    if not math.isfinite(float(dim.high) - float(dim.low)):
        raise ConfigError(key, "the range from low to high is too wide to step through.")
    if dim.log and dim.low <= 0:
        raise ConfigError(key, "a log-scale range must start above 0 (e.g. 1e-5).")
    if dim.kind == "int":
        _check_int_range(dim)
        return
    if dim.log and dim.step is not None:
        raise ConfigError(key, "a log-scale range takes no step; remove the step or the log scale.")
    if dim.step is not None and not dim.step > 0:
        raise ConfigError(key, "a float range's step must be above 0.")


def _check_number(key: str, name: str, value: object) -> None:
    """A range's ``low``, ``high`` or ``step`` (None for no step) is a finite number."""
    if name == "step" and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(key, f"a range needs a number for {name} (got {shown_value(value)}).")
    if abs(value) > _LARGEST if isinstance(value, int) else not math.isfinite(value):
        raise ConfigError(
            key,
            f"a range's {name} must be a finite number of at most {_LARGEST:.2g} "
            f"(got {shown_value(value)}).",
        )


def _check_int_range(dim: Dimension) -> None:
    key = dim.key
    if not (float(dim.low).is_integer() and float(dim.high).is_integer()):
        raise ConfigError(key, "an int range needs whole-number bounds.")
    if dim.step is not None and not (float(dim.step).is_integer() and dim.step >= 1):
        raise ConfigError(key, "an int range's step must be a whole number of at least 1.")
    # keras-tuner's Int multiplies by the step on a log scale and refuses a factor of 1.
    if dim.log and (dim.step is None or dim.step < 2):
        raise ConfigError(
            key,
            "on a log scale an int range steps by a factor: give a step of 2 or more "
            "(2 gives 16, 32, 64, ...).",
        )


def _check_range_fits_key(dim: Dimension) -> None:
    """A range only for a number, and a float range only for a key that takes fractions."""
    if dim.kind not in ("int", "float"):
        return
    kind = key_kind(dim.key)
    if kind not in ("int", "float"):
        what = "a list" if kind in ("ints", "strs") else "not a number"
        hint = "; or search each block's filters[0], filters[1], ..." if kind == "ints" else ""
        raise ConfigError(
            dim.key, f"is {what}, so it has no range: give it a choice list or a fixed value{hint}."
        )
    if dim.kind == "float" and kind == "int":
        raise ConfigError(
            dim.key, "takes whole numbers only: use an int range instead of a float range."
        )


def _check_choices(dim: Dimension) -> None:
    """keras-tuner's Choice: single values (numbers, text, true/false), of one type, each once."""
    for value in dim.values:
        if type(value) not in _TYPE_WORDS:
            raise ConfigError(
                dim.key,
                f"the choice {shown_value(value)} is not a single value: a choice list holds "
                'numbers, text or true/false (write a list as text, e.g. "16,64").',
            )
    kinds = sorted({_TYPE_WORDS[type(v)] for v in dim.values})
    if len(kinds) > 1:
        raise ConfigError(
            dim.key, f"the choices mix {' and '.join(kinds)}; list values of one kind."
        )
    seen = set()
    for value in dim.values:
        if value in seen:
            raise ConfigError(dim.key, f"{shown_value(value)} is listed twice; list it once.")
        seen.add(value)


def _check_shortest_trial(base: RunConfig, space: SearchSpace, settings: SearchSettings) -> None:
    """The shortest trial with the longest warm-up is a valid run.

    Corners vary one key at a time; a warm-up must also end before the fewest epochs a trial
    trains, and Hyperband's first rounds train only a few.
    """
    dims = {d.key: d for d in space.searched}
    start = space.config_for({}, base)
    if settings.tuner == "hyperband":
        epochs = shortest_round(settings.max_epochs, settings.factor)
        why = f"Hyperband's first rounds train {epochs} epoch(s)"
    else:
        epochs = min(dims["epochs"].corners()) if "epochs" in dims else start.epochs
        why = f"the shortest trial trains {epochs} epoch(s)"
    if "warmup_epochs" in dims:
        warmup = max(dims["warmup_epochs"].corners())
    else:
        warmup = start.warmup_epochs
    try:
        space.config_for({"epochs": epochs, "warmup_epochs": warmup}, base)
    except ConfigError as exc:
        raise ConfigError(exc.field, f"{why}: {exc.message}") from None
