"""Forking from a run's page and its diagnosis, under AppTest (no training needed)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.spec.config import RunConfig
from core.spec.params import PARAM_BY_KEY
from core.store import Status, Store
from core.store.checkpoint_files import checkpoint_dir, checkpoint_path
from tests.app.conftest import APP, TRAIN

# Validation loss turns up after epoch 3 while training loss keeps falling: overfitting.
CURVES = [
    (1.0, 0.7, 1.0, 0.7),
    (0.6, 0.8, 0.7, 0.8),
    (0.4, 0.88, 0.55, 0.83),
    (0.25, 0.93, 0.6, 0.82),
    (0.15, 0.97, 0.7, 0.81),
    (0.08, 0.99, 0.85, 0.8),
]


def _run_with_checkpoints(store: Store, cache: Path) -> int:
    cfg = RunConfig(model="mlp", epochs=len(CURVES))
    _, (tid,) = store.create_study("mlp on digits", "single", [cfg], reserve_for=1)
    folder = checkpoint_dir(store.trial(tid), cache)
    folder.mkdir(parents=True)
    for i, (loss, acc, val_loss, val_acc) in enumerate(CURVES):
        metrics = {"loss": loss, "accuracy": acc, "val_loss": val_loss, "val_accuracy": val_acc}
        store.add_epoch(tid, i, metrics, 1.0)
        # The page only looks at which checkpoints exist; the worker reads them.
        checkpoint_path(folder, i).write_bytes(bytes(1000))
    store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.8, "test_loss": 0.9})
    return tid


def _open(tid: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["trial"] = str(tid)
    at.switch_page(TRAIN)
    return at.run()


def test_a_run_page_shows_its_diagnosis_with_advice(store: Store, cache: Path) -> None:
    at = _open(_run_with_checkpoints(store, cache))
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "overfitting" in text and "epoch 3" in text and "Add dropout" in text


def test_fork_from_its_page_queues_a_linked_run(
    store: Store, cache: Path, busy_worker: None
) -> None:
    # A busy worker leaves the fork queued: its checkpoints here are fakes that a worker
    # would fail to load.
    tid = _run_with_checkpoints(store, cache)
    at = _open(tid)
    at.selectbox(key=f"fork-epoch-{tid}").set_value(3)
    at.number_input(key=f"fork-lr-{tid}").set_value(1e-4)
    at.number_input(key=f"fork-dropout-{tid}").set_value(0.4)
    at.button(key=f"fork-go-{tid}").click()
    at.run()
    assert not at.exception
    (child,) = [t for t in store.trials() if t.id != tid]
    assert (child.parent_id, child.fork_epoch, child.status) == (tid, 2, Status.QUEUED)
    assert child.config["learning_rate"] == 1e-4 and child.config["dropout"] == 0.4
    assert store.study(child.study_id).kind == "fork"
    assert store.study(child.study_id).name == (
        f"mlp · epochs 6 on digits · from run {tid} after epoch 3 · lr 1e-4 · dropout 0.4"
    )
    # The fork's page (opened by the button) names its parent and the changes.
    assert any(
        c.value == f"Forked from run {tid} after epoch 3: lr 1e-4 · dropout 0.4."
        for c in at.caption
    )
    # The parent's page links to its fork and says what changed.
    links = [link.proto.label for link in _open(tid).get("page_link")]
    assert f"Run {child.id} forked after epoch 3: lr 1e-4 · dropout 0.4" in links


def test_a_bad_fork_names_every_problem_at_once_and_queues_nothing(
    store: Store, cache: Path
) -> None:
    tid = _run_with_checkpoints(store, cache)  # 6 epochs; the form starts after the last
    at = _open(tid)
    at.number_input(key=f"fork-epochs-{tid}").set_value(2)
    at.text_input(key=f"fork-extra-{tid}").set_value("model=cnn, l2 0.01, colour=red")
    at.button(key=f"fork-go-{tid}").click()
    at.run()
    assert not at.exception
    assert [t.id for t in store.trials()] == [tid]
    (listed,) = [e.value for e in at.error]
    assert listed.startswith("4 settings to change:"), listed
    for said in (
        "**Other changes** — expected key=value, got 'l2 0.01'.",
        "**colour** — unknown setting.",
        "**Model** — cannot change mid-training",
        "**Epochs** — is 2, so nothing is left to train after epoch 6",
    ):
        assert said in listed, said
    # Fixed, the same form queues the fork.
    at.number_input(key=f"fork-epochs-{tid}").set_value(8)
    at.text_input(key=f"fork-extra-{tid}").set_value("l2=0.01")
    at.button(key=f"fork-go-{tid}").click()
    at.run()
    assert not at.exception and not at.error
    (child,) = [t for t in store.trials() if t.id != tid]
    assert child.parent_id == tid and child.config["l2"] == 0.01 and child.config["epochs"] == 8


def test_a_running_run_offers_a_fork_from_its_finished_epochs(store: Store, cache: Path) -> None:
    cfg = RunConfig(model="mlp", epochs=10)
    _, (tid,) = store.create_study("mlp on digits", "single", [cfg], reserve_for=1)
    folder = checkpoint_dir(store.trial(tid), cache)
    folder.mkdir(parents=True)
    for i in range(2):
        store.add_epoch(tid, i, {"loss": 1.0 - i / 10, "accuracy": 0.5}, 1.0)
        checkpoint_path(folder, i).write_bytes(b"")
    at = _open(tid)
    assert not at.exception
    assert "Continue from an epoch with new settings" in [e.label for e in at.expander]
    assert at.selectbox(key=f"fork-epoch-{tid}").options == ["1", "2"]


def test_the_fork_form_takes_its_ranges_steps_and_labels_from_the_parameter_table(
    store: Store, cache: Path
) -> None:
    tid = _run_with_checkpoints(store, cache)
    at = _open(tid)
    shown = {"lr": "learning_rate", "batch": "batch_size", "dropout": "dropout", "epochs": "epochs"}
    for name, key in shown.items():
        param, box = PARAM_BY_KEY[key], at.number_input(key=f"fork-{name}-{tid}")
        assert (box.min, box.max, box.step) == (param.low, param.high, param.step), key
        assert box.value == store.trial(tid).config[key]
        if key != "epochs":  # named for a fork: counted from the run's start
            assert (box.label, box.help) == (param.label, param.help)
    for name, key in (("schedule", "lr_schedule"), ("optimizer", "optimizer")):
        box = at.selectbox(key=f"fork-{name}-{tid}")
        assert box.label == PARAM_BY_KEY[key].label
        assert box.options == list(PARAM_BY_KEY[key].choices.values())


def test_a_bound_the_widget_cannot_hold_is_refused_as_a_run_refuses_it(
    store: Store, cache: Path
) -> None:
    tid = _run_with_checkpoints(store, cache)
    at = _open(tid)
    at.number_input(key=f"fork-lr-{tid}").set_value(0.0)  # a run's learning rate is above 0
    at.number_input(key=f"fork-epochs-{tid}").set_value(8)  # something left to train
    at.button(key=f"fork-go-{tid}").click()
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    message = PARAM_BY_KEY["learning_rate"].check(0.0)  # "learning rate must be above 0 …"
    assert errors == [f"**Learning rate**{message[len('learning rate') :]}"]
    assert [t.id for t in store.trials()] == [tid]


def test_a_run_page_says_which_checkpoints_it_keeps_and_their_size(
    store: Store, cache: Path
) -> None:
    tid = _run_with_checkpoints(store, cache)
    checkpoint_path(checkpoint_dir(store.trial(tid), cache), 2).unlink()
    at = _open(tid)
    assert "Checkpoints of epochs 1, 2, 4, 5, 6 · 5 KB" in [c.value for c in at.caption]


def test_a_fork_from_an_epoch_pruned_meanwhile_is_refused_and_queues_nothing(
    store: Store, cache: Path
) -> None:
    tid = _run_with_checkpoints(store, cache)
    at = _open(tid)
    at.selectbox(key=f"fork-epoch-{tid}").set_value(3)
    # The run's budget prunes epoch 3 while the form is open.
    checkpoint_path(checkpoint_dir(store.trial(tid), cache), 2).unlink()
    at.button(key=f"fork-go-{tid}").click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"**Continue after epoch** — epoch 3 of run {tid} has no checkpoint any more; "
        "these epochs do: 1, 2, 4, 5, 6"
    ]
    assert [t.id for t in store.trials()] == [tid]
