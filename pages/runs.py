"""Runs: every trial of every study in one table, to filter, compare, open, hand over, delete."""

from __future__ import annotations

import zlib
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.trial_scores import accuracy_on_test
from core.handover import bundle
from core.spec.formats import MISSING, percent_points
from core.spec.params import field_label
from core.store import Store, paths
from core.views import run_curves, runs
from pages.ui import columns
from pages.ui.components import page_setup, render_trial
from pages.ui.nav import TRAIN_PAGE
from pages.ui.session import store

FLASH_KEY = "runs-flash"
CONFIRM_KEY = "runs-confirm-delete"
HIGHLIGHT = "background-color: rgba(255, 189, 69, 0.25)"
ROWS_SHOWN = 1000

COLUMNS = {
    "trial": st.column_config.NumberColumn("Run", format="%d", width=50),
    "study_name": st.column_config.TextColumn("Study", width=170),
    "status": st.column_config.TextColumn("Status", width=95),
    "best_val_accuracy": columns.share(
        "Best val. acc.",
        width=105,
        help="The best validation accuracy of any epoch.",
    ),
    "diagnosis": st.column_config.TextColumn(
        "Diagnosis", width=120, help="What the curves show: overfitting, plateau, LR too high..."
    ),
    "test_accuracy": columns.share("Test acc.", width=90),
    "test_ci": st.column_config.TextColumn(
        "95% CI", width=95, help="The test accuracy's 95% interval (Wilson)."
    ),
    "test_images": st.column_config.NumberColumn(
        "Test images", format="%d", width=90, help="How many images the test accuracy is on."
    ),
    "test_loss": columns.loss("Test loss", width=80),
    "dataset": st.column_config.TextColumn("Dataset", width="small"),
    "model": st.column_config.TextColumn("Model", width=70),
    "optimizer": st.column_config.TextColumn("Optimizer", width=85),
    "learning_rate": columns.setting("LR", width=72, help="Initial learning rate."),
    "batch_size": st.column_config.NumberColumn("Batch", format="%d", width=60),
    "epochs": st.column_config.NumberColumn("Epochs", format="%d", width=65),
    "duration_s": st.column_config.NumberColumn("Time", format="%.1f s", width=70),
    "worker": st.column_config.TextColumn(
        "Worker", width=110, help="The worker process that ran it, as host:pid."
    ),
    "created_at": st.column_config.DatetimeColumn("Created", format="MMM D, HH:mm", width=110),
    "kind": st.column_config.TextColumn("Kind", width=70),
    "number": st.column_config.NumberColumn(
        "#", format="%d", width=40, help="The trial's number in its study (its fold)."
    ),
    "parent": st.column_config.NumberColumn(
        "From run",
        format="%d",
        width=75,
        help="The run this one comes from: the source of a promotion, the parent of a fork.",
    ),
}

# Columns of shares (0..1), shown in percent with one decimal.
SHARES = ("best_val_accuracy", "test_accuracy")

page_setup("Runs")


def _filters(frame: pd.DataFrame) -> pd.DataFrame:
    """Draw the filters; return the rows they keep."""
    status_col, kind_col, data_col, text_col = st.columns([2, 1.5, 2, 3])
    statuses = status_col.multiselect(
        "Status", sorted(frame["status"].unique()), placeholder="All statuses", key="runs-status"
    )
    kinds = kind_col.multiselect(
        "Kind", sorted(frame["kind"].unique()), placeholder="All kinds", key="runs-kind"
    )
    datasets = data_col.multiselect(
        "Dataset", sorted(frame["dataset"].unique()), placeholder="All datasets", key="runs-data"
    )
    text = text_col.text_input(
        "Search", placeholder="Study name, model or dataset", key="runs-search"
    )
    return runs.filter_runs(frame, statuses, kinds, datasets, text)


