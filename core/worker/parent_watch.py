"""Ending a worker's child process when the process that started it ends.

A pool's workers and a worker's search children must not outlive their parent: killing the
worker (or the pool) has to stop everything it runs, at once, so the store can tell what was
interrupted. On Linux the kernel does it (``PR_SET_PDEATHSIG``); elsewhere a daemon thread
notices that the parent is gone and ends the process the same way, within a second.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_WATCH_S = 0.5


def die_with_parent() -> None:
    """End this process as soon as its parent ends (call it first thing in the child)."""
    parent = os.getppid()
    if not (sys.platform.startswith("linux") and _kernel_watch()):
        threading.Thread(target=_watch, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent or parent == 1:  # the parent ended before the watch began
        os._exit(1)


def _kernel_watch() -> bool:
    """Ask Linux to kill this process when its parent thread ends; False if it cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_S)
    os._exit(1)
