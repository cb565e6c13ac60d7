"""The Compare page under AppTest: launching, bad values, a finished sweep, a grid."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.spec.sweeps import SweepSpec
from core.store import Store
from core.worker.launch import IDLE_ENV, worker_alive
from tests.app.conftest import APP, write_sweep

COMPARE = "pages/compare.py"


def run(**state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(COMPARE)
    return at.run()


def test_the_page_opens_with_report_003s_batch_sizes_scaled_to_digits(store: Store) -> None:
    at = run()
    assert not at.exception
    assert at.title[0].value == "Compare"
    assert at.selectbox(key="compare-key").value == "batch_size"
    assert at.text_input(key="compare-values-batch_size").value == "20, 40, 100, 300, 1149"
    assert any("No sweeps yet" in i.value for i in at.info)
    assert any("Train page's defaults" in c.value for c in at.caption)


def test_a_bad_value_shows_one_message_and_queues_nothing(store: Store, busy_worker: None) -> None:
    at = run()
    at.text_input(key="compare-values-batch_size").set_value("20, 100, 5000")
    next(b for b in at.button if b.label == "Launch sweep").click().run()
    assert not at.exception
    # Said at the values box, named by its label under the button.
    assert [e.value for e in at.error] == ["**A setting to change**, marked above: Batch size."]
    (mark,) = [m.value for m in at.markdown if m.value.startswith(":red[")]
    assert "5000" in mark
    assert store.studies() == []
    # Fixed, it queues, and the marks go.
    at.text_input(key="compare-values-batch_size").set_value("20, 100")
    next(b for b in at.button if b.label == "Launch sweep").click().run()
    assert not at.exception and not at.error
    assert not [m for m in at.markdown if m.value.startswith(":red[")]
    assert len(store.studies()) == 1


def test_launch_from_the_train_settings_queues_one_study_and_cancel_stops_it(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "1")
    # The Train page's widgets, as its form left them (the page copies them on its first run).
    at = run(model="mlp", dropout=0.1, filters="16, 64")
    assert any("Train page's settings" in c.value for c in at.caption)
    at.number_input(key="compare-epochs").set_value(1)
    at.text_input(key="compare-values-batch_size").set_value("100, 400")
    at.number_input(key="compare-repeats").set_value(2)
    next(b for b in at.button if b.label == "Launch sweep").click().run()
    assert not at.exception and not at.error
    (study,) = store.studies()
    trials = sorted(store.trials(study_ids=[study.id]), key=lambda t: t.number)
    assert study.kind == "sweep" and SweepSpec.from_dict(study.spec).keys == ("batch_size",)
    assert [(t.config["batch_size"], t.config["seed"]) for t in trials] == [
        (100, 0), (400, 0), (100, 1), (400, 1),
    ]  # fmt: skip
    assert {(t.config["model"], t.config["dropout"], t.config["epochs"]) for t in trials} == {
        ("mlp", 0.1, 1)
    }
    assert at.query_params["study"] in (str(study.id), [str(study.id)])
    next(b for b in at.button if b.label == "Cancel sweep").click().run()
    assert all(store.trial(t.id).status.finished for t in trials if t.number > 0)
    # The worker the page started finds nothing left, or stops its run; let it go first.
    end = time.monotonic() + 120
    while worker_alive(cache) and time.monotonic() < end:
        time.sleep(0.3)
    assert all(store.trial(t.id).status.finished for t in trials)


def test_a_finished_sweep_shows_summary_bars_and_a_sortable_table(store: Store) -> None:
    write_sweep(store, {"batch_size": "20, 100"}, [0.9, 0.8, 0.91, 0.81], repeats=2)
    at = run()
    assert not at.exception
    text = "\n".join(m.value for m in at.markdown)
    assert "Best batch size: 20" in text and "Welch's t-test" in text
    assert "10.0 percentage points lower than 20" in text and "worse: a real difference" in text
    table = at.dataframe[0].value
    assert list(table["value"]) == ["20", "100"]
    # shares are shown in percentage points, like the difference beside them
    assert table["test_accuracy"].tolist() == pytest.approx([90.5, 80.5])
    assert list(table["verdict"]) == ["best", "worse"]
    assert table["diff_vs_best"].tolist() == pytest.approx([0.0, -10.0])
    assert len(at.get("plotly_chart")) == 2  # curves and bars
    # Every run scored the same test loss: by that figure the two cannot be told apart.
    at.selectbox(key=f"compare-metric-{store.studies()[0].id}").set_value("test_loss").run()
    assert "Tied best batch size: 20, 100**" in "\n".join(m.value for m in at.markdown)
    assert any("20 and 100 cannot be told apart by test loss" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["verdict"]) == ["best", "tied"]


def test_one_run_per_value_shows_no_verdict_and_asks_for_repeats(store: Store) -> None:
    write_sweep(store, {"batch_size": "20, 100"}, [0.9, 0.8])
    at = run()
    assert not at.exception
    assert "Highest test accuracy: batch size 20" in "\n".join(m.value for m in at.markdown)
    assert any("One run per value cannot tell noise" in w.value for w in at.warning)
    assert at.dataframe[0].value["verdict"].isna().all()


def test_a_grid_sweep_adds_a_heatmap_and_a_past_run_can_be_the_base(store: Store) -> None:
    study_id = write_sweep(
        store, {"optimizer": "adam, sgd", "dropout": "0.1, 0.5"}, [0.9, 0.8, 0.5, 0.4]
    )
    at = run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3  # curves, heatmap and bars
    assert f"Study {study_id}" not in "".join(s.label for s in at.selectbox)  # only one sweep
    at.segmented_control(key="compare-source").set_value("A past run").run()
    assert not at.exception
    assert at.selectbox(key="compare-base-run").value is not None
    assert any("from run" in c.value for c in at.caption)
