"""One search on the Tune page: its state and Resume, the live trial table, the charts, and
the best trial beside the baseline.

Live while the search is queued or running (a fragment that polls the store and reads only
new epochs); drawn once, without polling, when it has stopped. Tables and figures come from
``core.views.tune_tables`` and ``core.views.tune_charts``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.analysis.diagnosis import failure_clusters
from core.analysis.trial_scores import accuracy_on_test
from core.spec.config import ConfigError
from core.spec.durations import format_duration
from core.spec.formats import MISSING, SETTING_FORMAT, loss, percent, percent_points
from core.spec.params import field_label
from core.store import Store, StoreError, Study, Trial
from core.views import tune_charts
from core.views import tune_tables as tune_views
from core.views.diagnosis_chart import add_cluster_notes
from core.views.runs import overlay_figure
from core.worker.launch import ensure_worker
from core.worker.searches import (
    RESUMABLE,
    cancel_search,
    resume_search,
    search_state,
)
from pages.ui import columns
from pages.ui.components import render_trial
from pages.ui.errors import show_error
from pages.ui.nav import RUNS_PAGE
from pages.ui.session import epoch_reader, keep_queue_moving, store
from pages.ui.tune_form import key_label
from pages.ui.tune_importance import render_importance

POLL_SECONDS = 2.0
STATE_BADGES = {
    "queued": ":grey-badge[:material/schedule: queued]",
    "running": ":blue-badge[:material/sync: running]",
    "done": ":green-badge[:material/check: done]",
    "interrupted": ":orange-badge[:material/warning: interrupted]",
    "out_of_time": ":orange-badge[:material/timer_off: out of time]",
    "cancelled": ":grey-badge[:material/block: cancelled]",
    "failed": ":red-badge[:material/error: failed]",
}
ACTIVE = ("queued", "running")
# The tabs of a search's charts; the open one is kept under CHART_TABS_KEY-<study id>.
CHART_TABS = ("Best so far", "Parallel coordinates", "Importance", "Each parameter")
CHART_TABS_KEY = "tune-charts"
_RESUME_REFUSED = "tune-resume-refused-{study}"  # why the last Resume of a search was refused


def render_search(study_id: int) -> None:
    """The whole view of one search: live while it runs, drawn once after it stops."""
    _view(study_id)


@st.fragment
def _view(study_id: int) -> None:
    """The view as a fragment of the page: a press in it (Resume, a row of the table, a chart
    tab) runs it alone, and the browser draws nothing above it (the new search's form) again.

    Its content sits in a container either way, as the live view's fragment draws in one: the
    same element tree, so a Resume (or a search's end) updates the charts and tables in place
    instead of the browser building each of them again.
    """
    s = store()
    s.reap_stale()  # a trial whose worker died reads as interrupted, not running
    trials = s.trials(study_ids=[study_id])
    state = search_state(s, study_id, trials)
    if state["state"] in ACTIVE:
        _live(study_id)
    else:
        with st.container():
            _render(study_id, state, trials, live=False)


@st.fragment(run_every=POLL_SECONDS)
def _live(study_id: int) -> None:
    s = store()
    keep_queue_moving(s)
    trials = s.trials(study_ids=[study_id])
    state = search_state(s, study_id, trials)
    if state["state"] == "queued":
        ensure_worker()  # a resumed search has no queued trial that would start one
    if state["state"] not in ACTIVE:
        st.rerun()  # draw the final view once, without polling
    _render(study_id, state, trials, live=True)


def _render(study_id: int, state: dict, trials: list[Trial], live: bool) -> None:
    """The search's view from its state and its trials (read once by the caller)."""
    s = store()
    study = s.study(study_id)
    _header(study, state)
    _actions(s, study, state)
    epochs = epoch_reader(f"tune-epochs-{study_id}").update(s, trials)
    frame = tune_views.trial_frame(study, trials, epochs)
    if frame.empty:
        st.caption("The trial table fills as the tuner starts each trial.")
        return
    selected = _table(study, frame)
    if selected:
        _selection(s, selected, live)
    _charts(study, frame, trials, live)
    _versus_baseline(s, study, state, live)


def _header(study: Study, state: dict) -> None:
    objective = tune_views.objective_of(study)
    st.markdown(f"#### Search {study.id} · {study.name} &nbsp; {STATE_BADGES[state['state']]}")
    planned = state["trials_planned"]
    parts = [f"{state['trials_done']} of {planned} trials done"]
    if state["trials_running"]:
        parts.append(f"{state['trials_running']} running")
    if state["best_value"] is not None:
        value = state["best_value"]
        shown = loss(value) if "loss" in objective.name else percent(value)
        best = f"best {objective.name} **{shown}**"
        if tune_views.partial_best(state):
            best += f" (after {state['best_epochs']} of {state['schedule_epochs']} epochs)"
        parts.append(best)
    if state["budget_s"] is not None:
        parts.append(
            f"time budget {format_duration(state['budget_s'])}, "
            f"{format_duration(state['left_s'] or 0)} left"
        )
    elif state["used_s"]:
        parts.append(f"{format_duration(state['used_s'])} of search time")
    st.markdown(" · ".join(parts))
    if state["state"] in ACTIVE and planned:
        st.progress(min(1.0, state["trials_done"] / planned))
    if state.get("error"):
        st.error(state["error"], icon=":material/error:")
    if state.get("note"):
        st.info(state["note"], icon=":material/info:")
    if state["trials_interrupted"] and state["state"] not in ("out_of_time", "cancelled"):
        st.warning(
            f"{state['trials_interrupted']} trial(s) were interrupted when the worker stopped; "
            "their finished epochs are kept and **Resume** goes on from there.",
            icon=":material/warning:",
        )


def _actions(s: Store, study: Study, state: dict) -> None:
    if state["state"] in ACTIVE:
        st.button(
            "Stop the search",
            icon=":material/stop_circle:",
            key=f"tune-stop-{study.id}",
            on_click=_stop,
            args=(study.id,),
            help="Ends the running trial after its current epoch; Resume goes on later.",
        )
        return
    if state["state"] not in RESUMABLE:
        return
    extra_col, button_col = st.columns([1, 2], vertical_alignment="bottom")
    extra_col.number_input(
        "Add time (minutes)",
        min_value=0.0,
        step=5.0,
        key=f"tune-extra-{study.id}",
        help="More time for the search's budget; needed when the budget is spent.",
    )
    # Resumed in the button's callback, before the page runs again: one run of the page
    # (which then finds the search queued and watches it live), not two.
    button_col.button(
        "Resume",
        type="primary",
        icon=":material/play_arrow:",
        key=f"tune-resume-{study.id}",
        on_click=_resume,
        args=(study.id,),
    )
    refused = st.session_state.pop(_RESUME_REFUSED.format(study=study.id), None)
    if isinstance(refused, ConfigError):
        show_error(refused)
    elif isinstance(refused, StoreError):
        st.error(refused.message, icon=":material/database:")


def _resume(study_id: int) -> None:
    extra = st.session_state.get(f"tune-extra-{study_id}") or 0.0
    try:
        resume_search(store(), study_id, extra_budget_s=extra * 60 if extra > 0 else None)
    except (ConfigError, StoreError) as exc:  # said where the button is, on the next run
        st.session_state[_RESUME_REFUSED.format(study=study_id)] = exc
        return
    ensure_worker()
    st.toast(f"Search {study_id} is queued again; it goes on from its finished trials.")


def _stop(study_id: int) -> None:
    cancel_search(store(), study_id)
    st.toast("Stopping after the running trial's current epoch…")


def _column_config(study: Study, frame: pd.DataFrame) -> tuple[dict, list[str]]:
    objective = tune_views.objective_of(study)
    is_accuracy = "loss" not in objective.name
    config = {
        "trial": st.column_config.NumberColumn("Run", format="%d", width=50),
        "number": st.column_config.NumberColumn(
            "#", format="%d", width=40, help="Order in which the tuner started the trials."
        ),
        "status": st.column_config.TextColumn("Status", width=90),
        "objective": (columns.share if is_accuracy else columns.loss)(
            objective.name,
            help=f"The trial's best {objective.name} ({'higher' if objective.maximize else 'lower'}"
            " is better).",
            width=100,
        ),
        "objective_std": st.column_config.NumberColumn(
            "± over folds",
            format="%.2f pp" if is_accuracy else "%.3f",
            width=85,
            help="The standard deviation of the trial's folds (in percentage points for a "
            "share): its objective is their mean.",
        ),
        "budget": st.column_config.NumberColumn(
            "Budget",
            format="%d ep",
            width=65,
            help="Epochs the tuner gave this trial. Hyperband trains most trials a few epochs "
            "and only the best for the full schedule: compare scores of the same budget.",
        ),
        "epochs_run": st.column_config.NumberColumn(
            "Epochs run",
            format="%d",
            width=75,
            help="Epochs this trial trained itself: a Hyperband trial that goes on from an "
            "earlier round's model counts only its own, and early stopping can end one sooner.",
        ),
        "stopped": st.column_config.TextColumn(
            "Why it stopped early",
            width=320,
            help="Optuna's pruner: the epoch, the trial's value and the threshold it missed "
            "among the trials of its bracket that reached that epoch; or early stopping.",
        ),
        "bracket": st.column_config.NumberColumn("Bracket", format="%d", width=65),
        "round": st.column_config.NumberColumn("Round", format="%d", width=60),
        "duration_s": st.column_config.NumberColumn(
            "Time",
            format="%.1f s",
            width=70,
            help="From the trial's first start to its end; a trial resumed after a stop "
            "counts the pause too.",
        ),
        "worker": st.column_config.TextColumn("Worker", width=110),
        "curve": st.column_config.LineChartColumn(
            "Validation curve",
            y_min=0.0 if is_accuracy else None,
            y_max=1.0 if is_accuracy else None,
            width=140,
        ),
    }
    keys = tune_views.searched_keys(study)
    for key in keys:
        values = pd.to_numeric(frame[key], errors="coerce")
        if values.notna().sum() and values.notna().sum() == frame[key].notna().sum():
            whole = bool((values.dropna() % 1 == 0).all())
            # Sampled values as people write them (0.00347, not 3.47e-03), still sorting by value.
            shown = "%d" if whole else SETTING_FORMAT
            config[key] = st.column_config.NumberColumn(key_label(key), format=shown)
        else:
            config[key] = st.column_config.TextColumn(key_label(key))
    # What a person scans first (how it went) on the left; the values tried after.
    order = ["trial", "number", "status", "objective", "budget", "curve", "epochs_run"]
    if frame["objective_std"].notna().any():  # a cross-validated search
        order.insert(order.index("objective") + 1, "objective_std")
    if frame["stopped"].notna().any():
        order.append("stopped")
    if frame["bracket"].notna().any():
        order += ["bracket", "round"]
    order += [*keys, "duration_s"]
    if frame["worker"].nunique() > 1:
        order.append("worker")
    return config, order


def _table(study: Study, frame: pd.DataFrame) -> list[int]:
    """Draw the trial table; return the store ids of the selected trials."""
    config, order = _column_config(study, frame)
    frame = _rounded(frame, tune_views.searched_keys(study))
    if "loss" not in tune_views.objective_of(study).name:
        frame = percent_points(frame, ["objective", "objective_std"])
    # Rows are the study's trials by number; new ones are only ever appended, so a selection's
    # positions keep pointing at the same trials while the table grows.
    picked = st.dataframe(
        frame,
        hide_index=True,
        column_config=config,
        column_order=order,
        on_select="rerun",
        selection_mode="multi-row",
        key=f"tune-trials-{study.id}",
        placeholder=MISSING,
        height=min(420, 38 + 35 * len(frame)),
    )
    st.caption(
        f"{len(frame)} trial{'s' if len(frame) != 1 else ''} · click a column to sort · "
        "select rows to overlay their curves."
    )
    rows = sorted(picked.selection.rows)
    return [int(frame.iloc[i]["trial"]) for i in rows if i < len(frame)]


def _rounded(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Searched numbers to 4 significant digits for display (a sampled 0.000839559... reads
    as 0.0008396)."""
    shown = frame.copy()
    for key in keys:
        values = pd.to_numeric(shown[key], errors="coerce")
        if values.notna().sum() and values.notna().sum() == shown[key].notna().sum():
            shown[key] = [float(f"{v:.4g}") if pd.notna(v) else None for v in values]
    return shown


def _selection(s: Store, selected: list[int], live: bool) -> None:
    st.plotly_chart(overlay_figure(s, selected), key="tune-overlay", config={"displaylogo": False})
    if len(selected) != 1:
        return
    trial = s.trial(selected[0])
    # Once the search has ended; trials it did not keep show no test scores, but Promote.
    if not live and trial.status.finished:
        with st.expander(f"Run {trial.id} in full"):
            render_trial(trial.id)
    else:
        st.page_link(
            RUNS_PAGE,
            label=f"Open run {trial.id} on the Runs page",
            icon=":material/open_in_new:",
            query_params={"trial": str(trial.id)},
        )


def _charts(study: Study, frame: pd.DataFrame, trials: list[Trial], live: bool) -> None:
    objective = tune_views.objective_of(study)
    if tune_views.finished_rows(frame).empty:
        st.caption("The charts appear when the first trial finishes.")
        return
    # Only the open tab is drawn (and worked out): a page of four Plotly charts takes the
    # browser about a second longer to show, and most visits look at the first.
    progress, parallel, importance, scatter = st.tabs(
        list(CHART_TABS), key=f"{CHART_TABS_KEY}-{study.id}", on_change="rerun"
    )
    if progress.open:
        with progress:
            _plot(tune_charts.best_so_far_figure(frame, objective), "tune-best")
    if parallel.open:
        with parallel:
            # Where failures and divergences cluster, written above the chart
            # (core.analysis.diagnosis).
            clusters = failure_clusters(trials)
            figure = add_cluster_notes(tune_charts.parallel_figure(study, frame), clusters)
            _plot(figure, "tune-parallel")
            st.caption(
                "One line per finished trial; brighter lines scored better. Drag along an "
                "axis to keep only the trials in that range."
            )
    if importance.open:
        with importance:
            render_importance(study, frame, live)
    if scatter.open:
        with scatter:
            _plot(tune_charts.scatter_figure(study, frame), "tune-scatter")


def _plot(figure: Any, key: str) -> None:
    st.plotly_chart(figure, key=key, config={"displaylogo": False})


def _versus_baseline(s: Store, study: Study, state: dict, live: bool) -> None:
    if state["best_trial"] is None:
        return
    best = s.trial(state["best_trial"])
    has_baseline = study.spec.get("baseline_study") is not None
    st.subheader(
        "Best trial so far"
        if live
        else "Best trial beside the baseline"
        if has_baseline
        else "Best trial"
    )
    baseline = tune_views.baseline_trial(s, study)
    if baseline is None:
        st.caption(f"Run {best.id}. This search was launched without a baseline run.")
        _notes(state)
        st.plotly_chart(
            overlay_figure(s, [best.id]), key="tune-versus-curves", config={"displaylogo": False}
        )
        _best_in_full(best, state, live)
        return
    objective = tune_views.objective_of(study)
    _notes(state)
    folds = int((study.spec.get("base") or {}).get("folds") or 1)
    table = tune_views.versus_baseline(
        best,
        s.epochs(best.id),
        baseline,
        s.epochs(baseline.id),
        objective,
        state["baseline_value"] if folds > 1 else None,  # the mean of the baseline's folds
    )
    left, right = st.columns([1.25, 1.5])
    left.dataframe(
        tune_views.shown_versus(table),
        hide_index=True,
        placeholder=MISSING,
        column_config={
            "metric": st.column_config.TextColumn("Metric"),
            "best trial": st.column_config.TextColumn(
                f"Run {best.id}{_epochs(state['best_epochs'])}",
                help=f"The best trial, run {best.id}, and the epochs the tuner gave it.",
            ),
            "baseline": st.column_config.TextColumn(
                f"Baseline{_epochs(state['baseline_epochs'])}",
                help=f"The untuned base config, run {baseline.id}, and its epochs.",
            ),
            "change": st.column_config.TextColumn(
                "Change", help="Best trial minus baseline; for a share, in percentage points."
            ),
        },
        key=f"tune-versus-{study.id}",
    )
    tested = [(name, accuracy_on_test(t)) for name, t in (("best", best), ("baseline", baseline))]
    shown = [f"{name} {score.text()}" for name, score in tested if score is not None]
    if shown:
        left.caption("Test accuracy: " + " · ".join(shown))
    if not baseline.status.finished:
        left.caption(f"The baseline run is {baseline.status}; its scores appear when it ends.")
    elif best.test_accuracy is None and live:
        left.caption("Test scores are measured for the best trials when the search ends.")
    diff = tune_views.settings_diff(best, baseline).rename(index=field_label)
    left.dataframe(diff, key=f"tune-diff-{study.id}", placeholder=MISSING)
    right.plotly_chart(
        overlay_figure(s, [best.id, baseline.id]),
        key="tune-versus-curves",
        config={"displaylogo": False},
    )
    _best_in_full(best, state, live)


def _epochs(epochs: int | None) -> str:
    """`` · 2 ep`` after a column's name, so two scores are read with their budgets."""
    return "" if epochs is None else f" · {epochs} ep"


def _notes(state: dict) -> None:
    """Whether the baseline beats every trial, and what the best trial is, before its numbers."""
    baseline, budget = tune_views.baseline_note(state), tune_views.budget_note(state)
    if baseline:
        st.warning(baseline, icon=":material/trending_down:")
    if budget:
        st.info(budget, icon=":material/hourglass_bottom:")


def _best_in_full(best: Trial, state: dict, live: bool) -> None:
    """Once the search has ended: the best run's full view, with its downloads; said plainly
    what it is when it was trained for part of the schedule or the baseline beats it."""
    if live:
        return
    elsewhere = tune_views.weights_elsewhere(best)
    if elsewhere:
        st.info(elsewhere, icon=":material/lan:")
    if best.test_accuracy is None and not elsewhere:
        return
    label = f"Run {best.id} in full, with its model to download"
    caveats = [tune_views.partial_best(state)] if tune_views.partial_best(state) else []
    if state["baseline_better"]:
        caveats.append("the baseline beats it")
    if caveats:
        label = f"Run {best.id} in full ({'; '.join(caveats)}), with its model to download"
    with st.expander(label, expanded=True):
        render_trial(best.id)
