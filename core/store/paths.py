"""Where the app keeps its data: the store, datasets and run artifacts.

Everything lives under one cache folder, ``cache/`` beside ``app.py`` unless the
``HPE_CACHE_DIR`` environment variable names another (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CACHE_ENV = "HPE_CACHE_DIR"


def cache_dir() -> Path:
    """Return the cache folder, creating it if needed."""
    path = Path(os.environ.get(CACHE_ENV) or PROJECT_ROOT / "cache").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def keras_home(root: Path | None = None) -> Path:
    """Return the folder Keras caches downloaded datasets in (``KERAS_HOME``)."""
    return (root or cache_dir()) / "keras"


def store_path(root: Path | None = None) -> Path:
    """Return the path of the SQLite store."""
    return (root or cache_dir()) / "store.sqlite"


def runs_dir(root: Path | None = None) -> Path:
    """Return the folder that holds one sub-folder of artifacts per trial."""
    return (root or cache_dir()) / "runs"
