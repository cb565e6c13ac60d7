"""Any JSON-like value for any setting, plus made-up settings: the loader answers with a
ConfigError or a valid config, and never with any other exception."""

from __future__ import annotations

import json
import math
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.spec.config import ConfigError, RunConfig

pytestmark = pytest.mark.faults

KEYS = [f.name for f in fields(RunConfig)]
DEFAULTS = RunConfig().to_dict()

# Values that once broke parsing or range messages: huge numbers, long digit strings, paths
# the file system cannot even look at.
NASTY = [
    "",
    " ",
    "0",
    "1e3",
    "flip",
    "rotation:x",
    "rotation:-1",
    "zoom:",
    ":",
    "nan",
    "inf",
    "16,64",
    "8, lots",
    "-3",
    "imagenet",
    "transfer",
    "9" * 5000,
    "16," + "9" * 5000,
    "~no-such-user-here/photos",
    "/" + "x" * 300,
    "x" * 5000,
    "a\x00b",
    10**400,
    -(10**400),
    2**63,
    1e308,
    5e-324,
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**500), max_value=10**500)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(NASTY)
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
# Near-valid values of each setting are mixed in, so the checks after typing are reached too.
plausible = {
    key: st.sampled_from([value, *([value[:1], value * 2] if isinstance(value, list) else [])])
    for key, value in DEFAULTS.items()
}
value_for = {key: json_like | plausible[key] for key in KEYS}
configs = st.fixed_dictionaries(
    {}, optional={key: value_for[key] for key in KEYS}
) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), json_like, max_size=6)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def _load(load, data) -> None:
    try:
        cfg = load(data)
    except ConfigError as exc:
        assert isinstance(exc.field, str) and exc.message
        return
    # Whatever is accepted is a config that round-trips.
    assert RunConfig.from_json(cfg.to_json()) == cfg
    assert all(math.isfinite(v) for v in cfg.to_dict().values() if isinstance(v, float))


@FUZZ
@given(configs)
def test_from_dict_raises_only_config_errors(data: dict) -> None:
    _load(RunConfig.from_dict, data)


@FUZZ
@given(configs | json_like)
def test_from_json_raises_only_config_errors(data) -> None:
    try:
        text = json.dumps(data)
    except (ValueError, TypeError):  # pragma: no cover - json_like always encodes
        return
    _load(RunConfig.from_json, text)


@FUZZ
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_config_errors(text: str) -> None:
    _load(RunConfig.from_json, text)


SEARCH_KEYS = ["epochs", "batch_size", "learning_rate", "dropout", "dense_units", "optimizer"]
SEARCH_KEYS += ["nesterov", "filters", "filters[0]", "augment", "warmup_epochs", "colour"]
numbers = st.integers(-(10**6), 10**6) | st.floats(allow_nan=True) | st.sampled_from(NASTY)
dimensions = st.fixed_dictionaries(
    {"key": st.sampled_from(SEARCH_KEYS), "kind": st.sampled_from(["choice", "int", "float"])},
    optional={
        "low": numbers,
        "high": numbers,
        "step": numbers,
        "log": st.booleans() | json_like,
        "values": st.lists(json_like | numbers, max_size=4),
    },
)
# Valid entries, and each with one field replaced, so the checks past the first are reached.
VALID_DIMS = [
    {"key": "dropout", "kind": "float", "low": 0.1, "high": 0.5, "step": 0.1},
    {"key": "learning_rate", "kind": "float", "low": 1e-4, "high": 1e-2, "log": True},
    {"key": "dense_units", "kind": "int", "low": 16, "high": 256, "step": 16},
    {"key": "dense_units", "kind": "int", "low": 16, "high": 256, "step": 2, "log": True},
    {"key": "optimizer", "kind": "choice", "values": ["adam", "sgd"]},
    {"key": "batch_size", "kind": "choice", "values": [16, 32]},
    {"key": "epochs", "kind": "int", "low": 1, "high": 4},
    {"key": "warmup_epochs", "kind": "int", "low": 0, "high": 3},
]
FIELDS = ["key", "kind", "low", "high", "step", "log", "values"]
mutated = st.tuples(st.sampled_from(VALID_DIMS), st.sampled_from(FIELDS), json_like | numbers)
dimensions = (
    dimensions
    | st.sampled_from(VALID_DIMS)
    | mutated.map(lambda change: {**change[0], change[1]: change[2]})
)
tuners = st.sampled_from(["random", "grid", "bayesian", "hyperband"])


@FUZZ
@given(st.lists(dimensions, min_size=1, max_size=3), tuners)
def test_a_search_space_is_refused_with_a_config_error_or_keras_tuner_takes_it(
    dims: list, tuner: str
) -> None:
    from core.spec.search_space import SearchSettings, SearchSpace, validate_search

    base = RunConfig(model="mlp", epochs=4, batch_size=32)
    try:
        space = SearchSpace.from_json(json.dumps(dims))
        validate_search(base, space, SearchSettings(tuner=tuner, max_trials=3))
    except ConfigError as exc:
        assert isinstance(exc.field, str) and exc.message and len(str(exc)) < 400
        return
    # What the checks accept, keras-tuner declares as the worker does, without an error.
    kt = pytest.importorskip("keras_tuner")
    from core.engine.search.hypermodel import declare

    hp = kt.HyperParameters()
    for dim in space.searched:
        declare(hp, dim)
    if tuner == "grid":
        assert 1 <= space.grid_size() <= 100_000
