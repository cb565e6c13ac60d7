"""The store file itself: opening, migrating and knowing it, and its connections.

:class:`StoreFile` is what every store call goes through: a connection that never creates
the file once it is open, checks the file still holds this store's id (``core.store.identity``)
and turns SQLite's errors about the file into one line (``core.store.errors``). Each thread of
each process keeps one connection open and reuses it from call to call (opening one costs more
than most reads); a call made while that thread's connection is in use (a read inside a
transaction) gets one of its own, and a connection that met an error is closed.
``core.store.sqlite.Store`` adds the studies, trials and epochs.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.store import backup, errors, identity
from core.store.schema import (
    SCHEMA,
    SCHEMA_VERSION,
    has_table,
    migrate,
    stored_version,
)

# How long a command or a worker waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 30.0


class StoreFile:
    """The SQLite store at ``path`` (created, or migrated to the current schema, on open).

    Args:
        path: The store file.
        busy_timeout_s: How long a write waits for another process's write lock before it
            gives up with :class:`~core.store.errors.StoreBusy` (pages wait briefly, so a
            button answers; workers and commands wait longer).
        artifacts: The cache folder whose artifact folders (``runs/``, ``tuning/``) belong to
            this store; any of another store found there are moved aside on open
            (``core.store.identity``). None leaves folders alone.

    Raises:
        StoreError: the file is damaged, or busy past ``busy_timeout_s``.
    """

    def __init__(
        self,
        path: Path | str,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
        artifacts: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.id: str | None = None  # read below; connections check it from then on
        self._held = threading.local()  # this thread's reusable connection (see _connect)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(create=True) as db:
            db.execute("PRAGMA journal_mode=WAL")
            had_trials = has_table(db, "trials")
            db.executescript(SCHEMA)
            current = (stored_version(db) or 0) >= SCHEMA_VERSION
            found = identity.read_id(db)
        if not current or found is None:
            with self._write(create=True) as db:  # under the write lock: another opener may be here
                if not current:
                    migrate(db, had_trials)
                found = identity.read_id(db)
                if found is None:
                    found = identity.new_id()
                    identity.write_id(db, found)
        self.id = found
        self._file = _file_key(self.path)
        if artifacts is not None:
            self._bind(artifacts)

    def _bind(self, root: Path) -> None:
        """Make ``root``'s artifact folders this store's (under the write lock if any move).

        Unmarked folders are this store's own when it holds studies (it is older than store
        ids, or was opened without its folders); a store with none cannot have made them.
        """
        assert self.id is not None
        if all(identity.marked_by(root / name) == self.id for name in identity.OWNED):
            return
        with self._write() as db:
            adopt = db.execute("SELECT 1 FROM studies LIMIT 1").fetchone() is not None
            identity.bind_folders(root, self.id, adopt)

    @contextmanager
    def _connect(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection to this very store file, with SQLite's errors turned into one line.

        After the store is open, a connection never creates the file (a deleted store is not
        silently replaced by an empty one) and checks the file still holds this store's id.
        Outside a transaction each statement sees what was committed when it ran, so reusing
        this thread's connection reads the same as a new one would.
        """
        held = self._held
        reuse = not create and self.id is not None and not getattr(held, "busy", False)
        mine = getattr(held, "pid", None) == os.getpid()
        db = getattr(held, "db", None) if reuse and mine else None
        if reuse and db is not None and self.replaced():
            self._drop()  # its file was deleted or replaced: reconnect to say which
            db = None
        fresh = db is None
        if fresh:
            db = self._open(create)
        ok = False
        try:
            if fresh:
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("PRAGMA synchronous=NORMAL")
            if self.id is not None and identity.read_id(db) != self.id:
                raise errors.replaced(self.path)
            if reuse:
                held.db, held.pid, held.busy = db, os.getpid(), True
            yield db
            ok = not db.in_transaction
        except sqlite3.Error as exc:
            raise self._trouble(exc) from exc
        finally:
            if reuse:
                held.busy = False
                if not ok:
                    self._drop()
            elif db is not None:
                db.close()

    def _open(self, create: bool) -> sqlite3.Connection:
        """A new connection to the store file (created with ``create``)."""
        mode = "rwc" if create else "rw"
        try:
            db = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode={mode}",
                uri=True,
                timeout=self.busy_timeout_s,
                isolation_level=None,
            )
        except sqlite3.OperationalError as exc:
            if not create and not self.path.exists():
                raise errors.replaced(self.path) from exc
            raise self._trouble(exc) from exc
        db.row_factory = sqlite3.Row
        return db

    def _drop(self) -> None:
        """Close this thread's reusable connection, if it has one; the next call opens anew."""
        db = getattr(self._held, "db", None)
        self._held.db = None
        if db is not None and getattr(self._held, "pid", None) == os.getpid():
            db.close()

    def close(self) -> None:
        """Close the calling thread's connection (the store stays usable: it opens again)."""
        self._drop()

    def _trouble(self, exc: sqlite3.Error) -> Exception:
        """The one-line error for a SQLite error about the file itself, else ``exc``."""
        if errors.is_busy(exc):
            return errors.busy(self.path, self.busy_timeout_s)
        if errors.is_damaged(exc):
            return errors.damaged(self.path, str(exc), backup.latest(self.path))
        if errors.is_full(exc, self.path):
            return errors.full(self.path)
        if isinstance(exc, sqlite3.OperationalError) and "no such table" in str(exc):
            return errors.replaced(self.path)
        return exc

    @contextmanager
    def _write(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one immediate (write-locked) transaction."""
        with self._connect(create) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                # SQLite may have rolled back by itself (a full disk does): a ROLLBACK then
                # would fail and hide the error that matters.
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def replaced(self) -> bool:
        """True if the store file was deleted or another file now stands at its path.

        A cheap check (one ``stat``) for long-lived holders of a store, such as the app's
        server, which then opens the new file. A replacement that reuses the file's inode is
        still caught by the id check of the next connection.
        """
        return _file_key(self.path) != self._file

    def check(self) -> None:
        """Raise :class:`~core.store.errors.StoreError` unless the store is usable now."""
        with self._connect() as db:
            db.execute("SELECT 1 FROM meta LIMIT 1")

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


def _file_key(path: Path) -> tuple[int, int] | None:
    """Which file stands at ``path`` (device and inode), or None if none does."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return info.st_dev, info.st_ino
