"""The peak memory of the process during one run, so runs can be compared on memory too.

Linux keeps a process's peak resident set size (``VmHWM`` in ``/proc/self/status``); writing
``5`` to ``/proc/self/clear_refs`` resets it to the current size, so a worker that trains many
runs one after another still measures each run on its own. Where that file cannot be written,
the figure is the process's peak so far (``resource.getrusage``), and says so.
"""

from __future__ import annotations

import resource
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset() -> bool:
    """Start measuring the peak from now; return False if only the lifetime peak is known."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float | None:
    """The peak resident memory since ``reset`` (else since the process started), in MB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return round(peak_kib / 1024, 1) if peak_kib else None
