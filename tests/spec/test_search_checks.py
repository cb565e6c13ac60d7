"""A search keras-tuner would fail whole, or whose trials would all fail, is refused at launch
with one message naming the key; what keras-tuner accepts is kept as the key's type."""

from __future__ import annotations

from typing import Any

import pytest

from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import (
    Dimension,
    SearchSettings,
    SearchSpace,
    search_problems,
    validate_search,
)

BASE = RunConfig(model="mlp", epochs=5, batch_size=32)
RANDOM = SearchSettings(tuner="random", max_trials=4)
HYPERBAND = SearchSettings(tuner="hyperband", max_epochs=10, factor=3)

# (dimension, settings, base changes, field, words)
REFUSED: list[tuple[dict[str, Any], SearchSettings, dict[str, Any], str, str]] = [
    ({"key": "epochs", "kind": "float", "low": 2, "high": 5}, RANDOM, {}, "epochs", "int range"),
    (
        {"key": "batch_size", "kind": "float", "low": 16.0, "high": 64.0},
        RANDOM,
        {},
        "batch_size",
        "whole numbers only",
    ),
    (
        {"key": "filters[0]", "kind": "float", "low": 8, "high": 32},
        RANDOM,
        {},
        "filters[0]",
        "whole numbers only",
    ),
    (
        {"key": "filters", "kind": "int", "low": 8, "high": 32},
        RANDOM,
        {},
        "filters",
        "filters[0], filters[1]",
    ),
    (
        {"key": "filters", "kind": "choice", "values": [[16, 64], [32, 128]]},
        RANDOM,
        {},
        "filters",
        "not a single value",
    ),
    (
        {"key": "augment", "kind": "choice", "values": ["flip", ["flip", "zoom:0.1"]]},
        RANDOM,
        {},
        "augment",
        "not a single value",
    ),
    (
        {"key": "dense_units", "kind": "choice", "values": [16, 16.0, 32]},
        RANDOM,
        {},
        "dense_units",
        "16 is listed twice",
    ),
    (
        {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": "0.1"},
        RANDOM,
        {},
        "dropout",
        "needs a number for step (got '0.1')",
    ),
    (
        {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": "yes"},
        RANDOM,
        {},
        "learning_rate",
        "log must be true or false",
    ),
    (
        {"key": "dense_units", "kind": "int", "low": 16, "high": 1024, "log": True},
        RANDOM,
        {},
        "dense_units",
        "step of 2 or more",
    ),
    (
        {"key": "dense_units", "kind": "int", "low": 16, "high": 1024, "step": 1, "log": True},
        RANDOM,
        {},
        "dense_units",
        "step of 2 or more",
    ),
    (
        {"key": "dropout", "kind": "float", "low": 0.1, "high": float("inf")},
        RANDOM,
        {},
        "dropout",
        "finite number",
    ),
    (
        {"key": "dense_units", "kind": "int", "low": 1, "high": 10**400},
        RANDOM,
        {},
        "dense_units",
        "about 400 digits",
    ),
    (
        {"key": "learning_rate", "kind": "float", "low": -1.7e308, "high": 1.7e308},
        RANDOM,
        {},
        "learning_rate",
        "too wide",
    ),
    (
        {"key": "optimizer", "kind": "int", "low": 1, "high": 3},
        RANDOM,
        {},
        "optimizer",
        "choice list",
    ),
    # The shortest trial must outlast the longest warm-up.
    (
        {"key": "dropout", "kind": "choice", "values": [0.1, 0.2]},
        HYPERBAND,
        {"warmup_epochs": 2},
        "warmup_epochs",
        "Hyperband's first rounds train 2 epoch(s)",
    ),
]


@pytest.mark.parametrize(
    ("dim", "settings", "changes", "field", "words"), REFUSED, ids=[r[4] for r in REFUSED]
)
def test_a_search_keras_tuner_or_training_would_fail_is_refused(
    dim: dict, settings: SearchSettings, changes: dict, field: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:  # when the space is read, or checked
        validate_search(BASE.replace(**changes), SearchSpace.from_list([dim]), settings)
    assert caught.value.field == field, str(caught.value)
    assert words in caught.value.message, caught.value.message
    assert len(str(caught.value)) < 300  # one short line, whatever the input held


def test_the_shortest_trial_must_outlast_the_longest_warm_up() -> None:
    # Each key alone makes valid runs with the base's 5 epochs; together they do not.
    space = SearchSpace.from_list(
        [
            {"key": "epochs", "kind": "int", "low": 2, "high": 8},
            {"key": "warmup_epochs", "kind": "int", "low": 0, "high": 2},
        ]
    )
    with pytest.raises(ConfigError, match="the shortest trial trains 2 epoch") as caught:
        validate_search(BASE, space, RANDOM)
    assert caught.value.field == "warmup_epochs"
    shorter = SearchSpace((space.dimensions[0], Dimension("warmup_epochs", "int", low=0, high=1)))
    validate_search(BASE, shorter, RANDOM)  # one warm-up epoch ends before two


def test_choices_take_their_key_s_type() -> None:
    space = SearchSpace.from_list(
        [
            {"key": "learning_rate", "kind": "choice", "values": [0.001, 1]},
            {"key": "batch_size", "kind": "choice", "values": [16.0, 32]},
        ]
    )
    rates, sizes = (d.values for d in space.dimensions)
    assert rates == (0.001, 1.0) and all(type(v) is float for v in rates)
    assert sizes == (16, 32) and all(type(v) is int for v in sizes)
    validate_search(BASE, space, RANDOM)


def test_an_int_log_range_steps_by_its_factor() -> None:
    dim = {"key": "dense_units", "kind": "int", "low": 16, "high": 1024, "step": 2, "log": True}
    space = SearchSpace.from_list([dim])
    validate_search(BASE, space, RANDOM)
    assert space.grid_size() == 7  # 16, 32, ..., 1024


@pytest.mark.parametrize(
    "dim",
    [REFUSED[i][0] for i in (4, 5, 9, 10)]
    + [{"key": "learning_rate", "kind": "choice", "values": [0.001, 1]}],
    ids=["list", "lists", "no step", "step 1", "int and float"],
)
def test_what_these_checks_refuse_keras_tuner_refuses_too(dim: dict) -> None:
    """The rules follow keras-tuner's: the same entry, declared as the worker declares it."""
    kt = pytest.importorskip("keras_tuner")
    from core.engine.search.hypermodel import declare

    raw = Dimension(**{**dim, "values": tuple(dim.get("values", ()))})  # as typed, unconverted
    with pytest.raises((TypeError, ValueError)):
        declare(kt.HyperParameters(), raw)


def test_every_problem_of_a_search_is_named_at_once() -> None:
    settings = SearchSettings(tuner="random", max_trials=0, keep_top=0)
    space = SearchSpace.from_list(
        [
            {"key": "dropout", "kind": "choice", "values": [0.1, 1.5]},  # 1.5 is no valid run
            {"key": "filters[0]", "kind": "float", "low": 8, "high": 32},  # whole numbers only
            {"key": "learning_rate", "kind": "choice", "values": [0.01, 0.1]},  # sound
        ]
    )
    problems = search_problems(BASE, space, settings)
    assert [p.field for p in problems] == ["dropout", "filters[0]", "max_trials", "keep_top"]
    with pytest.raises(ConfigError) as caught:
        validate_search(BASE, space, settings)
    assert [p.field for p in caught.value.problems] == [p.field for p in problems]


def test_a_sound_space_is_checked_as_a_whole_beside_bad_settings() -> None:
    # Grid size is checked even while another setting is wrong, so one press names both.
    space = SearchSpace.from_list(
        [
            {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 0.1, "step": 1e-9},
            {"key": "dropout", "kind": "float", "low": 0.0, "high": 0.5, "step": 1e-9},
        ]
    )
    problems = search_problems(BASE, space, SearchSettings(tuner="grid", keep_top=0))
    assert [p.field for p in problems][1] == "keep_top" and len(problems) == 2, problems
    assert "combinations" in problems[0].message


def test_a_cross_validated_search_names_what_it_cannot_combine_with() -> None:
    base = RunConfig(model="mlp", epochs=4, folds=3)
    space = SearchSpace.from_list([{"key": "dense_units", "kind": "choice", "values": [8, 16]}])
    assert search_problems(base, space, SearchSettings(tuner="random")) == []
    twice = search_problems(base, space, SearchSettings(tuner="random", executions_per_trial=2))
    assert [p.field for p in twice] == ["executions_per_trial"]
    assert "once per fold (3)" in twice[0].message
    for tuner in ("hyperband", "bayes-hyperband"):
        (problem,) = search_problems(base, space, SearchSettings(tuner=tuner, max_epochs=4))
        assert problem.field == "folds" and "set folds to 1" in problem.message
