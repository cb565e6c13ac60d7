"""A trial's per-epoch backup survives a kill in the middle of writing it."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from core.engine.search.parts import Backup


def _fit(backup_dir: Path, epochs: int) -> keras.callbacks.History:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 4)), np.zeros((8, 2))
    return model.fit(x, y, epochs=epochs, callbacks=[Backup(str(backup_dir))], verbose=0)


def test_an_unreadable_backup_starts_the_execution_over_instead_of_failing(
    tmp_path: Path,
) -> None:
    backup = tmp_path / "backup"
    backup.mkdir()
    # What a kill during the first write leaves: a torn weights file and no earlier copy.
    (backup / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n torn")
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2}))
    history = _fit(backup, epochs=3)
    assert history.epoch == [0, 1, 2]  # every epoch trained, from the first


def test_a_readable_backup_is_continued_from(tmp_path: Path) -> None:
    backup = tmp_path / "backup"
    first = Backup(str(backup))
    first.keep = True  # as when the search stopped mid-trial
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=2, callbacks=[first], verbose=0)
    history = _fit(backup, epochs=3)
    assert history.epoch == [2]  # only the epoch left
