"""Grid sizes are counted, never listed, and agree with the values keras-tuner walks."""

from __future__ import annotations

import random
import time

import pytest

from core.spec.config import ConfigError, RunConfig
from core.spec.grid import MAX_GRID_POINTS
from core.spec.search_space import Dimension, SearchSettings, SearchSpace, validate_search

BASE = RunConfig(model="mlp", epochs=2, batch_size=32)
GRID = SearchSettings(tuner="grid", max_trials=10)


def _small_ranges(rng: random.Random) -> list[Dimension]:
    """Ranges of every stepped kind keras-tuner can walk, with awkward float steps."""
    dims = []
    for _ in range(150):
        low = rng.randint(-50, 50)
        dims.append(Dimension("k", "int", low=low, high=low + rng.randint(0, 200), step=None))
        dims.append(Dimension("k", "int", low=low, high=low + rng.randint(0, 200), step=7))
        start = rng.randint(1, 40)
        dims.append(
            Dimension("k", "int", low=start, high=start * rng.randint(1, 500), step=2, log=True)
        )
        flow = round(rng.uniform(-5, 5), rng.choice([1, 2, 3]))
        fstep = rng.choice([0.1, 0.05, 0.3, 0.7, 0.01, 0.25, 1e-3])
        fhigh = max(flow, round(flow + rng.uniform(0, 8), rng.choice([1, 2, 3])))
        dims.append(Dimension("k", "float", low=flow, high=fhigh, step=fstep))
    return dims


def test_the_grid_size_is_the_number_of_values_keras_tuner_walks() -> None:
    kt_types = pytest.importorskip("keras_tuner.engine.hyperparameters")
    for dim in _small_ranges(random.Random(0)):
        if dim.kind == "int":
            sampling = "log" if dim.log else "linear"
            hp = kt_types.Int("k", dim.low, dim.high, step=dim.step, sampling=sampling)
        else:
            hp = kt_types.Float("k", dim.low, dim.high, step=dim.step)
        assert SearchSpace((dim,)).grid_size() == len(list(hp.values)), dim


def test_an_int_grid_is_the_length_of_its_range() -> None:
    rng = random.Random(1)
    for _ in range(500):
        low, step = rng.randint(-1000, 1000), rng.randint(1, 30)
        high = low + rng.randint(0, 3000)
        dim = Dimension("k", "int", low=low, high=high, step=step)
        assert SearchSpace((dim,)).grid_size() == len(range(low, high + 1, step))


def test_huge_grids_are_counted_at_once_without_listing_them() -> None:
    started = time.perf_counter()
    ints = SearchSpace((Dimension("k", "int", low=1, high=10**12),))
    floats = SearchSpace((Dimension("k", "float", low=0.0, high=1e6, step=1e-6),))
    tiny = SearchSpace((Dimension("k", "float", low=0.0, high=1e6, step=5e-324),))
    assert ints.grid_size() == 10**12
    assert floats.grid_size() == 10**12 + 1
    assert tiny.grid_size() == 10**18  # counted exactly, then capped for the message
    assert time.perf_counter() - started < 1


def _grid(*dims: dict) -> SearchSpace:
    return SearchSpace.from_list(list(dims))


def test_a_grid_up_to_the_cap_is_allowed_and_one_more_row_is_refused() -> None:
    units = {"key": "dense_units", "kind": "int", "low": 1, "high": 1000}
    l2 = {"key": "l2", "kind": "choice", "values": [i / 1000 for i in range(100)]}
    assert MAX_GRID_POINTS == 100_000
    validate_search(BASE, _grid(units, l2), GRID)  # 1,000 × 100
    wider = {**l2, "values": [i / 1000 for i in range(101)]}
    with pytest.raises(ConfigError, match="would try 101,000 combinations") as caught:
        validate_search(BASE, _grid(units, wider), GRID)
    assert caught.value.field == "dense_units"  # the key with the most values, to narrow


@pytest.mark.parametrize(
    ("dim", "shown"),
    [
        ({"key": "batch_size", "kind": "int", "low": 1, "high": 10**12}, "1,000,000,000,000"),
        (
            {"key": "learning_rate", "kind": "float", "low": 1e-6, "high": 1e6, "step": 1e-6},
            "1,000,000,000,000",
        ),
        (
            {"key": "learning_rate", "kind": "float", "low": 1e-6, "high": 1e6, "step": 5e-324},
            "more than 1,000,000,000,000,000,000",
        ),
    ],
)
def test_a_grid_over_the_cap_is_refused_with_its_count(dim: dict, shown: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_search(BASE, _grid(dim), GRID)
    assert caught.value.field == dim["key"]
    assert caught.value.message == (
        f"grid search would try {shown} combinations; the most it runs is 100,000: "
        "narrow a range or raise its step."
    )
