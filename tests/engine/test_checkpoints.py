"""Checkpoints: one per epoch within a budget (best and newest kept), restoring all state."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from core.engine import checkpoints
from core.engine.training import TrialMonitor, run_trial
from core.spec.config import RunConfig
from core.store import Store, identity
from core.store.checkpoint_files import (
    CAP_ENV,
    Budget,
    checkpoint_bytes,
    checkpoint_cap,
    checkpoint_dir,
    saved_epochs,
)
from core.store.errors import StoreReplaced
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
    _fit(model, 5, [checkpoints.CheckpointCallback(tmp_path, Budget(2, 10**9))])
    assert saved_epochs(tmp_path) == [3, 4]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0003.npz", "epoch_0004.npz"]


class _Scripted(keras.callbacks.Callback):
    """Puts a scripted ``score_loss`` into each epoch's logs, before the checkpoint sees them."""

    def __init__(self, scores: list[float], first: int = 0) -> None:
        super().__init__()
        self.scores, self.first = scores, first

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs["score_loss"] = self.scores[epoch - self.first]


SCORES = [5.0, 1.0, 4.0, 3.0, 6.0, 7.0, 8.0, 9.0]  # epoch 1 is best, early on


def _scripted_run(folder: Path, budget: Budget) -> None:
    callback = checkpoints.CheckpointCallback(folder, budget, monitor="score_loss")
    _fit(_model(), len(SCORES), [_Scripted(SCORES), callback])


def test_eight_epochs_keep_the_best_and_the_newest_up_to_five(tmp_path: Path) -> None:
    _scripted_run(tmp_path, Budget(5, 10**9))
    assert saved_epochs(tmp_path) == [1, 4, 5, 6, 7]
    # A later process (a resumed trial) finds the best in the files and keeps it.
    model = _model()
    later = checkpoints.CheckpointCallback(
        tmp_path, Budget(5, 10**9), offset=8, monitor="score_loss"
    )
    _fit(model, 2, [_Scripted([9.5, 9.9]), later])
    assert saved_epochs(tmp_path) == [1, 6, 7, 8, 9]


def test_the_size_cap_prunes_the_oldest_but_never_the_best(tmp_path: Path) -> None:
    _fit(
        _model(),
        1,
        [
            _Scripted(SCORES),
            checkpoints.CheckpointCallback(
                tmp_path / "one", Budget(1, 10**9), monitor="score_loss"
            ),
        ],
    )
    size = checkpoint_bytes(tmp_path / "one")  # each epoch's file is as large
    _scripted_run(tmp_path / "run", Budget(5, 3 * size + size // 2))
    assert saved_epochs(tmp_path / "run") == [1, 6, 7]
    assert checkpoint_bytes(tmp_path / "run") == 3 * size


def test_a_real_run_keeps_its_best_epoch_and_its_last_ones(store: Store, cache: Path) -> None:
    cfg = RunConfig(model="mlp", epochs=8, learning_rate=0.05)
    _, (tid,) = store.create_study("eight", "single", [cfg], reserve_for=1)
    with TrialMonitor(store, tid) as monitor:
        run_trial(store, store.trial(tid), monitor, cache)
    losses = [e.metrics["val_loss"] for e in store.epochs(tid)]
    assert len(losses) == 8
    best = int(np.argmin(losses))
    expected = [3, 4, 5, 6, 7] if best >= 3 else [best, 4, 5, 6, 7]
    assert saved_epochs(checkpoint_dir(store.trial(tid), cache)) == expected


def test_a_cap_of_zero_saves_nothing(tmp_path: Path) -> None:
    assert checkpoints.save(_model(), tmp_path / "none", 0, Budget(0, 10**9)) is None
    assert not (tmp_path / "none").exists()


def test_restore_brings_back_weights_optimizer_and_seed_state(tmp_path: Path) -> None:
    model = _model()
    _fit(model, 2)
    checkpoints.save(model, tmp_path, 1, Budget(5, 10**9))
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
    checkpoints.save(_model(), tmp_path, 0, Budget(1, 10**9))
    wider = keras.Sequential([keras.Input((4,)), keras.layers.Dense(9), keras.layers.Dense(3)])
    wider.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="holds 5 model variables, this model has 4"):
        checkpoints.restore(wider, tmp_path, 0)


@pytest.mark.parametrize(("raw", "cap"), [("", 5), ("7", 7), ("0", 0)])
def test_the_cap_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, cap: int
) -> None:
    monkeypatch.setenv(CAP_ENV, raw)
    assert checkpoint_cap() == cap


def test_a_cap_that_is_no_whole_number_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAP_ENV, "lots")
    with pytest.raises(SettingError, match=f"{CAP_ENV}='lots' cannot be used"):
        checkpoint_cap()


def _runs_of(root: Path, store_id: str) -> Path:
    """``root/runs`` marked as one store's, as a store binds its folders."""
    identity.bind_folders(root, store_id, adopt=False)
    return root / "runs"


def _only_the_marker(root: Path) -> bool:
    return sorted(p.name for p in (root / "runs").iterdir()) == ["STORE"]


def test_a_store_deleted_mid_run_gets_no_checkpoint_of_the_old_run(tmp_path: Path) -> None:
    folder = _runs_of(tmp_path, "old") / "1" / "1" / "checkpoints"
    callback = checkpoints.CheckpointCallback(folder, Budget(5, 10**9))
    _fit(_model(), 1, [callback])
    assert saved_epochs(folder) == [0]
    # The store file is deleted and the next store opens: the old runs/ moves aside.
    identity.bind_folders(tmp_path, "new", adopt=False)
    state = checkpoints.snapshot(_model())
    with pytest.raises(StoreReplaced):
        checkpoints.write(state, folder, 1, Budget(5, 10**9), owner=callback.owner)
    assert _only_the_marker(tmp_path)
    (aside,) = (tmp_path / "old").glob("*-old/runs/1/1/checkpoints")
    assert saved_epochs(aside) == [0]  # the old run's files, whole, where they went


def test_a_checkpoint_written_while_the_store_was_replaced_is_taken_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _runs_of(tmp_path, "old") / "1" / "1" / "checkpoints"
    owner = identity.owner_of(folder)
    assert owner is not None and owner.store_id == "old"
    savez = np.savez

    def replaced_while_saving(file: Path, **arrays: object) -> None:
        # The new store opens just before the write lands: its folder is made anew.
        identity.bind_folders(tmp_path, "new", adopt=False)
        Path(file).parent.mkdir(parents=True)
        savez(file, **arrays)

    monkeypatch.setattr(np, "savez", replaced_while_saving)
    with pytest.raises(StoreReplaced):
        checkpoints.write(checkpoints.snapshot(_model()), folder, 0, Budget(5, 10**9), owner=owner)
    assert _only_the_marker(tmp_path)

    # Moved aside while the file was open: the write fails, and says why.
    folder = tmp_path / "runs" / "2" / "3" / "checkpoints"
    owner = identity.owner_of(folder)

    def moved_while_saving(file: Path, **arrays: object) -> None:
        savez(file, **arrays)
        identity.bind_folders(tmp_path, "newer", adopt=False)

    monkeypatch.setattr(np, "savez", moved_while_saving)
    with pytest.raises(StoreReplaced):
        checkpoints.write(checkpoints.snapshot(_model()), folder, 0, Budget(5, 10**9), owner=owner)
    assert _only_the_marker(tmp_path)
