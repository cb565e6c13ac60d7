"""Where a trial's checkpoints live and which epochs have one; no TensorFlow here.

Pages and the CLI use this to offer and check fork points; ``core.engine.checkpoints`` writes and
reads the files themselves. The checkpoint of epoch ``e`` (0-based) is one file,
``runs/<study>/<trial>/checkpoints/epoch_<e>.npz``, which appears whole (it is written under
a temporary name, then renamed).
"""

from __future__ import annotations

import re
from pathlib import Path

from core.store import paths, settings
from core.store.sqlite import Trial

CAP_ENV = settings.CHECKPOINT_CAP
_NAME = re.compile(r"^epoch_(\d+)\.npz$")


def checkpoint_cap() -> int:
    """Return how many checkpoints a trial keeps: ``HPE_CHECKPOINT_CAP``, else 50.

    0 keeps none (and saves none).

    Raises:
        SettingError: the variable is not a whole number.
    """
    return settings.read(CAP_ENV)


def checkpoint_dir(trial: Trial, root: Path | None = None) -> Path:
    """Return the folder holding a trial's checkpoints (it may not exist yet)."""
    return paths.runs_dir(root) / str(trial.study_id) / str(trial.id) / "checkpoints"


def checkpoint_path(folder: Path, epoch: int) -> Path:
    """Return the file of the checkpoint at ``epoch`` (0-based) in ``folder``."""
    return folder / f"epoch_{epoch:04d}.npz"


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
