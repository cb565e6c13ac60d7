"""Home: what is running now, the reports as recipes, the latest studies, and a way to start."""

from __future__ import annotations

import streamlit as st

from core.data.names import run_title
from core.spec.formats import MISSING, percent_points
from core.store import Status
from core.views import charts
from pages.ui import columns
from pages.ui.components import page_setup, status_badge
from pages.ui.nav import TRAIN_PAGE
from pages.ui.recipes import render_recipe_cards
from pages.ui.session import keep_queue_moving, store

page_setup("Hyperparameter Explorer")

st.markdown(
    "See what each hyperparameter does to a Keras image classifier: train with live curves, "
    "and keep every result."
)
if st.button("Train a model", type="primary", icon=":material/play_arrow:"):
    st.switch_page(TRAIN_PAGE)


@st.fragment(run_every=2.0)
def _running_now() -> None:
    s = store()
    keep_queue_moving(s)
    active = s.trials(statuses=(Status.RUNNING, Status.QUEUED))
    st.subheader("Running now")
    if not active:
        st.caption("Nothing is training.")
    for trial in reversed(active):
        fraction, text = charts.progress_of(trial)
        cfg = trial.config
        st.markdown(f"Run {trial.id} · {run_title(cfg)} {status_badge(trial)}")
        st.progress(fraction, text=text)
        st.page_link(
            TRAIN_PAGE,
            label="Watch it",
            icon=":material/monitoring:",
            query_params={"trial": str(trial.id)},
        )


_running_now()
render_recipe_cards()


@st.fragment(run_every=2.0)
def _latest_studies() -> None:
    """The newest studies, redrawn as often as "Running now" so the two always agree."""
    st.subheader("Latest studies")
    s = store()
    studies = s.studies(limit=20)
    if not studies:
        st.caption("No studies yet. Your runs will be listed here.")
        return
    trials = s.trials(study_ids=[x.id for x in studies])
    frame = charts.studies_frame(studies, trials)
    picked = st.dataframe(
        percent_points(frame, ["Best test accuracy"]),
        hide_index=True,
        key=f"studies-{max((t.id for t in trials), default=0)}",
        on_select="rerun",
        selection_mode="single-row",
        placeholder=MISSING,
        column_config={
            "Best test accuracy": columns.share("Best test accuracy"),
            "95% CI": st.column_config.TextColumn(help="The best test accuracy's 95% interval."),
        },
    )
    st.caption("Select a row to open its run.")
    rows = picked.selection.rows
    if rows:
        study_id = int(frame.iloc[rows[0]]["Study"])
        first = min(t.id for t in trials if t.study_id == study_id)
        st.switch_page(TRAIN_PAGE, query_params={"trial": str(first)})


_latest_studies()
