"""Training that stopped mid-way goes on from its newest readable checkpoint, or starts over."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from core.engine import checkpoints
from core.store.checkpoint_files import Budget, checkpoint_path


def _model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _fit(model: keras.Model, epochs: int, callbacks: list, initial_epoch: int = 0) -> list[int]:
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4)), rng.random((32, 3))
    history = model.fit(
        x, y, epochs=epochs, initial_epoch=initial_epoch, batch_size=8, verbose=0,
        callbacks=callbacks,
    )  # fmt: skip
    return history.epoch


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v.value) for v in model.variables]


def test_training_goes_on_from_the_last_checkpoint_with_its_weights_and_step(
    tmp_path: Path,
) -> None:
    first = _model()
    _fit(first, 2, [checkpoints.CheckpointCallback(tmp_path, Budget(5, 10**9))])
    resumed = _model()
    assert checkpoints.restore_latest(resumed, tmp_path, 0, 3) == 1
    for saved, loaded in zip(_weights(first), _weights(resumed), strict=True):
        np.testing.assert_array_equal(saved, loaded)
    assert int(resumed.optimizer.iterations) == int(first.optimizer.iterations) == 8
    assert _fit(resumed, 3, [], initial_epoch=2) == [2]  # only the epoch left


def test_an_unreadable_newest_checkpoint_falls_back_to_the_one_before(tmp_path: Path) -> None:
    model = _model()
    _fit(model, 1, [checkpoints.CheckpointCallback(tmp_path, Budget(5, 10**9))])
    after_one = _weights(model)
    _fit(model, 2, [checkpoints.CheckpointCallback(tmp_path, Budget(5, 10**9))], initial_epoch=1)
    checkpoint_path(tmp_path, 1).write_bytes(b"PK\x03\x04 torn by a failing disk")
    resumed = _model()
    assert checkpoints.restore_latest(resumed, tmp_path, 0, 2) == 0
    for saved, loaded in zip(after_one, _weights(resumed), strict=True):
        np.testing.assert_array_equal(saved, loaded)


def test_with_no_readable_checkpoint_the_model_is_left_as_built_and_starts_over(
    tmp_path: Path,
) -> None:
    checkpoint_path(tmp_path, 0).parent.mkdir(parents=True, exist_ok=True)
    checkpoint_path(tmp_path, 0).write_bytes(b"not a checkpoint at all")
    model = _model()
    built = _weights(model)
    assert checkpoints.restore_latest(model, tmp_path, 0, 3) is None
    for before, after in zip(built, _weights(model), strict=True):
        np.testing.assert_array_equal(before, after)
    assert _fit(model, 2, []) == [0, 1]


def test_checkpoints_of_another_execution_are_not_used(tmp_path: Path) -> None:
    model = _model()
    _fit(model, 2, [checkpoints.CheckpointCallback(tmp_path, Budget(5, 10**9), offset=0)])
    # The second execution of a trial numbers its checkpoints from 2: none of them yet.
    assert checkpoints.restore_latest(_model(), tmp_path, 2, 4) is None
