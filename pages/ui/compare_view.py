"""The Compare page's view of one sweep: live curves by value, bars, table, summary, heatmap.

While runs are going, the view redraws itself every ``POLL_SECONDS`` inside a fragment and reads
only the epochs it does not hold yet (``core.store.epoch_reader.EpochReader``); once every run
has ended it is drawn once more and stops polling. Numbers and figures come from ``core.analysis``
and ``core.views.sweep_charts``.
"""

from __future__ import annotations

import streamlit as st

from core.analysis import sweep_numbers as compare
from core.analysis import sweep_summary as compare_summary
from core.spec.formats import MISSING, percent_points
from core.spec.sweeps import SweepSpec
from core.store import Store, Study
from core.views import sweep_charts as compare_charts
from pages.ui import columns
from pages.ui.session import epoch_reader, keep_queue_moving, store, store_trouble

POLL_SECONDS = 1.0
TABLE_COLUMNS = {
    "value": st.column_config.TextColumn("Value"),
    "runs": st.column_config.NumberColumn("Runs", format="%d", help="Finished runs of the value."),
    "test_accuracy": columns.share("Test acc."),
    "test_accuracy_std": columns.points(
        "± std", help="Sample standard deviation over the value's runs."
    ),
    "test_loss": columns.loss("Test loss"),
    "best_val_accuracy": columns.share("Best val. acc."),
    "seconds_per_epoch": st.column_config.NumberColumn(
        "s / epoch", format="%.2f", help="Median over the run's epochs, validation included."
    ),
    "total_seconds": st.column_config.NumberColumn("Total s", format="%.1f"),
    "images_per_second": st.column_config.NumberColumn(
        "Images / s", format="%.0f", help="Training images per second of an epoch."
    ),
    "train_val_gap": columns.points(
        "Train − val.", help="Last epoch: training minus validation accuracy."
    ),
    "peak_memory_mb": st.column_config.NumberColumn(
        "Peak MB", format="%.0f", help="Peak memory of the worker during the run."
    ),
}
# Columns of shares (0..1) and their spreads, shown in percent with one decimal.
SHARES = ("test_accuracy", "test_accuracy_std", "best_val_accuracy", "train_val_gap")


def render_sweep(study: Study, spec: SweepSpec) -> None:
    """Draw a sweep: live while any of its runs is queued or running."""
    s = store()
    trials = s.trials(study_ids=[study.id])
    if any(not t.status.finished for t in trials):
        _live(study.id)
    else:
        _draw(s, study, spec)


@st.fragment(run_every=POLL_SECONDS)
def _live(study_id: int) -> None:
    s = store()
    keep_queue_moving(s)
    study = s.study(study_id)
    spec = SweepSpec.from_dict(study.spec)
    if spec is None:
        return
    if all(t.status.finished for t in s.trials(study_ids=[study_id])):
        st.rerun()  # all runs ended: draw the final view once, outside the polling fragment
    _draw(s, study, spec)


