"""What each finished trial's curves say in short, kept in the store once worked out.

The Runs page shows, per trial, its best validation accuracy, how many epochs it ran and the
diagnosis of its curves (``core.views.runs``). Working that out reads every epoch of every
trial, which with thousands of runs takes many seconds: so it is done once per finished trial
and kept in ``curve_summaries``, with the ``finished_at`` of the ending it describes (a trial
that runs again, as a resumed search's may, is summarised afresh).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.store.sqlite import Store


def read(store: Store) -> dict[int, tuple[float | None, dict[str, Any]]]:
    """Trial id -> (the ``finished_at`` it was summarised at, its summary), for every one kept."""
    with store.connection() as db:
        rows = db.execute("SELECT trial_id, finished_at, summary FROM curve_summaries").fetchall()
    return {int(r[0]): (r[1], json.loads(r[2])) for r in rows}


def save(store: Store, summaries: Mapping[int, tuple[float | None, dict[str, Any]]]) -> None:
    """Keep summaries (trial id -> (its ``finished_at``, summary)); deleted trials' are skipped."""
    if not summaries:
        return
    with store.transaction() as db:
        db.executemany(
            "INSERT OR REPLACE INTO curve_summaries SELECT ?, ?, ? "
            "WHERE EXISTS (SELECT 1 FROM trials WHERE id=?)",
            [(tid, done, json.dumps(s), tid) for tid, (done, s) in summaries.items()],
        )