def _table(view: pd.DataFrame, total: int) -> list[int]:
    """Draw the runs table; return the trial ids of the selected rows, in table order.

    At most ``ROWS_SHOWN`` rows, the newest that the filters keep: a table of many thousand
    rows takes seconds to send and draw, and nobody scrolls through it.
    """
    shown = view.head(ROWS_SHOWN).reset_index(drop=True)
    display = percent_points(
        shown.assign(
            created_at=[datetime.fromtimestamp(t) for t in shown["created_at"]],
            test_ci=runs.interval_labels(shown),
        ),
        SHARES,
    )
    # The key changes with the rows shown, so a selection never points at a different run.
    revision = zlib.crc32(",".join(map(str, shown["trial"])).encode())
    newest = int(view["trial"].max()) if len(view) else 0
    picked = st.dataframe(
        display,
        hide_index=True,
        column_config=COLUMNS,
        column_order=list(COLUMNS),
        on_select="rerun",
        selection_mode="multi-row",
        key=f"runs-{newest}-{len(view)}-{revision}",
        placeholder=MISSING,
        height=min(420, 38 + 35 * max(len(view), 1)),
    )
    counted = f"{len(view)} of {total} runs"
    if len(view) > len(shown):
        counted = (
            f"The newest {len(shown):,} of {len(view):,} runs (of {total:,}); filter to see others"
        )
    st.caption(
        f"{counted} · click a column to sort · select one row to open it, "
        "or several to compare them."
    )
    return [int(shown.iloc[i]["trial"]) for i in sorted(picked.selection.rows) if i < len(shown)]


def _compare(s: Store, trial_ids: list[int]) -> None:
    """Overlaid validation curves and the settings side by side, differences highlighted."""
    st.subheader(f"Compare {len(trial_ids)} runs")
    st.plotly_chart(
        runs.overlay_figure(s, trial_ids),
        key="runs-overlay",
        config={"displaylogo": False},
    )
    diff = runs.config_diff(
        [s.trial(t).config for t in trial_ids], labels=[f"run {t}" for t in trial_ids]
    )
    only = st.toggle("Only the settings that differ", value=True, key="runs-diff-only")
    shown = (diff[diff[runs.DIFFERS]] if only else diff).rename(index=field_label)
    if shown.empty:
        st.caption("These runs share every setting.")
        return
    styled = shown.style.apply(
        lambda row: [HIGHLIGHT if row[runs.DIFFERS] else ""] * len(row), axis=1
    )
    st.dataframe(
        styled,
        column_config={
            "setting": st.column_config.TextColumn("Setting"),
            runs.DIFFERS: st.column_config.CheckboxColumn("Differs", width="small"),
        },
        key="runs-diff",
        placeholder=MISSING,
    )


def _detail(s: Store, trial_id: int) -> None:
    """One run in full (the Train page's view), with a link there and a way to delete."""
    trial = s.trial(trial_id)
    link_col, delete_col = st.columns([4, 1], vertical_alignment="center")
    link_col.page_link(
        TRAIN_PAGE,
        label=f"Open run {trial_id} on the Train page",
        icon=":material/open_in_new:",
        query_params={"trial": str(trial_id)},
    )
    _study_downloads(s, trial.study_id)
    if st.session_state.get(CONFIRM_KEY) == trial.study_id:
        _confirm_delete(s, trial.study_id)
    else:
        delete_col.button(
            "Delete study",
            icon=":material/delete:",
            key=f"runs-delete-{trial.study_id}",
            on_click=lambda: st.session_state.update({CONFIRM_KEY: trial.study_id}),
            type="tertiary",
            help="Delete this run's whole study (every fold) and its saved files.",
        )
    render_trial(trial_id)


