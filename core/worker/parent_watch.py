"""Ending a child process when the process that started it ends, on any system.

A pool's workers and a worker's search children must not outlive their parent: killing the
pool (or a worker) has to stop everything it runs, at once, so the store can tell what was
interrupted. On Linux the kernel does it (``PR_SET_PDEATHSIG``, :func:`kill_with_parent`);
everywhere, a daemon thread watches the parent with psutil (:func:`watch_parent`) and ends the
child within a second of the parent's end. psutil tells a process from a later one given the
same id, and a parent that ended but was not yet reaped (a zombie) counts as ended.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable

import psutil

_PR_SET_PDEATHSIG = 1
WATCH_S = 1.0  # how often a child looks for its parent


def kill_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent ends; elsewhere nothing.

    Safe as a ``preexec_fn`` and in the child itself; where there is no ``prctl`` (macOS,
    Windows, a libc by another name) :func:`watch_parent` still ends the child.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def watch_parent(
    parent: psutil.Process, on_gone: Callable[[], None], every_s: float = WATCH_S
) -> threading.Thread:
    """Start a daemon thread that calls ``on_gone`` once ``parent`` has ended."""

    def watch() -> None:
        while _alive(parent):
            threading.Event().wait(every_s)
        on_gone()

    thread = threading.Thread(target=watch, name="watch-parent", daemon=True)
    thread.start()
    return thread


def die_with_parent(
    parent_pid: int | None = None, on_gone: Callable[[], None] | None = None
) -> None:
    """End this process when ``parent_pid`` (default: its parent) ends; call it first thing.

    Args:
        parent_pid: The process to outlive no more.
        on_gone: Called instead of exiting at once (it must end the process itself).
    """
    end = on_gone or (lambda: os._exit(1))
    kill_with_parent()
    try:
        parent = psutil.Process(os.getppid() if parent_pid is None else parent_pid)
    except psutil.NoSuchProcess:  # gone before this process got going
        end()
        return
    watch_parent(parent, end)


def _alive(process: psutil.Process) -> bool:
    """Whether a process still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
