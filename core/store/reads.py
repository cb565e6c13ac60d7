"""What the store reads back: trials, studies and epochs as records.

A base of ``core.store.sqlite.Store``; each read is one statement on the calling thread's
connection. One trial read by its id carries its whole results (from ``trial_results``); lists
of trials carry them without their large parts (``core.store.records.brief_results``: no model
summary, confusion matrix or per-image hits), so a list of thousands of runs reads a kilobyte or
two per run, not tens.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.store.records import Epoch, Status, Study, Trial, study_from_row, trial_from_row
from core.store.store_file import StoreFile


class StoreReads(StoreFile):
    """The reads of the store: one trial or study, filtered lists, epochs after a given one."""

    def trial(self, trial_id: int) -> Trial:
        """Return one trial. Raises KeyError if there is none with that id."""
        with self._connect() as db:
            row = db.execute(
                "SELECT t.*, r.full FROM trials t LEFT JOIN trial_results r ON r.trial_id = t.id "
                "WHERE t.id=?",
                (trial_id,),
            ).fetchone()
        if row is None:
            raise KeyError(f"no trial {trial_id}")
        return trial_from_row(row)

    def trials(
        self,
        study_ids: Sequence[int] | None = None,
        statuses: Sequence[Status] | None = None,
        limit: int | None = None,
        parent_id: int | None = None,
        after: int | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[Trial]:
        """Return trials, newest first, with their brief results (see the module docstring).

        Args:
            study_ids: Only trials of these studies.
            statuses: Only trials in one of these statuses.
            limit: At most this many (the newest).
            parent_id: Only trials derived from this one (its forks and promotions).
            after: Only trials whose id is above this one: what was added since a list
                that ended there was read.
            ids: Only these trials.
        """
        where: list[str] = []
        args: list[Any] = []
        if study_ids is not None:
            where.append(f"study_id IN ({','.join('?' * len(study_ids))})")
            args.extend(study_ids)
        if statuses:
            where.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        if parent_id is not None:
            where.append("parent_id=?")
            args.append(parent_id)
        if after is not None:
            where.append("id>?")
            args.append(after)
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        sql = "SELECT * FROM trials"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return [trial_from_row(r) for r in db.execute(sql, args).fetchall()]

    def revisions(self) -> dict[int, int]:
        """Every trial's id and revision (its count of changes), read from an index alone.

        A reader holding many trials compares these with the ones it holds and reads again
        only the trials whose revision moved (``core.store.trial_cache``).
        """
        with self._connect() as db:
            rows = db.execute("SELECT id, revision FROM trials").fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    def status_counts(self) -> dict[Status, int]:
        """How many trials are in each status, read from the status index alone."""
        with self._connect() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall()
        return {Status(r[0]): int(r[1]) for r in rows}

    def epoch_counts(self) -> dict[int, int]:
        """How many epochs each trial with any has, read from the epochs' index alone."""
        with self._connect() as db:
            rows = db.execute("SELECT trial_id, COUNT(*) FROM epochs GROUP BY trial_id").fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

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

    def studies(self, limit: int = 20, kind: str | None = None) -> list[Study]:
        """Return the latest studies (of one ``kind`` when given), newest first."""
        where, args = ("", ()) if kind is None else (" WHERE kind=?", (kind,))
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM studies{where} ORDER BY id DESC LIMIT ?", (*args, limit)
            ).fetchall()
        return [study_from_row(r) for r in rows]
