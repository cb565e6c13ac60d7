"""Checkpoints: one per epoch, capped (oldest dropped first), restoring all training state."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from core.engine import checkpoints
from core.store.checkpoint_files import CAP_ENV, checkpoint_cap, saved_epochs
from core.store.settings import SettingError


def _model() -> keras.Model:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dropout(0.5), keras.layers.Dense(3)]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def _fit(model: keras.Model, epochs: int, callbacks: list | None = None) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 4)), rng.random((32, 3))
    model.fit(x, y, epochs=epochs, batch_size=8, verbose=0, callbacks=callbacks or [])


def test_a_checkpoint_per_epoch_keeps_the_newest_up_to_the_cap(tmp_path: Path) -> None:
    model = _model()
    _fit(model, 5, [checkpoints.CheckpointCallback(tmp_path, cap=2)])
    assert saved_epochs(tmp_path) == [3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0003.npz", "epoch_0004.npz"]


def test_a_cap_of_zero_saves_nothing(tmp_path: Path) -> None:
    assert checkpoints.save(_model(), tmp_path / "none", 0, cap=0) is None
    assert not (tmp_path / "none").exists()


def test_restore_brings_back_weights_optimizer_and_seed_state(tmp_path: Path) -> None:
    model = _model()
    _fit(model, 2)
    checkpoints.save(model, tmp_path, 1, cap=5)
    weights = [w.numpy().copy() for w in model.weights]
    moments = [v.numpy().copy() for v in model.optimizer.variables]
    seeds = [v.numpy().copy() for v in model.variables if v.name == "seed_generator_state"]
    assert seeds and int(model.optimizer.iterations.numpy()) == 8

    other = _model()
    checkpoints.restore(other, tmp_path, 1)
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(weights, other.weights, strict=True))
    assert all(
        np.array_equal(a, b.numpy())
        for a, b in zip(moments, other.optimizer.variables, strict=True)
    )
    others = [v.numpy() for v in other.variables if v.name == "seed_generator_state"]
    assert all(np.array_equal(a, b) for a, b in zip(seeds, others, strict=True))


def test_restore_of_a_missing_epoch_says_which(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint of epoch 3"):
        checkpoints.restore(_model(), tmp_path, 2)


def test_restore_refuses_a_checkpoint_of_another_model(tmp_path: Path) -> None:
    checkpoints.save(_model(), tmp_path, 0, cap=1)
    wider = keras.Sequential([keras.Input((4,)), keras.layers.Dense(9), keras.layers.Dense(3)])
    wider.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="holds 5 model variables, this model has 4"):
        checkpoints.restore(wider, tmp_path, 0)


@pytest.mark.parametrize(("raw", "cap"), [("", 50), ("7", 7), ("0", 0)])
def test_the_cap_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, cap: int
) -> None:
    monkeypatch.setenv(CAP_ENV, raw)
    assert checkpoint_cap() == cap


def test_a_cap_that_is_no_whole_number_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAP_ENV, "lots")
    with pytest.raises(SettingError, match=f"{CAP_ENV}='lots' cannot be used"):
        checkpoint_cap()
