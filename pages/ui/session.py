"""What every page shares in one server process: the store, and a worker kept going."""

from __future__ import annotations

import streamlit as st

from core.store import Status, Store, paths
from core.worker.launch import ensure_worker


@st.cache_resource
def get_store(path: str | None = None) -> Store:
    """The store of this cache folder, opened once per server process."""
    return Store(path or paths.store_path())


def store() -> Store:
    """The store for the current cache folder (``HPE_CACHE_DIR`` or ``cache/``)."""
    return get_store(str(paths.store_path()))


def keep_queue_moving(s: Store) -> None:
    """Mark runs whose worker died, and start a worker if something waits for one."""
    s.reap_stale()
    if s.trials(statuses=(Status.QUEUED,), limit=1):
        ensure_worker()
