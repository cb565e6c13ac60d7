"""The store under stress: another process writing at the same time, a file from an older
schema, and a run whose loss turns NaN in the real worker."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.spec.config import RunConfig
from core.store import SCHEMA_VERSION, Status, Store, paths
from core.worker.launch import IDLE_ENV, ensure_worker, worker_alive
from tests.worker.test_worker import wait_for

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
# When set, the contention test writes {"epochs_written", "epochs_kept", "lost"} here.
REPORT_ENV = "HPE_FAULTS_STORE_REPORT"
EPOCHS = 200

# The second writer: its own studies and heartbeats, as fast as it can, until told to stop.
HAMMER = """
import os, sys, time
from core.spec.config import RunConfig
from core.store import Store
store, stop = Store(sys.argv[1]), sys.argv[2]
cfg = RunConfig(model="mlp", epochs=1)
_, (tid,) = store.create_study("hammer", "single", [cfg], reserve_for=os.getpid())
print("ready", flush=True)
n = 0
while not os.path.exists(stop):
    store.create_study(f"hammer {n}", "single", [cfg, cfg])
    store.heartbeat(tid, {"phase": "training", "batch": n})
    store.claim_next(os.getpid())
    n += 1
print(n, flush=True)
"""


def test_a_second_writer_process_loses_no_epoch_rows(store: Store, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    hammers = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, str(store.path), str(stop)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for hammer in hammers:
            assert hammer.stdout.readline().strip() == "ready", hammer.stderr.read()
        cfg = RunConfig(model="mlp", epochs=EPOCHS)
        _, (tid,) = store.create_study("victim", "single", [cfg], reserve_for=os.getpid())
        for epoch in range(EPOCHS):
            store.add_epoch(tid, epoch, {"loss": 1 / (epoch + 1), "accuracy": 0.5}, 0.01)
            assert store.heartbeat(tid, {"phase": "training", "epoch": epoch}) is False
        store.finish_trial(tid, Status.COMPLETED, {"test_accuracy": 0.5, "test_loss": 1.0})
    finally:
        stop.touch()
        outputs = [h.communicate(timeout=60) for h in hammers]
    for hammer, (out, err) in zip(hammers, outputs, strict=True):
        assert hammer.returncode == 0, err
        assert int(out.split()[-1]) > 0, "the second writer never wrote"  # it did contend
    kept = store.epochs(tid)
    lost = EPOCHS - len(kept)
    if os.environ.get(REPORT_ENV):
        Path(os.environ[REPORT_ENV]).write_text(
            json.dumps({"epochs_written": EPOCHS, "epochs_kept": len(kept), "lost": lost})
        )
    assert lost == 0
    assert [e.epoch for e in kept] == list(range(EPOCHS))
    assert kept[-1].metrics["loss"] == pytest.approx(1 / EPOCHS)
    assert store.trial(tid).status == Status.COMPLETED


# The store as it was before schema versions: no meta table, fewer columns.
V0_SCHEMA = """
CREATE TABLE studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, kind TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number INTEGER NOT NULL, config TEXT NOT NULL, config_hash TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, finished_at REAL,
    heartbeat_at REAL, worker_pid INTEGER, test_loss REAL, test_accuracy REAL, error TEXT
);
CREATE TABLE epochs (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL, metrics TEXT NOT NULL, seconds REAL NOT NULL,
    recorded_at REAL NOT NULL, PRIMARY KEY (trial_id, epoch)
);
"""


def _v0_store(path: Path, with_meta: bool) -> RunConfig:
    cfg = RunConfig(model="mlp", epochs=3)
    now = time.time()
    db = sqlite3.connect(path)
    db.executescript(V0_SCHEMA)
    if with_meta:
        db.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('schema_version', '0');"
        )
    db.execute(
        "INSERT INTO studies (name, kind, created_at) VALUES ('old run', 'single', ?)", (now,)
    )
    db.execute(
        "INSERT INTO trials (study_id, number, config, config_hash, status, created_at, "
        "finished_at, test_loss, test_accuracy) VALUES (1, 0, ?, ?, 'completed', ?, ?, 0.3, 0.9)",
        (cfg.to_json(), cfg.config_hash(), now, now),
    )
    db.executemany(
        "INSERT INTO epochs VALUES (1, ?, ?, 0.1, ?)",
        [(e, json.dumps({"loss": 1.0 - e / 10}), now) for e in range(3)],
    )
    db.commit()
    db.close()
    return cfg


@pytest.mark.parametrize("with_meta", [False, True], ids=["no-meta", "meta-v0"])
def test_a_store_from_an_older_schema_is_migrated_not_wiped(
    tmp_path: Path, with_meta: bool
) -> None:
    path = tmp_path / "old.sqlite"
    cfg = _v0_store(path, with_meta)

    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION >= 1
    (study,) = store.studies()
    assert (study.name, study.spec) == ("old run", {})
    trial = store.trial(1)
    assert trial.status == Status.COMPLETED and trial.test_accuracy == pytest.approx(0.9)
    assert trial.run_config == cfg
    assert (trial.diverged_epoch, trial.traceback, trial.cancel_requested) == (None, None, False)
    assert [e.metrics["loss"] for e in store.epochs(1)] == pytest.approx([1.0, 0.9, 0.8])

    # The migrated file works as any store, and opening it again changes nothing.
    _, (new,) = store.create_study("new run", "single", [cfg])
    store.heartbeat(new, {"phase": "training"})
    assert [s.name for s in Store(path).studies()] == ["new run", "old run"]
    assert len(Store(path).epochs(1)) == 3


def test_a_nan_loss_in_the_worker_ends_diverged_and_the_queue_goes_on(
    store: Store, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(IDLE_ENV, "2")
    blow_up = RunConfig(model="mlp", optimizer="sgd", learning_rate=1e3, dense_layers=3, epochs=5)
    _, (bad,) = store.create_study("diverges", "single", [blow_up])
    _, (good,) = store.create_study("next", "single", [RunConfig(model="mlp", epochs=1)])
    ensure_worker(cache)

    wait_for(lambda: store.trial(good).status.finished, timeout=180)
    trial = store.trial(bad)
    assert trial.status == Status.DIVERGED, (trial.status, trial.error)
    assert trial.diverged_epoch is not None and "learning rate" in trial.error
    assert len(store.epochs(bad)) == trial.diverged_epoch + 1
    assert store.trial(good).status == Status.COMPLETED, store.trial(good).error
    assert Store(paths.store_path(cache)).trial(bad).worker_pid == store.trial(good).worker_pid
    wait_for(lambda: not worker_alive(cache), timeout=30)