def _draw(s: Store, study: Study, spec: SweepSpec) -> None:
    """Draw the sweep's progress, curves and, once runs finish, its bars, table and summary."""
    trials = s.trials(study_ids=[study.id])
    epochs = epoch_reader(f"compare-epochs-{study.id}").update(s, trials)
    ended = all(t.status.finished for t in trials)
    head, action = st.columns([4, 1], vertical_alignment="center")
    head.markdown(f"#### {study.name}\n{compare.progress_line(trials)}")
    if not ended and action.button(
        "Cancel sweep",
        icon=":material/stop_circle:",
        key=f"cancel-sweep-{study.id}",
        help="Stops the run in progress and cancels the queued ones; finished runs stay.",
        width="stretch",
    ):
        with store_trouble():
            s.cancel_study(study.id)
        st.toast("Cancelling the sweep: finished runs stay.")
    runs = compare.run_frame(spec, trials, epochs)
    _curves(spec, trials, epochs, study.id)
    if runs.empty or runs["test_accuracy"].isna().all():
        st.caption("Bars, table and summary appear here as runs finish.")
        return
    values = compare.value_frame(spec, runs)
    metric = st.selectbox(
        "Compare by",
        list(compare.RUN_METRICS),
        format_func=lambda m: compare.RUN_METRICS[m][0],
        key=f"compare-metric-{study.id}",
    )
    verdicts = compare_summary.verdict_frame(runs, metric)
    _summary(runs, spec, metric)
    if len(spec.keys) == 2:
        st.plotly_chart(
            compare_charts.heatmap_figure(spec, values, metric),
            key=f"compare-heatmap-{study.id}",
            config={"displaylogo": False},
        )
    by_value = dict(zip(verdicts["value"], verdicts["verdict"], strict=True))
    st.plotly_chart(
        compare_charts.bars_figure(values, metric, by_value),
        key=f"compare-bars-{study.id}",
        config={"displaylogo": False},
    )
    table, config = _table(values, verdicts, metric)
    st.dataframe(
        percent_points(table, SHARES),
        hide_index=True,
        column_config=config,
        key=f"compare-table-{study.id}",
        placeholder=MISSING,
    )
    with st.expander("Every run"):
        st.dataframe(
            percent_points(runs.drop(columns=["order", *spec.keys]), SHARES),
            hide_index=True,
            column_config={**TABLE_COLUMNS, "trial": st.column_config.NumberColumn("Run")},
            placeholder=MISSING,
        )


def _curves(spec: SweepSpec, trials: list, epochs: dict, study_id: int) -> None:
    x = st.segmented_control(
        "x axis",
        list(compare.X_AXES),
        format_func=compare.X_AXES.get,
        default="epoch",
        key=f"compare-x-{study_id}",
        help="Batch size changes both the cost of an epoch and the number of updates in it: "
        "by updates or by time is often the fairer comparison.",
    )
    means = compare.mean_curves(compare.curve_frame(spec, trials, epochs))
    planned = max((int(t.config.get("epochs", 1)) for t in trials), default=1)
    note = compare_charts.lr_note(spec)
    if spec.repeats > 1:
        band = f"lines are the mean of {spec.repeats} repeats, bands ±1 std"
        note = f"{note} · {band}" if note else band.capitalize()
    st.plotly_chart(
        compare_charts.sweep_curves_figure(means, x or "epoch", note, planned, spec.title),
        key=f"compare-curves-{study_id}",
        config={"displaylogo": False},
    )
    if x == "seconds":
        st.caption(
            "Seconds of training and validation, added up epoch by epoch; the first epoch "
            "also builds the model's graph, so every line starts a few seconds in."
        )


def _table(values, verdicts, metric: str):  # noqa: ANN001, ANN202 - pandas frames
    """The per-value table with each value's verdict and its difference from the best."""
    units = compare_summary.UNITS[metric]
    unit = f" {units.abbreviation}" if units.abbreviation else ""
    label = compare.RUN_METRICS[metric][0].lower()
    table = compare_charts.verdict_table(values[list(TABLE_COLUMNS)], verdicts, metric)
    config = {
        **TABLE_COLUMNS,
        "verdict": st.column_config.TextColumn(
            "Verdict",
            help=f"By {label}: best, tied (cannot be told apart from the best with these runs) "
            f"or worse ({compare_summary.TEST_NAME}, α = {compare_summary.ALPHA}). Empty with "
            "fewer than two runs.",
        ),
        "diff_vs_best": st.column_config.NumberColumn(
            "Δ vs best",
            format=f"%+.{units.digits}f{unit}",
            help=f"This value's mean {label} minus the best's"
            + (f", in {units.unit}." if units.unit else "."),
        ),
        "ci": st.column_config.TextColumn(
            "95% CI of Δ",
            help="Welch's interval of the difference, widened for the number of comparisons "
            "(Holm): it excludes 0 exactly when the verdict is worse.",
        ),
    }
    return table, config


def _summary(runs, spec: SweepSpec, metric: str) -> None:  # noqa: ANN001 - a pandas frame
    summary = compare_summary.summarize(runs, spec.title, metric)
    st.markdown("\n".join(f"- {line}" for line in summary.lines))
    for warning in summary.warnings:
        st.warning(warning, icon=":material/warning:")
