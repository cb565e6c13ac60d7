"""A search's own life in the store: its state, the worker running it, and its trials.

A search is a study of kind ``search``. Besides its trials it has a state (the columns
``state``, ``owner``, ``heartbeat_at`` and ``progress`` of ``studies``, schema version 3):

* ``queued``: waiting for a worker (after launch, or after Resume);
* ``running``: a worker runs it and beats its heartbeat;
* ``done``: the tuner finished every trial it planned;
* ``interrupted``: its worker died (the heartbeat went silent); Resume goes on;
* ``out_of_time``: the time budget ended it; Resume with more time goes on;
* ``cancelled``: a person stopped it; Resume goes on;
* ``failed``: an error outside any one trial stopped it; ``progress["error"]`` says what.

``progress`` holds ``used_s`` (seconds of search time used over all runs), ``extra_budget_s``
(time added at Resume), ``cancel`` (a stop was asked for), ``note`` (what was left undone) and
``trials`` (keras-tuner trial id to store trial id), so a resumed search re-uses the store trial
of a trial keras-tuner runs again. These helpers run their SQL through the store's
``connection`` and ``transaction``, each write in one transaction; the rest of the app goes
through ``core.worker.searches``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from core.spec.config import ConfigError, RunConfig
from core.spec.search_space import SearchSettings, SearchSpace
from core.store import liveness
from core.store.records import read_results, write_results
from core.store.sqlite import HEARTBEAT_TIMEOUT_S, Status, Store

SEARCH_KIND = "search"
STATES = ("queued", "running", "done", "interrupted", "out_of_time", "cancelled", "failed")
FINAL_STATES = ("done", "interrupted", "out_of_time", "cancelled", "failed")
# A worker runs a search in a child process that hands it on to a fresh one, between trials,
# once its memory has grown this much since its first trial ended (``core.worker.search_child``):
# TensorFlow keeps a little memory for every model a process builds. A fresh child imports
# TensorFlow and reloads the tuner again (seconds), so while memory stays flat one child goes on.
HANDOVER_GROWTH_MIB = 1024.0
# About what one trial of report 000's CNN adds to a process (``benchmarks/tune_memory.py``).
TRIAL_GROWTH_MIB = 16.0


@dataclass(frozen=True)
class SearchRow:
    """A search's state as the store last saw it."""

    study_id: int
    state: str
    owner: str | None
    heartbeat_at: float | None
    progress: dict[str, Any] = field(default_factory=dict)


def read(store: Store, study_id: int) -> SearchRow:
    """Return a search's state. Raises KeyError if there is no such study."""
    with store.connection() as db:
        row = db.execute(
            "SELECT id, state, owner, heartbeat_at, progress FROM studies WHERE id=?", (study_id,)
        ).fetchone()
    if row is None:
        raise KeyError(f"no study {study_id}")
    return SearchRow(
        row["id"], row["state"], row["owner"], row["heartbeat_at"], json.loads(row["progress"])
    )


def set_state(
    store: Store,
    study_id: int,
    state: str,
    progress: dict[str, Any] | None = None,
    owner: str | None = None,
    here: bool = False,
) -> None:
    """Set a search's state, merging ``progress`` into what it holds.

    With ``here``, this process becomes its owner (as :func:`claim` records one) in the same
    write: a search launched to run in this process is never seen queued by a worker.
    """
    started = None
    if here:
        me = liveness.this_process()
        owner, started = me.label, me.started
    with store.transaction() as db:
        row = db.execute("SELECT progress FROM studies WHERE id=?", (study_id,)).fetchone()
        merged = {**json.loads(row["progress"]), **(progress or {})}
        db.execute(
            "UPDATE studies SET state=?, progress=?, owner=COALESCE(?, owner), "
            "owner_started=COALESCE(?, owner_started), heartbeat_at=? WHERE id=?",
            (state, json.dumps(merged), owner, started, time.time(), study_id),
        )


