"""The store: the one source of truth for studies, trials, per-epoch metrics and workers.

SQLite in WAL mode, so the UI process reads while the worker writes. The worker (or the CLI)
is the only writer of training results; pages only read, queue and ask to cancel. Each thread
of each process uses a connection of its own, reused from call to call
(``core.store.store_file``), which keeps the store safe to use from Streamlit's script threads
and from several processes at once; the reads are ``core.store.reads``'.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

from core.spec.config import RunConfig
from core.store import errors, liveness, paths
from core.store.reads import StoreReads
from core.store.records import Epoch, Status, Study, Trial, read_results, write_results
from core.store.schema import SCHEMA_VERSION
from core.store.store_file import BUSY_TIMEOUT_S

__all__ = [
    "HEARTBEAT_TIMEOUT_S",
    "SCHEMA_VERSION",
    "Epoch",
    "Status",
    "Store",
    "Study",
    "Trial",
    "open_store",
]

logger = logging.getLogger(__name__)

# A running trial or search whose heartbeat has been quiet this long has its owner checked
# (core.store.liveness): on this host by its process, elsewhere by a longer silence.
HEARTBEAT_TIMEOUT_S = liveness.QUIET_S


class Store(StoreReads):
    """The SQLite store at ``path``: studies, the queue, trials' lives and their epochs.

    Opening, connections and the file's troubles are :class:`StoreFile`'s (its arguments
    are the store's); reads are :class:`StoreReads`'.
    """

    # -- studies and the queue ---------------------------------------------------------

    def create_study(
        self,
        name: str,
        kind: str,
        configs: list[RunConfig],
        spec: dict[str, Any] | None = None,
        reserve_for: int | None = None,
    ) -> tuple[int, list[int]]:
        """Add a study and queue one trial per config.

        Args:
            name: Name shown to people.
            kind: ``single``, ``sweep`` or ``search``.
            configs: One config per trial, in the order they should run.
            spec: What was launched (kept for display and resuming).
            reserve_for: If given, the process (of this host) that trains these trials itself,
                as the command line does: they stay queued for it, no worker takes them, and
                it claims each one when it starts it (:meth:`claim`). If that process ends
                first, the reaper ends them.

        Returns:
            The study id and its trial ids.
        """
        now = time.time()
        owner = None if reserve_for is None else liveness.owner_here(reserve_for)
        with self._write() as db:
            study_id = db.execute(
                "INSERT INTO studies (name, kind, created_at, spec) VALUES (?, ?, ?, ?)",
                (name, kind, now, json.dumps(spec or {})),
            ).lastrowid
            trial_ids = [
                db.execute(
                    "INSERT INTO trials (study_id, number, config, config_hash, status, "
                    "created_at, worker_pid, worker, worker_started) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        study_id,
                        number,
                        cfg.to_json(),
                        cfg.config_hash(),
                        Status.QUEUED,
                        now,
                        *_owner_columns(owner),
                    ),
                ).lastrowid
                for number, cfg in enumerate(configs)
            ]
        return int(study_id), [int(t) for t in trial_ids]

    def claim(self, trial_id: int, pid: int | None = None) -> bool:
        """Start a queued trial in process ``pid`` of this host (default: this process).

        A trial reserved for another process that is still alive is left to it.

        Returns:
            True if the trial is now running for ``pid``; False if it was not queued (a
            person cancelled it) or is another live process's.
        """
        owner = liveness.this_process() if pid is None else liveness.owner_here(pid)
        now = time.time()
        with self._write() as db:
            row = db.execute("SELECT status, worker FROM trials WHERE id=?", (trial_id,)).fetchone()
            if row is None or row["status"] != Status.QUEUED:
                return False
            if row["worker"] not in (None, owner.label):
                return False
            db.execute(
                "UPDATE trials SET status=?, started_at=?, heartbeat_at=?, worker_pid=?, "
                "worker=?, worker_started=? WHERE id=?",
                (Status.RUNNING, now, now, *_owner_columns(owner), trial_id),
            )
        return True

    def waiting_for_worker(self) -> bool:
        """True if a queued trial waits for a worker (not for a command that reserved it)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT 1 FROM trials WHERE status=? AND worker_pid IS NULL LIMIT 1",
                (Status.QUEUED,),
            ).fetchone()
        return row is not None

    def waiting_count(self) -> int:
        """How many queued trials and searches wait for a worker (none reserved by a command)."""
        with self._connect() as db:
            trials = db.execute(
                "SELECT COUNT(*) FROM trials WHERE status=? AND worker_pid IS NULL",
                (Status.QUEUED,),
            ).fetchone()[0]
            searches = db.execute(
                "SELECT COUNT(*) FROM studies WHERE kind='search' AND state='queued'"
            ).fetchone()[0]
        return int(trials) + int(searches)

    def claim_next(self, pid: int) -> Trial | None:
        """Mark the oldest queued trial no process reserved as running for ``pid``; return it."""
        if not self.waiting_for_worker():  # an idle worker asks often: look without the lock
            return None
        owner = liveness.owner_here(pid)
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM trials WHERE status=? AND worker_pid IS NULL ORDER BY id LIMIT 1",
                (Status.QUEUED,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE trials SET status=?, started_at=?, heartbeat_at=?, worker_pid=?, "
                "worker=?, worker_started=? WHERE id=?",
                (Status.RUNNING, now, now, *_owner_columns(owner), row["id"]),
            )
        return self.trial(row["id"])

    def heartbeat(self, trial_id: int, progress: dict[str, Any] | None = None) -> bool:
        """Record that the trial's worker is alive (and its progress).

        A trial this process owns that was taken for dead (it was paused, say, on a host that
        could not check its process) is running again from this beat on.

        Returns:
            True if someone asked for the trial to be cancelled.
        """
        with self._write() as db:
            if progress is None:
                db.execute("UPDATE trials SET heartbeat_at=? WHERE id=?", (time.time(), trial_id))
            else:
                db.execute(
                    "UPDATE trials SET heartbeat_at=?, progress=? WHERE id=?",
                    (time.time(), json.dumps(progress), trial_id),
                )
            row = db.execute(
                "SELECT status, worker, finished_at, error, results, cancel_requested "
                "FROM trials WHERE id=?",
                (trial_id,),
            ).fetchone()
            if row is not None and _reaped_but_mine(row):
                _note_reconciled(db, trial_id, row, Status.RUNNING)
                db.execute(
                    "UPDATE trials SET status=?, finished_at=NULL, error=NULL WHERE id=?",
                    (Status.RUNNING, trial_id),
                )
        return bool(row and row["cancel_requested"])

    def add_epoch(
        self, trial_id: int, epoch: int, metrics: dict[str, float], seconds: float
    ) -> None:
        """Record one finished epoch (0-based). Re-recording an epoch replaces it."""
        clean = {k: float(v) for k, v in metrics.items()}
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO epochs VALUES (?, ?, ?, ?, ?)",
                (trial_id, epoch, json.dumps(clean), seconds, time.time()),
            )
            db.execute("UPDATE trials SET heartbeat_at=? WHERE id=?", (time.time(), trial_id))

    def finish_trial(
        self,
        trial_id: int,
        status: Status,
        results: dict[str, Any] | None = None,
        error: str | None = None,
        traceback: str | None = None,
        diverged_epoch: int | None = None,
    ) -> None:
        """Record how a trial ended. A trial that already ended keeps its first ending.

        Except one: a trial that was taken for dead (marked interrupted) while this process,
        its owner, was paused or slow. The owner's own ending is the truth, so it replaces
        the interruption; the trial's results keep a note of it, and the log says so.
        """
        results = dict(results or {})
        with self._write() as db:
            row = db.execute(
                "SELECT status, worker, finished_at, error, results FROM trials WHERE id=?",
                (trial_id,),
            ).fetchone()
            if row is None:
                return
            if row["status"] not in (Status.QUEUED, Status.RUNNING):
                if not _reaped_but_mine(row):
                    return
                results["reconciled"] = _note_reconciled(db, trial_id, row, status)
            elif "reconciled" in json.loads(row["results"]):
                results["reconciled"] = json.loads(row["results"])["reconciled"]
            write_results(db, trial_id, results)
            db.execute(
                "UPDATE trials SET status=?, finished_at=?, test_loss=?, "
                "test_accuracy=?, error=?, traceback=?, diverged_epoch=? WHERE id=?",
                (
                    status,
                    time.time(),
                    results.get("test_loss"),
                    results.get("test_accuracy"),
                    error,
                    traceback,
                    diverged_epoch,
                    trial_id,
                ),
            )

    def request_cancel(self, trial_id: int) -> None:
        """Cancel a trial: at once if still queued, else ask its worker to stop."""
        with self._write() as db:
            db.execute(
                "UPDATE trials SET status=?, finished_at=? WHERE id=? AND status=?",
                (Status.CANCELLED, time.time(), trial_id, Status.QUEUED),
            )
            db.execute("UPDATE trials SET cancel_requested=1 WHERE id=?", (trial_id,))

    def cancel_study(self, study_id: int) -> int:
        """Cancel every unfinished trial of a study; finished ones stay as they are.

        Queued trials are cancelled at once, running ones are asked to stop.

        Returns:
            How many trials were queued or running.
        """
        with self._write() as db:
            active = (study_id, Status.QUEUED, Status.RUNNING)
            count = db.execute(
                "SELECT COUNT(*) FROM trials WHERE study_id=? AND status IN (?, ?)", active
            ).fetchone()[0]
            db.execute(
                "UPDATE trials SET status=?, finished_at=? WHERE study_id=? AND status=?",
                (Status.CANCELLED, time.time(), study_id, Status.QUEUED),
            )
            db.execute(
                "UPDATE trials SET cancel_requested=1 WHERE study_id=? AND status=?",
                (study_id, Status.RUNNING),
            )
        return int(count)

    def fork_trial(
        self,
        parent_id: int,
        fork_epoch: int,
        config: RunConfig,
        name: str,
        reserve_for: int | None = None,
    ) -> tuple[int, int]:
        """Queue a fork: a study of kind ``fork`` whose one trial continues ``parent_id``.

        The trial is linked to its parent and the epoch (0-based) it continues after in the
        same transaction that queues it, so no worker can pick it up unlinked. It keeps the
        parent's trial number (a k-fold trial's number is its fold).

        Args:
            parent_id: The trial forked.
            fork_epoch: The parent's epoch whose checkpoint the fork starts from.
            config: The fork's config.
            name: Name shown to people.
            reserve_for: If given, the process of this host that trains the fork itself
                (see :meth:`create_study`).

        Returns:
            The new study id and trial id.

        Raises:
            KeyError: If there is no trial ``parent_id``.
        """
        parent = self.trial(parent_id)
        now = time.time()
        owner = None if reserve_for is None else liveness.owner_here(reserve_for)
        spec = {"fork_of": parent_id, "fork_epoch": fork_epoch}
        with self._write() as db:
            study_id = db.execute(
                "INSERT INTO studies (name, kind, created_at, spec) VALUES (?, 'fork', ?, ?)",
                (name, now, json.dumps(spec)),
            ).lastrowid
            trial_id = db.execute(
                "INSERT INTO trials (study_id, number, config, config_hash, status, created_at, "
                "worker_pid, worker, worker_started, parent_id, fork_epoch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    study_id,
                    parent.number,
                    config.to_json(),
                    config.config_hash(),
                    Status.QUEUED,
                    now,
                    *_owner_columns(owner),
                    parent_id,
                    fork_epoch,
                ),
            ).lastrowid
        return int(study_id), int(trial_id)

    def set_parent(self, trial_id: int, parent_id: int, fork_epoch: int | None = None) -> None:
        """Link a trial to the trial it derives from (a promotion's source, a fork's parent)."""
        with self._write() as db:
            db.execute(
                "UPDATE trials SET parent_id=?, fork_epoch=? WHERE id=?",
                (parent_id, fork_epoch, trial_id),
            )

    def delete_study(self, study_id: int) -> int:
        """Delete a study with its trials and their epochs; return how many trials went.

        Deleting a study that does not exist does nothing and returns 0.
        """
        with self._write() as db:
            rows = db.execute("SELECT id FROM trials WHERE study_id=?", (study_id,)).fetchall()
            ids = [int(r["id"]) for r in rows]
            db.executemany("DELETE FROM epochs WHERE trial_id=?", [(i,) for i in ids])
            for table in ("trial_results", "curve_summaries"):
                db.executemany(f"DELETE FROM {table} WHERE trial_id=?", [(i,) for i in ids])
            db.execute("DELETE FROM trials WHERE study_id=?", (study_id,))
            db.execute("DELETE FROM studies WHERE id=?", (study_id,))
        return len(ids)

    def reap_stale(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """End the live trials whose owner has ended as interrupted (``core.store.liveness``).

        Args:
            timeout_s: How long a trial's heartbeat must be quiet before its owner is checked.

        Returns:
            The ids of the trials marked. A store busy past its timeout marks none now
            (the next call tries again).
        """
        return self._reap("trials", timeout_s)

    def reap_stale_searches(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """End the running searches whose worker has ended as interrupted, and their trials.

        Returns:
            The ids of the searches marked.
        """
        return self._reap("studies", timeout_s)

    def _reap(self, table: str, quiet_s: float) -> list[int]:
        """End the live rows of ``table`` whose owner has ended, and their running trials.

        The one rule that tells a dead worker from a slow or paused one, for trials
        (``reap_stale``) and for searches (``core.store.searches.reap``): a row quiet for
        ``quiet_s`` has its owner checked; each dead one becomes interrupted, and so do its
        live trials (a trial's own row, a search's trials), their epochs kept.
        """
        trials_by = "id" if table == "trials" else "study_id"
        try:
            # Pages call this on every poll: look first without taking the write lock.
            with self._connect() as db:
                if not liveness.dead_rows(liveness.quiet_rows(db, table, quiet_s)):
                    return []
            with self._write() as db:  # again under the lock: a beat may have come since
                ids = liveness.dead_rows(liveness.quiet_rows(db, table, quiet_s))
                liveness.interrupt_trials(db, trials_by, ids)
                if table == "studies":  # a trial row was ended by the line above already
                    db.executemany(
                        "UPDATE studies SET state='interrupted' WHERE id=? AND state='running'",
                        [(i,) for i in ids],
                    )
        except errors.StoreBusy:
            return []
        return ids


def open_store(root: Path | None = None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> Store:
    """Open the store of a cache folder (``paths.cache_dir()`` by default) with its files.

    The store file is ``root/store.sqlite``; ``root``'s artifact folders become its own
    (another store's are moved aside, ``core.store.identity``).

    Raises:
        StoreError: the file is damaged, or busy past ``busy_timeout_s``.
    """
    root = root or paths.cache_dir()
    return Store(paths.store_path(root), busy_timeout_s, artifacts=root)


def _owner_columns(owner: liveness.Owner | None) -> tuple[Any, Any, Any]:
    """The ``worker_pid``, ``worker`` and ``worker_started`` values of an owner."""
    if owner is None:
        return None, None, None
    return owner.pid, owner.label, owner.started


def _reaped_but_mine(row: sqlite3.Row) -> bool:
    """True if a trial was ended as interrupted while this very process owned it."""
    return row["status"] == Status.INTERRUPTED and row["worker"] == liveness.this_process().label


def _note_reconciled(
    db: sqlite3.Connection, trial_id: int, row: sqlite3.Row, now: Status
) -> dict[str, Any]:
    """Keep, in a trial's results, that it was taken for dead and was not; log it.

    Returns:
        The note: when it was marked interrupted, the message it got, and what it is now.
    """
    note = {"interrupted_at": row["finished_at"], "interruption": row["error"], "now": str(now)}
    write_results(db, trial_id, {**read_results(db, trial_id), "reconciled": note})
    logger.warning(
        "trial %d was marked interrupted while its process (%s) was paused or slow; that "
        "process went on, so the trial is %s again, with every epoch and result it reports",
        trial_id,
        row["worker"],
        now,
    )
    return note
