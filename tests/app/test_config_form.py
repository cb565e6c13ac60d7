"""The generated form: every key reaches the queued config, and a run's settings come back."""

from __future__ import annotations

from core.spec.config import RunConfig
from core.store import Status, Store
from tests.app.conftest import TRAIN
from tests.app.test_pages import run


def test_every_form_control_lands_in_the_queued_config(store: Store, busy_worker: None) -> None:
    # A worker holds the lock, so the queued runs stay queued: only the queue is read.
    at = run(TRAIN)
    at.selectbox(key="optimizer").set_value("sgd")
    at.number_input(key="momentum").set_value(0.9)
    at.checkbox(key="nesterov").check()
    at.selectbox(key="lr_schedule").set_value("cosine")
    at.number_input(key="l2").set_value(1e-4)
    at.text_input(key="filters").set_value("8, 16, 32")
    at.number_input(key="conv_blocks").set_value(3)
    at.selectbox(key="pooling").set_value("max")
    at.checkbox(key="augment_flip").check()
    at.number_input(key="augment_rotation").set_value(15.0)
    at.number_input(key="folds").set_value(3)
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    trials = store.trials()
    assert len(trials) == 3  # one per fold
    cfg = trials[0].run_config
    assert (cfg.optimizer, cfg.momentum, cfg.nesterov, cfg.lr_schedule) == (
        "sgd",
        0.9,
        True,
        "cosine",
    )
    assert (cfg.l2, cfg.filters, cfg.conv_blocks, cfg.pooling) == (1e-4, (8, 16, 32), 3, "max")
    assert cfg.augment == ("flip", "rotation:15") and cfg.folds == 3


def test_a_bad_list_value_is_refused_with_its_field(store: Store) -> None:
    at = run(TRAIN)
    at.text_input(key="filters").set_value("16, lots")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [
        "**A setting to change**, marked above: Filters per block."
    ]
    assert ":red[Must be a whole number (got 'lots').]" in [m.value for m in at.markdown]
    assert store.studies() == []


def test_reuse_settings_fills_the_form_from_a_run(store: Store) -> None:
    cfg = RunConfig(epochs=2, batch_size=32, optimizer="rmsprop", filters=(8, 8), augment=("flip",))
    _, (tid,) = store.create_study("s", "single", [cfg], reserve_for=1)
    store.finish_trial(tid, Status.CANCELLED)
    at = run(TRAIN)  # no link: the latest run is shown beside a form at its defaults
    assert at.number_input(key="batch_size").value == RunConfig().batch_size
    next(b for b in at.button if b.label == "Reuse settings").click().run()
    assert at.number_input(key="epochs").value == 2
    assert at.number_input(key="batch_size").value == 32
    assert at.selectbox(key="optimizer").value == "rmsprop"
    assert at.text_input(key="filters").value == "8, 8"
    assert at.checkbox(key="augment_flip").value is True


def test_a_run_opened_by_its_link_fills_the_form_and_keeps_what_is_then_changed(
    store: Store, busy_worker: None
) -> None:
    first = RunConfig(epochs=2, batch_size=32, optimizer="rmsprop", augment=("flip",))
    second = RunConfig(dataset="digits", epochs=3, learning_rate=0.01)
    _, (one,) = store.create_study("s", "single", [first], reserve_for=1)
    _, (two,) = store.create_study("s", "single", [second], reserve_for=1)
    for tid in (one, two):
        store.finish_trial(tid, Status.CANCELLED)
    at = run(TRAIN, trial=str(one))
    assert not at.exception
    assert at.number_input(key="batch_size").value == 32
    assert at.selectbox(key="optimizer").value == "rmsprop"
    assert at.checkbox(key="augment_flip").value is True
    at.number_input(key="epochs").set_value(7)  # changed after opening it, then trained
    at.button[0].click().run()
    queued = store.trials(statuses=(Status.QUEUED,))[0]
    assert queued.config["epochs"] == 7 and queued.config["optimizer"] == "rmsprop"
    assert at.query_params["trial"] == str(queued.id)
    assert at.number_input(key="epochs").value == 7  # the form keeps what was trained
    at.query_params["trial"] = str(two)  # another run's link
    at.run()
    assert at.number_input(key="epochs").value == 3
    assert at.number_input(key="learning_rate").value == 0.01
    assert at.number_input(key="batch_size").value == RunConfig().batch_size


def test_filter_counts_beyond_the_conv_blocks_are_refused_not_dropped(store: Store) -> None:
    at = run(TRAIN)
    at.text_input(key="filters").set_value("16, 64, 128, 256, 512")
    at.button[0].click().run()
    marks = [m.value for m in at.markdown if m.value.startswith(":red[")]
    assert marks == [
        ":red[5 values for 2 conv blocks; give 2 (one per block), or set Conv blocks to 5.]"
    ]
    assert store.studies() == []


def test_every_problem_of_a_submission_is_marked_at_its_field(store: Store) -> None:
    at = run(TRAIN)
    at.selectbox(key="model").set_value("transfer")  # digits are 8 px, and no weights here
    at.number_input(key="learning_rate").set_value(0.0)
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1  # one sum-up, under the button
    assert at.error[0].value == (
        "**3 settings to change**, marked above: Learning rate, Image size, Pretrained weights."
    )
    # Under each field, its own message; the sections holding them are open.
    marks = [m.value for m in at.markdown if m.value.startswith(":red[")]
    assert len(marks) == 3
    assert any(m.startswith(":red[Must be above 0") for m in marks)
    opened = {e.label for e in at.expander if e.proto.expanded}
    assert opened == {"Transfer learning and image size"}
    assert store.studies() == []


def test_a_fixed_submission_queues_and_forgets_its_problems(
    store: Store, busy_worker: None
) -> None:
    at = run(TRAIN)
    at.number_input(key="learning_rate").set_value(0.0)
    at.button[0].click().run()
    assert at.error and store.studies() == []
    at.number_input(key="learning_rate").set_value(0.01)
    at.button[0].click().run()
    assert not at.error and not at.exception
    assert not [m for m in at.markdown if m.value.startswith(":red[")]
    assert store.trials()[0].run_config.learning_rate == 0.01
