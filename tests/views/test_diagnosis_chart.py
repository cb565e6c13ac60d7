"""A fork's curves drawn over its parent's, diagnosis markers, and failure notes on a chart."""

from __future__ import annotations

import plotly.graph_objects as go

from core.analysis import diagnosis as diagnose
from core.spec.config import RunConfig
from core.store import Status, Store
from core.views.diagnosis_chart import add_cluster_notes, trial_figure

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
    assert "Add dropout" in marker.hovertemplate


def test_failure_clusters_are_written_above_the_chart() -> None:
    cluster = diagnose.Cluster("learning_rate", "learning_rate ≥ 0.01", 4, 5, "4 of 5 …")
    fig = add_cluster_notes(go.Figure(), [cluster])
    assert "⚠ 4 of 5 …" in fig.layout.annotations[0].text
    assert add_cluster_notes(go.Figure(), []).layout.annotations == ()
