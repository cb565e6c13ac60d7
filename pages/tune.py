"""Tune: let keras-tuner search the hyperparameters, watch the trials live, resume any time."""

from __future__ import annotations

import json

import streamlit as st

from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import SearchSettings, SearchSpace
from core.store import Status
from core.worker.estimates import estimate_search
from core.worker.launch import ensure_worker
from core.worker.searches import SEARCH_KIND, launch_search
from pages.ui.components import page_setup
from pages.ui.errors import keep_problems, kept_problems, show_problems
from pages.ui.recipes import apply_tune_recipe, clear_note, recipe_note
from pages.ui.session import keep_queue_moving, store, store_trouble
from pages.ui.tune_form import (
    preset_base,
    read_request,
    render_preset_picker,
    render_settings,
    render_space_editor,
)
from pages.ui.tune_results import render_search
from pages.ui.upload import render_dataset_picker

page_setup("Tune")
st.caption(
    "Keras Tuner searches the hyperparameters in the background worker. Every finished trial "
    "is kept: close the tab, stop the search or let its time run out, and **Resume** goes on."
)


FORM = "tune"  # a refused launch's problems are kept under this name (pages.ui.errors)


def _launch(dataset: str) -> int:
    """Validate and queue the search and return its study id; or draw the editor again with
    every problem, each row or setting it names outlined."""
    try:
        request = read_request(dataset)
        with store_trouble():
            study_id = launch_search(store(), request.base, request.space, request.settings)
    except ConfigError as exc:
        keep_problems(FORM, exc.problems)
        st.rerun()
    keep_problems(FORM, [])
    keep_queue_moving(store())
    ensure_worker()
    clear_note()
    return study_id


def _estimate(dataset: str) -> None:
    """The search's plan and how long the worker would take, with the basis of the figure."""
    try:
        request = read_request(dataset)
        with store_trouble():
            sentence = _estimate_sentence(
                request.base.to_json(),
                json.dumps(request.space.to_list(), sort_keys=True),
                json.dumps(request.settings.to_dict(), sort_keys=True),
                store().status_counts().get(Status.COMPLETED, 0),
            )
    except ConfigError:
        return  # the error shows when Launch is pressed
    st.caption(f":material/schedule: {sentence}")


@st.cache_data(max_entries=32, ttl=300, show_spinner=False)
def _estimate_sentence(base: str, space: str, settings: str, completed: int) -> str:
    """The estimate of one search request, worked out again when another trial completes.

    It reads the timings of past trials (hundreds of rows), which a page redrawn at every
    widget change should not do each time; ``completed`` (how many trials the store has
    completed) is in the key so that a newly finished run counts.
    """
    estimate = estimate_search(
        store(),
        RunConfig.from_json(base),
        SearchSpace.from_list(json.loads(space)),
        SearchSettings.from_dict(json.loads(settings)),
    )
    return estimate.sentence


def _new_search() -> int | None:
    problems = kept_problems(FORM)
    dataset = render_dataset_picker()
    render_preset_picker(describe=recipe_note("tune") is None)
    st.markdown("**Search space** · per setting: fixed, a choice list, or a range")
    render_space_editor(preset_base(dataset), problems)
    st.markdown("**Tuner**")
    render_settings(problems)
    _estimate(dataset)
    if st.button("Launch search", type="primary", icon=":material/rocket_launch:"):
        return _launch(dataset)
    show_problems(problems, marked=())  # each in full: the rows are outlined above
    return None


def _chosen(searches: list) -> int | None:
    """The search to show: the one in the URL, else the latest."""
    ids = [x.id for x in searches]
    wanted = st.query_params.get("study")
    default = int(wanted) if wanted and wanted.isdigit() and int(wanted) in ids else None
    if wanted and default is None:
        st.warning(f"There is no search {wanted}; showing the latest one.")
    if not ids:
        return None
    names = {x.id: x.name for x in searches}
    chosen = st.selectbox(
        "Search",
        ids,
        index=ids.index(default) if default is not None else 0,
        format_func=lambda i: f"Search {i} · {names[i]}",
        key=f"tune-search-{default}-{ids[0]}",
    )
    if chosen is not None and str(chosen) != wanted:
        st.query_params["study"] = str(chosen)
    return chosen


s = store()
searches = s.studies(limit=200, kind=SEARCH_KIND)
linked = st.query_params.get("recipe") is not None
with st.expander("New search", expanded=linked or not searches, icon=":material/add:"):
    apply_tune_recipe()
    launched = _new_search()
if launched is not None:
    st.query_params["study"] = str(launched)
    st.rerun()
study_id = _chosen(searches)
if study_id is None:
    st.info(
        "No searches yet. The *report 000* preset searches the small CNN's filters, dense "
        "units, dropout and learning rate with Hyperband on the embedded digits dataset.",
        icon=":material/lightbulb:",
    )
else:
    render_search(study_id)
