"""The store's records: a trial's status, and studies, trials and epochs as read back.

Plain frozen values; ``study_from_row`` and ``trial_from_row`` build them from SQLite rows.
``core.store`` reads and writes them and exports them under its own name.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.spec.config import RunConfig

# The large parts of a trial's results, as JSON paths: the model summary's rows, the packed
# per-image test hits, the class names, and the per-class confusion matrix and scores. Lists
# of trials carry the results without them (``brief_results``); one trial read by its id has
# them all.
LARGE_PATHS = (
    "$.summary",
    "$.test_hits",
    "$.class_names",
    "$.classes.confusion",
    "$.classes.class_names",
    "$.classes.precision",
    "$.classes.recall",
    "$.classes.f1",
)


def brief_results(results: dict[str, Any]) -> dict[str, Any]:
    """A trial's results without their large parts (``LARGE_PATHS``): what lists carry."""
    brief = dict(results)
    for path in LARGE_PATHS:
        keys = path.removeprefix("$.").split(".")
        holder = brief
        for key in keys[:-1]:
            if not isinstance(holder.get(key), dict):
                break
            holder[key] = holder = dict(holder[key])
        else:
            holder.pop(keys[-1], None)
    return brief


def write_results(db: sqlite3.Connection, trial_id: int, results: dict[str, Any]) -> None:
    """Record a trial's results: whole in ``trial_results``, brief in its ``trials`` row.

    Inside the caller's write transaction.
    """
    db.execute(
        "INSERT OR REPLACE INTO trial_results VALUES (?, ?)", (trial_id, json.dumps(results))
    )
    db.execute(
        "UPDATE trials SET results=? WHERE id=?", (json.dumps(brief_results(results)), trial_id)
    )


def read_results(db: sqlite3.Connection, trial_id: int) -> dict[str, Any]:
    """A trial's whole results ({} for none, or no such trial)."""
    row = db.execute("SELECT full FROM trial_results WHERE trial_id=?", (trial_id,)).fetchone()
    return {} if row is None else json.loads(row[0])


class Status(StrEnum):
    """Where a trial is in its life. A closed set; pages colour and word each one."""

    QUEUED = "queued"  # waiting for a worker, or for the command that reserved it (`worker`)
    RUNNING = "running"  # a worker is training it and sends heartbeats
    COMPLETED = "completed"  # all epochs (or early stopping) done, tested and saved
    FAILED = "failed"  # an error stopped it; `error` says what, `traceback` keeps the detail
    CANCELLED = "cancelled"  # a person asked it to stop; finished epochs are kept
    INTERRUPTED = "interrupted"  # its worker died (killed, crashed); finished epochs are kept
    DIVERGED = "diverged"  # the loss became NaN or infinite at `diverged_epoch`

    @property
    def finished(self) -> bool:
        """True once the trial will not change any more."""
        return self not in (Status.QUEUED, Status.RUNNING)


@dataclass(frozen=True)
class Study:
    """What a person launched: a single run, a sweep or a search."""

    id: int
    name: str
    kind: str
    created_at: float
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trial:
    """One training run inside a study, as the store last saw it."""

    id: int
    study_id: int
    number: int
    config: dict[str, Any]
    config_hash: str
    status: Status
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    worker_pid: int | None
    cancel_requested: bool
    progress: dict[str, Any]
    results: dict[str, Any]
    test_loss: float | None
    test_accuracy: float | None
    diverged_epoch: int | None
    error: str | None
    traceback: str | None
    parent_id: int | None = None  # the trial this one was forked from
    fork_epoch: int | None = None  # the parent's epoch (0-based) this one continues after
    worker: str | None = None  # the process that runs (or ran, or reserved) it, as host:pid
    worker_started: float | None = None  # when that process started (core.store.liveness)
    revision: int = 0  # how many times the row changed: a reader holding it knows it is current

    @property
    def run_config(self) -> RunConfig:
        """The trial's config as a validated RunConfig."""
        return RunConfig.from_dict(self.config)


@dataclass(frozen=True)
class Epoch:
    """The metrics of one finished epoch (0-based ``epoch``)."""

    trial_id: int
    epoch: int
    metrics: dict[str, float]
    seconds: float
    recorded_at: float


def study_from_row(row: sqlite3.Row) -> Study:
    """A study from its row."""
    return Study(row["id"], row["name"], row["kind"], row["created_at"], json.loads(row["spec"]))


def trial_from_row(row: sqlite3.Row) -> Trial:
    """A trial from its row (JSON columns parsed, status typed)."""
    data = dict(row)
    data["config"] = json.loads(data["config"])
    data["progress"] = json.loads(data["progress"])
    full = data.pop("full", None)  # the whole results, where the read joined them in
    data["results"] = json.loads(data["results"] if full is None else full)
    data["status"] = Status(data["status"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return Trial(**data)
