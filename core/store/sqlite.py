"""The store: the one source of truth for studies, trials, per-epoch metrics and workers.

SQLite in WAL mode, so the UI process reads while the worker writes. The worker (or the CLI)
is the only writer of training results; pages only read, queue and ask to cancel. Every call
opens its own short-lived connection, which keeps the store safe to use from Streamlit's
script threads and from several processes at once.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.spec.config import RunConfig
from core.store.records import (
    Epoch,
    Status,
    Study,
    Trial,
    study_from_row,
    trial_from_row,
)
from core.store.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    has_table,
    migrate,
    stored_version,
)

__all__ = ["HEARTBEAT_TIMEOUT_S", "SCHEMA_VERSION", "Epoch", "Status", "Store", "Study", "Trial"]

# A running trial or search whose heartbeat is older than this is taken to have lost its worker.
HEARTBEAT_TIMEOUT_S = 10.0
# The rows a worker keeps alive with its heartbeat: table -> (the column that says it is
# running, what a heartbeat never beaten counts from, the trials column that names its trials).
_HEARTBEAT_ROWS = {
    "trials": ("status", "started_at", "id"),
    "studies": ("state", "0", "study_id"),
}


class Store:
    """The SQLite store at ``path`` (created, or migrated to the current schema, on open)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            had_trials = has_table(db, "trials")
            db.executescript(SCHEMA)
            current = (stored_version(db) or 0) >= SCHEMA_VERSION
        if not current:
            with self._write() as db:  # under the write lock: another opener may be here
                migrate(db, had_trials)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one immediate (write-locked) transaction."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- transactions, for the store's own modules (core.store.searches) ---------------

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A connection of its own for reads, closed on leaving; rows read as ``sqlite3.Row``.

        Each statement sees what was committed when it ran: reads that must agree with each
        other, or with a write, belong in :meth:`transaction`.
        """
        with self._connect() as db:
            yield db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one write transaction: committed on leaving, rolled back on error.

        The transaction takes the write lock when it begins, so what it reads cannot change
        before it writes: a read-modify-write (merging into a JSON column, numbering a new
        trial) is safe against other writers, in this process or another.
        """
        with self._write() as db:
            yield db

    def schema_version(self) -> int:
        """Return the schema version the store file is at."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row["value"])

    # -- studies and the queue ---------------------------------------------------------

    def create_study(
        self,
        name: str,
        kind: str,
        configs: list[RunConfig],
        spec: dict[str, Any] | None = None,
        claim_pid: int | None = None,
    ) -> tuple[int, list[int]]:
        """Add a study and queue one trial per config.

        Args:
            name: Name shown to people.
            kind: ``single``, ``sweep`` or ``search``.
            configs: One config per trial, in the order they should run.
            spec: What was launched (kept for display and resuming).
            claim_pid: If given, the trials start as running, owned by this process
                (the CLI trains its own job rather than handing it to the worker).

        Returns:
            The study id and its trial ids.
        """
        now = time.time()
        status = Status.RUNNING if claim_pid is not None else Status.QUEUED
        with self._write() as db:
            study_id = db.execute(
                "INSERT INTO studies (name, kind, created_at, spec) VALUES (?, ?, ?, ?)",
                (name, kind, now, json.dumps(spec or {})),
            ).lastrowid
            trial_ids = [
                db.execute(
                    "INSERT INTO trials (study_id, number, config, config_hash, status, "
                    "created_at, started_at, heartbeat_at, worker_pid) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        study_id,
                        number,
                        cfg.to_json(),
                        cfg.config_hash(),
                        status,
                        now,
                        now if claim_pid is not None else None,
                        now if claim_pid is not None else None,
                        claim_pid,
                    ),
                ).lastrowid
                for number, cfg in enumerate(configs)
            ]
        return int(study_id), [int(t) for t in trial_ids]

    def claim_next(self, pid: int) -> Trial | None:
        """Mark the oldest queued trial as running for worker ``pid`` and return it."""
        now = time.time()
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM trials WHERE status=? ORDER BY id LIMIT 1", (Status.QUEUED,)
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE trials SET status=?, started_at=?, heartbeat_at=?, worker_pid=? WHERE id=?",
                (Status.RUNNING, now, now, pid, row["id"]),
            )
        return self.trial(row["id"])

    def heartbeat(self, trial_id: int, progress: dict[str, Any] | None = None) -> bool:
        """Record that the trial's worker is alive (and its progress).

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
                "SELECT cancel_requested FROM trials WHERE id=?", (trial_id,)
            ).fetchone()
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
        """Record how a trial ended. A trial that already ended keeps its first ending."""
        results = results or {}
        with self._write() as db:
            db.execute(
                "UPDATE trials SET status=?, finished_at=?, results=?, test_loss=?, "
                "test_accuracy=?, error=?, traceback=?, diverged_epoch=? "
                "WHERE id=? AND status IN (?, ?)",
                (
                    status,
                    time.time(),
                    json.dumps(results),
                    results.get("test_loss"),
                    results.get("test_accuracy"),
                    error,
                    traceback,
                    diverged_epoch,
                    trial_id,
                    Status.QUEUED,
                    Status.RUNNING,
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
        claim_pid: int | None = None,
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
            claim_pid: If given, the trial starts as running, owned by this process.

        Returns:
            The new study id and trial id.

        Raises:
            KeyError: If there is no trial ``parent_id``.
        """
        parent = self.trial(parent_id)
        now = time.time()
        claimed = claim_pid is not None
        spec = {"fork_of": parent_id, "fork_epoch": fork_epoch}
        with self._write() as db:
            study_id = db.execute(
                "INSERT INTO studies (name, kind, created_at, spec) VALUES (?, 'fork', ?, ?)",
                (name, now, json.dumps(spec)),
            ).lastrowid
            trial_id = db.execute(
                "INSERT INTO trials (study_id, number, config, config_hash, status, created_at, "
                "started_at, heartbeat_at, worker_pid, parent_id, fork_epoch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    study_id,
                    parent.number,
                    config.to_json(),
                    config.config_hash(),
                    Status.RUNNING if claimed else Status.QUEUED,
                    now,
                    now if claimed else None,
                    now if claimed else None,
                    claim_pid,
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
            db.execute("DELETE FROM trials WHERE study_id=?", (study_id,))
            db.execute("DELETE FROM studies WHERE id=?", (study_id,))
        return len(ids)

    def reap_stale(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """Mark running trials whose worker stopped sending heartbeats as interrupted.

        Returns:
            The ids of the trials marked.
        """
        return self._reap_silent("trials", timeout_s)

    def reap_stale_searches(self, timeout_s: float = HEARTBEAT_TIMEOUT_S) -> list[int]:
        """Mark running searches whose worker went silent as interrupted, and their trials.

        Returns:
            The ids of the searches marked.
        """
        return self._reap_silent("studies", timeout_s)

    def _reap_silent(self, table: str, timeout_s: float) -> list[int]:
        """End the running rows of ``table`` whose heartbeat is older than ``timeout_s``.

        The one rule that tells a dead worker from a slow one, for trials (``reap_stale``) and
        for searches (``core.store.searches.reap``): each silent row becomes interrupted, and
        so do its running trials (a trial's own row, a search's trials), their epochs kept.

        Returns:
            The ids of the rows marked.
        """
        column, since, trials_by = _HEARTBEAT_ROWS[table]
        # Both tables spell the two states alike: 'running' and 'interrupted'.
        silent = f"WHERE {column}='running' AND COALESCE(heartbeat_at, {since}) < ?"
        cutoff = (time.time() - timeout_s,)
        # Pages call this on every poll: look first without taking the write lock.
        with self._connect() as db:
            if not db.execute(f"SELECT 1 FROM {table} {silent} LIMIT 1", cutoff).fetchone():
                return []
        with self._write() as db:
            ids = [int(r["id"]) for r in db.execute(f"SELECT id FROM {table} {silent}", cutoff)]
            _interrupt_trials(db, trials_by, ids)
            # A search's own state (a trial row was ended by the line above already).
            db.executemany(
                f"UPDATE {table} SET {column}='interrupted' WHERE id=? AND {column}='running'",
                [(i,) for i in ids],
            )
        return ids

    # -- reads -------------------------------------------------------------------------

    def trial(self, trial_id: int) -> Trial:
        """Return one trial. Raises KeyError if there is none with that id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM trials WHERE id=?", (trial_id,)).fetchone()
        if row is None:
            raise KeyError(f"no trial {trial_id}")
        return trial_from_row(row)

    def trials(
        self,
        study_ids: Sequence[int] | None = None,
        statuses: Sequence[Status] | None = None,
        limit: int | None = None,
    ) -> list[Trial]:
        """Return trials, newest first, optionally of some studies and/or some statuses."""
        where: list[str] = []
        args: list[Any] = []
        if study_ids is not None:
            where.append(f"study_id IN ({','.join('?' * len(study_ids))})")
            args.extend(study_ids)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        sql = "SELECT * FROM trials"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [trial_from_row(r) for r in db.execute(sql, args).fetchall()]

    def epochs(self, trial_id: int, after: int = -1) -> list[Epoch]:
        """Return a trial's epochs in order, only those numbered above ``after``."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM epochs WHERE trial_id=? AND epoch>? ORDER BY epoch",
                (trial_id, after),
            ).fetchall()
        return [
            Epoch(
                r["trial_id"], r["epoch"], json.loads(r["metrics"]), r["seconds"], r["recorded_at"]
            )
            for r in rows
        ]

    def epochs_by_trial(self, trial_ids: Sequence[int] | None = None) -> dict[int, list[Epoch]]:
        """Return the epochs of many trials (all when None) in one read, in order per trial.

        Trials without epochs are absent from the result.
        """
        sql = "SELECT * FROM epochs"
        args: list[Any] = []
        if trial_ids is not None:
            sql += f" WHERE trial_id IN ({','.join('?' * len(trial_ids))})"
            args.extend(trial_ids)
        with self._connect() as db:
            rows = db.execute(sql + " ORDER BY trial_id, epoch", args).fetchall()
        found: dict[int, list[Epoch]] = {}
        for r in rows:
            found.setdefault(r["trial_id"], []).append(
                Epoch(
                    r["trial_id"],
                    r["epoch"],
                    json.loads(r["metrics"]),
                    r["seconds"],
                    r["recorded_at"],
                )
            )
        return found

    def study(self, study_id: int) -> Study:
        """Return one study. Raises KeyError if there is none with that id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM studies WHERE id=?", (study_id,)).fetchone()
        if row is None:
            raise KeyError(f"no study {study_id}")
        return study_from_row(row)

    def studies(self, limit: int = 20) -> list[Study]:
        """Return the latest studies, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM studies ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [study_from_row(r) for r in rows]


def _interrupt_trials(db: sqlite3.Connection, column: str, ids: Sequence[int]) -> None:
    """End as interrupted the running trials whose ``column`` is one of ``ids``.

    Each one's error says how many epochs it finished (they are kept) and what to do next.
    """
    if not ids:
        return
    rows = db.execute(
        "SELECT t.id, s.kind, COUNT(e.epoch) AS done FROM trials t "
        "JOIN studies s ON s.id = t.study_id LEFT JOIN epochs e ON e.trial_id = t.id "
        f"WHERE t.status=? AND t.{column} IN ({','.join('?' * len(ids))}) GROUP BY t.id",
        (Status.RUNNING, *ids),
    ).fetchall()
    for row in rows:
        then = (
            "Resume continues this trial from the last one."
            if row["kind"] == "search"
            else "Run it again, or fork it from a finished epoch."
        )
        db.execute(
            "UPDATE trials SET status=?, finished_at=?, error=? WHERE id=?",
            (
                Status.INTERRUPTED,
                time.time(),
                f"The worker stopped (killed or crashed) after {row['done']} finished "
                f"epoch(s); those epochs are kept. {then}",
                row["id"],
            ),
        )
