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
