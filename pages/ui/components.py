"""Shared by the pages: page set-up and navigation, the store handle, the live run view.

Everything shown comes from the store; figures and tables come from ``core.views.charts``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from core.analysis.diagnosis import diagnose_trial
from core.analysis.folds import summarize_folds
from core.data.names import run_title
from core.spec.durations import format_duration
from core.spec.formats import MISSING, percent_points
from core.store import Status, Store, Trial
from core.views import charts, score_text
from core.views import class_results as evaluation_views
from core.views import diagnosis_chart as diagnosis_views
from pages.ui import columns
from pages.ui.compare_form import remember_train_settings
from pages.ui.config_form import load_into_form
from pages.ui.diagnosis import render_flags
from pages.ui.fork import render_fork, render_origin, render_versus_parent
from pages.ui.handover import render_handover
from pages.ui.session import keep_queue_moving, store, store_trouble

POLL_SECONDS = 0.5


def page_setup(title: str) -> None:
    """Title the page and its browser tab; keep the Train form's settings for Compare."""
    _through_the_entry_point()
    st.set_page_config(
        page_title=title
        if title.startswith("Hyperparameter")
        else f"{title} · Hyperparameter Explorer",
    )
    # Streamlit forgets a page's widgets when another page opens: keep the Train form's
    # values (present only while the Train page runs) for the Compare page's base config.
    remember_train_settings()
    st.title(title)


# Set once this session has been sent through the entry point (see _through_the_entry_point).
ENTERED_KEY = "entered-through-app"


def _through_the_entry_point() -> None:
    """Run the page through ``app.py`` when Streamlit ran it on its own.

    A server that finds a ``pages/`` folder beside its entry point serves its first visitor
    in the legacy multipage mode until a script calls ``st.navigation``: a first visit to a
    deep link such as ``/train?trial=5`` would run ``pages/train.py`` alone, without the
    navigation bar, the wide layout or the style. Turning that mode off and rerunning sends
    the same address (its query parameters kept) through ``app.py``, as every later visit goes.
    Once per session at most: a rerun drops the click that started the run, and the mode,
    once off, stays off for the server's life.
    """
    if PagesManager.uses_pages_directory and not st.session_state.get(ENTERED_KEY):
        st.session_state[ENTERED_KEY] = True
        PagesManager.uses_pages_directory = False
        st.rerun()


def status_badge(trial: Trial) -> str:
    """Markdown badge for a trial's status."""
    return charts.STATUS_BADGES[trial.status]


def render_trial(trial_id: int) -> None:
    """The whole view of one trial: live while it runs, results once it ends.

    For a k-fold study, a summary across folds comes first, with a choice of fold.
    """
    s = store()
    trial = s.trial(trial_id)
    siblings = s.trials(study_ids=[trial.study_id])
    if len(siblings) > 1 and s.study(trial.study_id).kind == "kfold":
        trial = _render_folds(trial, siblings)
    if trial.status.finished:
        _render_body(s, trial)
    else:
        _live(trial.id)


def _render_folds(trial: Trial, folds: list[Trial]) -> Trial:
    """Validation mean ± std over finished folds, the test score, a fold picker.

    Returns the fold to show.
    """
    # Folds recorded before validation scores were kept are scored from their epochs.
    older = [t.id for t in folds if t.status.finished and "val_accuracy" not in t.results]
    summary = summarize_folds(folds, store().epochs_by_trial(older) if older else {})
    head, *rest = score_text.fold_lines(summary, any(map(score_text.has_no_test_set, folds)))
    st.markdown(head)
    for line in rest:
        st.caption(line)
    by_id = {t.id: t for t in folds}
    running = [t.id for t in folds if t.status == Status.RUNNING]
    chosen = st.segmented_control(
        "Fold",
        options=sorted(by_id, key=lambda i: by_id[i].number),
        format_func=lambda i: f"Fold {by_id[i].number + 1}",
        default=running[0] if running else trial.id,
        key=f"fold-{trial.study_id}-{','.join(map(str, running))}",
    )
    return by_id.get(chosen or trial.id, trial)


@st.fragment(run_every=POLL_SECONDS)
def _live(trial_id: int) -> None:
    s = store()
    keep_queue_moving(s)
    trial = s.trial(trial_id)
    if trial.status.finished:
        st.rerun()  # draw the final view once, without polling
    _render_body(s, trial)


