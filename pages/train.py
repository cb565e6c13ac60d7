"""Train: pick a dataset, a model and the hyperparameters, train, and watch it live."""

from __future__ import annotations

import streamlit as st

from core.data.checks import launch_problems
from core.data.names import run_title
from core.spec.config import ConfigError
from core.spec.plan import plan_run
from core.store import Status
from pages.ui.components import page_setup, render_trial
from pages.ui.config_form import load_into_form, render_config_form
from pages.ui.errors import keep_problems, kept_problems, problem_box, show_field_problem
from pages.ui.session import keep_queue_moving, store, store_trouble
from pages.ui.style import SPLIT_KEY
from pages.ui.upload import KEY as DATASET_KEY
from pages.ui.upload import render_dataset_picker

page_setup("Train")
st.caption(
    "Train one model in the background worker. Closing the tab or refreshing does not stop it."
)


FORM = "train"
# The run (its id, as the link gives it) whose settings the form was last filled with.
FILLED_KEY = "train-form-filled-from"


def _fill_from_link() -> None:
    """A run opened by its link (``?trial=N``) fills the form with its own settings.

    Once per run opened, before the form is drawn, so what the person then changes stays.
    """
    wanted = st.query_params.get("trial")
    if not wanted or not wanted.isdigit() or st.session_state.get(FILLED_KEY) == wanted:
        return
    st.session_state[FILLED_KEY] = wanted
    try:
        config = store().trial(int(wanted)).config
        load_into_form(config)
    except (KeyError, ConfigError):  # no such run, or one recorded by another version
        return
    st.session_state[DATASET_KEY] = config["dataset"]


def _launch(values: dict) -> None:
    """Validate and queue, then show the new run; or draw the form again with its problems."""
    cfg, problems = launch_problems(values)
    shown_problems = bool(kept_problems(FORM))
    keep_problems(FORM, problems)
    if cfg is None:
        st.rerun()
    s = store()
    plan = plan_run(cfg, run_title(cfg.to_dict()))
    with store_trouble():
        _, trial_ids = s.create_study(plan.name, plan.kind, plan.configs)
    keep_queue_moving(s)
    st.query_params["trial"] = st.session_state[FILLED_KEY] = str(trial_ids[0])
    if shown_problems:  # drawn above already: draw the form again without them
        st.rerun()


def _shown_trial() -> int | None:
    """The run this page shows: the one in the URL, else the running one, else the latest."""
    s = store()
    wanted = st.query_params.get("trial")
    if wanted and wanted.isdigit():
        try:
            return s.trial(int(wanted)).id
        except KeyError:
            st.warning(f"There is no run {wanted}; showing the latest one.")
    active = s.trials(statuses=(Status.RUNNING, Status.QUEUED), limit=1)
    latest = active or s.trials(limit=1)
    return latest[0].id if latest else None


form_col, run_col = st.container(key=SPLIT_KEY).columns([1.15, 2], gap="large")
with form_col:
    problems = kept_problems(FORM)
    _fill_from_link()
    with problem_box(problems, "dataset", st.container()):
        dataset = render_dataset_picker()
        show_field_problem(problems, "dataset", st)
    values, submitted = render_config_form(problems)
    values["dataset"] = dataset
    if submitted:
        _launch(values)

with run_col:
    trial_id = _shown_trial()
    if trial_id is None:
        st.info(
            "No runs yet. The defaults train a small CNN on the embedded digits dataset "
            "in well under a minute: press **Train**.",
            icon=":material/lightbulb:",
        )
    else:
        render_trial(trial_id)
