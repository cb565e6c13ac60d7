"""The store's SQLite schema, its version, and the steps that bring older files up to date.

A store file records its schema version in ``meta``. Opening a file at an older version adds
what later versions added (columns and indexes, never drops), so every row survives an upgrade.
"""

from __future__ import annotations

import sqlite3

from core.store import records

SCHEMA_VERSION = 5

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at REAL NOT NULL,
    spec TEXT NOT NULL DEFAULT '{}',
    state TEXT NOT NULL DEFAULT '',
    owner TEXT,
    heartbeat_at REAL,
    progress TEXT NOT NULL DEFAULT '{}',
    owner_started REAL
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    worker_pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    progress TEXT NOT NULL DEFAULT '{}',
    results TEXT NOT NULL DEFAULT '{}',
    test_loss REAL,
    test_accuracy REAL,
    diverged_epoch INTEGER,
    error TEXT,
    traceback TEXT,
    parent_id INTEGER,
    fork_epoch INTEGER,
    worker TEXT,
    worker_started REAL,
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trials_by_status ON trials(status, id);
CREATE INDEX IF NOT EXISTS trials_by_study ON trials(study_id, number);
CREATE TABLE IF NOT EXISTS epochs (
    trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    seconds REAL NOT NULL,
    recorded_at REAL NOT NULL,
    PRIMARY KEY (trial_id, epoch)
);
CREATE TABLE IF NOT EXISTS trial_results (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    full TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS curve_summaries (
    trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,
    finished_at REAL,
    summary TEXT NOT NULL
);
"""


# Columns each schema version added, keyed by the version they upgrade from: a store file at
# version v gets the steps v, v+1, ... up to SCHEMA_VERSION on open; its rows are kept.
_MIGRATIONS: dict[int, list[tuple[str, str, str]]] = {
    0: [
        ("studies", "spec", "TEXT NOT NULL DEFAULT '{}'"),
        ("trials", "cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
        ("trials", "progress", "TEXT NOT NULL DEFAULT '{}'"),
        ("trials", "results", "TEXT NOT NULL DEFAULT '{}'"),
        ("trials", "diverged_epoch", "INTEGER"),
        ("trials", "traceback", "TEXT"),
    ],
    1: [
        ("trials", "parent_id", "INTEGER"),
        ("trials", "fork_epoch", "INTEGER"),
        ("trials", "worker", "TEXT"),
    ],
    # A search's own life (core.store.searches): its state, the worker running it, that
    # worker's last heartbeat, and its progress (time used, what was left undone).
    2: [
        ("studies", "state", "TEXT NOT NULL DEFAULT ''"),
        ("studies", "owner", "TEXT"),
        ("studies", "heartbeat_at", "REAL"),
        ("studies", "progress", "TEXT NOT NULL DEFAULT '{}'"),
    ],
    # When each owner process started (core.store.liveness), so that the reaper can ask the
    # operating system whether that very process is alive, not just a reuse of its id.
    3: [
        ("trials", "worker_started", "REAL"),
        ("studies", "owner_started", "REAL"),
    ],
    # A trial's whole results move to a table of their own (``trial_results``); its row in
    # ``trials`` keeps them without their large parts (``core.store.records.brief_results``),
    # so that reading many trials never walks through model summaries and confusion matrices.
    # Each row counts its changes (``revision``, kept by a trigger), so a reader that holds
    # many trials reads again only those that changed.
    4: [("trials", "revision", "INTEGER NOT NULL DEFAULT 0")],
}

# What a step does to the rows once its columns are there, keyed like ``_MIGRATIONS``.
_BACKFILLS: dict[int, list[str]] = {
    4: [
        "INSERT OR REPLACE INTO trial_results SELECT id, results FROM trials WHERE results != '{}'",
        "UPDATE trials SET results = json_remove(results, "
        + ", ".join(f"'{path}'" for path in records.LARGE_PATHS)
        + ") WHERE results != '{}' AND json_valid(results)",
    ],
}

# Indexes (and the trigger) over columns that later versions added: made once those columns
# exist (after the steps above), so a file of any version gets them on open.
INDEXES = (
    "CREATE INDEX IF NOT EXISTS trials_by_parent ON trials(parent_id)",
    "CREATE INDEX IF NOT EXISTS trials_by_revision ON trials(revision)",
    "CREATE INDEX IF NOT EXISTS studies_by_state ON studies(state, kind)",
    "CREATE TRIGGER IF NOT EXISTS trials_revision AFTER UPDATE ON trials "
    "WHEN NEW.revision = OLD.revision "
    "BEGIN UPDATE trials SET revision = OLD.revision + 1 WHERE id = NEW.id; END",
)


def has_table(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone()
        is not None
    )


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r["name"] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}


def stored_version(db: sqlite3.Connection) -> int | None:
    """The version recorded in the file, or None when none is."""
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else None


def migrate(db: sqlite3.Connection, had_trials: bool) -> None:
    """Apply every step from the file's version up to ``SCHEMA_VERSION`` and record it.

    Args:
        db: A connection inside a write transaction.
        had_trials: Whether the file held a trials table before this open: such a file with
            no recorded version predates versions (version 0); an empty one is new.
    """
    found = stored_version(db)
    version = found if found is not None else 0 if had_trials else SCHEMA_VERSION
    for step in range(version, SCHEMA_VERSION):
        for table, column, decl in _MIGRATIONS[step]:
            if column not in _columns(db, table):
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        for statement in _BACKFILLS.get(step, []):
            db.execute(statement)
    for statement in INDEXES:
        db.execute(statement)
    db.execute(
        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
        (str(max(version, SCHEMA_VERSION)),),
    )