def _study_downloads(s: Store, study_id: int) -> None:
    """A study's hand-over: every trial as CSV, and the bundle of its best run."""
    study = s.study(study_id)
    count = len(s.trials(study_ids=[study_id]))
    if count < 2:
        return  # a single run's own downloads are below
    text, table, best_col = st.columns([2, 1.2, 1.6], vertical_alignment="center")
    text.markdown(f"**Study {study_id}** · {study.kind} · {count} runs")
    csv_name, _ = bundle.study_csv(s, study_id)
    table.download_button(
        "Download all runs (.csv)",
        data=lambda: bundle.study_csv(s, study_id)[1],
        file_name=csv_name,
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=f"runs-csv-{study_id}",
        width="stretch",
    )
    best = bundle.best_trial(s, study_id)
    best_score = None if best is None else accuracy_on_test(best)
    if best_score is None or not Path(best.results.get("artifacts", {}).get("model", "")).is_file():
        best_col.caption("No completed run with saved files yet.")
        return
    best_col.download_button(
        f"Download best run {best.id} (.zip)",
        data=lambda: bundle.bundle_zip(s, best.id)[1],
        file_name=f"{bundle.export_name(best)}-bundle.zip",
        mime="application/zip",
        icon=":material/download:",
        on_click="ignore",
        key=f"runs-best-{study_id}",
        width="stretch",
        help=f"Run {best.id}, the highest test accuracy ({best_score.text()}): model, "
        "weights, config, train.py and logs.",
    )


def _confirm_delete(s: Store, study_id: int) -> None:
    """The second step of deleting: say what goes, then delete or keep."""
    study = s.study(study_id)
    count = len(s.trials(study_ids=[study_id]))
    with st.container(border=True):
        st.warning(
            f"Delete study {study_id} and its {count} run{'s' if count != 1 else ''}? "
            "Their curves, scores and saved model files are removed for good; "
            "a run still training is cancelled first.",
            icon=":material/delete_forever:",
        )
        st.text(f"Study {study_id}: {study.name}")  # a typed name, shown as text only
        yes, no = st.columns(2)
        if yes.button(
            "Delete for good", type="primary", key=f"runs-confirm-{study_id}", width="stretch"
        ):
            deleted = runs.delete_study(s, study_id, paths.cache_dir())
            st.session_state.pop(CONFIRM_KEY, None)
            st.session_state[FLASH_KEY] = f"Deleted study {study_id} ({deleted} runs)."
            st.query_params.pop("trial", None)
            st.rerun()
        if no.button("Keep it", key=f"runs-keep-{study_id}", width="stretch"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


def _url_trial(s: Store) -> int | None:
    """The run named by ``?trial=N``, if there is one."""
    wanted = st.query_params.get("trial")
    if not wanted:
        return None
    if wanted.isdigit():
        try:
            return s.trial(int(wanted)).id
        except KeyError:
            pass
    st.warning(f"There is no run {wanted}.", icon=":material/search_off:")
    return None


@st.fragment(run_every=2.0)
def _summaries_pending(s: Store) -> None:
    """While curve summaries are worked out in the background, say so; redraw when done."""
    left = run_curves.pending(s)
    if left:
        st.caption(
            f":material/hourglass_top: Working out the best accuracy and diagnosis of {left:,} "
            "older runs; their rows fill in when it is done."
        )
    elif st.session_state.pop("runs-summaries-pending", False):
        st.rerun()
    else:
        return
    st.session_state["runs-summaries-pending"] = True


s = store()
s.reap_stale()
if FLASH_KEY in st.session_state:
    st.success(st.session_state.pop(FLASH_KEY), icon=":material/check:")
frame = runs.runs_frame(s)
if frame.empty:
    st.info(
        "No runs yet. Every run you train, and every fold of a cross-validation, is listed here.",
        icon=":material/lightbulb:",
    )
    st.page_link(TRAIN_PAGE, label="Train a model", icon=":material/model_training:")
    st.stop()

selected = _table(_filters(frame), len(frame))
if run_curves.pending(s):
    _summaries_pending(s)
if len(selected) > 1:
    _compare(s, selected)
elif selected:
    _detail(s, selected[0])
elif (from_url := _url_trial(s)) is not None:
    _detail(s, from_url)
