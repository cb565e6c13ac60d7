"""The reports as one-click recipes: cards on Home, and the set-up on Compare and Tune.

A card's button opens the recipe's page with ``?recipe=<name>``; that page writes the
recipe into its widgets once (``apply_compare_recipe``, ``apply_tune_recipe``), drops the
parameter so that the person's own changes are kept, and says above its form what was set
up and how it differs from the report. Nothing is queued until Launch is pressed.
"""

from __future__ import annotations

import streamlit as st

from core.data.weights import search_lacks_weights
from core.spec.config import RunConfig
from core.spec.recipes import RECIPES, Recipe, recipe
from core.spec.search_space import presets
from pages.ui.compare_form import NO_SECOND, TRAIN_SOURCE
from pages.ui.nav import COMPARE_PAGE, TUNE_PAGE
from pages.ui.tune_form import NUMBERS, PRESET, load_preset, write_space

PARAM = "recipe"
NOTE_KEY = "recipe-note"
_PAGES = {"compare": COMPARE_PAGE, "tune": TUNE_PAGE}


def render_recipe_cards() -> None:
    """One card per recipe, two to a row: what it runs, how it is adapted, a button."""
    st.subheader("Recipes from the reports")
    st.caption("Each sets up an experiment of the reports on its page; nothing runs until Launch.")
    for start in range(0, len(RECIPES), 2):
        for col, item in zip(st.columns(2), RECIPES[start : start + 2], strict=False):
            with col.container(border=True):
                st.markdown(f"**{item.title}** · {item.report}")
                st.markdown(item.summary)
                st.caption(f"Here: {item.offline}")
                where = "Compare" if item.page == "compare" else "Tune"
                if st.button(
                    f"Set up on {where}", key=f"recipe-{item.name}", icon=":material/tune:"
                ):
                    st.switch_page(_PAGES[item.page], query_params={PARAM: item.name})


def _linked(page: str) -> Recipe | None:
    """The recipe the address asks this page for (once: the parameter is then dropped)."""
    name = st.query_params.get(PARAM)
    if name is None:
        return None
    del st.query_params[PARAM]
    found = recipe(name)
    if found is None:
        st.warning(f"There is no recipe called {name!r}; the form is as you left it.")
        return None
    if found.page != page:
        return None
    return found


def apply_compare_recipe() -> None:
    """Set the sweep form to the recipe of the address, if any; show the note of the last one."""
    found = _linked("compare")
    if found is not None:
        state = st.session_state
        key = found.sweep["key"]
        state["compare-source"] = TRAIN_SOURCE
        state["compare-key"] = key
        state["compare-key2"] = NO_SECOND
        state["compare-repeats"] = int(found.sweep.get("repeats", 1))
        state["compare-epochs"] = int(found.sweep.get("epochs", RunConfig().epochs))
        state.pop(f"compare-values-{key}", None)  # the values box starts at its defaults
        state[NOTE_KEY] = _note(found, "")
    _show_note("compare")


def apply_tune_recipe() -> None:
    """Load the recipe of the address into the search editor, if any; show its note."""
    found = _linked("tune")
    if found is not None and found.preset is not None:
        state = st.session_state
        state[PRESET] = found.preset
        load_preset(found.preset)
        space = found.search_space()
        extra = ""
        base = presets()[found.preset].apply(RunConfig())
        if found.without_weights and search_lacks_weights(base, space):
            space = found.search_space(without_weights=True)
            extra = found.weights_note
        write_space(space)
        by_field = {field: key for key, (field, _) in NUMBERS.items()}
        for field, value in found.settings.items():
            state[by_field[field]] = value
        state[NOTE_KEY] = _note(found, extra)
    _show_note("tune")


def _note(found: Recipe, extra: str) -> tuple[str, str, str | None]:
    text = f"**{found.report} · {found.title}** is set up below. {found.offline}"
    return found.page, f"{text} {extra}".strip(), found.preset


def recipe_note(page: str) -> str | None:
    """The note of the recipe set up on ``page``, while its set-up stands.

    On Tune, picking another preset replaces the recipe's set-up, and its note goes.
    """
    note = st.session_state.get(NOTE_KEY)
    if not note or note[0] != page:
        return None
    preset = note[2] if len(note) > 2 else None
    if preset is not None and st.session_state.get(PRESET) != preset:
        return None
    return note[1]


def _show_note(page: str) -> None:
    note = recipe_note(page)
    if note:
        st.info(note, icon=":material/menu_book:")


def clear_note() -> None:
    """Forget the recipe's note (its experiment was launched)."""
    st.session_state.pop(NOTE_KEY, None)
