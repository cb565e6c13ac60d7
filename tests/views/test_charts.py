"""Figures and tables built from store rows."""

from __future__ import annotations

import time

from core.spec.config import RunConfig
from core.spec.formats import MISSING
from core.store import Epoch, Status, Store
from core.views import charts


def _epochs(n: int) -> list[Epoch]:
    return [
        Epoch(
            1,
            i,
            {
                "loss": 1 / (i + 1),
                "accuracy": 0.5 + i / 20,
                "val_loss": 1.2 / (i + 1),
                "val_accuracy": 0.45 + i / 20,
            },
            0.5,
            time.time(),
        )
        for i in range(n)
    ]


def test_curves_have_train_and_validation_for_loss_and_accuracy() -> None:
    fig = charts.curves_figure(_epochs(3), total_epochs=10)
    names = [(t.name, t.xaxis) for t in fig.data]
    assert names == [("train", "x"), ("validation", "x"), ("train", "x2"), ("validation", "x2")]
    assert list(fig.data[0].x) == [1, 2, 3]
    assert fig.data[0].line.dash == "dash" and fig.data[1].line.dash == "solid"
    assert fig.layout.xaxis.range == (0.5, 10.5)  # room for the epochs still to come


def test_curves_of_no_epochs_is_an_empty_figure() -> None:
    assert charts.curves_figure([]).data == ()


def test_progress_reads_epoch_batch_and_eta(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig(epochs=4)], reserve_for=1)
    assert store.claim(tid, pid=1)
    store.heartbeat(
        tid, {"phase": "training", "epoch": 2, "epochs": 4, "batch": 9, "batches": 18, "eta_s": 75}
    )
    fraction, text = charts.progress_of(store.trial(tid))
    assert fraction == (1 + 0.5) / 4
    worker = store.trial(tid).worker
    assert worker.endswith(":1")
    assert text == f"Epoch 2/4 · batch 9/18 · about 1 min 15 s left · worker {worker}"


def test_progress_of_a_queued_trial_waits_for_the_worker(store: Store) -> None:
    _, (tid,) = store.create_study("s", "single", [RunConfig()])
    assert charts.progress_of(store.trial(tid))[0] == 0.0
    assert "Waiting" in charts.progress_of(store.trial(tid))[1]


def test_ages_read_naturally() -> None:
    now = 1_000_000.0
    assert charts.format_age(now - 5, now) == "just now"
    assert charts.format_age(now - 300, now) == "5 min ago"
    assert charts.format_age(now - 2 * 86400, now) == "2 days ago"


def test_studies_table_sums_up_each_study(store: Store) -> None:
    s1, (t1,) = store.create_study("one", "single", [RunConfig()], reserve_for=1)
    results = {"test_accuracy": 0.8, "test_loss": 0.5, "sizes": {"test": 100}}
    store.finish_trial(t1, Status.COMPLETED, results=results)
    s2, _ = store.create_study("two", "single", [RunConfig(dataset="digits")])
    frame = charts.studies_frame(store.studies(), store.trials())
    assert list(frame["Study"]) == [s2, s1]
    assert list(frame["Status"]) == ["queued", "completed"]
    first = frame[frame["Study"] == s1].iloc[0]
    assert first["Best test accuracy"] == 0.8 and first["Test images"] == "100"
    assert first["95% CI"] == "71.1–86.7%"  # Wilson's, for 80 of 100
    assert (frame[frame["Study"] == s2]["95% CI"] == MISSING).all()


def test_summary_table_has_the_report_columns() -> None:
    frame = charts.summary_frame(
        [{"layer": "conv1", "type": "Conv2D", "output_shape": "(None, 30, 30, 16)", "params": 448}]
    )
    assert list(frame.columns) == ["Layer", "Type", "Output shape", "Params"]
    assert frame["Params"].sum() == 448
