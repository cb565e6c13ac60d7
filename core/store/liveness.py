"""Telling a dead worker from a paused or busy one.

Every running trial and search names its owner: the host, the process id and the process's
start time (``worker``, ``worker_pid``, ``worker_started`` on trials; ``owner`` and
``owner_started`` on searches). A row whose heartbeat has been quiet for ``QUIET_S`` seconds has
its owner checked:

* on this host, the operating system is asked whether that process still exists and started
  when the row says (a reused process id is another process). A paused process (Ctrl-Z,
  SIGSTOP), or one still importing TensorFlow, is alive and keeps its trial;
* on another host, or for a row that names no host, only the heartbeat can tell: it is taken
  as dead once quiet for ``REMOTE_TIMEOUT_S`` seconds.

A trial reserved by a command that trains it itself (queued, with an owner) is checked the same
way, so that a command killed before it reached its last trials leaves them ended, not queued
for ever.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

# A row quiet for this long has its owner checked; a live owner beats every 0.5 s.
QUIET_S = 10.0
# An owner on another host (or of unknown host) is taken as dead after this much silence.
REMOTE_TIMEOUT_S = 60.0
# Start times read twice for one process agree to well within this (they come from the boot
# time and a tick count); a reused process id started later.
_START_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class Owner:
    """The process that runs a trial or a search."""

    host: str
    pid: int
    started: float | None

    @property
    def label(self) -> str:
        """``host:pid``, as pages and ``runs --json`` show it."""
        return f"{self.host}:{self.pid}"


def this_host() -> str:
    """The name this machine gives itself."""
    return socket.gethostname()


def process_started(pid: int) -> float | None:
    """When process ``pid`` of this host started (epoch seconds), or None if there is none.

    A zombie (a process that ended and was not yet waited for) counts as ended.
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def this_process() -> Owner:
    """This process as an owner."""
    return owner_here(os.getpid())


def owner_here(pid: int) -> Owner:
    """Process ``pid`` of this host as an owner (its start time read now)."""
    return Owner(this_host(), pid, process_started(pid))


def parse_label(label: str | None) -> tuple[str | None, int | None]:
    """Split ``host:pid`` into its parts; (None, None) when it is not one."""
    if not label or ":" not in label:
        return None, None
    host, _, pid = label.rpartition(":")
    return (host, int(pid)) if pid.isdigit() else (None, None)


def owner_is_dead(host: str | None, pid: int | None, started: float | None, quiet_s: float) -> bool:
    """Whether a row's owner has ended, given how long its heartbeat has been quiet.

    Args:
        host: The owner's host (None when the row does not say).
        pid: The owner's process id on that host.
        started: The owner's start time, when recorded.
        quiet_s: Seconds since the row's last heartbeat.
    """
    if host is None or pid is None or host != this_host():
        return quiet_s > REMOTE_TIMEOUT_S
    now_started = process_started(pid)
    if now_started is None:
        return True
    return started is not None and abs(now_started - started) > _START_TOLERANCE_S


# The rows each table keeps alive: (what says the row is live, its owner's host:pid, the
# owner's start time, when its silence counts from).
_LIVE = {
    "trials": (
        "(status='running' OR (status='queued' AND worker_pid IS NOT NULL))",
        "worker",
        "worker_started",
        "COALESCE(heartbeat_at, started_at, created_at)",
    ),
    "studies": ("state='running'", "owner", "owner_started", "COALESCE(heartbeat_at, 0)"),
}


def quiet_rows(db: sqlite3.Connection, table: str, quiet_s: float) -> list[sqlite3.Row]:
    """The live rows of ``table`` whose heartbeat has been quiet for over ``quiet_s``."""
    live, owner, started, since = _LIVE[table]
    return db.execute(
        f"SELECT id, {owner} AS owner, {started} AS started, {since} AS beat FROM {table} "
        f"WHERE {live} AND {since} < ?",
        (time.time() - quiet_s,),
    ).fetchall()


def dead_rows(rows: Sequence[sqlite3.Row]) -> list[int]:
    """The ids of those quiet rows whose owner has ended."""
    now = time.time()
    found = []
    for row in rows:
        host, pid = parse_label(row["owner"])
        if owner_is_dead(host, pid, row["started"], now - row["beat"]):
            found.append(int(row["id"]))
    return found


def interrupt_trials(db: sqlite3.Connection, column: str, ids: Sequence[int]) -> None:
    """End as interrupted the live trials whose ``column`` is one of ``ids``.

    Each one's error says how many epochs it finished (they are kept) and what to do next.
    A trial reserved by a command that ended before it started says so.
    """
    if not ids:
        return
    rows = db.execute(
        "SELECT t.id, t.status, s.kind, COUNT(e.epoch) AS done FROM trials t "
        "JOIN studies s ON s.id = t.study_id LEFT JOIN epochs e ON e.trial_id = t.id "
        f"WHERE (t.status='running' OR (t.status='queued' AND t.worker_pid IS NOT NULL)) "
        f"AND t.{column} IN ({','.join('?' * len(ids))}) GROUP BY t.id",
        tuple(ids),
    ).fetchall()
    for row in rows:
        if row["status"] == "queued":
            error = (
                "The command that was to train it ended before it started; nothing was "
                "trained. Run it again."
            )
        else:
            then = (
                "Resume continues this trial from the last one."
                if row["kind"] == "search"
                else "Run it again, or fork it from a finished epoch."
            )
            error = (
                f"The worker stopped (killed or crashed) after {row['done']} finished "
                f"epoch(s); those epochs are kept. {then}"
            )
        db.execute(
            "UPDATE trials SET status='interrupted', finished_at=?, error=? WHERE id=?",
            (time.time(), error, row["id"]),
        )
