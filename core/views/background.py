"""Work that would hold up a page, done in a thread of this process; the page shows it when done.

A page asks for a result by key (say, a search's importance over its finished trials). The
first ask starts the work in a daemon thread and answers at once with what is known of the same
subject so far (the result for an earlier key, or None); a later ask gets the result. Only the
newest results are kept. Nothing here imports Streamlit: the page polls.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Background(Generic[T]):
    """Results worked out in the background, by key, each under a subject.

    Args:
        keep: How many results to keep (the oldest go first).
    """

    def __init__(self, keep: int = 16) -> None:
        self._done: OrderedDict[Hashable, T | None] = OrderedDict()
        self._latest: dict[Hashable, T | None] = {}  # subject -> its newest result
        self._running: dict[Hashable, threading.Thread] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def get(
        self,
        subject: Hashable,
        key: Hashable,
        work: Callable[[], T | None],
        wait_s: float = 0.0,
    ) -> tuple[Any, bool]:
        """The result for ``key``, and whether it is that result (True) or an older one.

        Args:
            subject: What the result is about (a search): while ``key``'s result is being
                worked out, the newest result of the same subject stands in.
            key: What the result depends on (the search and its finished trials).
            work: Works the result out (in a thread of its own, once per key).
            wait_s: How long to wait for work that is quick (so it shows at once).
        """
        full = (subject, key)
        with self._lock:
            if full in self._done:
                return self._done[full], True
            thread = self._running.get(full)
            if thread is None:
                thread = threading.Thread(
                    target=self._run, args=(subject, full, work), daemon=True, name="background"
                )
                self._running[full] = thread
                thread.start()
        if wait_s > 0:
            thread.join(wait_s)
        with self._lock:
            if full in self._done:
                return self._done[full], True
            return self._latest.get(subject), False

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the work in progress (for tests and command-line callers)."""
        for thread in list(self._running.values()):
            thread.join(timeout)

    def _run(self, subject: Hashable, full: Hashable, work: Callable[[], T | None]) -> None:
        try:
            result = work()
        except Exception:  # the page keeps what it had; the next ask tries again
            logger.exception("background work for %r failed", full)
            with self._lock:
                self._running.pop(full, None)
            return
        with self._lock:
            self._done[full] = result
            self._latest[subject] = result
            while len(self._done) > self._keep:
                self._done.popitem(last=False)
            self._running.pop(full, None)
