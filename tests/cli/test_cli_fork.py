"""``python -m core fork``: a fork trained from the shell, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.store import Status, Store
from core.store.checkpoint_files import checkpoint_dir, checkpoint_path


def test_fork_command_trains_the_fork_and_ends_with_json(
    store: Store, completed_trial: int, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = completed_trial  # a real 2-epoch mlp run with its checkpoints (tests/conftest.py)
    code = main(["fork", str(parent), "--epoch", "1", "--set", "learning_rate=3e-4", "--json"])
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0, err
    assert summary["parent"] == parent and summary["fork_epoch"] == 1
    assert summary["changes"] == {"learning_rate": 3e-4}
    assert summary["status"] == "completed" and summary["epochs_run"] == 1
    assert "epoch 2/2" in err and "lr 3e-4" in err
    child = store.trial(summary["trial"])
    assert (child.parent_id, child.fork_epoch, child.status) == (parent, 0, Status.COMPLETED)
    # Both were tested on the same 360 digits, image by image: the difference and its interval.
    assert summary["parent_test_accuracy"] == store.trial(parent).test_accuracy
    low, high = summary["test_accuracy_diff_ci"]
    assert low <= summary["test_accuracy_diff"] <= high
    assert summary["test_accuracy_diff"] == pytest.approx(
        child.test_accuracy - store.trial(parent).test_accuracy, abs=1e-6
    )
    assert "on the same 360 test images" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fork", "5", "--epoch", "1"], "error: trial: there is no run #5"),
        (["fork", "1", "--epoch", "1", "--set", "lr"], "error: --set: expected key=value"),
    ],
)
def test_fork_command_refuses_bad_input_in_one_line(
    store: Store, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1
    assert store.trials() == []


def test_fork_from_a_pruned_epoch_names_the_epochs_left_and_queues_nothing(
    store: Store, cache: Path, completed_trial: int, capsys: pytest.CaptureFixture[str]
) -> None:
    parent = store.trial(completed_trial)  # two epochs, both checkpointed
    checkpoint_path(checkpoint_dir(parent, cache), 0).unlink()  # as the budget prunes it
    assert main(["fork", str(parent.id), "--epoch", "1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: epoch: epoch 1 of run {parent.id} has no checkpoint any more; these epochs do: 2\n"
    )
    assert [t.id for t in store.trials()] == [parent.id]
