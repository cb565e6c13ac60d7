"""keras-tuner's chief/worker mode on 127.0.0.1: a chief, a tuner process it starts, and a
tuner that joins from a cache folder of its own, as from another machine; every trial is
recorded once, with the tuner process that ran it, and its epochs stream into the chief's store."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli.main import main
from core.spec.config import ConfigError
from core.store import Status, Store, paths
from core.store.checkpoint_files import saved_epochs
from core.views import tune_tables as tune_views


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _join(port: int, study: int, cache: Path) -> subprocess.Popen:
    """``python -m core worker --join`` with nothing of the chief's: an empty cache folder."""
    command = [sys.executable, "-m", "core", "worker", "--join", f"127.0.0.1:{port}"]
    return subprocess.Popen(
        [*command, "--study", str(study)],
        cwd=paths.PROJECT_ROOT,
        env={**os.environ, paths.CACHE_ENV: str(cache)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_chief_and_two_workers_record_every_trial_once_with_its_worker(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.json"
    space.write_text(
        json.dumps([{"key": "dense_units", "kind": "choice", "values": [16, 24, 32, 48]}])
    )
    args = ["tune", "--tuner", "random", "--max-trials", "4", "--space", str(space)]
    args += ["--set", "model=mlp", "--epochs", "2", "--keep-top", "4", "--no-baseline"]
    port, elsewhere = _free_port(), tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The search about to start is study 1 of this empty store; both wait for the chief.
    joiner, stray = _join(port, 1, elsewhere), _join(port, 7, elsewhere)
    code = main([*args, "--workers", "1", "--listen", f"127.0.0.1:{port}", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"join with: python -m core worker --join 127.0.0.1:{port} --study 1" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["study"] == 1
    assert summary["state"] == "done" and summary["trials_done"] == 4
    assert joiner.wait(timeout=60) == 0, joiner.stderr.read()
    assert stray.wait(timeout=60) == 2
    assert "--study: the chief at 127.0.0.1" in stray.stderr.read()

    trials = store.trials([summary["study"]])
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert len({t.results["tuner_trial_id"] for t in trials}) == 4
    assert len({t.results["hp"]["dense_units"] for t in trials}) == 4
    workers = {t.worker for t in trials}
    assert len(workers) == 2  # the local tuner and the one that joined both trained trials
    assert joiner.pid in {t.worker_pid for t in trials}
    assert not Store(paths.store_path(elsewhere)).trials()  # every trial is in the chief's store
    for trial in trials:
        assert trial.status == Status.COMPLETED, trial.error
        assert trial.worker.endswith(f":{trial.worker_pid}")
        epochs = store.epochs(trial.id)
        assert [e.epoch for e in epochs] == [0, 1]
        assert trial.results["objective"] == max(e.metrics["val_accuracy"] for e in epochs)
    # Every trial ranks (keep-top 4): those trained here are tested and saved; the weights of
    # those the joined tuner trained stay in its project folder, and the trial says which
    # tuner has them.
    assert sorted(t.results["rank"] for t in trials) == [1, 2, 3, 4]
    for trial in trials:
        if trial.worker_pid == joiner.pid:
            assert trial.results["weights_on"] == trial.worker
            assert not trial.results.get("kept") and "artifacts" not in trial.results
            folder = elsewhere / "tuning" / "1" / f"trial_{trial.results['tuner_trial_id']}"
            assert (folder / "checkpoint.weights.h5").is_file()
            # Its per-epoch checkpoints and logs stay on the machine that trained it.
            run = elsewhere / "runs" / "1" / f"tuner-trial-{trial.results['tuner_trial_id']}"
            assert saved_epochs(run / "checkpoints") == [0, 1]
            assert any((run / "logs").rglob("events.out.*"))
            assert "Promote" in tune_views.weights_elsewhere(trial)
        else:
            assert trial.results["kept"] and Path(trial.results["artifacts"]["model"]).is_file()
            assert tune_views.weights_elsewhere(trial) is None


def test_joining_where_no_chief_listens_says_so() -> None:
    from core.engine.search.distributed import fetch_search

    port = _free_port()
    with pytest.raises(
        ConfigError, match=f"--join: no search's chief answered at 127.0.0.1:{port}"
    ):
        fetch_search("127.0.0.1", port, 1, timeout_s=1.0)


def test_a_bayes_hyperband_chief_prunes_the_trials_of_its_tuner_processes(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import optuna

    space = tmp_path / "space.json"
    space.write_text(
        json.dumps(
            [{"key": "learning_rate", "kind": "float", "low": 1e-6, "high": 1.0, "log": True}]
        )
    )
    # Two epochs, judged after the first, in one bracket.
    args = ["tune", "--tuner", "bayes-hyperband", "--max-trials", "8", "--space", str(space)]
    args += ["--set", "model=mlp", "--epochs", "2", "--min-epochs", "1", "--factor", "3"]
    code = main([*args, "--keep-top", "1", "--no-baseline", "--workers", "2", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "done" and summary["trials_done"] == 8

    trials = store.trials([summary["study"]])
    assert sorted(t.number for t in trials) == list(range(8))
    assert len({t.worker for t in trials}) == 2
    pruned = [t for t in trials if "pruned" in t.results]
    assert pruned, "eight trials over a millionfold learning-rate range: some fall behind"
    for trial in trials:
        assert trial.status == Status.COMPLETED, trial.error
        epochs = [e.epoch for e in store.epochs(trial.id)]
        if trial in pruned:  # the tuner stopped after the epoch the chief judged, kept
            assert epochs == [0] and trial.results["pruned"]["epoch"] == 1
            assert trial.results["pruned"]["value"] < trial.results["pruned"]["threshold"]
        else:
            assert epochs == [0, 1]
    journal = optuna.load_study(
        study_name="search",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(
                str(paths.cache_dir() / "tuning" / str(summary["study"]) / "optuna.journal")
            )
        ),
    )
    states = [t.state for t in journal.get_trials()]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert states.count(optuna.trial.TrialState.COMPLETE) == 8 - len(pruned)
