"""The Tune page's importance tab: worked out in the background, never holding up the page.

Permutation importance refits a model many times (a second or more over a few hundred
trials), and a running search changes its finished trials every few minutes: so it is worked
out in a thread of the server (``core.views.background``), once per set of finished trials,
while the tab shows the last one worked out, or says it is on its way.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.store import Study
from core.views import tune_charts
from core.views import tune_tables as tune_views
from core.views.background import Background

# Importance worked out within this long shows at once (a small search's takes milliseconds).
QUICK_S = 0.3
# One per server process: every session's view of a search shares its importance.
_IMPORTANCE: Background[tune_views.Importance] = Background()


def render_importance(study: Study, frame: pd.DataFrame, live: bool) -> None:
    """The importance tab's body; redrawn by the live view, or by itself while it waits."""
    done = tuple(tune_views.finished_rows(frame)["trial"])
    result, current = _IMPORTANCE.get(
        study.id, done, lambda: tune_views.parameter_importance(study, frame), wait_s=QUICK_S
    )
    if not current and not live:
        _waiting(study, frame)
        return
    _draw(study, result, current, len(done))


@st.fragment(run_every=1.0)
def _waiting(study: Study, frame: pd.DataFrame) -> None:
    """Draws the tab until the importance is worked out, then the whole page once."""
    done = tuple(tune_views.finished_rows(frame)["trial"])
    result, current = _IMPORTANCE.get(
        study.id, done, lambda: tune_views.parameter_importance(study, frame)
    )
    if current:
        st.rerun()
    _draw(study, result, current, len(done))


def _draw(study: Study, result: tune_views.Importance | None, current: bool, trials: int) -> None:
    if not current:
        st.caption(
            f":material/hourglass_top: Working out the importance over {trials} finished "
            "trials" + (" (shown: the last one worked out)." if result is not None else "…")
        )
        if result is None:
            return
    if result is None:
        one_budget = " of one budget" if study.spec.get("tuner") == "hyperband" else ""
        st.caption(
            f"Importance needs {tune_views.MIN_TRIALS_FOR_IMPORTANCE} finished trials"
            f"{one_budget} that scored differently, and a parameter that took more than "
            "one value."
        )
        return
    if result.verdict:
        st.info(result.verdict, icon=":material/help:")
    else:
        st.plotly_chart(
            tune_charts.importance_figure(result),
            key="tune-importance",
            config={"displaylogo": False},
        )
    if result.pair:
        st.markdown(f"**{result.pair}**")
    st.caption(result.method)
