"""Train: pick a dataset, a model and the hyperparameters, train, and watch it live."""

from __future__ import annotations

import streamlit as st

from core.data.checks import check_config
from core.data.names import run_title
from core.data.weights import check_weights
from core.spec.config import ConfigError, RunConfig
from core.spec.plan import plan_run
from core.store import Status
from pages.ui.components import page_setup, render_trial
from pages.ui.config_form import render_config_form
from pages.ui.errors import show_error
from pages.ui.session import keep_queue_moving, store, store_trouble
from pages.ui.style import SPLIT_KEY
from pages.ui.upload import render_dataset_picker

page_setup("Train")
st.caption(
    "Train one model in the background worker. Closing the tab or refreshing does not stop it."
)


def _launch(values: dict) -> int | None:
    """Validate and queue; return the new trial id, or None after showing what to fix."""
    try:
        cfg = check_config(RunConfig.from_dict(values))
        check_weights(cfg)
    except ConfigError as exc:
        show_error(exc)
        return None
    s = store()
    plan = plan_run(cfg, run_title(cfg.to_dict()))
    with store_trouble():
        _, trial_ids = s.create_study(plan.name, plan.kind, plan.configs)
    keep_queue_moving(s)
    return trial_ids[0]


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
    dataset = render_dataset_picker()
    values, submitted = render_config_form()
    values["dataset"] = dataset
    if submitted:
        new_trial = _launch(values)
        if new_trial is not None:
            st.query_params["trial"] = str(new_trial)

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