def update_progress(store: Store, study_id: int, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into a search's progress, beat its heartbeat; return the progress."""
    with store.transaction() as db:
        row = db.execute("SELECT progress FROM studies WHERE id=?", (study_id,)).fetchone()
        merged = {**json.loads(row["progress"]), **changes}
        db.execute(
            "UPDATE studies SET progress=?, heartbeat_at=? WHERE id=?",
            (json.dumps(merged), time.time(), study_id),
        )
    return merged


def claim(store: Store, owner: str | None = None, study_id: int | None = None) -> int | None:
    """Mark the oldest queued search (or ``study_id`` if queued) as running for ``owner``.

    ``owner`` is ``host:pid``; by default this process, whose start time is recorded too so
    that the reaper can tell it from a later process with the same id (``core.store.liveness``).

    Returns:
        The claimed study id, or None when there was nothing to claim.
    """
    only = "" if study_id is None else f" AND id={int(study_id)}"
    sql = f"SELECT id FROM studies WHERE kind=? AND state='queued'{only} ORDER BY id LIMIT 1"
    with store.connection() as db:  # an idle worker asks often: look without the write lock
        if db.execute(sql, (SEARCH_KIND,)).fetchone() is None:
            return None
    with store.transaction() as db:
        row = db.execute(sql, (SEARCH_KIND,)).fetchone()
        if row is None:
            return None
        me = liveness.this_process()
        db.execute(
            "UPDATE studies SET state='running', owner=?, owner_started=?, heartbeat_at=? "
            "WHERE id=?",
            (
                owner or me.label,
                me.started if owner in (None, me.label) else None,
                time.time(),
                row["id"],
            ),
        )
    return int(row["id"])


def reap(store: Store, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
    """Mark running searches whose worker has ended as interrupted; return their ids.

    Their running trials died with them: they end as interrupted too, and Resume continues
    them from their last finished epoch.
    """
    return store.reap_stale_searches(timeout_s)


def start_trial(
    store: Store,
    study_id: int,
    tuner_trial_id: str,
    config: RunConfig,
    pid: int | None,
    worker: str,
) -> int:
    """Record that keras-tuner started (or restarted) one of the search's trials.

    A trial keras-tuner runs again after an interruption gets its old store trial back,
    running again, with its finished epochs kept; a new one gets the next ``number``.

    Returns:
        The store trial id.
    """
    now = time.time()
    here = pid is not None and worker == f"{liveness.this_host()}:{pid}"
    started = liveness.process_started(pid) if here and pid is not None else None
    with store.transaction() as db:
        row = db.execute("SELECT progress FROM studies WHERE id=?", (study_id,)).fetchone()
        progress = json.loads(row["progress"])
        known = progress.setdefault("trials", {})
        if tuner_trial_id in known:
            trial_id = int(known[tuner_trial_id])
            db.execute(
                "UPDATE trials SET status=?, finished_at=NULL, error=NULL, traceback=NULL, "
                "heartbeat_at=?, worker_pid=?, worker=?, worker_started=?, cancel_requested=0, "
                "config=?, config_hash=? WHERE id=?",
                (
                    Status.RUNNING,
                    now,
                    pid,
                    worker,
                    started,
                    config.to_json(),
                    config.config_hash(),
                    trial_id,
                ),
            )
            return trial_id
        number = db.execute("SELECT COUNT(*) FROM trials WHERE study_id=?", (study_id,)).fetchone()[
            0
        ]
        trial_id = int(
            db.execute(
                "INSERT INTO trials (study_id, number, config, config_hash, status, created_at, "
                "started_at, heartbeat_at, worker_pid, worker, worker_started) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    study_id,
                    number,
                    config.to_json(),
                    config.config_hash(),
                    Status.RUNNING,
                    now,
                    now,
                    now,
                    pid,
                    worker,
                    started,
                ),
            ).lastrowid
        )
        known[tuner_trial_id] = trial_id
        db.execute(
            "UPDATE studies SET progress=?, heartbeat_at=? WHERE id=?",
            (json.dumps(progress), now, study_id),
        )
    return trial_id


def set_results(store: Store, trial_id: int, changes: dict[str, Any]) -> None:
    """Merge ``changes`` into a finished trial's results (test metrics, artifacts, kept)."""
    with store.transaction() as db:
        merged = {**read_results(db, trial_id), **changes}
        write_results(db, trial_id, merged)
        db.execute(
            "UPDATE trials SET test_loss=?, test_accuracy=? WHERE id=?",
            (merged.get("test_loss"), merged.get("test_accuracy"), trial_id),
        )


def set_parent(store: Store, trial_id: int, parent_id: int | None, fork_epoch: int) -> None:
    """Record that a trial trains on a model of an earlier trial (Hyperband's next round)."""
    with store.transaction() as db:
        db.execute(
            "UPDATE trials SET parent_id=?, fork_epoch=? WHERE id=?",
            (parent_id, fork_epoch, trial_id),
        )


def search_parts(store: Store, study_id: int) -> tuple[RunConfig, SearchSpace, SearchSettings]:
    """The base config, space and settings a search was launched with.

    Raises:
        KeyError: if there is no such study.
        ConfigError: if the study is not a search.
    """
    study = store.study(study_id)
    if study.kind != SEARCH_KIND:
        raise ConfigError("study", f"study {study_id} is a {study.kind} study, not a search.")
    spec = study.spec
    return (
        RunConfig.from_dict(spec["base"]),
        SearchSpace.from_list(spec["space"]),
        SearchSettings.from_dict(spec["settings"]),
    )
