"""The ``HPE_*`` environment settings, each read and checked in one place.

A value that cannot mean what its name says (``HPE_WORKER_IDLE_EXIT=10m``) is refused with one
line naming the variable, what it must be and an example, instead of a traceback from deep
inside or a silent fallback to the default. An unset or empty variable takes its default.

======================  ===========================================  ============
variable                what it sets                                 default
======================  ===========================================  ============
HPE_WORKER_IDLE_EXIT    seconds a worker waits for work, then exits  600
HPE_CHECKPOINT_CAP      checkpoint copies a run keeps (0: none)      5
HPE_CHECKPOINT_BYTES    bytes a run's checkpoints may take in all    2GB
HPE_WORKER_MEMORY_MB    MiB a worker may use in all                  no cap
HPE_LOG_LEVEL           the worker's log level                       INFO
HPE_WORKERS             workers the app starts, each a process       auto
======================  ===========================================  ============

``HPE_WORKERS=auto`` starts one worker per visible GPU, or one on a machine without a GPU.

``HPE_CACHE_DIR`` (the cache folder) is read by :mod:`core.store.paths`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

IDLE_EXIT = "HPE_WORKER_IDLE_EXIT"
CHECKPOINT_CAP = "HPE_CHECKPOINT_CAP"
CHECKPOINT_BYTES = "HPE_CHECKPOINT_BYTES"
WORKER_MEMORY_MB = "HPE_WORKER_MEMORY_MB"
LOG_LEVEL = "HPE_LOG_LEVEL"
WORKERS = "HPE_WORKERS"
# The most workers one machine may run: far more than any machine has GPUs or cores for.
MAX_WORKERS = 256

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Decimal units, as disks and file browsers count them.
UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?B)?$", re.IGNORECASE)


class SettingError(ValueError):
    """An environment setting that cannot be used; ``message`` is one line for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Setting:
    name: str
    must_be: str  # what a valid value is, in words, with an example
    parse: Callable[[str], Any]  # the value, or ValueError
    default: Any


def _seconds(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(raw)
    return value


def _count(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise ValueError(raw)
    return int(raw)


def _mebibytes(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(raw)
    return value


def _workers(raw: str) -> int | None:
    """A count of workers, or None for ``auto``."""
    if raw.lower() == "auto":
        return None
    value = _count(raw)
    if not 1 <= value <= MAX_WORKERS:
        raise ValueError(raw)
    return value


def _bytes(raw: str) -> int:
    match = _SIZE.match(raw)
    if not match:
        raise ValueError(raw)
    value = float(match.group(1)) * UNITS[(match.group(2) or "B").upper()]
    if not math.isfinite(value) or value < 1:
        raise ValueError(raw)
    return int(value)


def format_bytes(size: float) -> str:
    """Return a size in the largest decimal unit it reaches, e.g. ``1.5 GB`` or ``812 KB``."""
    unit = max((u for u, n in UNITS.items() if size >= n), key=UNITS.get, default="B")
    value = size / UNITS[unit]
    return f"{value:.0f} {unit}" if unit == "B" or value >= 100 else f"{value:.3g} {unit}"


def _level(raw: str) -> str:
    if raw.upper() not in LEVELS:
        raise ValueError(raw)
    return raw.upper()


_SETTINGS = {
    s.name: s
    for s in (
        _Setting(IDLE_EXIT, "a number of seconds, such as 600", _seconds, 600.0),
        _Setting(CHECKPOINT_CAP, "a whole number of checkpoints, such as 5 (0 keeps none)",
                 _count, 5),
        _Setting(CHECKPOINT_BYTES, "a size above 0 in bytes, such as 2000000000, or with a "
                 "unit: 2GB, 500MB", _bytes, 2 * UNITS["GB"]),
        _Setting(WORKER_MEMORY_MB, "a number of MiB above 0, such as 4000", _mebibytes, None),
        _Setting(LOG_LEVEL, f"one of {', '.join(LEVELS)}", _level, "INFO"),
        _Setting(WORKERS, f"auto or a whole number from 1 to {MAX_WORKERS}, such as 2",
                 _workers, None),
    )
}  # fmt: skip


def read(name: str) -> Any:
    """Return the value of the setting ``name`` from the environment, or its default.

    Raises:
        SettingError: the variable is set to something it cannot mean.
    """
    setting = _SETTINGS[name]
    raw = os.environ.get(name, "").strip()
    if not raw:
        return setting.default
    try:
        return setting.parse(raw)
    except ValueError:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise SettingError(
            f"{name}={shown!r} cannot be used: it must be {setting.must_be}. "
            f"Set it to such a value, or unset it for the default."
        ) from None


def check_all() -> None:
    """Read every setting once, so that a bad one is refused before any work starts.

    Raises:
        SettingError: for the first setting (in the table's order) that is set wrongly.
    """
    for name in _SETTINGS:
        read(name)
