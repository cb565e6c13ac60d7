"""keras-tuner's chief/worker mode on 127.0.0.1: a chief and two tuner processes; every trial
is recorded once, with the tuner process that ran it, and its epochs stream into the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli import main
from core.store import Status, Store


def test_chief_and_two_workers_record_every_trial_once_with_its_worker(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps([{"key": "dense_units", "kind": "choice", "values": [16, 24, 32, 48]}])
    )
    args = ["tune", "--tuner", "random", "--max-trials", "4", "--space", str(space)]
    args += ["--set", "model=mlp", "--epochs", "2", "--keep-top", "1", "--no-baseline"]
    code = main([*args, "--workers", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "done" and summary["trials_done"] == 4

    trials = store.trials([summary["study"]])
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.results["tuner_trial_id"] for t in trials}) == 4
    assert len({t.results["hp"]["dense_units"] for t in trials}) == 4
    workers = {t.worker for t in trials}
    assert len(workers) == 2  # both tuner processes trained trials
    for trial in trials:
        assert trial.status == Status.COMPLETED, trial.error
        assert trial.worker.endswith(f":{trial.worker_pid}")
        epochs = store.epochs(trial.id)
        assert [e.epoch for e in epochs] == [0, 1]
        assert trial.results["objective"] == max(e.metrics["val_accuracy"] for e in epochs)
    best = store.trial(summary["best_trial"])
    assert best.results["kept"] and Path(best.results["artifacts"]["model"]).is_file()