def _render_body(s: Store, trial: Trial) -> None:
    cfg = trial.config
    head, action = st.columns([3, 1.2], vertical_alignment="center")
    head.markdown(f"#### Run {trial.id} · {run_title(cfg)} &nbsp; {status_badge(trial)}")
    if trial.status.finished:
        action.button(
            "Reuse settings",
            icon=":material/content_copy:",
            key=f"reuse-{trial.id}",
            on_click=_reuse_settings,
            args=(trial.config,),
            help="Load this run's hyperparameters into the form, to change one and train again.",
            width="stretch",
        )
    else:
        if action.button(
            "Cancel",
            icon=":material/stop_circle:",
            key=f"cancel-{trial.id}",
            disabled=trial.cancel_requested,
            width="stretch",
        ):
            with store_trouble():
                s.request_cancel(trial.id)
            st.toast("Stopping after the current batch…")
        fraction, text = charts.progress_of(trial)
        st.progress(fraction, text=("Stopping… " if trial.cancel_requested else "") + text)
    _render_outcome(trial)
    epochs = s.epochs(trial.id)
    whole = render_origin(s, trial)
    flags = diagnose_trial(trial, epochs)
    if epochs or not trial.status.finished:
        # Drawn empty while waiting too, so the browser has the charting code ready when the
        # first epoch ends. A fork's curves are drawn over its parent's; flags are marked.
        st.plotly_chart(
            diagnosis_views.trial_figure(s, trial, epochs, flags, whole=whole),
            key=f"curves-{trial.id}",
            config={"displaylogo": False},
        )
    if not epochs and not trial.status.finished:
        st.caption("The curves grow here as each epoch ends.")
    render_flags(flags)
    render_fork(s, trial)
    if trial.status == Status.COMPLETED:
        _render_results(trial, epochs)


def _reuse_settings(config: dict) -> None:
    load_into_form(config)
    st.session_state["dataset"] = config["dataset"]


def _render_outcome(trial: Trial) -> None:
    if trial.status in (Status.FAILED, Status.DIVERGED):
        st.error(trial.error or "The run failed.", icon=":material/error:")
        if trial.traceback:
            with st.expander("Technical details"):
                st.code(trial.traceback, language=None)
    elif trial.status == Status.INTERRUPTED:
        st.warning(trial.error or "The worker stopped during this run.", icon=":material/warning:")
    elif trial.status == Status.CANCELLED:
        st.info("Cancelled. The finished epochs are kept below.", icon=":material/block:")


def _render_results(trial: Trial, epochs: list) -> None:
    r = trial.results
    cols = st.columns(4)
    tested = trial.test_accuracy is not None
    no_test_set = score_text.has_no_test_set(trial)
    if no_test_set and r.get("val_accuracy") is not None:
        cols[0].metric("Validation accuracy", f"{r['val_accuracy']:.1%}")
        cols[1].metric("Validation loss", f"{r['val_loss']:.4f}")
    else:
        cols[0].metric("Test accuracy", f"{trial.test_accuracy:.1%}" if tested else "—")
        cols[1].metric("Test loss", f"{trial.test_loss:.4f}" if tested else "—")
    cols[2].metric("Time per epoch", format_duration(r.get("seconds_per_epoch") or 0))
    run_note = " (early stop)" if r.get("stopped_early") else ""
    cols[3].metric("Epochs run", f"{r.get('epochs_run', len(epochs))}{run_note}")
    if no_test_set:
        st.info(score_text.no_test_note(trial), icon=":material/info:")
    elif tested:
        st.caption(" · ".join(score_text.score_lines(trial)))
    render_versus_parent(store(), trial)
    sizes = r.get("sizes", {})
    if sizes:
        st.caption(
            f"{sizes['train']:,} training, {sizes['validation']:,} validation and "
            f"{sizes['test']:,} test images · {r.get('params', 0):,} parameters"
        )
    if not tested and not no_test_set:
        st.caption(
            "Not tested: a search tests and saves only its best trials (keep top N). "
            "Promote trains these settings again and tests them."
        )
    artifacts = r.get("artifacts", {})
    render_handover(store(), trial)  # downloads and promotion (pages.ui.handover)
    if r.get("summary"):
        with st.expander("Model summary", expanded=True):
            # Every layer in sight: a model summary is read whole, not scrolled.
            summary = charts.summary_frame(r["summary"])
            st.dataframe(summary, hide_index=True, height="content", placeholder=MISSING)
            st.caption(f"Total params: {r.get('params', 0):,}")
    # --- Errors by class (results["classes"]; runs before it was recorded have none). ---
    if r.get("classes"):
        with st.expander("Errors by class"):
            st.plotly_chart(
                evaluation_views.confusion_figure(r["classes"]),
                key=f"confusion-{trial.id}",
                width="stretch",
            )
            if line := score_text.macro_f1_line(trial):
                st.caption(line)
            shares = ("precision", "recall", "F1")
            st.dataframe(
                percent_points(evaluation_views.per_class_frame(r["classes"]), shares),
                hide_index=True,
                column_config={name: columns.share(name) for name in shares},
                placeholder=MISSING,
            )
            grid = Path(artifacts.get("misclassified", ""))
            if grid.is_file():
                split = r["classes"].get("split", "test")
                st.image(
                    str(grid),
                    caption=f"Misclassified {split} images (true → predicted), first ones in order",
                )
    # --- End of errors by class. ---
