"""Shared fixtures: every test gets its own cache folder, so no test touches cache/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.store import Store, paths
from core.worker.launch import IDLE_ENV

# Quiet TensorFlow's start-up chatter in test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh cache folder, set as HPE_CACHE_DIR for the test and its subprocesses."""
    root = tmp_path / "cache"
    root.mkdir()
    monkeypatch.setenv(paths.CACHE_ENV, str(root))
    # A worker a page starts in a test leaves soon after its queue is empty.
    monkeypatch.setenv(IDLE_ENV, "3")
    return root


@pytest.fixture
def store(cache: Path) -> Store:
    """An empty store in the test's cache folder."""
    return Store(paths.store_path(cache))
