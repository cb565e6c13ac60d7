"""The reports as recipes: Home's cards open Compare and Tune set up, and each launches."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.spec.recipes import RECIPES
from core.spec.sweeps import SweepSpec
from core.store import Store
from core.worker.searches import SEARCH_KIND
from tests.app.conftest import APP

HOME, COMPARE, TUNE = "pages/home.py", "pages/compare.py", "pages/tune.py"


def open_page(page: str, recipe: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if recipe is not None:
        at.query_params["recipe"] = recipe
    at.switch_page(page)
    return at.run()


def _button(at: AppTest, label: str):  # noqa: ANN202 - AppTest's element type
    return next(b for b in at.button if b.label == label)


def test_home_shows_every_recipe_with_how_it_differs_here(store: Store) -> None:
    at = open_page(HOME)
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    captions = "\n".join(c.value for c in at.caption)
    for recipe in RECIPES:
        assert f"**{recipe.title}** · {recipe.report}" in text
        assert recipe.offline in captions
    assert sum(b.label.startswith("Set up on") for b in at.button) == len(RECIPES)


def test_a_card_opens_its_page_set_up(store: Store) -> None:
    at = open_page(HOME)
    at.button(key="recipe-report003").click().run()
    assert not at.exception
    assert at.title[0].value == "Compare"
    assert at.selectbox(key="compare-key").value == "batch_size"
    assert at.number_input(key="compare-repeats").value == 3
    assert any("Report 003 · Batch size study" in i.value for i in at.info)


def test_the_batch_size_recipe_queues_report_003s_study(store: Store, busy_worker: None) -> None:
    at = open_page(COMPARE, "report003")
    assert not at.exception
    assert at.number_input(key="compare-epochs").value == 10
    assert "recipe" not in at.query_params  # applied once: later changes are the person's
    _button(at, "Launch sweep").click().run()
    assert not at.exception and not at.error
    (study,) = store.studies()
    spec = SweepSpec.from_dict(study.spec)
    assert spec.keys == ("batch_size",) and spec.repeats == 3
    trials = store.trials(study_ids=[study.id])
    assert len(trials) == 5 * 3
    assert {t.config["epochs"] for t in trials} == {10}
    at.run()  # once launched, the page no longer says the recipe is set up below
    assert not any("Report 003" in i.value for i in at.info)


def test_the_transfer_search_recipe_says_how_it_runs_without_weights(
    store: Store, busy_worker: None
) -> None:
    at = open_page(TUNE, "report004")
    assert not at.exception
    assert at.text_input(key="tune-img_size-values").value == "71, 96"
    # No ImageNet weights in this cache: the backbones start from random weights, and say so.
    assert at.selectbox(key="tune-pretrained-kind").value == "fixed"
    assert at.text_input(key="tune-pretrained-value").value == "none"
    assert at.selectbox(key="tune-fine_tune_layers-kind").value == "fixed"  # trains whole
    note = next(i.value for i in at.info if "Report 004" in i.value)
    assert "not cached" in note and "71" in note
    # The preset's own description (ImageNet weights) would contradict the note: left out.
    assert not any("ImageNet" in c.value for c in at.caption)
    assert at.number_input(key="tune-max_trials").value == 10
    _button(at, "Launch search").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (study,) = store.studies(kind=SEARCH_KIND)
    space = {d["key"]: d for d in study.spec["space"]}
    assert space["img_size"]["values"] == [71, 96]
    assert space["pretrained"] == {"key": "pretrained", "kind": "fixed", "value": "none"}
    assert space["fine_tune_layers"]["value"] >= 1000


def test_the_hyperband_recipe_is_the_report_000_preset_unchanged(store: Store) -> None:
    at = open_page(TUNE, "report000")
    assert not at.exception
    assert at.selectbox(key="tune-preset").value == "report000"
    assert at.selectbox(key="tune-tuner").value == "hyperband"
    assert not any(s.key == "tune-pretrained-kind" for s in at.selectbox)


def test_picking_another_preset_replaces_the_recipes_note_by_the_presets_description(
    store: Store,
) -> None:
    at = open_page(TUNE, "report004")
    assert any("Report 004" in i.value for i in at.info)
    at.selectbox(key="tune-preset").set_value("report000").run()
    assert not any("Report 004" in i.value for i in at.info)
    assert any(c.value.startswith("Conv-AvgPool-BN x2") for c in at.caption)


def test_an_unknown_recipe_says_so_and_leaves_the_form_alone(store: Store) -> None:
    at = open_page(TUNE, "report999")
    assert not at.exception
    assert any("no recipe called 'report999'" in w.value for w in at.warning)
    assert at.selectbox(key="tune-preset").value == "report000"


def test_the_cross_validated_recipe_sets_five_folds_and_queues_a_five_fold_baseline(
    store: Store, busy_worker: None
) -> None:
    at = open_page(TUNE, "report004cv")
    assert not at.exception
    assert at.number_input(key="tune-folds").value == 5
    assert at.number_input(key="tune-max_trials").value == 6
    assert at.selectbox(key="tune-tuner").value == "bayesian"
    _button(at, "Launch search").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (study,) = store.studies(kind=SEARCH_KIND)
    assert study.spec["base"]["folds"] == 5
    assert {d["key"]: d for d in study.spec["space"]}["epochs"]["high"] == 5
    assert len(store.trials([study.spec["baseline_study"]])) == 5
