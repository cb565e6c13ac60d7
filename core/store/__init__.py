"""The store: the one source of truth for studies, trials, per-epoch metrics and workers.

SQLite by default (``core.store.sqlite``), its schema and records, a search's own state
(``core.store.searches``), the live views' reader of new epochs (``core.store.epoch_reader``),
a holder of many trials that re-reads only the changed ones (``core.store.trial_cache``), the
curve summaries kept per finished trial (``core.store.curves``), and where everything lives on
disk (``core.store.paths``). The store's API is importable from the package:
``from core.store import Store, Status``.
"""

from core.store.errors import StoreError
from core.store.sqlite import (
    HEARTBEAT_TIMEOUT_S,
    SCHEMA_VERSION,
    Epoch,
    Status,
    Store,
    Study,
    Trial,
    open_store,
)

__all__ = [
    "HEARTBEAT_TIMEOUT_S",
    "SCHEMA_VERSION",
    "Epoch",
    "Status",
    "Store",
    "StoreError",
    "Study",
    "Trial",
    "open_store",
]
