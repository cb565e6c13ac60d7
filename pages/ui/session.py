"""What every page shares in one server process: the store, and a worker kept going.

And, per browser session, the epochs each live view already holds.
"""

from __future__ import annotations

import streamlit as st

from core.store import Status, Store, paths
from core.store.epoch_reader import EpochReader
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


def epoch_reader(key: str) -> EpochReader:
    """This browser session's reader of new epochs under ``key`` (one per live view and study).

    Kept in the session so that each poll reads only the epochs written since the last one.
    """
    if key not in st.session_state:
        st.session_state[key] = EpochReader()
    return st.session_state[key]
