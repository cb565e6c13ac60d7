"""Compare: vary one hyperparameter (or two), see what it does, and whether it is real."""

from __future__ import annotations

import streamlit as st

from core.spec.sweeps import SWEEP_KIND, SweepSpec
from core.store import Study
from pages.ui.compare_form import render_sweep_form
from pages.ui.compare_view import render_sweep
from pages.ui.components import page_setup
from pages.ui.recipes import apply_compare_recipe, clear_note
from pages.ui.session import keep_queue_moving, store, store_trouble
from pages.ui.style import SPLIT_KEY

page_setup("Compare")
st.caption(
    "Train the same model with different values of one setting, side by side. Runs queue "
    "through the background worker; closing the tab does not stop them."
)


def _sweeps() -> list[tuple[Study, SweepSpec]]:
    found = []
    for study in store().studies(limit=200, kind=SWEEP_KIND):
        spec = SweepSpec.from_dict(study.spec) if study.kind == SWEEP_KIND else None
        if spec is not None:
            found.append((study, spec))
    return found


def _launch(sweep: dict) -> None:
    s = store()
    plan, spec = sweep["plan"], sweep["spec"]
    with store_trouble():
        study_id, _ = s.create_study(plan.name, plan.kind, plan.configs, spec=spec.to_dict())
    keep_queue_moving(s)
    clear_note()
    st.query_params["study"] = str(study_id)
    if sweep["redraw"]:
        st.rerun()


form_col, view_col = st.container(key=SPLIT_KEY).columns([1, 2.4], gap="large")
with form_col:
    st.subheader("New sweep")
    apply_compare_recipe()
    sweep = render_sweep_form(store())
    if sweep is not None:
        _launch(sweep)

with view_col:
    sweeps = _sweeps()
    if not sweeps:
        st.info(
            "No sweeps yet. The defaults repeat report 003's batch-size study on the "
            "embedded digits dataset: press **Launch sweep**.",
            icon=":material/lightbulb:",
        )
    else:
        by_id = dict((study.id, (study, spec)) for study, spec in sweeps)
        wanted = st.query_params.get("study", "")
        shown = int(wanted) if wanted.isdigit() and int(wanted) in by_id else sweeps[0][0].id
        if len(sweeps) > 1:
            # Keyed by the study in the address, so a newly launched sweep is selected.
            shown = st.selectbox(
                "Sweep",
                list(by_id),
                index=list(by_id).index(shown),
                format_func=lambda i: f"Study {i} · {by_id[i][0].name}",
                key=f"compare-study-{wanted}",
            )
            st.query_params["study"] = str(shown)
        render_sweep(*by_id[shown])
