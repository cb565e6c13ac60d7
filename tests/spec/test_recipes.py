"""Every recipe is a search or a study the app accepts, and says how it differs here."""

from __future__ import annotations

import pytest

from core.spec.config import RunConfig
from core.spec.recipes import RECIPES, recipe
from core.spec.search_checks import validate_search
from core.spec.search_space import SearchSettings, presets
from core.spec.sweeps import default_values, plan_sweep

TUNE = [r for r in RECIPES if r.page == "tune"]


def test_the_four_reports_with_experiments_have_a_recipe() -> None:
    assert {r.report for r in RECIPES} == {"Report 000", "Report 002", "Report 003", "Report 004"}
    assert all(r.offline and r.summary for r in RECIPES)
    assert recipe("report003") is RECIPES[0] and recipe("nope") is None and recipe(None) is None


@pytest.mark.parametrize("item", TUNE, ids=lambda r: r.name)
def test_each_search_recipe_validates_on_digits_with_and_without_weights(item) -> None:  # noqa: ANN001
    preset = presets()[item.preset]
    base = preset.apply(RunConfig())
    settings = SearchSettings.from_dict({**preset.settings.to_dict(), **item.settings})
    space = item.search_space()
    validate_search(base, space, settings)
    stand_in = item.search_space(without_weights=True)
    validate_search(base, stand_in, settings)
    fixed = {d.key: d.value for d in stand_in.dimensions if not d.searched}
    if item.without_weights:  # a frozen random backbone would learn nothing: it trains whole
        assert fixed["pretrained"] == "none" and fixed["fine_tune_layers"] >= 1000
    assert len({d.key for d in stand_in.dimensions}) == len(stand_in.dimensions)


def test_a_recipe_replaces_preset_keys_in_place_and_keeps_the_rest() -> None:
    item = recipe("report004")
    assert item is not None
    preset_keys = [d.key for d in presets()["report004"].space.dimensions]
    keys = [d.key for d in item.search_space().dimensions]
    assert keys == preset_keys  # replaced where they were, nothing dropped
    size = next(d for d in item.search_space().dimensions if d.key == "img_size")
    assert size.values == (71, 96)


def test_the_batch_size_recipe_plans_five_sizes_three_times() -> None:
    item = recipe("report003")
    assert item is not None
    base = RunConfig(epochs=item.sweep["epochs"])
    values = default_values("batch_size", base, 1149)
    plan, spec = plan_sweep(base, {"batch_size": values}, item.sweep["repeats"])
    assert len(plan.configs) == 15 and spec.repeats == 3
