"""The search child's ties to its worker: it ends when the worker ends, on any platform."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading

import psutil
import pytest

from core.store import settings
from core.store.searches import HANDOVER_GROWTH_MIB
from core.worker import search_child


def test_the_child_sees_its_worker_end_within_a_second() -> None:
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    gone = threading.Event()
    watcher = search_child.watch_parent(psutil.Process(worker.pid), gone.set, every_s=0.05)
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
    search_child.watch_parent(watched, gone.set, every_s=0.05)
    assert gone.wait(2.0)
    worker.wait()


def test_without_prctl_the_child_starts_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_libc(*args: object, **kwargs: object) -> None:
        raise OSError("libc.so.6: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    for platform in ("darwin", "win32", "linux"):  # macOS, Windows, a Linux without glibc
        monkeypatch.setattr(sys, "platform", platform)
        search_child._die_with_parent()


@pytest.mark.parametrize(("cap", "limit"), [("", 1024.0), ("8000", 1024.0), ("1000", 250.0)])
def test_under_a_memory_cap_the_child_hands_on_sooner(
    monkeypatch: pytest.MonkeyPatch, cap: str, limit: float
) -> None:
    monkeypatch.setenv(settings.WORKER_MEMORY_MB, cap)
    assert search_child.handover_limit(HANDOVER_GROWTH_MIB) == limit
    assert search_child.handover_limit(None) is None
