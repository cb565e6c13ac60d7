"""What every page shares in one server process: the store, and a worker kept going.

And, per browser session, the epochs each live view already holds; and, soon after the first
page, the imports other pages need (:data:`WARM_MODULES`). A store that is damaged,
busy for longer than a page waits, or deleted is one sentence on the page
(:func:`store_trouble`), never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from core.store import Store, StoreError, paths
from core.store.epoch_reader import EpochReader
from core.store.errors import StoreReplaced
from core.worker.launch import ensure_worker, start_problem

# A page's write waits this long for another process's write lock, so a button answers.
PAGE_BUSY_TIMEOUT_S = 2.0
# What some page needs that takes seconds to import (SciPy's statistics, Plotly's figures,
# scikit-learn's forests): imported by a background thread soon after the server's first
# page, so that the first visit to each other page does not wait for it. The thread then reads
# the Runs page's table once, so that its trials are held (``core.views.runs``) by then too.
WARM_MODULES = (
    "core.views.charts",
    "core.views.diagnosis_chart",
    "core.analysis.sweep_summary",
    "core.views.sweep_charts",
    "core.views.tune_charts",
    "core.views.runs",
    "sklearn.ensemble",
    "sklearn.inspection",
    "sklearn.model_selection",
)
WARM_AFTER_S = 2.0


def _warm_up() -> None:
    """Import what other pages need, then read the runs table once (its trials are kept)."""
    time.sleep(WARM_AFTER_S)  # the first page draws first
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # a page that needs it says so itself
            continue
    from core.views import runs

    path = paths.store_path()
    with contextlib.suppress(StoreError):  # the page that opens the store says what is wrong
        if path.is_file():
            runs.runs_frame(Store(path, PAGE_BUSY_TIMEOUT_S))


threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()


@st.cache_resource
def get_store(path: str) -> Store:
    """The store file at ``path`` with its cache folder's files, opened once per server."""
    return Store(path, PAGE_BUSY_TIMEOUT_S, artifacts=Path(path).parent)


def store() -> Store:
    """The store for the current cache folder (``HPE_CACHE_DIR`` or ``cache/``).

    A store file deleted (to start afresh) or replaced since it was opened is opened anew.
    """
    path = str(paths.store_path())
    with store_trouble():
        s = get_store(path)
        if s.replaced():
            get_store.clear()
            s = get_store(path)
    return s


@contextmanager
def store_trouble() -> Iterator[None]:
    """Show a store problem met inside as one error line and stop the page (or fragment).

    A store replaced under this server is opened anew and the page drawn again.
    """
    try:
        yield
    except StoreReplaced:
        get_store.clear()
        st.rerun()
    except StoreError as exc:
        st.error(exc.message, icon=":material/database:")
        st.stop()


def keep_queue_moving(s: Store) -> None:
    """Mark runs whose worker died, and start a worker if something waits for one.

    When the worker could not start, say why instead of waiting in silence.
    """
    with store_trouble():
        s.reap_stale()
        if s.waiting_for_worker():
            ensure_worker()
            problem = start_problem()
            if problem:
                st.error(problem, icon=":material/error:")


def epoch_reader(key: str) -> EpochReader:
    """This browser session's reader of new epochs under ``key`` (one per live view and study).

    Kept in the session so that each poll reads only the epochs written since the last one.
    """
    if key not in st.session_state:
        st.session_state[key] = EpochReader()
    return st.session_state[key]
