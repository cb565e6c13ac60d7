"""Home: what is running now, the latest studies, and a way to start."""

from __future__ import annotations

import streamlit as st

from core import charts
from core.store import Status
from pages.components import keep_queue_moving, status_badge, store

st.title("Hyperparameter Explorer")
st.markdown(
    "See what each hyperparameter does to a Keras image classifier: train with live curves, "
    "and keep every result."
)
if st.button("Train a model", type="primary", icon=":material/play_arrow:"):
    st.switch_page("pages/train.py")


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
        st.markdown(f"Run {trial.id} · {cfg['model']} on {cfg['dataset']} {status_badge(trial)}")
        st.progress(fraction, text=text)
        st.page_link(
            "pages/train.py",
            label="Watch it",
            icon=":material/monitoring:",
            query_params={"trial": str(trial.id)},
        )


_running_now()

st.subheader("Latest studies")
s = store()
studies = s.studies(limit=20)
if not studies:
    st.caption("No studies yet. Your runs will be listed here.")
else:
    trials = s.trials(study_ids=[x.id for x in studies])
    st.dataframe(
        charts.studies_frame(studies, trials),
        hide_index=True,
        column_config={
            "Best test accuracy": st.column_config.NumberColumn(format="percent"),
        },
    )
