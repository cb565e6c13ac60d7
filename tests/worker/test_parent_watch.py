"""A child's tie to its parent: it ends when the parent ends, on any platform."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading

import psutil
import pytest

from core.worker import parent_watch


def test_the_child_sees_its_worker_end_within_a_second() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    gone = threading.Event()
    watcher = parent_watch.watch_parent(psutil.Process(worker.pid), gone.set, every_s=0.05)
    assert not gone.wait(0.2)  # still running
    worker.wait()
    assert gone.wait(2.0)
    watcher.join(1.0)
    assert not watcher.is_alive()


def test_an_ended_worker_not_yet_reaped_counts_as_gone() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "pass"])
    watched = psutil.Process(worker.pid)
    for _ in range(500):  # ended, and not reaped (nobody waited for it): a zombie
        if watched.status() == psutil.STATUS_ZOMBIE:
            break
        threading.Event().wait(0.01)
    assert watched.is_running()  # psutil alone would call it alive
    gone = threading.Event()
    parent_watch.watch_parent(watched, gone.set, every_s=0.05)
    assert gone.wait(2.0)
    worker.wait()


def test_without_prctl_the_child_starts_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libc(*args: object, **kwargs: object) -> None:
        raise OSError("libc.so.6: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    for platform in ("darwin", "win32", "linux"):  # macOS, Windows, a Linux without glibc
        monkeypatch.setattr(sys, "platform", platform)
        parent_watch.kill_with_parent()
