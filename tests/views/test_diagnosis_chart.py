"""A fork's curves drawn over its parent's, diagnosis markers, and failure notes on a chart."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from core.analysis import diagnosis as diagnose
from core.analysis.diagnosis import Flag
from core.analysis.diagnosis_check import read_corpus
from core.spec.config import RunConfig
from core.store import Epoch, Status, Store
from core.views.charts import curves_figure
from core.views.diagnosis_chart import (
    add_cluster_notes,
    add_flag_markers,
    labels_fit,
    marker_points,
    trial_figure,
)

CORPUS = Path(__file__).resolve().parent.parent / "analysis" / "data" / "diagnosis_corpus.json"

LOSSES = [1.0, 0.6, 0.4, 0.25, 0.15, 0.08]
VAL_LOSSES = [1.0, 0.7, 0.55, 0.6, 0.7, 0.85]
ACCURACIES = [0.7, 0.8, 0.88, 0.93, 0.97, 0.99]


def _run(store: Store, epochs: range, parent: int | None = None, at: int | None = None) -> int:
    cfg = RunConfig(model="mlp", epochs=6)
    if parent is None:
        _, (tid,) = store.create_study("run", "single", [cfg], reserve_for=1)
    else:
        _, tid = store.fork_trial(parent, at, cfg.replace(learning_rate=1e-4), "fork", 1)
    for i in epochs:
        metrics = {
            "loss": LOSSES[i],
            "val_loss": VAL_LOSSES[i],
            "accuracy": ACCURACIES[i],
            "val_accuracy": 0.8,
        }
        store.add_epoch(tid, i, metrics, 1.0)
    store.finish_trial(tid, Status.COMPLETED)
    return tid


def _traces(fig: go.Figure) -> dict[str, list]:
    return {t.name: list(t.x) for t in fig.data if t.xaxis in (None, "x")}


def test_a_forks_curves_start_at_its_fork_epoch_over_the_parents(store: Store) -> None:
    parent = _run(store, range(6))
    child = _run(store, range(2, 6), parent=parent, at=1)
    fig = trial_figure(store, store.trial(child), store.epochs(child))
    traces = _traces(fig)
    assert traces["train"] == [2, 3, 4, 5, 6]  # joined to the parent's epoch 2
    assert traces[f"run {parent} train"] == [1, 2, 3, 4, 5, 6]
    assert traces[f"run {parent} validation"] == [1, 2, 3, 4, 5, 6]


def test_a_plain_run_has_no_parent_curves_and_marks_its_flags(store: Store) -> None:
    tid = _run(store, range(6))
    epochs = store.epochs(tid)
    flags = diagnose.diagnose(epochs)
    # Training loss still falls fast (0.15 to 0.08 in the last epoch): no plateau.
    assert [f.kind for f in flags] == ["overfitting"]
    fig = trial_figure(store, store.trial(tid), epochs, flags)
    assert not any(str(t.name).startswith("run ") for t in fig.data)
    (marker,) = [t for t in fig.data if t.name == "overfitting"]
    assert list(marker.x) == [3] and list(marker.y) == [0.55]  # at the lowest val loss
    assert list(marker.text) == ["overfitting"]  # room beside it: labelled there
    assert "Add dropout" in marker.hovertemplate and "epoch 3" in marker.hovertemplate


def test_failure_clusters_are_written_above_the_chart() -> None:
    cluster = diagnose.Cluster("learning_rate", "learning_rate ≥ 0.01", 4, 5, "4 of 5 …")
    fig = add_cluster_notes(go.Figure(), [cluster])
    assert "⚠ 4 of 5 …" in fig.layout.annotations[0].text
    assert add_cluster_notes(go.Figure(), []).layout.annotations == ()


def test_a_forks_chart_opens_on_what_the_fork_changed_and_can_show_the_whole_run(
    store: Store,
) -> None:
    cfg = RunConfig(model="mlp", epochs=40)
    _, (parent,) = store.create_study("run", "single", [cfg], reserve_for=1)
    for i in range(40):  # from 2.3 down to about 0.05: the fork's part is the flat tail
        loss = 0.05 + 2.25 * 0.8**i
        store.add_epoch(parent, i, {"loss": loss, "val_loss": loss + 0.02, "accuracy": 0.99}, 1)
    store.finish_trial(parent, Status.COMPLETED)
    _, child = store.fork_trial(parent, 29, cfg.replace(learning_rate=1e-4), "fork", 1)
    for i in range(30, 40):
        loss = 0.051 - 0.002 * (i - 30)
        store.add_epoch(child, i, {"loss": loss, "val_loss": loss + 0.01, "accuracy": 0.995}, 1)

    fig = trial_figure(store, store.trial(child), store.epochs(child))
    first, last = fig.layout.xaxis.range
    assert 25 <= first < 30 < last and last == 40.5
    low, high = fig.layout.yaxis.range
    assert high < 0.2 and low > 0.0  # fitted to the tail, not to the parent's start at 2.3
    assert any(s.x0 == 30 for s in fig.layout.shapes)  # the fork point is marked

    whole = trial_figure(store, store.trial(child), store.epochs(child), whole=True)
    assert whole.layout.xaxis.range == (0.5, 40.5)
    assert whole.layout.yaxis.range is None  # Plotly fits the whole run


def _flag(kind: str, epoch: int) -> Flag:
    return Flag(kind, epoch, f"... in epoch {epoch + 1}.", "...")


def test_labels_far_apart_fit_beside_their_markers() -> None:
    points = [(6, 0.5, "overfitting"), (15, 0.2, "plateau")]
    assert labels_fit(points, (0.5, 20.5), 1.0)
    assert labels_fit([], (0.5, 20.5), 1.0)


def test_labels_that_would_overlap_do_not_fit() -> None:
    # Two labels at neighbouring epochs and about the same height collide ...
    assert not labels_fit([(9, 0.5, "LR too high"), (10, 0.52, "plateau")], (0.5, 20.5), 1.0)
    # ... but not when one sits well above the other.
    assert labels_fit([(9, 0.2, "LR too high"), (10, 0.7, "plateau")], (0.5, 20.5), 1.0)


def test_a_label_running_off_an_edge_does_not_fit() -> None:
    assert not labels_fit([(40, 0.3, "underfitting")], (0.5, 40.5), 1.0)  # right edge
    assert not labels_fit([(1, 0.3, "LR too high")], (0.5, 40.5), 1.0)  # left edge
    assert not labels_fit([(20, 0.99, "plateau")], (0.5, 40.5), 1.0)  # top
    assert labels_fit([(20, 0.3, "underfitting")], (0.5, 40.5), 1.0)


def _epochs(count: int) -> list[Epoch]:
    return [
        Epoch(1, i, {"loss": 1.0 / (i + 1), "val_loss": 1.1 / (i + 1)}, 1.0, 0.0)
        for i in range(count)
    ]


def test_labels_that_do_not_fit_are_listed_under_the_chart() -> None:
    epochs = _epochs(20)
    fig = curves_figure(epochs, 20)
    flags = [_flag("plateau", 18), _flag("underfitting", 19)]
    add_flag_markers(fig, flags, epochs)
    markers = [t for t in fig.data if t.name in ("plateau", "underfitting")]
    assert [list(t.x) for t in markers] == [[19], [20]]
    assert [(x, y) for _, x, y in marker_points(flags, epochs)] == [
        (t.x[0], t.y[0]) for t in markers
    ]
    assert all(t.text is None and t.mode == "markers" for t in markers)
    (note,) = fig.layout.annotations
    assert note.text == "◆ plateau: epoch 19   ◆ underfitting: epoch 20"
    assert note.yanchor == "top" and note.y == 0 and note.yshift < 0  # under the chart
    assert fig.layout.height > 340 and fig.layout.margin.b > 10  # room made for it


def test_a_forks_marker_sits_at_the_epoch_its_message_names(store: Store) -> None:
    parent = _run(store, range(6))
    child = _run(store, range(2, 6), parent=parent, at=1)
    epochs = store.epochs(child)
    flags = [diagnose.Flag("overfitting", 3, "Overfitting from epoch 4: ...", "...")]
    fig = trial_figure(store, store.trial(child), epochs, flags)
    (marker,) = [t for t in fig.data if t.name == "overfitting"]
    assert list(marker.x) == [4] and list(marker.y) == [VAL_LOSSES[3]]


def test_every_corpus_finding_is_marked_at_the_epoch_its_message_names() -> None:
    for run in read_corpus(CORPUS):
        flags = run.diagnose()
        for flag, x, y in marker_points(flags, run.epochs):
            assert x == flag.epoch + 1 and f"epoch {x}" in flag.message, (run.name, flag.message)
            assert flag.epoch in {e.epoch for e in run.epochs}, run.name
            assert y is not None


def test_the_axis_spans_the_planned_epochs_while_running_and_the_run_epochs_once_ended(
    store: Store,
) -> None:
    _, (tid,) = store.create_study("run", "single", [RunConfig(epochs=100)], reserve_for=1)
    for i in range(5):
        store.add_epoch(tid, i, {"loss": LOSSES[i], "accuracy": ACCURACIES[i]}, 1.0)
    running = trial_figure(store, store.trial(tid), store.epochs(tid))
    assert running.layout.xaxis.range == (0.5, 100.5)  # room for the curve to grow into
    store.finish_trial(tid, Status.CANCELLED)
    ended = trial_figure(store, store.trial(tid), store.epochs(tid))
    assert ended.layout.xaxis.range == (0.5, 5.5) and ended.layout.xaxis2.range == (0.5, 5.5)
