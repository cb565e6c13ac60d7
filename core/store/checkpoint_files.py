"""Where a trial's checkpoints live and which epochs have one; no TensorFlow here.

Pages and the CLI use this to offer and check fork points; ``core.engine.checkpoints`` writes and
reads the files themselves. The checkpoint of epoch ``e`` (0-based) is one file,
``runs/<study>/<trial>/checkpoints/epoch_<e>.npz``, which appears whole (it is written under
a temporary name, then renamed).

A run keeps at most ``HPE_CHECKPOINT_CAP`` copies (default 5; 0 keeps none) taking at most
``HPE_CHECKPOINT_BYTES`` in all (default 2 GB): the newest one, the one of its best epoch
(by the metric early stopping watches, ``val_loss`` unless set) and as many of the newest
others as both limits allow. Older ones are deleted as the run goes, after each new one
is written (:func:`to_prune`). The newest and the best copy are never deleted, even when the
two together take more than the size limit: a run always has them to fork from or resume.
A cap of 1 keeps only the newest, as it always has.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.store import paths, settings
from core.store.sqlite import Trial

CAP_ENV = settings.CHECKPOINT_CAP
BYTES_ENV = settings.CHECKPOINT_BYTES
_NAME = re.compile(r"^epoch_(\d+)\.npz$")


@dataclass(frozen=True)
class Budget:
    """What a run's checkpoints may take on disk.

    Attributes:
        copies: How many it keeps at most (``HPE_CHECKPOINT_CAP``); 0 keeps and saves none.
        max_bytes: How many bytes they take at most, all together (``HPE_CHECKPOINT_BYTES``).
    """

    copies: int
    max_bytes: int


def checkpoint_cap() -> int:
    """Return how many checkpoints a trial keeps: ``HPE_CHECKPOINT_CAP``, else 5.

    0 keeps none (and saves none).

    Raises:
        SettingError: the variable is not a whole number.
    """
    return settings.read(CAP_ENV)


def checkpoint_budget() -> Budget:
    """Return the checkpoint budget of a run, from ``HPE_CHECKPOINT_CAP`` and ``_BYTES``.

    Raises:
        SettingError: either variable is set to something it cannot mean.
    """
    return Budget(checkpoint_cap(), settings.read(BYTES_ENV))


def to_prune(sizes: Mapping[int, int], best: int | None, budget: Budget) -> list[int]:
    """Return the epochs whose checkpoint goes, to keep a run within its budget.

    The newest epoch stays, and ``best`` too when the budget has room for two copies; then
    the newest of the others, while both the count and the bytes stay within the budget.

    Args:
        sizes: Each saved epoch (0-based) with its file's size in bytes.
        best: The epoch whose monitored metric is best so far, if known.
        budget: The run's budget.

    Returns:
        The epochs to delete, oldest first.
    """
    if not sizes:
        return []
    newest = max(sizes)
    kept = [newest] if budget.copies < 2 or best not in sizes or best == newest else [newest, best]
    used = sum(sizes[e] for e in kept)
    for epoch in sorted(sizes, reverse=True):
        if epoch in kept:
            continue
        if len(kept) >= budget.copies or used + sizes[epoch] > budget.max_bytes:
            break
        kept.append(epoch)
        used += sizes[epoch]
    return sorted(set(sizes) - set(kept))


def checkpoint_dir(trial: Trial, root: Path | None = None) -> Path:
    """Return the folder holding a trial's checkpoints (it may not exist yet)."""
    return paths.runs_dir(root) / str(trial.study_id) / str(trial.id) / "checkpoints"


def checkpoint_path(folder: Path, epoch: int) -> Path:
    """Return the file of the checkpoint at ``epoch`` (0-based) in ``folder``."""
    return folder / f"epoch_{epoch:04d}.npz"


def checkpoint_bytes(folder: Path) -> int:
    """Return the bytes the complete checkpoints in ``folder`` take (0 for none)."""
    return sum(_size(checkpoint_path(folder, e)) for e in saved_epochs(folder))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # deleted by the run's own pruning meanwhile
        return 0


def saved_epochs(folder: Path) -> list[int]:
    """Return the epochs (0-based, ascending) that have a complete checkpoint in ``folder``."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)
